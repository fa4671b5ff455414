"""The page's server side, without any UI: whose key a clip uses, what it may spend, where its file
goes, and the history entry a visitor's browser keeps of it.

app.py turns a Gradio request into a ``Visitor`` and calls ``Studio``; everything here is plain Python.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ray_studio.client.client import RayClient
from ray_studio.client.clip_files import clip_name, keep
from ray_studio.client.errors import MissingAPIKeyError, OutputNotWritableError, RayError
from ray_studio.client.job import VideoResult
from ray_studio.client.request import DEFAULT_DURATION, DURATIONS, VideoRequest, clip_price, coerce_duration
from ray_studio.client.variants import plan_variants
from ray_studio.client.wording import format_usd
from ray_studio.web.board import JobBoard, Release, Tracked
from ray_studio.web.clip_store import ClipStore
from ray_studio.web.config import AppSettings
from ray_studio.web.frames import FramesAndChains
from ray_studio.web.history import (
    ENTRY_ID,
    EntrySigner,
    default_secret_file,
    entry_for,
    request_of,
    trimmed,
    with_entry,
)
from ray_studio.web.identity import Visitor
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.record import ClipOutcome, Recorder
from ray_studio.web.refusals import OwnKeyRequiredError, SpendRefusedError
from ray_studio.web.rewrites import PromptRewrites
from ray_studio.web.spending import OWN_KEY_ALLOWANCE, SpendGate

log = logging.getLogger("ray_studio")

OWN_KEY_IN_FLIGHT = 8  # clips one visitor may have waiting or running at once on their own key
PICK_UP_AT_ONCE = 4  # clips from before a restart one visitor may have followed again at once
LOST_WHILE_SENDING = "The server restarted while this clip was being sent, so it cannot be fetched: Re-run to make it."
FOLDER_CHECK_EVERY = 5.0  # seconds a proof that the clip folder takes a clip stays good


class TooManyRunningError(RayError):
    title = "Too many clips at once"
    action = "Wait for one of them to finish, then try again; nothing was sent."


# --------------------------------------------------------------------------- the studio


class Studio(FramesAndChains, PromptRewrites):
    """Starts clips for visitors: the key rules, the owner's spending limits, the clip folder (and,
    from ``FramesAndChains``, keyframes, continuing and joining; from ``PromptRewrites``, Enhance)."""

    def __init__(
        self,
        client: RayClient,
        board: JobBoard,
        gate: SpendGate,
        clips: Path,
        settings: AppSettings | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder  # the owner's spend record (record.py): every attempt on the page's key
        self.board = board
        self.gate = gate
        self.clips = clips
        self.settings = settings or AppSettings()
        super().__init__()
        self._folder_checked_at = -FOLDER_CHECK_EVERY
        self.store = ClipStore(clips, max_age=self.settings.clip_max_age, sweep_every=self.settings.cleanup_every)
        self.signer = EntrySigner.for_key(client.settings.api_key, default_secret_file())
        if self.settings.save_dir is not None:
            board.on_done = self.keep_copy

    def keep_copy(self, tracked: Tracked) -> None:
        """RAY_SAVE_DIR: every clip this server makes, kept with a sidecar to make it again (in a worker thread)."""
        if tracked.result is None or self.settings.save_dir is None:
            return
        try:
            clip, _ = keep(tracked.result, self.settings.save_dir, model=self.client.settings.model,
                           api_mode=self.client.settings.api_mode)  # fmt: skip
        except OSError as err:
            log.warning("could not keep a copy in RAY_SAVE_DIR: %s", err.strerror or type(err).__name__)
        else:
            log.info("kept %s", clip.name)

    @property
    def policy(self) -> SpendPolicy:
        return self.gate.policy

    @property
    def has_owner_key(self) -> bool:
        return bool(self.client.settings.api_key) and not self.policy.own_key_only

    def price(self, duration: Any, clips: int = 1) -> float:
        """What ``clips`` clips of ``duration`` cost at the configured price (the form's value before it is checked)."""
        seconds = coerce_duration(duration)
        seconds = seconds if seconds in DURATIONS else DEFAULT_DURATION
        return clip_price(seconds, self.client.settings.price_per_second, clips)

    def price_line(self, duration: Any, clips: int = 1) -> str:
        """What the form will cost before anything is pressed."""
        cost = format_usd(self.price(duration, clips))
        each = format_usd(self.price(duration))
        if clips == 1:
            return f"This clip costs **{cost}** at Segmind's listed price."
        return f"These {clips} clips cost **{cost}** ({each} each) at Segmind's listed price."

    def key_for(self, api_key: Any) -> tuple[str, bool]:
        """The key a visitor's call uses, and whether it is their own. A blank field means the page's
        key, unless the page runs on visitors' own keys only."""
        if api_key is not None and not isinstance(api_key, str):
            return self.client.key_for(api_key), True  # raises KeyFormatError
        if (api_key or "").strip():
            return self.client.key_for(api_key), True
        if self.policy.own_key_only:
            raise OwnKeyRequiredError()
        if not self.client.settings.api_key:
            raise MissingAPIKeyError()
        return self.client.key_for(None), False

    def _target(self, request: VideoRequest, ticket_hint: str) -> Path:
        return self.clips / ticket_hint / clip_name(request)

    async def start(self, request: VideoRequest, api_key: Any, visitor: Visitor) -> tuple[Tracked, bool]:
        """Check everything that costs nothing, take the visitor's leave to spend (on the owner's key),
        and hand the clip to the board. Returns the tracked job and whether the visitor's own key is used."""
        (tracked,), own_key = await self.start_many([request], api_key, visitor)
        return tracked, own_key

    async def start_many(
        self, requests: list[VideoRequest], api_key: Any, visitor: Visitor
    ) -> tuple[list[Tracked], bool]:
        """Several clips as one call (variants): one admission for all, each clip its own job."""
        key, own_key = self.key_for(api_key)
        for request in requests:
            self.client.check_request(request)
        await self._clip_folder_ready()
        if own_key and self.board.running(visitor.id) + len(requests) > OWN_KEY_IN_FLIGHT:
            raise TooManyRunningError(f"you have {self.board.running(visitor.id)} clips waiting or running here")
        settle = [Release() for _ in requests]
        outcomes = self._outcomes(requests, visitor, own_key)
        if not own_key:
            prices = [self.price(r.duration) for r in requests]
            try:
                admission = await self._admit(visitor, len(requests), sum(prices))
            except SpendRefusedError as err:
                for outcome in outcomes:
                    outcome.refused(err.rule)
                raise
            settle = _shared_settlement(admission, prices, outcomes)
        tracked = []
        for request, release, outcome in zip(requests, settle, outcomes or [None] * len(requests), strict=True):
            ticket = os.urandom(16).hex()
            tracked.append(self.board.start(request, key, visitor.id, self._target(request, ticket), release, ticket))
            if outcome is not None:
                outcome.tracked = tracked[-1]
        log.info(
            "%s started %d clip(s) on %s key",
            visitor.label,
            len(requests),
            "their own" if own_key else "the owner's",
        )
        return tracked, own_key

    def _outcomes(self, requests: list[VideoRequest], visitor: Visitor, own_key: bool) -> list[ClipOutcome]:
        """Each clip's event for the owner's record: only clips on the page's key are the owner's business."""
        if own_key or self.recorder is None:
            return []
        kind = "clip" if len(requests) == 1 else "variant"
        return [ClipOutcome(self.recorder, visitor.id, r, kind, self.price(r.duration)) for r in requests]

    async def _clip_folder_ready(self) -> None:
        """The clip folder is proven writable, with room, before anything is paid for: checked off the
        event loop, and at most every few seconds (a visitor burst would otherwise probe it per call),
        and again at once after a made clip could not be saved."""
        now = time.monotonic()
        recent = now - self._folder_checked_at < FOLDER_CHECK_EVERY
        if recent and self.board.last_save_failure < self._folder_checked_at:
            return
        try:
            await self._thread(self._check_clip_folder)
        except OutputNotWritableError as err:
            log.error("clips cannot be made: %s", err)
            raise
        self._folder_checked_at = now

    def _check_clip_folder(self) -> None:
        self.store.sweep_if_due()
        self.client.check_output(self.clips / "probe.mp4")

    async def _admit(self, visitor: Visitor, clips: int, cost: float, kind: str = "clip") -> Any:
        """The gate's leave to spend (decided in a worker thread: Redis may be slow). If the caller is
        cancelled meanwhile (a Cancel, a closed tab), a leave that arrives after that is given back at
        once, slot and money, since nothing will be sent for it."""
        deciding = asyncio.ensure_future(self._thread(self.gate.admit, visitor, clips, cost, kind))
        try:
            return await asyncio.shield(deciding)
        except asyncio.CancelledError:
            deciding.add_done_callback(_give_back)
            raise

    def result_summary(self, result: VideoResult, own_key: bool) -> str:
        """The line under a clip: a visitor sees no balance of the owner's account."""
        line = result.summary(show_credits=own_key)
        return line + (" · billed to your key" if own_key else " · billed to this page's key")

    # -- variants

    def variant_requests(
        self, prompts: Any, aspect_ratios: Any, duration: Any, loops: Any, start: Any = "", end: Any = "",
        cameras: Any = (),
    ) -> list[VideoRequest]:  # fmt: skip
        """Every wording × shape × loop value (``loops``: one, or on and off) × camera move (``cameras``:
        Luma's names; none for the wording as it is): checked and capped before anything is sent."""
        plan = plan_variants(prompts, aspect_ratios, tuple(loops), () if cameras is None else cameras)
        plan.check(self.settings.max_variants)
        return plan.requests(duration, start, end)

    def allowance_line(self, api_key: Any, visitor: Visitor) -> str:
        """The page's one line on limits: what this visitor may still make on the page's key
        (spending.Allowance), that their own key is used, or that the page runs on visitors' own keys;
        "" when none applies (no key at all). Blocking: Redis may be asked."""
        try:
            _, own_key = self.key_for(api_key)
        except OwnKeyRequiredError:
            return self.gate.describe() + "."
        except RayError:
            return ""
        if own_key:
            return OWN_KEY_ALLOWANCE
        try:
            return self.gate.allowance(visitor, self.price(DEFAULT_DURATION)).line()
        except RayError:
            return ""

    def remember(
        self, history: Any, tracked: Tracked, own_key: bool, continues: str | None = None, leads_into: str | None = None
    ) -> list[dict]:
        """The visitor's history with this clip's entry first (replacing an older one of it), signed;
        without it once it ended surely unbilled before Segmind had it (refused, or cancelled before it
        was sent). One that may have been billed keeps its card, failed, saying so."""
        history = trimmed(history)
        if tracked.finished and tracked.job_id is None and tracked.result is None and not tracked.maybe_billed:
            return [e for e in history if e.get("id") != tracked.ticket]
        older = next((e for e in history if e.get("id") == tracked.ticket), {})
        entry = entry_for(tracked, own_key, continues or older.get("continues"), leads_into or older.get("leads_into"))
        return with_entry(history, self.signer.sign(entry))

    def settle_lost(self, history: Any) -> list[dict]:
        """The history, with each clip this server started but never saw Segmind take, and no longer
        knows (it restarted while the clip was being sent), marked failed: nothing can fetch it."""
        settled = []
        for entry in trimmed(history):
            unknown = entry.get("state") == "running" and not entry.get("job")
            if unknown and self.board.get(str(entry.get("id"))) is None and self.signer.valid(entry):
                entry = self.signer.sign({**entry, "state": "failed", "error": LOST_WHILE_SENDING})
            settled.append(entry)
        return settled

    def pick_up(self, history: Any, api_key: Any, visitor: Visitor) -> list[tuple[Tracked, bool]]:
        """The clips a visitor's history says are still being made, followed again: by this server's
        board if it knows them, else by their Segmind job id (a status check, never a new submission).
        Only entries this server signed count. A job this server started is its starter's alone; one
        followed from an entry after a restart (when nobody can know whose it was) is every holder's of
        that entry on the same key: each gets the clip, and Segmind is asked once."""
        found: list[tuple[Tracked, bool]] = []
        for entry in trimmed(history):
            if entry.get("state") != "running" or not self.signer.valid(entry):
                continue
            own_key = bool(entry.get("own_key"))
            tracked = self._pick_up_entry(entry, self._follow_key(api_key, own_key), visitor)
            if tracked is not None:
                found.append((tracked, own_key))
        return found

    def _follow_key(self, api_key: Any, own_key: bool) -> str | None:
        """The key a clip is followed anew with: the page's, or for a clip made on the visitor's own
        key, that key only, once it is pasted. None when there is none."""
        if own_key and not (isinstance(api_key, str) and api_key.strip()):
            return None
        try:
            key, _ = self.key_for(api_key if own_key else "")
        except RayError:
            return None
        return key

    def _pick_up_entry(self, entry: dict, key: str | None, visitor: Visitor) -> Tracked | None:
        job_id = entry.get("job") if isinstance(entry.get("job"), str) else None
        tracked = self.board.get(job_id or "") or self.board.get(str(entry.get("id")))
        shared = tracked is None  # the board does not know it (a restart): whoever holds the entry
        if tracked is not None and not tracked.followable_by(visitor.id, key):
            if not (tracked.shared and tracked.finished and tracked.result is None and key):
                return None  # another visitor's, or still being followed on another key
            tracked, shared = self._forget(tracked)  # another key could not fetch it: this one tries
        elif tracked is not None and tracked.fetch_failed and key:
            tracked, shared = self._forget(tracked)  # made, but not fetched here (a cut download, a full disk)
        if tracked is None and job_id and key and self.board.following(visitor.id) < PICK_UP_AT_ONCE:
            try:
                tracked = self._follow_entry(entry, job_id, key, visitor, shared)
            except RayError:
                return None
        return tracked

    def _forget(self, tracked: Tracked) -> tuple[None, bool]:
        self.board.forget(tracked)
        return None, tracked.shared

    def _follow_entry(self, entry: dict, job_id: str, key: str, visitor: Visitor, shared: bool) -> Tracked:
        request = request_of(entry)
        ticket = str(entry.get("id"))
        ticket = ticket if ENTRY_ID.fullmatch(ticket) else os.urandom(16).hex()
        target = self._target(request, ticket)
        return self.board.follow(job_id, key, visitor.id, target, request, ticket, shared=shared)


def _give_back(deciding: asyncio.Future) -> None:
    """An admission nobody waits for any more: refunded, then its slot freed (off the event loop)."""
    if deciding.cancelled() or deciding.exception() is not None:
        return
    admission = deciding.result()

    def undo() -> None:
        admission.refund()
        admission.release()

    threading.Thread(target=undo, name="ray-admission-give-back", daemon=True).start()


def _shared_settlement(admission: Any, prices: list[float], outcomes: list[ClipOutcome]) -> list[Release]:
    """One admission for several clips: the slot is released when the last clip's request has ended;
    money comes back clip by clip for those that cannot have been billed; each clip's ``outcome`` (if
    recorded) is written as it settles."""
    remaining = [len(prices)]

    def release(outcome: ClipOutcome | None) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            admission.release()
        if outcome is not None:
            outcome.settled()

    def refund(price: float, outcome: ClipOutcome | None) -> None:
        give_back = functools.partial(admission.refund, price)
        if outcome is None:
            give_back()
        else:
            outcome.refund(give_back)

    recorded = outcomes or [None] * len(prices)
    return [
        Release(functools.partial(release, o), functools.partial(refund, p, o))
        for p, o in zip(prices, recorded, strict=True)
    ]
