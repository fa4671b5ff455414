"""Paid jobs this server follows, each as its own asyncio task apart from the visitor's request.

A visitor who cancels, reloads or loses the connection stops *watching*; the job goes on and its clip
is saved, since Segmind bills it either way. Waiting costs no thread: a status check hops to a worker
thread for the few milliseconds of its HTTP call, and the wait between checks is an asyncio sleep.
A job's spending admission is released only when its upstream request has really ended.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import hmac
import logging
import os
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ray_studio.client.client import RayClient
from ray_studio.client.errors import (
    CancelledError,
    ClipNotSavedError,
    JobFailedError,
    JobNotFoundError,
    QueueUnavailableError,
    RayError,
    VideoTooLargeError,
)
from ray_studio.client.job import Job, JobStatus, PollPlan, VideoResult, typical_seconds
from ray_studio.client.request import VideoRequest
from ray_studio.client.transport import surely_not_billed
from ray_studio.web.redaction import LIVE_KEYS

log = logging.getLogger("ray_studio.board")

# A job's phases, in order: waiting, submitting, QUEUED, PROCESSING, downloading, then one of these.
# "stopped": nothing was sent (cancelled while waiting for a slot).
FINISHED = ("done", "failed", "stopped")


_KEY_TAGS = os.urandom(32)


def key_tag(key: str) -> str:
    """A digest telling keys apart in memory, useless for guessing one (keyed with a secret of this process)."""
    return hmac.new(_KEY_TAGS, key.encode(), hashlib.sha256).hexdigest()[:32]


class Release:
    """What a tracked job owes its spending admission when it ends: ``release`` always (the upstream
    request ended), ``refund`` too when the clip cannot have been billed. Both default to nothing."""

    def __init__(self, release: Callable[[], None] | None = None, refund: Callable[[], None] | None = None) -> None:
        self._release = release
        self._refund = refund
        self.settled = False

    def settle(self, billed: bool) -> None:
        """Once only; a second call does nothing."""
        if self.settled:
            return
        self.settled = True
        if not billed and self._refund:
            self._refund()
        if self._release:
            self._release()


@dataclass(eq=False)
class Tracked:
    """One generation this server follows. ``ticket`` is ours (known at once); ``job_id`` is
    Segmind's, known once the job is queued."""

    request: VideoRequest | None
    owner: str
    target: Path
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    phase: str = "waiting"
    job_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    sent: float | None = None  # when it was sent to Segmind: the estimate counts from there
    result: VideoResult | None = None
    error: RayError | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    follow_only: bool = False  # picked up by its job id: no submission, no slot
    shared: bool = False  # followed from a signed entry the board did not know: every holder's of it
    key_tag: str = ""  # which key follows it (a keyed digest, never the key)
    fetch_failed: bool = False  # Segmind has (or may still make) the clip; a later visit fetches it
    maybe_billed: bool = False  # it failed in a way that may have been charged
    task: asyncio.Task | None = None
    watchers: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    def followable_by(self, visitor_id: str, key: str | None) -> bool:
        """Whether this visitor may watch this job: the one who started it (or first followed it), or,
        for a shared job, anyone following it with the same key, or anyone once its clip is made."""
        if visitor_id == self.owner:
            return True
        return self.shared and (self.result is not None or (key is not None and key_tag(key) == self.key_tag))

    @property
    def charged(self) -> bool:
        """Whether this job may have cost money: its clip was made, or it failed in a way that may be billed."""
        return self.result is not None or self.maybe_billed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def since_sent(self) -> float:
        """Seconds since it was sent to Segmind (since it was started, before that or when only followed)."""
        return time.monotonic() - (self.sent or self.started)

    def _set(self, phase: str) -> None:
        self.phase = phase
        self._changed.set()

    async def changes(self, tick: float | None = 1.0) -> AsyncIterator[Tracked]:
        """Yields this job now, on every change of phase, and every ``tick`` seconds (for a clock)
        until it is finished; the last value is the finished job."""
        while True:
            self._changed.clear()
            finished = self.finished  # one that ends while the watcher handles the last value is yielded again
            yield self
            if finished:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), tick)

    async def outcome(self) -> VideoResult:
        """Wait for the clip; raises the job's error."""
        async for _ in self.changes(tick=None):
            pass
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def _stopped_before_it_ran(tracked: Tracked, settle: Release, task: asyncio.Task) -> None:
    """A job cancelled before its task first ran (a Cancel at once) never reached ``_run``, which
    settles every other: nothing was sent, so it stops here and its admission is given back whole."""
    if task.cancelled() and tracked.phase == "waiting":
        tracked._set("stopped")
        settle.settle(billed=False)


class JobBoard:
    """Starts and follows generations for the page and the API, at most ``concurrency`` upstream at
    once (more wait for a slot, visibly, costing nothing), and learns how long jobs take."""

    def __init__(self, client: RayClient, *, concurrency: int, threads: int, keep_finished: float = 86_400) -> None:
        self.client = client
        self.concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._limiter = anyio.CapacityLimiter(threads)
        self._by_ticket: dict[str, Tracked] = {}
        self._background: set[asyncio.Task] = set()
        self._by_job: dict[str, Tracked] = {}
        self._keep_finished = keep_finished
        self.on_done: Callable[[Tracked], None] | None = None  # run in a worker thread for each clip made
        self.last_save_failure = float("-inf")  # monotonic time a made clip last failed to be saved
        self._recent: dict[int, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=12)
        )

    # -- asking

    def get(self, ticket_or_job: str) -> Tracked | None:
        return self._by_ticket.get(ticket_or_job) or self._by_job.get(ticket_or_job)

    def running(self, owner: str) -> int:
        return sum(1 for t in self._by_ticket.values() if t.owner == owner and not t.finished)

    def following(self, owner: str) -> int:
        """Jobs picked up by id for this visitor that are still being followed."""
        return sum(1 for t in self._by_ticket.values() if t.owner == owner and t.follow_only and not t.finished)

    def estimate(self, duration: int) -> float:
        """Seconds from submission to the clip, from recent jobs of this length (median), or the usual."""
        recent = self._recent[duration]
        return statistics.median(recent) if recent else typical_seconds(duration)

    # -- starting

    def start(
        self, request: VideoRequest, key: str, owner: str, target: Path, settle: Release, ticket: str | None = None
    ) -> Tracked:
        tracked = Tracked(request, owner, target, key_tag=key_tag(key))
        tracked.ticket = ticket or tracked.ticket
        self._remember(tracked)
        tracked.task = asyncio.create_task(self._run(tracked, key, settle), name=f"ray-job-{tracked.ticket}")
        tracked.task.add_done_callback(functools.partial(_stopped_before_it_ran, tracked, settle))
        return tracked

    def follow(
        self,
        job_id: str,
        key: str,
        owner: str,
        target: Path,
        request: VideoRequest | None = None,
        ticket: str | None = None,
        *,
        shared: bool = False,
    ) -> Tracked:
        """Follow a job Segmind already has (after a restart or from another replica): no new
        submission, no slot, nothing to settle. ``shared``: whose it is is not known here (see
        ``Tracked.followable_by``)."""
        known = self._by_job.get(job_id)
        if known is not None:
            return known
        job = self.client.job(job_id, request)
        tracked = Tracked(request, owner, target, phase="QUEUED", job_id=job.id, follow_only=True, shared=shared,
                          key_tag=key_tag(key))  # fmt: skip
        tracked.ticket = ticket or tracked.ticket
        self._remember(tracked)
        self._by_job[job.id] = tracked  # at once: a second pick-up of the same job finds this one
        tracked.task = asyncio.create_task(self._watch_only(tracked, job, key), name=f"ray-follow-{job.id}")
        return tracked

    def forget(self, tracked: Tracked) -> None:
        """A finished job whose clip could not be fetched, forgotten so that a later visit follows it
        again by its job id (a status check, never a new submission)."""
        if tracked.finished and self._by_ticket.get(tracked.ticket) is tracked:
            del self._by_ticket[tracked.ticket]
        if tracked.job_id and self._by_job.get(tracked.job_id) is tracked:
            del self._by_job[tracked.job_id]

    def abandon(self, tracked: Tracked) -> None:
        """The last watcher has gone. Before anything is sent the job is dropped; a direct (sync)
        call is cut (it cannot be fetched later anyway); a queued job goes on and is saved."""
        if tracked.finished:
            return
        if tracked.phase == "waiting" and tracked.task is not None:
            tracked.task.cancel()
        elif self.client.settings.api_mode == "sync" or tracked.job_id is None:
            tracked.cancel.set()

    def _remember(self, tracked: Tracked) -> None:
        self._forget_old()
        self._by_ticket[tracked.ticket] = tracked

    def _forget_old(self) -> None:
        old = [t for t in self._by_ticket.values() if t.finished and t.elapsed > self._keep_finished]
        for tracked in old:
            self._by_ticket.pop(tracked.ticket, None)
            if tracked.job_id:
                self._by_job.pop(tracked.job_id, None)

    # -- running

    async def _thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._limiter)

    async def _run(self, tracked: Tracked, key: str, settle: Release) -> None:
        with LIVE_KEYS.held(key):  # kept out of the log while the job uses it (a visitor's key too)
            await self._run_holding(tracked, key, settle)

    async def _run_holding(self, tracked: Tracked, key: str, settle: Release) -> None:
        billed = False
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        try:
            async with self._slots:
                tracked.sent = time.monotonic()
                tracked._set("submitting")
                billed = True  # from here on a failure may have been charged, unless it says otherwise
                await self._generate(tracked, key)
        except asyncio.CancelledError:
            if tracked.phase == "waiting":
                billed = False
                tracked._set("stopped")
            else:
                stopped = tracked.error or CancelledError("the server stopped following this job")
                self._fail(tracked, stopped, maybe_billed=True)
            raise
        except RayError as err:
            billed = billed and not surely_not_billed(err)
            self._fail(tracked, err, maybe_billed=billed)
            log.info("job %s failed: %s", tracked.job_id or tracked.ticket, type(err).__name__)
        except Exception:
            log.exception("unexpected failure while following a job")
            self._fail(tracked, RayError("something unexpected went wrong on this server"), maybe_billed=billed)
        finally:
            settle.settle(billed)

    async def _watch_only(self, tracked: Tracked, job: Job, key: str) -> None:
        try:
            with LIVE_KEYS.held(key):
                await self._follow(tracked, job, key, learn=False)
        except RayError as err:
            self._fail(tracked, err)
        except Exception:
            log.exception("unexpected failure while following a job")
            self._fail(tracked, RayError("something unexpected went wrong on this server"))

    def _fail(self, tracked: Tracked, err: RayError, maybe_billed: bool = True) -> None:
        # After Segmind has the job, only its own FAILED (or forgetting it) ends it: anything else on
        # our side (a network, disk or file-handle trouble, waiting too long) leaves it to fetch later.
        gone = isinstance(err, (JobFailedError, JobNotFoundError, VideoTooLargeError))
        tracked.fetch_failed = tracked.job_id is not None and not gone
        tracked.maybe_billed = maybe_billed
        if isinstance(err, ClipNotSavedError):
            self.last_save_failure = time.monotonic()
        tracked.error = err
        tracked._set("failed")

    async def _generate(self, tracked: Tracked, key: str) -> None:
        request = tracked.request
        assert request is not None
        if self.client.uses_queue:
            try:
                job = await self._thread(self.client.submit, request, key, cancel=tracked.cancel)
            except QueueUnavailableError:
                await self._generate_sync(tracked, key)
                self.client.mark_queue_unavailable()
            else:
                await self._follow(tracked, job, key)
            return
        await self._generate_sync(tracked, key)

    async def _generate_sync(self, tracked: Tracked, key: str) -> None:
        tracked._set("PROCESSING")
        result = await self._thread(
            self.client.generate_sync, tracked.request, tracked.target, api_key=key, cancel=tracked.cancel
        )
        self._finish(tracked, result)

    async def _follow(self, tracked: Tracked, job: Job, key: str, learn: bool = True) -> None:
        tracked.job_id = job.id
        self._by_job[job.id] = tracked
        if tracked.phase != "QUEUED":
            tracked._set("QUEUED")
        expected = self.estimate(job.request.duration) if job.request is not None else None
        plan = PollPlan(self.client.settings, job.id, expected=expected)
        while True:
            try:
                outcome: JobStatus | RayError = await self._thread(self.client.poll, job, key)
            except RayError as err:
                outcome = err
            if isinstance(outcome, JobStatus):
                if outcome.state == "COMPLETED":
                    break
                if outcome.state != tracked.phase:
                    tracked._set(outcome.state)
            try:
                delay = plan.delay_after(outcome)
            except RayError as err:
                self._fail(tracked, err)
                return
            await asyncio.sleep(delay)
        if learn and job.request is not None:
            self._recent[job.request.duration].append(time.time() - job.submitted_at)
        tracked._set("downloading")
        result = await self._thread(self.client.save_output, job, tracked.target, key, status=outcome,
                                    started=tracked.started)  # fmt: skip
        self._finish(tracked, result)

    def _finish(self, tracked: Tracked, result: VideoResult) -> None:
        tracked.result = result
        tracked._set("done")
        if self.on_done is not None:
            task = asyncio.create_task(self._thread(self.on_done, tracked), name=f"ray-keep-{tracked.ticket}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        log.info("job %s done: %s in %.1f s", tracked.job_id or tracked.ticket, result.size_label,
                 result.elapsed_seconds)  # fmt: skip
