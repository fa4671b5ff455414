"""Client for Luma's Ray Flash 2 (720p) video model on Segmind's hosted API.

Library use::

    from ray_studio.client.client import RayClient

    from ray_studio.client.request import VideoRequest
    result = RayClient.from_env().generate(VideoRequest("a red kite over dunes"), "kite.mp4")

A generation is a job on Segmind's queue (v2) by default: ``submit`` returns a ``Job`` at once,
``status``/``wait`` follow it, ``fetch`` saves its clip, and a job id is enough to fetch it again
later (``python ray_client.py --resume ID``). ``SEGMIND_API_MODE=sync`` uses the single v1 call.

This module is the one import people use: it re-exports the request, settings and errors. The
command line (``python ray_client.py "PROMPT" ...``) lives in ray_cli.py. No UI imports here.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests

from ray_studio.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadGatewayError,
    CancelledError,
    ClipNotSavedError,
    GatewayTimeoutError,
    InternalServerError,
    InvalidRequestError,
    InvalidResponseError,
    JobFailedError,
    JobNotFoundError,
    JobTimeoutError,
    KeyFormatError,
    MissingAPIKeyError,
    NotFoundError,
    RateLimitError,
    RayError,
    RedirectRefusedError,
    UploadResponseError,
    VideoTooLargeError,
    error_for_status,
    redact,
    upload_error_for_status,
)
from ray_studio.client.request import (
    VideoRequest,
    _url_problem,
    format_usd,
    private_host_problem,
)
from ray_studio.client.settings import (
    KEY_PATTERN,
    Settings,
    origin,
)
from ray_studio.client.transport import (
    AbortScope,
    AtomicVideoFile,
    RefuseAllCookies,
    WatchedAdapter,
    check_output,
    current_abort_scope,
    decode_base64_video,
    find_video_reference,
    header_number,
    may_have_reached,
    never_connected,
    parse_retry_after,
    read_small,
    server_message,
    stream_to,
)

if TYPE_CHECKING:
    from ray_studio.client.media import Keyframe

log = logging.getLogger("ray_client")

JOB_STATES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED")
DOWNLOAD_ATTEMPTS = 4  # a cut download of a finished job is fetched again, never generated again
MAX_POLL_FAILURES = 8  # failed status checks in a row before giving up on following a job
QUEUE_RECHECK = 600  # seconds the v1 call stands in for a queue that answered 404
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


# --------------------------------------------------------------------------- values


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


# --------------------------------------------------------------------------- client


def surely_not_billed(err: RayError) -> bool:
    """True when a failed generation cannot have been charged: refused locally, refused by Segmind
    with a 4xx before it started, or never connected. Anything else may have been billed."""
    if isinstance(err, InvalidRequestError) or getattr(err, "nothing_sent", False):
        return True
    if isinstance(err, APIStatusError) and err.status is not None and 400 <= err.status < 500:
        return True
    return isinstance(err, (APIConnectionError, APITimeoutError)) and not may_have_reached(err)


class QueueUnavailableError(NotFoundError):
    """Segmind's queue (v2) answered 404 for this model; ``generate`` falls back to the v1 call."""


class RayClient:
    """Segmind's API for one model: safe to share between threads (one pooled Session, no cookies)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or Settings()
        self._session = session or requests.Session()
        self._session.cookies.set_policy(RefuseAllCookies())
        self._session.trust_env = False  # no proxies or .netrc credentials picked up behind our back
        adapter = WatchedAdapter(pool_connections=4, pool_maxsize=64)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._sleep = sleep
        self._queue_unavailable_until = 0.0  # monotonic time; the queue is tried again after it

    @classmethod
    def from_env(cls) -> RayClient:
        return cls(Settings.from_env())

    @property
    def uses_queue(self) -> bool:
        """Whether generations go through Segmind's queue (v2) rather than the single v1 call."""
        return self.settings.api_mode == "async" and time.monotonic() >= self._queue_unavailable_until

    def mark_queue_unavailable(self) -> None:
        """Segmind's queue answered 404 for this model while the v1 call made the clip: use the v1 call
        for the next QUEUE_RECHECK seconds (said in the log), then try the queue again. A 404 from both
        means a wrong model, and changes nothing."""
        if self.uses_queue:
            log.warning("Segmind's queue (v2) answered 404 for %s; using the v1 call for %d minutes",
                        self.settings.model, QUEUE_RECHECK // 60)  # fmt: skip
        self._queue_unavailable_until = time.monotonic() + QUEUE_RECHECK

    def __repr__(self) -> str:
        return f"RayClient(endpoint={self.settings.endpoint!r}, mode={self.settings.api_mode!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- checks that cost nothing

    def key_for(self, api_key: Any = None) -> str:
        """The key a call uses: the caller's own (a visitor's) when given, else the configured one."""
        if api_key is not None and not isinstance(api_key, str):
            raise KeyFormatError()
        key = (api_key or "").strip() or self.settings.api_key
        if not key:
            raise MissingAPIKeyError()
        if not KEY_PATTERN.fullmatch(key):
            raise KeyFormatError()
        return key

    def check_request(self, request: VideoRequest) -> None:
        """Refuse keyframe URLs that point at private or local addresses (Segmind's own storage,
        as configured, excepted)."""
        problems = []
        for name in ("start_image_url", "end_image_url"):
            url = getattr(request, name)
            trusted = url and origin(url) in self.settings.trusted_origins
            if url and not trusted and (problem := private_host_problem(name, url)):
                problems.append(problem)
        if problems:
            raise InvalidRequestError(problems)

    def check_output(self, output: str | os.PathLike[str]) -> Path:
        target = Path(output)
        check_output(target, self.settings.min_free_bytes)
        return target

    # -- one HTTP exchange

    def _secrets(self, key: str | None) -> tuple[str | None, ...]:
        return (key, self.settings.api_key)

    def _send(
        self,
        method: str,
        url: str,
        key: str,
        *,
        json_body: Any = None,
        what: str = "the request",
    ) -> requests.Response:
        """One request carrying the key. Redirects are followed only within the configured origins
        (requests would carry x-api-key to any host a redirect names). Errors become RayErrors whose
        cause says whether the request may have reached Segmind."""
        s = self.settings
        for _ in range(4):
            if origin(url) not in s.trusted_origins:
                raise RedirectRefusedError(f"{what} was sent to {urlsplit(url).netloc}, not to Segmind")
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json_body,
                    headers={"x-api-key": key, "Accept": "application/json, video/mp4"},
                    timeout=(s.connect_timeout, s.read_timeout),
                    stream=True,  # bodies are read by size-capped readers, never whole into memory
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as err:
                raise self._transport_error(err, url, what) from err
            if response.is_redirect:
                location = urljoin(url, response.headers.get("Location", ""))
                response.close()
                if origin(location) not in s.trusted_origins:
                    raise RedirectRefusedError(
                        f"Segmind's answer redirected {what} to {urlsplit(location).netloc}; the key was not sent there"
                    )
                if method != "GET" and response.status_code not in (307, 308):
                    raise RedirectRefusedError(f"Segmind's answer redirected {what} with HTTP {response.status_code}")
                url = location
                continue
            return response
        raise RedirectRefusedError(f"Segmind's answer redirected {what} more than three times")

    def _transport_error(self, err: requests.exceptions.RequestException, url: str, what: str) -> RayError:
        s = self.settings
        host = urlsplit(url).netloc
        scope = current_abort_scope()
        if scope is not None and scope.cancel is not None and scope.cancel.is_set():
            return CancelledError(
                "stopped while waiting for Segmind; the request was closed",
                action="No video was saved; if Segmind had started the clip, it may be billed.",
            )
        if isinstance(err, requests.exceptions.ConnectTimeout):
            return APITimeoutError(
                f"could not connect to {host} within {s.connect_timeout:g} s",
                action="Check your network connection and SEGMIND_BASE_URL, then try again.",
            )
        if never_connected(err):
            return APIConnectionError(f"could not reach {host}")
        if isinstance(err, requests.exceptions.Timeout):
            return APITimeoutError(f"Segmind sent nothing for {s.read_timeout:g} s in answer to {what}")
        if isinstance(err, requests.exceptions.ConnectionError):
            return APIConnectionError(f"the connection dropped before Segmind answered {what}")
        return APIConnectionError(f"{what} failed ({type(err).__name__})")

    def _raise_for_status(self, response: requests.Response, key: str, ladder=error_for_status) -> None:
        if response.status_code < 400:
            return
        with response:
            body = read_small(response)
        message = server_message(body, response.headers.get("Content-Type", ""), self._secrets(key))
        if ladder is error_for_status:
            raise error_for_status(
                response.status_code, message, parse_retry_after(response.headers.get("Retry-After"))
            )
        raise ladder(response.status_code, message)

    def _json(self, response: requests.Response, key: str, what: str) -> Any:
        with response:
            body = read_small(response, 1 << 20)
        try:
            return json.loads(body)
        except ValueError:
            raise InvalidResponseError(f"Segmind sent malformed JSON in answer to {what}") from None

    def _retry_wait(self, err: RayError, attempt: int) -> float | None:
        """Seconds to wait before resending, or None to give up. Only requests that cannot have
        been billed are resent, unless the gateway opt-in is on."""
        s = self.settings
        if attempt > s.max_retries or isinstance(err, CancelledError):
            return None
        backoff = min(s.max_retry_wait, random.uniform(0, 2.0 ** (attempt - 1)))
        if isinstance(err, RateLimitError):
            if err.retry_after is None:
                return backoff
            return err.retry_after if err.retry_after <= s.max_retry_wait else None
        if isinstance(err, (APIConnectionError, APITimeoutError)) and not may_have_reached(err):
            return backoff
        if s.retry_gateway_errors and isinstance(err, (BadGatewayError, GatewayTimeoutError, APITimeoutError,
                                                       APIConnectionError)):  # fmt: skip
            return backoff
        return None

    def _with_retries(
        self, send: Callable[[], requests.Response], progress: ProgressCallback | None, cancel: threading.Event | None
    ) -> tuple[requests.Response, int]:
        attempt = 0
        billable = False  # an earlier try may have been charged (a resent gateway error)
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                stopped = CancelledError("stopped before sending" if attempt == 1 else "stopped while waiting to retry")
                stopped.nothing_sent = not billable  # nothing sent, or each try refused before Segmind began
                raise stopped
            try:
                return send(), attempt
            except RayError as err:
                billable = billable or not surely_not_billed(err)
                wait = self._retry_wait(err, attempt)
                if wait is None:
                    raise
                if progress:
                    if isinstance(err, RateLimitError):
                        text = f"rate limited by Segmind; waiting {wait:.0f} s before trying again"
                    else:
                        text = f"{err.title.lower()}; trying again in {wait:.0f} s (attempt {attempt + 1})"
                    progress(Update("waiting" if isinstance(err, RateLimitError) else "retrying", text, wait=wait))
                self._sleep(wait)

    # -- the queue (v2)

    def job(self, job_id: str, request: VideoRequest | None = None) -> Job:
        """A Job for an id Segmind gave earlier (to follow it or fetch its clip again)."""
        job_id = job_id.strip() if isinstance(job_id, str) else ""
        if not JOB_ID_PATTERN.fullmatch(job_id):
            raise InvalidRequestError(["a job id is letters, digits, '-' and '_' only, as Segmind gave it"])
        base = self.settings.v2_base
        return Job(job_id, f"{base}/requests/{job_id}/status", f"{base}/requests/{job_id}", request)

    def submit(
        self,
        request: VideoRequest,
        api_key: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Job:
        """Queue one generation at Segmind (billed from here on) and return its Job at once. Raises
        QueueUnavailableError when this model has no v2 route."""
        key = self.key_for(api_key)
        self.check_request(request)

        def send() -> requests.Response:
            response = self._send("POST", self.settings.v2_endpoint, key, json_body=request.to_payload(),
                                  what="the submission")  # fmt: skip
            if response.status_code == 404:
                response.close()
                raise QueueUnavailableError(status=404, server_message="no queue route for this model")
            self._raise_for_status(response, key)
            return response

        try:
            response, _ = self._with_retries(send, progress, cancel)
        except (APIConnectionError, APITimeoutError) as err:
            if not may_have_reached(err):
                raise
            raise type(err)(
                err.detail,
                action="The submission may have reached Segmind and been billed: check your Segmind console "
                "before trying again.",
                visitor_detail="the connection dropped while the clip was being submitted",
                visitor_action="It may have reached Segmind and been billed: check your history before trying again.",
            ) from err
        data = self._json(response, key, "the submission")
        job_id = data.get("request_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
            message = server_message(json.dumps(data).encode(), "application/json", self._secrets(key))
            raise InvalidResponseError("Segmind accepted the submission but sent no job id", server_message=message)
        job = self.job(job_id, request)
        # Segmind's own URLs when they stay where the key may go; built from the id otherwise.
        status_url, response_url = data.get("status_url"), data.get("response_url")
        trusted = self.settings.trusted_origins
        urls = (status_url, response_url)
        if all(isinstance(u, str) and origin(u) in trusted for u in urls):
            job = Job(job_id, status_url, response_url, request, job.submitted_at)
        return job

    def _job_body(self, job: Job, url: str, key: str, what: str) -> dict[str, Any]:
        response = self._send("GET", url, key, what=what)
        if response.status_code == 404:
            response.close()
            raise JobNotFoundError(f"Segmind does not know job {job.id} (or no longer keeps it)", status=404)
        if response.status_code == 422:  # Segmind answers a FAILED job with 422 and its status body
            data = self._json(response, key, what)
            if isinstance(data, dict) and data.get("status") == "FAILED":
                return data
            raise error_for_status(422, server_message(json.dumps(data).encode(), "application/json",
                                                        self._secrets(key)))  # fmt: skip
        self._raise_for_status(response, key)
        data = self._json(response, key, what)
        if not isinstance(data, dict) or data.get("status") not in JOB_STATES:
            raise InvalidResponseError(f"Segmind's answer about job {job.id} holds no known status")
        return data

    def _status_from(self, job: Job, data: dict[str, Any], key: str) -> JobStatus:
        state = data["status"]
        error = None
        if state == "FAILED":
            raw = data.get("error")
            error = redact(" ".join(str(raw).split())[:300], self._secrets(key)) if raw else "no reason given"
        output = find_video_reference(data) if state == "COMPLETED" else None
        return JobStatus(job.id, state, error, output)

    def status(self, job: Job, api_key: str | None = None) -> JobStatus:
        """Where the job is now (one GET; never billed)."""
        key = self.key_for(api_key)
        return self._status_from(job, self._job_body(job, job.status_url, key, "the status check"), key)

    def result(self, job: Job, api_key: str | None = None) -> JobStatus:
        """The job's result: with ``output_url`` once COMPLETED."""
        key = self.key_for(api_key)
        return self._status_from(job, self._job_body(job, job.response_url, key, "the result request"), key)

    def wait(
        self,
        job: Job,
        api_key: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        expected: float | None = None,
    ) -> JobStatus:
        """Follow the job until it is COMPLETED (returned, with its output URL) or FAILED (JobFailedError).
        ``expected``: seconds the job should take from now (default: what such a clip usually takes)."""
        if expected is None and job.request is not None:
            expected = typical_seconds(job.request.duration)
        plan = PollPlan(self.settings, job.id, expected=expected)
        last_state = None
        while True:
            if cancel is not None and cancel.is_set():
                raise CancelledError(f"stopped waiting; job {job.id} goes on at Segmind")
            try:
                outcome: JobStatus | RayError = self.poll(job, api_key)
            except (JobFailedError, InvalidResponseError):
                raise
            except RayError as err:
                outcome = err
            if isinstance(outcome, JobStatus):
                if outcome.state == "COMPLETED":
                    return outcome
                if progress and outcome.state != last_state:
                    progress(Update(outcome.state, STATE_TEXT[outcome.state], job.id))
                last_state = outcome.state
            delay = plan.delay_after(outcome)
            if progress and isinstance(outcome, RateLimitError):
                progress(Update("waiting", f"rate limited by Segmind; asking again in {delay:.0f} s", job.id, delay))
            self._sleep_or_cancel(delay, cancel)

    def poll(self, job: Job, api_key: str | None = None) -> JobStatus:
        """One look at the job: its status, and its result (with the video URL) once COMPLETED.
        Raises JobFailedError when Segmind says FAILED."""
        status = self.status(job, api_key)
        if status.state == "COMPLETED":
            status = self.result(job, api_key)
            if status.state == "COMPLETED" and status.output_url is None:
                raise InvalidResponseError(f"job {job.id} is complete but Segmind's answer holds no video URL")
        if status.state == "FAILED":
            raise JobFailedError(server_message=status.error)
        return status

    def _sleep_or_cancel(self, seconds: float, cancel: threading.Event | None) -> None:
        if cancel is None:
            self._sleep(seconds)
        elif cancel.wait(seconds):
            raise CancelledError("stopped waiting; the job goes on at Segmind")

    def save_output(
        self,
        job: Job,
        output: str | os.PathLike[str],
        api_key: str | None = None,
        *,
        status: JobStatus | None = None,
        cancel: threading.Event | None = None,
        progress: ProgressCallback | None = None,
        started: float | None = None,
    ) -> VideoResult:
        """Download a COMPLETED job's clip to ``output``. A cut or failed download is fetched again
        (the link is asked for anew if it stopped working); the job is never submitted again."""
        target = Path(output)
        started = time.monotonic() if started is None else started
        status = status if status is not None and status.output_url else self.result(job, api_key)
        if status.state != "COMPLETED" or not status.output_url:
            raise InvalidResponseError(f"job {job.id} has no clip to fetch yet ({status.state})")
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            if progress:
                progress(Update("downloading", "downloading the clip", job.id))
            try:
                try:
                    size, credits_left, consumed = self._download(status.output_url, target, cancel)
                except OSError as err:  # the disk, or the process's open files, not the network
                    raise ClipNotSavedError(
                        f"saving {target.name} failed ({err.strerror or type(err).__name__})"
                    ) from err
                break
            except (APIConnectionError, APITimeoutError, InvalidResponseError, ClipNotSavedError) as err:
                if attempt == DOWNLOAD_ATTEMPTS or isinstance(err, (VideoTooLargeError, CancelledError)):
                    raise type(err)(
                        err.detail,
                        action=f"The clip is still at Segmind for about an hour: fetch it again with job id {job.id}.",
                        visitor_detail="the download of the finished clip failed",
                        visitor_action="Segmind keeps the clip for about an hour: reload the page to fetch it "
                        "again (no new charge).",
                    ) from err
                if isinstance(err, _LinkFailedError):
                    status = self.result(job, api_key)
                    if not status.output_url:
                        raise
                self._sleep(min(self.settings.max_retry_wait, 0.5 * attempt))
        request = job.request
        return VideoResult(
            path=target,
            request=request,
            elapsed_seconds=time.monotonic() - started,
            size_bytes=size,
            remaining_credits=credits_left,
            credits_consumed=consumed,
            attempts=attempt,
            job_id=job.id,
            cost=request.price(self.settings.price_per_second) if request else None,
        )

    def fetch(
        self,
        job: Job,
        output: str | os.PathLike[str],
        api_key: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        started: float | None = None,
    ) -> VideoResult:
        """Wait for the job and save its clip: how a clip is resumed by id, without a new submission."""
        target = self.check_output(output)
        started = time.monotonic() if started is None else started
        status = self.wait(job, api_key, progress=progress, cancel=cancel)
        return self.save_output(job, target, api_key, status=status, cancel=cancel, progress=progress, started=started)

    # -- one call

    def generate(
        self,
        request: VideoRequest,
        output: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        on_job: Callable[[Job], None] | None = None,
    ) -> VideoResult:
        """Make one clip and save it at ``output``: on Segmind's queue by default, in one v1 call with
        ``api_mode="sync"``. ``api_key`` overrides the configured key (a visitor's own). ``on_job`` hears
        the job as soon as Segmind has queued it. Raises a RayError subclass on every expected failure."""
        key = self.key_for(api_key)
        self.check_request(request)
        target = self.check_output(output)
        started = time.monotonic()
        if self.uses_queue:
            if progress:
                progress(Update("sending", f"submitting {request.describe()} to Segmind's queue"))
            try:
                job = self.submit(request, key, progress=progress, cancel=cancel)
            except QueueUnavailableError:
                if progress:
                    progress(Update("fallback", "Segmind has no queue for this model; using the direct call"))
                result = self.generate_sync(request, target, api_key=key, progress=progress, cancel=cancel,
                                            started=started)  # fmt: skip
                self.mark_queue_unavailable()
                return result
            else:
                if on_job:
                    on_job(job)
                if progress:
                    progress(Update("QUEUED", f"job {job.id} queued at Segmind", job.id))
                return self.fetch(job, target, key, progress=progress, cancel=cancel, started=started)
        return self.generate_sync(request, target, api_key=key, progress=progress, cancel=cancel, started=started)

    def generate_sync(
        self,
        request: VideoRequest,
        output: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        started: float | None = None,
    ) -> VideoResult:
        """The single v1 call: the clip comes back on the same (long) request. A cancel closes it."""
        key = self.key_for(api_key)
        self.check_request(request)
        target = self.check_output(output)
        started = time.monotonic() if started is None else started
        if progress:
            progress(Update("PROCESSING", f"generating {request.describe()} (one direct call)"))

        def send() -> requests.Response:
            response = self._send("POST", self.settings.endpoint, key, json_body=request.to_payload(),
                                  what="the generation request")  # fmt: skip
            self._raise_for_status(response, key)
            return response

        with AbortScope(cancel):
            try:
                response, attempts = self._with_retries(send, progress, cancel)
            except (APIConnectionError, APITimeoutError) as err:
                if not may_have_reached(err):
                    raise
                slow = " If Segmind is slow, raise SEGMIND_READ_TIMEOUT." if isinstance(err, APITimeoutError) else ""
                raise type(err)(
                    err.detail,
                    action="The request reached Segmind, so the clip may have been made and billed: check your "
                    "Segmind console before trying again." + slow,
                    visitor_detail="the connection dropped after the request reached Segmind",
                    visitor_action="The clip may have been made and billed; wait a minute before trying again.",
                ) from err
            with response:
                size, credits_left, consumed = self._save_v1(response, target, key, cancel)
        return VideoResult(
            path=target,
            request=request,
            elapsed_seconds=time.monotonic() - started,
            size_bytes=size,
            remaining_credits=credits_left,
            credits_consumed=consumed,
            attempts=attempts,
            cost=request.price(self.settings.price_per_second),
        )

    # -- downloads

    def _download(
        self, url: str, target: Path, cancel: threading.Event | None
    ) -> tuple[int, float | None, float | None]:
        """The clip at a URL Segmind gave, fetched without the key (it must never reach another host)."""
        if not url.startswith(("http://", "https://")):
            size = AtomicVideoFile(target, self.settings.max_video_bytes).write([decode_base64_video(url)], None)
            return size, None, None
        s = self.settings
        with AbortScope(cancel):
            try:
                download = self._session.get(url, stream=True, timeout=(s.connect_timeout, s.read_timeout))
            except requests.exceptions.RequestException as err:
                raise self._transport_error(err, url, "the video download") from err
            with download:
                if download.status_code >= 400:
                    raise _LinkFailedError(
                        f"the video link answered HTTP {download.status_code}",
                        action="Try again; the link may have expired.",
                    )
                size = stream_to(download, target, self.settings, cancel)
                credits_left = header_number(download, "x-remaining-credits")
                return size, credits_left, header_number(download, "x-credits-consumed")

    def _save_v1(
        self, response: requests.Response, target: Path, key: str, cancel: threading.Event | None
    ) -> tuple[int, float | None, float | None]:
        credits_left = header_number(response, "x-remaining-credits")
        consumed = header_number(response, "x-credits-consumed")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json" or content_type.endswith("+json"):
                size = self._save_v1_json(response, target, key, cancel)
            else:
                if content_type.startswith("text/"):
                    raise InvalidResponseError(f"Segmind sent {content_type} instead of a video")
                size = stream_to(response, target, self.settings, cancel)
        except (APIConnectionError, APITimeoutError) as err:
            raise type(err)(
                err.detail,
                action="No video was saved. Segmind made the clip and has probably billed it, but the direct "
                "(sync) call cannot fetch it again; SEGMIND_API_MODE=async can.",
                visitor_detail="the clip was made (and probably billed) but its download was cut off",
                visitor_action="No video was saved; try again in a minute.",
            ) from err
        return size, credits_left, consumed

    def _save_v1_json(self, response: requests.Response, target: Path, key: str, cancel: threading.Event | None) -> int:
        data = self._json(response, key, "the generation request")
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            message = server_message(json.dumps(data).encode(), "application/json", self._secrets(key))
            raise InvalidResponseError("Segmind answered without a video", server_message=message)
        reference = find_video_reference(data)
        if reference is None:
            raise InvalidResponseError("the JSON answer holds no video URL or base64 video")
        size, _, _ = self._download(reference, target, cancel)
        return size

    # -- storage upload

    def upload(self, data_urls: Sequence[str], api_key: str | None = None) -> list[str]:
        """Host images at Segmind's storage (``data:image/...;base64,...`` each) and return their URLs,
        in order. Not billed; it uses the same key as a generation would."""
        key = self.key_for(api_key)
        if not data_urls or not all(isinstance(u, str) and u.startswith("data:") for u in data_urls):
            raise InvalidRequestError(["upload takes data: URLs of images"])
        url = f"{self.settings.upload_url}/upload-asset"

        def send() -> requests.Response:
            try:
                response = self._send("POST", url, key, json_body={"data_urls": list(data_urls)}, what="the upload")
            except (APIConnectionError, APITimeoutError) as err:
                raise type(err)(
                    err.detail,
                    action="The image was not uploaded and no video was made; try again.",
                    visitor_detail="the image upload did not reach Segmind",
                    visitor_action="The image was not uploaded and no video was made; try again in a minute.",
                ) from err
            self._raise_for_status(response, key, ladder=upload_error_for_status)
            return response

        response, _ = self._with_retries(send, None, None)
        data = self._json(response, key, "the upload")
        urls = None
        if isinstance(data, dict):
            urls = data.get("file_urls") if data.get("file_urls") is not None else data.get("urls")
        if (
            not isinstance(urls, list)
            or len(urls) != len(data_urls)
            or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls)
        ):
            raise UploadResponseError("Segmind's storage answered without the image's URL")
        return urls

    def keyframe_url(
        self,
        source: str | os.PathLike[str] | bytes | Keyframe | None,
        api_key: str | None = None,
        *,
        name: str | None = None,
    ) -> str | None:
        """A keyframe URL for ``VideoRequest(start_image_url=...)`` from whatever a person has:

        - None or "": None (no keyframe);
        - an http(s) URL: checked as a request's keyframe URL would be (its form, and no private or
          local host unless it is Segmind's own storage, as configured) and returned; nothing is sent;
        - a local image, as a path or its bytes: checked on this machine by ``media.load_keyframe`` (a
          ``MediaError`` naming the file when it is no usable image; nothing sent), then uploaded once
          to Segmind's storage (not billed) with the key a generation would use; its hosted URL;
        - a ``media.Keyframe`` already prepared (``media.load_keyframe``, ``media.last_frame``): uploaded.

        ``name`` is what messages call the source (default: the path as given, or "keyframe URL").
        """
        from ray_studio.client.media import Keyframe, load_keyframe

        if source is None or (isinstance(source, str) and not source.strip()):
            return None
        # A scheme of two letters at least: "C://..." is a Windows path.
        if isinstance(source, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", source.strip()):
            url, label = source.strip(), name or "keyframe URL"
            problem = _url_problem(label, url)
            if problem is None and origin(url) not in self.settings.trusted_origins:
                problem = private_host_problem(label, url)
            if problem:
                raise InvalidRequestError([problem])
            return url
        key = self.key_for(api_key)  # before the image is read: a missing key is the cheaper news
        keyframe = source if isinstance(source, Keyframe) else load_keyframe(source, name)
        return self.upload([keyframe.data_url()], key)[0]


class _LinkFailedError(InvalidResponseError):
    """The clip's download link answered an error: ask Segmind for the result (and link) again."""


STATE_TEXT = {"QUEUED": "Queued at Segmind…", "PROCESSING": "Generating…"}

