"""A generation as values: the Job Segmind queued, its JobStatus, the Updates a progress display shows,
the VideoResult of a saved clip, and the PollPlan that says when to ask about a job again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ray_studio.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadGatewayError,
    GatewayTimeoutError,
    InternalServerError,
    JobTimeoutError,
    RateLimitError,
    RayError,
)
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from ray_studio.client.wording import format_usd

JOB_STATES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED")
STATE_TEXT = {"QUEUED": "Queued at Segmind…", "PROCESSING": "Generating…"}
MAX_POLL_FAILURES = 8  # failed status checks in a row before giving up on following a job
TYPICAL_SECONDS = {5: 60.0, 9: 90.0}  # submit → clip at Segmind, a first guess for polling and estimates


def typical_seconds(duration: int) -> float:
    """How long a clip of ``duration`` seconds usually takes at Segmind, from submission."""
    return TYPICAL_SECONDS.get(duration, 90.0)


@dataclass(frozen=True)
class Job:
    """A generation queued at Segmind: enough to follow it and fetch its clip, now or later."""

    id: str
    status_url: str
    response_url: str
    request: VideoRequest | None = None
    submitted_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    state: str  # one of JOB_STATES
    error: str | None = None  # Segmind's reason, when FAILED
    output_url: str | None = None  # the clip, when COMPLETED and read from the result

    @property
    def done(self) -> bool:
        return self.state in ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class Update:
    """One step of a generation, for a progress display. ``str(update)`` is a line for people."""

    state: str  # "sending", "QUEUED", "PROCESSING", "waiting", "retrying", "downloading", "fallback"
    text: str
    job_id: str | None = None
    wait: float | None = None  # seconds, when waiting out a rate limit

    def __str__(self) -> str:
        return self.text


ProgressCallback = Callable[[Update], None]


@dataclass(frozen=True)
class VideoResult:
    path: Path
    request: VideoRequest | None
    elapsed_seconds: float
    size_bytes: int
    remaining_credits: float | None = None
    credits_consumed: float | None = None
    attempts: int = 1
    job_id: str | None = None
    cost: float | None = None  # US dollars, from the listed price

    @property
    def size_label(self) -> str:
        """The file size for people: ``3.1 MB`` or ``12 kB``."""
        size = self.size_bytes
        return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"

    def summary(self, show_credits: bool = True) -> str:
        """One line for people: parameters, time, size, cost, and credits left (only to the key's owner)."""
        parts = [self.request.describe()] if self.request else []
        parts += [f"{self.elapsed_seconds:.1f} s", self.size_label]
        if self.cost is not None:
            parts.append(format_usd(self.cost))
        if show_credits and self.remaining_credits is not None:
            parts.append(f"{self.remaining_credits:g} credits left")
        return " · ".join(parts)


# --------------------------------------------------------------------------- polling


class PollPlan:
    """When to ask about a job again: once per ``poll_interval`` at first, easing to five times that
    after two minutes, but once per ``poll_interval`` again while the job is ``expected`` to finish
    (from 0.8 to 2 times the seconds given), so a clip is fetched soon after it is done; a
    Retry-After is honoured; failed checks (a dropped connection, a 5xx, a 429) back off and are
    tried again, since a status check is never billed. Raises when following the job should stop:
    a lasting error, too many failures in a row, or the deadline."""

    TRANSIENT = (APIConnectionError, APITimeoutError, RateLimitError, BadGatewayError, GatewayTimeoutError,
                 InternalServerError)  # fmt: skip

    def __init__(
        self,
        settings: Settings,
        job_id: str,
        clock: Callable[[], float] = time.monotonic,
        expected: float | None = None,
    ) -> None:
        self.settings = settings
        self.job_id = job_id
        self.clock = clock
        self.expected = expected
        self.started = clock()
        self.failures = 0

    def _due_soon(self) -> bool:
        return self.expected is not None and 0.8 * self.expected <= self.elapsed <= 2 * self.expected

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def delay_after(self, outcome: JobStatus | RayError) -> float:
        base = self.settings.poll_interval
        if isinstance(outcome, RayError):
            if not isinstance(outcome, self.TRANSIENT):
                raise outcome
            self.failures += 1
            if self.failures > MAX_POLL_FAILURES:
                raise outcome
            delay = min(30.0 * max(base, 0.01), base * 2.0**self.failures)
            if isinstance(outcome, APIStatusError) and outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)  # a 429, or a 503 that says when to come back
        else:
            self.failures = 0
            delay = base if self._due_soon() else base * min(5.0, 1.0 + self.elapsed / 30.0)
        if self.elapsed + delay > self.settings.job_timeout:
            raise JobTimeoutError(f"job {self.job_id} was not finished after {self.elapsed:.0f} s")
        return delay
