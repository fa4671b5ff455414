"""RayClient: Luma's Ray Flash 2 (720p) video model on Segmind's hosted API.

A generation is a job on Segmind's queue (v2) by default: ``submit`` returns a ``Job`` at once,
``status``/``wait`` follow it, ``fetch`` saves its clip, and a job id is enough to fetch it again
later (``python ray_client.py --resume ID``). ``SEGMIND_API_MODE=sync`` uses the single v1 call.
The HTTP is in ``transport``, the queue's exchanges in ``job_queue``, the v1 call in ``direct_call``,
saving a clip in ``downloads``, the storage upload and keyframes in ``upload``, the values in ``job``,
a prompt rewritten by a language model in ``enhance`` (on the wire: ``llm``); people import all of it
from ``ray_client``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from ray_studio.client import direct_call, downloads, enhance, job_queue, llm
from ray_studio.client import upload as storage
from ray_studio.client.answers import job_status
from ray_studio.client.errors import (
    CancelledError,
    InvalidRequestError,
    InvalidResponseError,
    JobFailedError,
    KeyFormatError,
    MissingAPIKeyError,
    QueueUnavailableError,
    RateLimitError,
    RayError,
)
from ray_studio.client.files import check_output
from ray_studio.client.job import (
    STATE_TEXT,
    Job,
    JobStatus,
    PollPlan,
    ProgressCallback,
    Update,
    VideoResult,
    typical_seconds,
)
from ray_studio.client.request import MAX_PROMPT_CHARS, VideoRequest, private_host_problem
from ray_studio.client.settings import KEY_PATTERN, Settings, origin
from ray_studio.client.transport import Transport

if TYPE_CHECKING:
    from ray_studio.client.media import Keyframe

log = logging.getLogger("ray_client")

QUEUE_RECHECK = 600  # seconds the v1 call stands in for a queue that answered 404


class RayClient:
    """Segmind's API for one model: safe to share between threads (one pooled Session, no cookies)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = Transport(settings or Settings(), session, sleep)
        self._sleep = sleep
        self._queue_unavailable_until = 0.0  # monotonic time; the queue is tried again after it

    @classmethod
    def from_env(cls) -> RayClient:
        return cls(Settings.from_env())

    @property
    def settings(self) -> Settings:
        return self._http.settings

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
        self._http.close()

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

    # -- the queue (v2)

    def job(self, job_id: str, request: VideoRequest | None = None) -> Job:
        """A Job for an id Segmind gave earlier (to follow it or fetch its clip again)."""
        return job_queue.job_for(self.settings, job_id, request)

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
        return job_queue.submit(self._http, request, key, progress, cancel)

    def status(self, job: Job, api_key: str | None = None) -> JobStatus:
        """Where the job is now (one GET; never billed)."""
        key = self.key_for(api_key)
        data = job_queue.job_answer(self._http, job, job.status_url, key, "the status check")
        return job_status(job.id, data, self._http.secrets(key))

    def result(self, job: Job, api_key: str | None = None) -> JobStatus:
        """The job's result: with ``output_url`` once COMPLETED."""
        key = self.key_for(api_key)
        data = job_queue.job_answer(self._http, job, job.response_url, key, "the result request")
        return job_status(job.id, data, self._http.secrets(key))

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
        saved, attempts = downloads.save_clip(
            self._http,
            status.output_url,
            target,
            cancel,
            fresh_url=lambda: self.result(job, api_key).output_url,
            advice=job_queue.fetch_again_advice(job),
            on_attempt=(lambda: progress(Update("downloading", "downloading the clip", job.id))) if progress else None,
        )
        request = job.request
        return VideoResult(
            path=target,
            request=request,
            elapsed_seconds=time.monotonic() - started,
            size_bytes=saved.size_bytes,
            remaining_credits=saved.remaining_credits,
            credits_consumed=saved.credits_consumed,
            attempts=attempts,
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
        if not self.uses_queue:
            return self.generate_sync(request, target, api_key=key, progress=progress, cancel=cancel, started=started)
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
        if on_job:
            on_job(job)
        if progress:
            progress(Update("QUEUED", f"job {job.id} queued at Segmind", job.id))
        return self.fetch(job, target, key, progress=progress, cancel=cancel, started=started)

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

        saved, attempts = direct_call.make_clip(self._http, request, target, key, progress, cancel)
        return VideoResult(
            path=target,
            request=request,
            elapsed_seconds=time.monotonic() - started,
            size_bytes=saved.size_bytes,
            remaining_credits=saved.remaining_credits,
            credits_consumed=saved.credits_consumed,
            attempts=attempts,
            cost=request.price(self.settings.price_per_second),
        )

    # -- prompt craft

    def enhance(
        self,
        prompt: str,
        api_key: str | None = None,
        *,
        limit: int = MAX_PROMPT_CHARS,
        cancel: threading.Event | None = None,
    ) -> str:
        """``prompt`` rewritten by Segmind's ``settings.enhance_model`` into what Ray responds to (subject,
        action, camera, light, style; one paragraph), keeping its subject and every word in double quotes;
        at most ``limit`` characters (leave room for anything added after, such as a camera move).

        One paid call (``settings.enhance_price`` US dollars, on ``api_key`` or the configured key), made
        only once the prompt passes a clip's checks; through Segmind's queue unless ``api_mode="sync"``.
        Raises InvalidRequestError (nothing sent), the status classes a clip raises (401, 406, 429, 5xx...),
        ``llm.EmptyReplyError`` (an answer without text), ``llm.ChatFailedError`` (the queued call FAILED)
        or ``enhance.QuotesLostError`` (the rewrite dropped quoted words; its ``rewrite`` is what came back).
        """
        key = self.key_for(api_key)
        original = enhance.check_prompt(prompt, limit)
        messages = enhance.messages_for(original, limit)
        reply = llm.chat(self._http, messages, key, queued=self.settings.api_mode == "async", cancel=cancel)
        return enhance.checked(original, reply, limit)

    # -- keyframes

    def upload(self, data_urls: Sequence[str], api_key: str | None = None) -> list[str]:
        """Host images at Segmind's storage (``data:image/...;base64,...`` each) and return their URLs,
        in order. Not billed; it uses the same key as a generation would."""
        return storage.upload(self._http, self.key_for(api_key), data_urls)

    def keyframe_url(
        self,
        source: str | os.PathLike[str] | bytes | Keyframe | None,
        api_key: str | None = None,
        *,
        name: str | None = None,
    ) -> str | None:
        """A keyframe URL for ``VideoRequest(start_image_url=...)`` from a URL, a local image (path or
        bytes) or a ``media.Keyframe``: see ``upload.keyframe_url``."""
        return storage.keyframe_url(self, source, api_key, name=name)
