"""The page's handlers: Gradio values in, Studio calls, Gradio values out.

layout.py makes the components, wiring.py connects their events to these; a handler returns
``{component: value}`` for the components it changes. What a visitor may do and spend is decided
below (studio.py, frames.py, spending.py, board.py); here a failure becomes the message a visitor
reads, and a job's progress becomes the page's status line, player and history.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import InvalidRequestError, RayError
from ray_studio.client.request import VideoRequest
from ray_studio.client.variants import plan_variants
from ray_studio.web.board import Tracked
from ray_studio.web.cards import for_cards
from ray_studio.web.failures import PageFailures
from ray_studio.web.history import chain_links, form_values, trimmed
from ray_studio.web.http_guard import trusted_visitor
from ray_studio.web.identity import UNKNOWN_VISITOR, Proxies, Visitor, identify
from ray_studio.web.keyframe_field import clip_frames_shown
from ray_studio.web.studio import OWN_KEY_IN_FLIGHT, Studio
from ray_studio.web.waiting import placeholder
from ray_studio.web.ways_in import WaysIn
from ray_studio.web.words import status_line

if TYPE_CHECKING:
    from ray_studio.web.layout import Layout
    from ray_studio.web.share import ClipLinks

log = logging.getLogger("ray_studio")
Shown = dict[Any, Any]  # {component: its new value or update}


def visitor_of(request: gr.Request | None, proxies: Proxies | int, profile: Any = None) -> Visitor:
    """Who is asking: the Hugging Face user, the RAY_AUTH user, else the client address (trusting
    X-Forwarded-For only behind RAY_PROXY_HOPS proxies)."""
    if request is None:
        return UNKNOWN_VISITOR
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None) or {}
    forwarded = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else headers.get("x-forwarded-for")
    hf_user = getattr(profile, "username", None) or (profile.get("preferred_username") if profile else None)
    peer = getattr(client, "host", None)
    # An MCP call reaches the handlers through Gradio's loopback from 127.0.0.1; http_guard signed the
    # MCP caller's own address into this header on the way in.
    mcp_caller = trusted_visitor(headers.get("x-ray-visitor"))
    if mcp_caller is not None:
        peer, forwarded, proxies = mcp_caller, None, 0
    return identify(peer, forwarded, proxies, username=getattr(request, "username", None), hf_username=hf_user)


class BusyVisitorError(RayError):
    title = "Too many requests at once"
    action = "You have many requests running on this page: wait for one to finish; nothing was sent."


class NothingToContinueError(InvalidRequestError):
    title = "Nothing to continue"
    action = "Make a clip first, then continue from it."

    def __init__(self) -> None:
        super().__init__([])


def variants_price(studio: Studio, prompts: str, aspect_ratios: list[str], loop_both: bool, duration: Any) -> str:
    """What the variants form would cost, or why it would not run: the same expansion as the run."""
    try:
        plan = plan_variants(prompts, aspect_ratios or [], (False, True) if loop_both else (False,))
    except InvalidRequestError:
        return "Write one wording per line and choose at least one shape."
    cap = studio.settings.max_variants
    if plan.count > cap:
        return f"⚠️ {plan.describe_count()}: the limit is {cap}. Use fewer wordings or shapes."
    return studio.price_line(duration, plan.count)


class Page(WaysIn, PageFailures):
    """Handlers for one page over one Studio, writing to that page's components."""

    def __init__(self, studio: Studio, uploads: Path, ui: Layout, links: ClipLinks | None = None) -> None:
        self.studio = studio
        self.links = links
        self.uploads = uploads
        self.ui = ui
        # Gradio runs a fixed number of queued events at once for everyone: one visitor may hold a
        # few of them (their clips in flight, and a few besides), so no visitor can hold them all.
        self.events_per_visitor = max(studio.policy.in_flight_per_visitor, OWN_KEY_IN_FLIGHT) + 4
        self._events: collections.Counter[str] = collections.Counter()

    def take_turn(self, visitor: Visitor) -> bool:
        """One more of the visitor's long events (a generation, a pick-up), if they may hold another."""
        if self._events[visitor.id] >= self.events_per_visitor:
            return False
        self._events[visitor.id] += 1
        return True

    def end_turn(self, visitor: Visitor) -> None:
        self._events[visitor.id] -= 1
        if self._events[visitor.id] <= 0:
            del self._events[visitor.id]

    @contextlib.contextmanager
    def turn(self, visitor: Visitor) -> Iterator[None]:
        """One of the visitor's long events; refused (BusyVisitorError) if they hold their share."""
        if not self.take_turn(visitor):
            raise BusyVisitorError()
        try:
            yield
        finally:
            self.end_turn(visitor)

    # -- helpers

    def visitor(self, request: gr.Request | None, profile: Any = None) -> Visitor:
        return visitor_of(request, self.studio.policy.proxies, profile)

    def status(self, tracked: Tracked) -> str:
        return status_line(tracked, self.studio.board)

    def waiting(self, tracked: Tracked, line: str = "") -> Shown:
        """A clip being made: its placeholder and progress, under ``line``."""
        return {self.ui.player.status: line, self.ui.player.progress: placeholder(tracked, self.studio.board)}

    async def _outcome(self, tracked: Tracked):
        try:
            return await tracked.outcome()
        except asyncio.CancelledError:
            self.studio.board.abandon(tracked)
            raise

    # -- the page's own generation, with its status line and the visitor's history

    def busy(self, loop: bool) -> Shown:
        """While a clip or a set of variants is made: both buttons off, Cancel shown, the last clip left
        playing until the new one arrives, its line and Continue cleared (they would read as the new one's)."""
        ui = self.ui
        # The player's loop is set now, not when the clip arrives: changing it then rebuilds the player
        # while it loads the clip, which then starts playing later (bench: time from last byte to playable).
        return {
            ui.controls.generate: gr.Button(interactive=False),
            ui.controls.cancel: gr.Button(visible=True),
            ui.player.video: gr.Video(loop=loop),
            ui.player.info: "",
            ui.kept.current: None,
            ui.variants.run: gr.Button(interactive=False),
            ui.player.tiles.data: [],  # the last set's tiles go: the result area shows what is made now
            **({ui.sharing.link: ""} if ui.sharing else {}),  # a card's link shared before would read as the new clip's
        }

    def idle(self) -> Shown:
        controls = self.ui.controls
        return {
            controls.generate: gr.Button(interactive=True),
            controls.cancel: gr.Button(visible=False),
            self.ui.variants.run: gr.Button(interactive=True),
        }

    async def generate_in_page(
        self, prompt, aspect_ratio, duration, loop, start_url, end_url, api_key, history, continuing,
        request: gr.Request = None,  # type: ignore[assignment]
        profile: gr.OAuthProfile | None = None,
    ) -> AsyncIterator[Shown]:  # fmt: skip
        form = (prompt, aspect_ratio, duration, loop, start_url, end_url)
        clip = self._clip_in_page(self.visitor(request, profile), form, api_key, history, continuing)
        async for shown in self.in_page(clip, api_key):
            yield shown

    async def _clip_in_page(
        self, visitor: Visitor, form: tuple, api_key: Any, history: Any, continuing: Any
    ) -> AsyncIterator[Shown]:
        player, kept = self.ui.player, self.ui.kept
        with self.turn(visitor):
            history = trimmed(history)
            video_request = VideoRequest(*form)
            tracked, own_key = await self.studio.start(video_request, api_key, visitor)
            continues, leads_into = chain_links(continuing, video_request.start_image_url, video_request.end_image_url)
            known_job, recorded = None, False
            try:
                async for state in tracked.changes(tick=None):  # page.js moves the clock between changes
                    shown: Shown = {}
                    # Kept from the start (a reload or Cancel while it is sent finds it by its ticket), again
                    # once Segmind has it (a job id), and when it ends; a clip refused before Segmind had
                    # it leaves no card.
                    if not recorded or state.job_id != known_job or state.finished:
                        recorded, known_job = True, state.job_id
                        history = self.studio.remember(history, state, own_key, continues, leads_into)
                        shown[kept.history] = history
                    if not state.finished:
                        yield {**self.waiting(state), **shown}
            except asyncio.CancelledError:
                self.studio.board.abandon(tracked)
                raise
            ended = {player.progress: ""}
            if tracked.error is not None:
                yield {kept.history: history}
                raise tracked.error  # in_page shows it in the placeholder's place
            result = tracked.result
            summary = self.studio.result_summary(result, own_key)
            # The clip first, alone: the history (its card) follows in an update of its own.
            yield {player.status: self.status(tracked), player.video: str(result.path), player.info: summary, **ended}
            yield {kept.history: history, kept.current: history[0]}

    async def pick_up(self, history, api_key, request: gr.Request = None, show: bool = True):  # type: ignore[assignment]
        """After a reload, a dropped connection or a Cancel: follow the clips still being made, without
        paying again, and put them in the history when they are done (in the player too if ``show``).
        A clip that had failed already says so on its card only: the status line tells of a failure
        only for a clip it was showing as still being made."""
        player, kept = self.ui.player, self.ui.kept
        history = for_cards(self.studio, self.studio.settle_lost(history))
        # Sent back first, with the clips this server no longer has marked on their cards.
        yield {kept.history: history}
        visitor = self.visitor(request)
        following = self.studio.pick_up(history, api_key, visitor)
        if not following or not self.take_turn(visitor):
            return  # nothing to follow, or this visitor already holds their share of the server
        held = {button: gr.Button(interactive=False) for button in (self.ui.controls.generate, self.ui.variants.run)}
        if show:  # one clip at a time: Generate waits for the one picked up (its placeholder says so)
            yield held
        try:
            for tracked, own_key in following:
                waited = False
                async for state in tracked.changes(tick=None if show else 1.0):
                    if not state.finished:
                        waited = True
                        yield self._still_being_made(state, show)
                history = self.studio.remember(history, tracked, own_key)
                cleared = {player.progress: ""} if show else {}
                if tracked.result is None:
                    told = waited and tracked.error is not None
                    yield {**(self.failed(tracked.error, api_key) if told else {}), kept.history: history, **cleared}
                elif show:
                    yield {
                        **cleared,
                        player.status: "Your clip from before is ready.",
                        player.video: str(tracked.result.path),
                        player.info: self.studio.result_summary(tracked.result, own_key),
                    }
                    yield {kept.history: history, kept.current: history[0]}
                else:
                    ready = "The clip you stopped waiting for is ready: it is in your clips below."
                    yield {player.status: ready, kept.history: history}
        finally:
            self.end_turn(visitor)
        if show:
            yield {button: gr.Button(interactive=True) for button in held}

    def _still_being_made(self, tracked: Tracked, show: bool) -> Shown:
        """A clip picked up: its placeholder when it will come to the player, else one line."""
        line = "Still being made at Segmind (no new charge)"
        return self.waiting(tracked, line + ".") if show else {self.ui.player.status: f"{line}: {self.status(tracked)}"}

    async def keep_after_cancel(self, history, api_key, request: gr.Request = None):  # type: ignore[assignment]
        """pick_up, leaving the player as it is: it changes the status line and the history only."""
        async for shown in self.pick_up(history, api_key, request, show=False):
            yield shown

    def cancelled(self) -> Shown:
        """Cancel: the buttons back, and what it meant, in the status line and a note."""
        if self.studio.client.settings.api_mode == "sync":
            text = "Stopped: the request to Segmind was closed; if Segmind had started the clip, it may be billed."
        else:
            text = (
                "Stopped waiting. Nothing is charged for a clip that was not yet sent; one Segmind had already "
                "started is billed, so it is kept: it will appear in your history when it is ready."
            )
        gr.Info(text, title="Cancelled")
        return {**self.idle(), self.ui.player.status: text, self.ui.player.progress: ""}

    # -- continuing, joining

    async def continue_from(self, entry: dict | None, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """The clip's last frame becomes the next clip's start image, with its settings ready to tweak."""
        try:
            if not entry:
                raise NothingToContinueError()
            hosted = await self.studio.continue_from(entry, api_key, self.visitor(request))
        except RayError as err:
            return self.failed(err, api_key)
        prompt, ratio, duration, loop, _, end = form_values(entry)
        note = "Continuing from that clip: its last frame is the start image. Tweak the prompt, then Generate."
        return {
            **dict(zip(self.ui.form, (prompt, ratio, duration, loop, hosted.url, end), strict=True)),
            **clip_frames_shown(self.ui.keyframes, start=hosted),
            self.ui.kept.continuing: {"id": entry.get("id"), "url": hosted.url},
            self.ui.player.status: note,
            self.ui.keyframes.box: gr.Accordion(open=True),  # the start image it set, in sight
        }

    def after_continuing(self, continuing: dict | None, start_url: str, end_url: str = "") -> Shown:
        """Once the continuing (leading-in, bridging) clip is made, the form stops continuing: a new prompt
        starts afresh (Continue from this clip goes on from the new one)."""
        continues, leads_into = chain_links(continuing, start_url, end_url)
        if not (continues or leads_into):
            return gr.skip()
        shown: Shown = {self.ui.kept.continuing: None}
        if continues:
            shown[self.ui.keyframes.start.url] = ""
        if leads_into:
            shown[self.ui.keyframes.end.url] = ""
        return shown

    async def join(self, history: Any, entry: dict | None, api_key: str = "", request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """The chain of the clip in the player as one MP4, offered under the player."""
        entry_id = entry.get("id", "") if isinstance(entry, dict) else ""
        try:
            path = await self.studio.join_chain(history, entry_id, self.visitor(request))
        except RayError as err:
            return self.failed(err, api_key)
        return {self.ui.player.chain_file: gr.File(value=str(path), visible=True)}

    def chain_button(self, history: Any, entry: dict | None) -> gr.Button:
        chain = self.studio.chain_of(history, entry.get("id", "") if isinstance(entry, dict) else "")
        if len({e.get("aspect_ratio") for e in chain}) > 1:  # clips of different shapes do not join
            return gr.Button(visible=False)
        return gr.Button(visible=len(chain) >= 2, value=f"Download the chain of {len(chain)} clips as one MP4")

    # -- the form's own lines

    def price_line(self, duration: Any) -> str:
        return self.studio.price_line(duration)

    def variants_price(self, prompts: str, aspect_ratios: list[str], loop_both: bool, duration: Any) -> str:
        return variants_price(self.studio, prompts, aspect_ratios, loop_both, duration)
