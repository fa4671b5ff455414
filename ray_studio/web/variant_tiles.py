"""A set of variants in the page: a tile per clip in the result area, each clip shown as soon as it is
made, Use this one and Continue on each, and a line of what the set made and cost.

The tiles are drawn in the browser (assets/page.js, ``rayStudio.tiles``) from ``Tiles.data``; their
buttons reach the server through hidden Gradio buttons given the entry's id, as the history cards' do
(Continue is the cards' own), so a set adds no Gradio block per clip to anyone's session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import RayError
from ray_studio.client.wording import format_usd
from ray_studio.web.board import Tracked
from ray_studio.web.cards import CardButtons
from ray_studio.web.history import entry_file, entry_line, form_values, trimmed
from ray_studio.web.words import captions

if TYPE_CHECKING:
    from ray_studio.web.identity import Visitor
    from ray_studio.web.page import Page

Shown = dict[Any, Any]
TICK = 1.0  # seconds between updates of the status line's clock while no clip changes


def tile(tracked: Tracked, label: str) -> dict[str, Any]:
    """What page.js draws for one variant: what differs, its shape, and its clip once made or why not."""
    request = tracked.request
    shown: dict[str, Any] = {
        "id": tracked.ticket,
        "label": label,
        "state": "running",
        "ratio": request.aspect_ratio if request else "16:9",
        "loop": bool(request and request.loop),
    }
    if tracked.result is not None:
        shown.update(state="done", file=entry_file(tracked))
    elif tracked.finished:
        why = tracked.error.title if tracked.error else "Stopped before it was sent"
        shown.update(state="failed", why=why)
    return shown


def set_line(tracked: list[Tracked], price: Callable[[Any], float]) -> str:
    """``3 of 4 made · $1.125 charged``: clips refused before Segmind took them cost nothing."""
    made = sum(1 for t in tracked if t.result is not None)
    charged = sum(price(t.request.duration) for t in tracked if t.charged and t.request is not None)
    return f"{made} of {len(tracked)} made · " + (f"{format_usd(charged)} charged" if charged else "nothing charged")


async def _wake_on(tracked: Tracked, woken: asyncio.Event) -> None:
    """Sets ``woken`` at each change of ``tracked`` (not at the first look, which is now)."""
    first = True
    async for _ in tracked.changes(tick=None):
        if not first:
            woken.set()
        first = False


class VariantTiles:
    """Run the variants in the page's result area; Use this one."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.ui = page.ui

    async def run(
        self, prompts, aspect_ratios, duration, loop_both, loop, start_url, end_url, api_key, history, cameras=(),
        request: gr.Request = None,  # type: ignore[assignment]
        profile: gr.OAuthProfile | None = None,
    ) -> AsyncIterator[Shown]:  # fmt: skip
        form = (prompts, aspect_ratios, duration, loop_both, loop, start_url, end_url, cameras)
        clips = self._run(self.page.visitor(request, profile), form, api_key, history)
        async for shown in self.page.in_page(clips, api_key):
            yield shown

    async def _run(self, visitor: Visitor, form: tuple, api_key: Any, history: Any) -> AsyncIterator[Shown]:
        page, studio = self.page, self.page.studio
        prompts, aspect_ratios, duration, loop_both, loop, start_url, end_url, cameras = form
        with page.turn(visitor):
            history = trimmed(history)
            loops = [False, True] if loop_both else [bool(loop)]
            requests = studio.variant_requests(prompts, aspect_ratios, duration, loops, start_url, end_url, cameras)
            tracked, own_key = await studio.start_many(requests, api_key, visitor)
            for t in tracked:  # kept from the start: a reload or Cancel while they are sent finds them
                history = studio.remember(history, t, own_key)
            try:
                async for shown in self._follow(tracked, captions(requests), history, own_key):
                    yield shown
            except asyncio.CancelledError:
                for t in tracked:
                    studio.board.abandon(t)
                raise
            failed = [t.error for t in tracked if t.error is not None]
            if failed and len(failed) == len(tracked):
                raise failed[0]

    async def _follow(
        self, tracked: list[Tracked], labels: list[str], history: list[dict], own_key: bool
    ) -> AsyncIterator[Shown]:
        """The tiles when a clip ends (at once), the status line, and the history as entries change."""
        player, kept = self.ui.player, self.ui.kept
        drawn: list[dict] | None = None
        # (job id, finished) each variant's history entry was written with
        recorded: dict[int, tuple] = {i: (t.job_id, t.finished) for i, t in enumerate(tracked)}
        woken = asyncio.Event()
        watchers = [asyncio.ensure_future(_wake_on(t, woken)) for t in tracked]
        shown: Shown = {kept.history: history}
        try:
            while True:
                woken.clear()
                tiles = [tile(t, label) for t, label in zip(tracked, labels, strict=True)]
                if tiles != drawn:
                    shown[player.tiles.data] = drawn = tiles
                for i, t in enumerate(tracked):
                    mark = (t.job_id, t.finished)
                    if recorded[i] != mark:  # again once Segmind gave an id, and when done
                        history = self.page.studio.remember(history, t, own_key)
                        recorded[i] = mark
                        shown[kept.history] = history
                running = [t for t in tracked if not t.finished]
                yield {player.status: self._line(tracked, running), **shown}
                if not running:
                    return
                shown = {}
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), TICK)
        finally:
            for watcher in watchers:
                watcher.cancel()

    def _line(self, tracked: list[Tracked], running: list[Tracked]) -> str:
        if not running:
            return set_line(tracked, self.page.studio.price)
        made = sum(1 for t in tracked if t.result is not None)
        failed = [t.error for t in tracked if t.finished and t.result is None and t.error]
        line = f"{made} of {len(tracked)} made" + (f", {len(failed)} failed ({failed[0].title})" if failed else "")
        return f"{line} · {self.page.status(running[0])}"

    def use(self, entry_id: Any, history: Any, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """Use this one: the tile's clip in the main player with its line, the entry the player's buttons
        act on, and its settings in the form."""
        entry = CardButtons.entry(entry_id, history)
        if entry is None:
            return gr.skip()
        try:
            path = self.page.studio.clip_file(entry)
        except RayError as err:
            return self.page.failed(err, "")
        player = self.ui.player
        return {
            player.video: str(path),
            player.info: self._summary(entry, self.page.visitor(request)),
            self.ui.kept.current: entry,
            **dict(zip(self.ui.form, form_values(entry), strict=True)),
        }

    def _summary(self, entry: dict, visitor: Visitor) -> str:
        """The line Generate would have put under the clip, while this server still follows it for this visitor."""
        tracked = self.page.studio.board.get(str(entry.get("id")))
        if tracked is None or tracked.result is None or tracked.owner != visitor.id:
            return entry_line(entry)
        return self.page.studio.result_summary(tracked.result, bool(entry.get("own_key")))
