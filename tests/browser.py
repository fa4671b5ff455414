"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
VIDEO = "#video video"
CARDS = "#history .history-card"
HISTORY_KEY = "ray-studio-history"  # the BrowserState's storage_key (layout.history_section)
SAMPLE_CLIP = Path(__file__).parent / "data" / "sample.mp4"


def launch_chromium(playwright_api):
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_page(browser, url: str, width: int = 1280, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#generate")
    return context, page


def wait_until_playing(page, selector: str = VIDEO, timeout: int = 30_000) -> dict:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{selector}'); return v && v.readyState >= 3 && !v.paused; }}",
        timeout=timeout,
    )
    return page.evaluate(
        f"() => {{ const v = document.querySelector('{selector}'); return {{loop: v.loop, src: v.src}}; }}"
    )


def past_clips(key: str, count: int, clips: Path | None = None) -> list[dict]:
    """``count`` signed history entries, newest first, a minute apart, as a browser keeps them. With
    ``clips`` (the app's clip folder) each is a made clip with its own copy of the sample there, so
    its card has a player; without, each failed (no file needed)."""
    from ray_studio.web.history import EntrySigner, entry_line

    signer, now, entries = EntrySigner.for_key(key), int(time.time()), []
    for i in range(count):
        entry_id = os.urandom(16).hex()
        entry = {"id": entry_id, "job": None, "state": "failed", "created": now - i * 60, "own_key": False,
                 "prompt": f"clip number {i}", "aspect_ratio": "16:9", "duration": 5, "loop": False,
                 "start_image_url": "", "end_image_url": ""}  # fmt: skip
        if clips is None:
            entry["error"] = "Segmind could not make this clip; nothing was charged."
        else:
            (clips / entry_id).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SAMPLE_CLIP, clips / entry_id / "clip.mp4")
            entry.update(state="done", job=f"job-{entry_id}", file=f"{entry_id}/clip.mp4", took=1.0,
                         size=SAMPLE_CLIP.stat().st_size)  # fmt: skip
        entries.append(signer.sign({**entry, "line": entry_line(entry)}))
    return entries


def keep_history(page, history: list[dict]) -> None:
    """``history`` in the page's BrowserState, kept by Gradio itself (sealed in localStorage) as after a
    visitor's clips: handed once to the cards' Delete route naming no entry, which sends it back whole.
    First the page's own load of its stored history ends (it would put that back)."""
    settled(page)
    page.evaluate(
        """(history) => {
          const cards = rayStudio.cards, take = cards.take;
          cards.take = () => { cards.take = take; return ["", history]; };
          document.querySelector("#card-delete-do").click();
        }""",
        history,
    )
    page.wait_for_function(
        "([n, slot]) => document.querySelectorAll('#history .history-card').length === n && localStorage.getItem(slot)",
        arg=[len(history), HISTORY_KEY],
    )


def settled(page, quiet_ms: int = 1000) -> None:
    """Wait until the page has drawn its cards at least once and not again for ``quiet_ms``."""
    page.wait_for_function("() => rayStudio.cards.renders >= 1")
    for _ in range(20):
        before = page.evaluate("() => rayStudio.cards.renders")
        page.wait_for_timeout(quiet_ms)
        if page.evaluate("() => rayStudio.cards.renders") == before:
            return


def make_clip(page, prompt: str, ratio: str = "16:9") -> None:
    """A clip made in the page in the shape ``ratio``, waited for until its card plays."""
    page.locator("#prompt textarea").fill(prompt)
    page.get_by_label(ratio, exact=True).first.check()
    page.locator("#generate").click()
    page.locator(CARDS, has_text=prompt).locator("video").wait_for(timeout=30_000)
    page.locator("#generate:not([disabled])").wait_for()
