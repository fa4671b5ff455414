"""The history's weight on a new clip (issue 20): the same clip made in Chromium with no cards in the
history and with 50, in interleaved rounds. The goal: with 50 cards, click → first status and job
done → playing within 1.2× of an empty history, and no card's player loaded again."""

from __future__ import annotations

import contextlib
import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from bench.figures import Row, app_process, spread, standin_process
from tests.browser import CHROMIUM, CHROMIUM_ARGS, HISTORY_KEY, keep_history, past_clips, settled
from tests.segmind_standin import TEST_API_KEY

CARD_COUNT = 50
GOAL = 1.2
POLL = 0.1  # the app's status checks: a short interval keeps their phase out of done → playing
PROCESSING = 1.0  # seconds each clip is generating at the stand-in

# Installed just before a click on Generate, in a page that has settled. Times in the page's own clocks:
# the click and the status on performance.now(); playing on Date.now(), beside the stand-in's clock.
JS_WATCH = """() => {
  const w = window.__bench = {click: null, status: null, playing: null, longTasks: 0, ended: false,
                              renders: rayStudio.cards.renders};
  const status = document.getElementById("clip-status");
  const before = status.innerText.trim();
  addEventListener("click", (e) => {
    if (w.click === null && e.target.closest && e.target.closest("#generate")) w.click = performance.now();
  }, true);
  const shown = new MutationObserver(() => {
    if (w.click === null || status.innerText.trim() === before) return;
    shown.disconnect();
    requestAnimationFrame(() => setTimeout(() => (w.status = performance.now())));  // painted
  });
  shown.observe(status, {childList: true, subtree: true, characterData: true});
  const playing = (e) => {
    const v = e.target;
    const ready = v.closest && v.closest("#video") && v.readyState >= 3 && !v.paused;
    if (w.playing === null && ready) w.playing = Date.now();
  };
  for (const kind of ["playing", "canplay", "timeupdate"]) document.addEventListener(kind, playing, true);
  new PerformanceObserver((list) => {
    for (const t of list.getEntries()) if (w.click !== null && !w.ended) w.longTasks += t.duration;
  }).observe({type: "longtask"});
  const players = () => new Map([...document.querySelectorAll("#history .history-card")]
    .map((c) => [c.dataset.id, c.querySelector("video")]).filter(([, v]) => v));
  const old = players(), emptied = new Set();
  for (const v of old.values()) v.addEventListener("emptied", () => emptied.add(v));
  w.end = () => {
    w.ended = true;
    const now = players();
    const kept = [...old].filter(([id]) => now.has(id));
    return {status: (w.status - w.click) / 1000, playing: w.playing / 1000, longTasks: w.longTasks,
            players: old.size, added: [...now.keys()].filter((id) => !old.has(id)).length,
            reloaded: kept.filter(([id, v]) => now.get(id) !== v || emptied.has(v)).length,
            renders: rayStudio.cards.renders - w.renders};
  };
}"""


@dataclass
class ClipRun:
    to_status: float  # s: click on Generate → the first status line painted
    done_to_playing: float  # s: the stand-in's job done → the new clip playing in #video
    byte_to_playing: float  # s: the clip's last byte sent by the stand-in → playing
    long_tasks: float  # ms of the page's long tasks from the click until the new card settled
    players: int  # card players in the page before the click
    reloaded: int  # of those still shown after, how many were replaced or loaded again
    renders: int  # times the cards were drawn for this clip


def _one_clip(page: Any, url: str, upstream: Any, stored: str | None, prompt: str) -> ClipRun:
    """A page loaded with ``stored`` as its kept history (None: none), one clip made in it."""
    page.evaluate(
        "([slot, kept]) => kept === null ? localStorage.removeItem(slot) : localStorage.setItem(slot, kept)",
        [HISTORY_KEY, stored],
    )
    page.goto(url)
    page.wait_for_selector("#generate")
    settled(page, quiet_ms=700)
    page.locator("#prompt textarea").fill(prompt)
    page.evaluate(JS_WATCH)
    page.locator("#generate").click()
    page.wait_for_function("() => __bench.status !== null && __bench.playing !== null", timeout=60_000)
    try:
        page.wait_for_function(
            "(p) => { const c = document.querySelector('#history .history-card');"
            " return c && c.dataset.state === 'done' && c.querySelector('.card-prompt').textContent === p; }",
            arg=prompt,
            timeout=30_000,
        )
    except PlaywrightTimeout:
        lost = f"the card of {prompt!r} never showed its clip made: the history's last update was lost"
        raise RuntimeError(lost) from None
    page.locator("#generate:not([disabled])").wait_for()
    settled(page, quiet_ms=500)
    seen = page.evaluate("() => __bench.end()")
    report = upstream.report()
    job = max(report["jobs"].values(), key=lambda j: j["submitted"])
    if seen["added"] != 1:
        raise RuntimeError(f"a new clip drew {seen['added']} new cards, not one")
    return ClipRun(
        seen["status"],
        seen["playing"] - job["finished"],
        seen["playing"] - report["last_video_sent_at"],
        seen["longTasks"],
        seen["players"],
        seen["reloaded"],
        seen["renders"],
    )


@contextlib.contextmanager
def _fifty_cards_kept(page: Any, url: str) -> Iterator[str]:
    """The page's sealed localStorage value for a history of 50 made clips, their files in the app's
    clip folder while the body runs."""
    page.goto(url)
    page.wait_for_selector("#generate")
    clips = Path(page.evaluate("() => rayStudio.cards.config().clips"))
    history = past_clips(TEST_API_KEY, CARD_COUNT, clips)
    try:
        keep_history(page, history)
        yield page.evaluate("(slot) => localStorage.getItem(slot)", HISTORY_KEY)
    finally:
        for entry in history:
            shutil.rmtree(clips / entry["id"], ignore_errors=True)


def _runs(rounds: int, warm: bool) -> dict[str, list[ClipRun]]:
    """``rounds`` interleaved rounds of a clip with no cards and one with 50, who goes first swapped
    each round; ``warm``: one of each first, not counted."""
    runs: dict[str, list[ClipRun]] = {"none": [], "fifty": []}
    settings = {"SEGMIND_POLL_INTERVAL": str(POLL)}
    with (
        standin_process(processing=PROCESSING) as upstream,
        app_process(upstream.base_url, **settings) as app,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        with _fifty_cards_kept(page, app.url) as fifty:
            kept = {"none": None, "fifty": fifty}
            for i in range(-1 if warm else 0, rounds):
                for who in ("none", "fifty") if i % 2 == 0 else ("fifty", "none"):
                    run = _one_clip(page, app.url, upstream, kept[who], f"bench clip {who} {i}")
                    if i >= 0:
                        runs[who].append(run)
        browser.close()
    return runs


def _of(runs: list[ClipRun], name: str) -> list[float]:
    return [getattr(r, name) for r in runs]


def _ratio_row(figure: str, runs: dict[str, list[ClipRun]], name: str, detail: str) -> Row:
    none, fifty = _of(runs["none"], name), _of(runs["fifty"], name)
    ratio = statistics.median(fifty) / statistics.median(none)
    return Row(
        f"{CARD_COUNT} cards: {figure}",
        f"≤ {GOAL:g}× an empty history",
        f"{ratio:.2f}×",
        ratio <= GOAL,
        f"ratio of the medians of {len(none)} interleaved runs each: {CARD_COUNT} cards {spread(fifty)}; no cards "
        f"{spread(none)}; {detail}",
    )


def _long_tasks_row(runs: dict[str, list[ClipRun]]) -> Row:
    none, fifty = _of(runs["none"], "long_tasks"), _of(runs["fifty"], "long_tasks")
    renders = {who: statistics.median(_of(runs[who], "renders")) for who in runs}
    return Row(
        f"{CARD_COUNT} cards: long tasks during one clip",
        "— (reported)",
        f"{CARD_COUNT} cards {statistics.median(fifty):.0f} ms, none {statistics.median(none):.0f} ms",
        None,
        f"the page's `longtask` entries (PerformanceObserver), summed from the click until the new card was drawn "
        f"and no card was drawn again for 0.5 s: {CARD_COUNT} cards {spread(fifty, ' ms', 0)}; no cards "
        f"{spread(none, ' ms', 0)}; the cards drawn per clip (`rayStudio.cards.renders`), medians: {CARD_COUNT} "
        f"cards {renders['fifty']:g}, none {renders['none']:g}",
    )


def history_cards(smoke: bool = False) -> list[Row]:
    runs = _runs(1 if smoke else 7, warm=not smoke)
    how = (
        f"`python app.py`, v2 (the default), `SEGMIND_POLL_INTERVAL={POLL:g}`, {PROCESSING:g} s generation; headless "
        f"Chromium at 1366×900 (the cards below the fold), each run a fresh load of the page with its history kept "
        f"in localStorage as Gradio keeps it ({CARD_COUNT} made clips, or none)"
    )
    last_byte = {who: statistics.median(_of(runs[who], "byte_to_playing")) for who in runs}
    reloaded = max(_of(runs["fifty"], "reloaded"))
    return [
        _ratio_row(
            "click → first status",
            runs,
            "to_status",
            f"from the click on Generate to the frame after the status line changed; {how}",
        ),
        _ratio_row(
            "job done → playing",
            runs,
            "done_to_playing",
            f"from the job's `finished_at` at the stand-in to the new clip playing in `#video` (readyState ≥ 3, not "
            f"paused); of which from the clip's last byte sent, medians: {CARD_COUNT} cards {last_byte['fifty']:.3f} "
            f"s, no cards {last_byte['none']:.3f} s",
        ),
        _long_tasks_row(runs),
        Row(
            f"{CARD_COUNT} cards: card players loaded again by a new clip",
            "0",
            f"{reloaded}",
            reloaded == 0,
            f"the most in one run, of the {runs['fifty'][0].players} card players on the page before the click and "
            f"still shown after it (the oldest drops off): replaced, or `emptied` (loaded again); "
            f"{len(runs['fifty'])} runs, each drew exactly one new card",
        ),
    ]
