"""A local stand-in for Segmind's Ray Flash 2 endpoints: a real HTTP/1.1 server on 127.0.0.1.

It checks the key and the body as Segmind documents them and speaks three of Segmind's protocols:

- v1, ``POST /v1/ray-flash-2-720p``: one blocking call answered with MP4 bytes;
- v2, the queue: ``POST /v2/ray-flash-2-720p`` answers at once with a request id, the job then goes
  QUEUED → PROCESSING → COMPLETED (or FAILED) on a scripted timeline, polled at
  ``/v2/requests/<id>/status`` and fetched at ``/v2/requests/<id>``; its video is at ``/files/<id>.mp4``;
- storage, ``POST /upload-asset``: data URLs in, ``/assets/<name>`` URLs out;
- chat models (``CHAT_MODELS``, an instruct LLM such as ``llama-v3p1-8b-instruct``): ``POST /v1/<model>``
  answers at once in the OpenAI shape (``choices[0].message.content``); ``POST /v2/<model>`` queues it like
  a clip, and its result carries that answer as a JSON string in ``output``, as Segmind's SDK expects.

Each answer can be scripted: any documented error, slowness, a cut transfer, HTML, JSON with a URL or
base64, a Retry-After, and hostile upstream behaviour (a dropped connection, a redirect elsewhere, a
cookie). It notices a client that hangs up while it waits. Tests, the bench and people
(``python -m tests.segmind_standin``) point the client at ``standin.base_url``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import json
import mimetypes
import re
import select
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLE_VIDEO = Path(__file__).with_name("data") / "sample.mp4"
TEST_API_KEY = "standin-test-key-0123456789"
MODEL = "ray-flash-2-720p"
CHAT_MODEL = "llama-v3p1-8b-instruct"
CHAT_MODELS = (CHAT_MODEL, "llama-v3p1-70b-instruct", "mixtral-8x7b-instruct")
CHAT_ROLES = ("system", "user", "assistant")
# What a chat model answers unless scripted otherwise: a prompt rewritten as Ray likes it.
CHAT_TEXT = (
    "A red fox trots through fresh snow at dawn, the camera tracking low beside it; soft golden light, "
    "breath misting in the cold air, cinematic and calm."
)
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
OUTPUT_FORMS = ("url", "json-string", "video_url", "url-key")
UPLOAD_FORMS = ("file_urls", "urls")
UPLOAD_PATH = "/upload-asset"
HANGUP_CHECK_SECONDS = 0.05
_ZEROS = bytes(1 << 20)
_POLL_PATH = re.compile(r"/v2/requests/([^/]+)(/status)?")
_JOB_FILE_PATH = re.compile(r"/files/([^/]+)\.mp4")
_ASSET_PATH = re.compile(r"/assets/([^/]+)")
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "video/mp4": "mp4"}

# Bodies in the shape Segmind uses: {"error": "..."}.
ERROR_MESSAGES = {
    400: "Invalid request parameters",
    401: "Invalid API key",
    403: "Forbidden: your account does not have access to this model",
    404: "Model not found",
    406: "Insufficient credits. Please recharge your account",
    413: "File too large",
    422: "Unprocessable request",
    429: "Rate limit exceeded. Please try again later",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Request timed out",
}
# Sent with every video, from v1 and from the files URLs, as the account's balance after the clip.
CREDIT_HEADERS = {"x-remaining-credits": "42.5", "x-credits-consumed": "0.5"}
REQUEST_NOT_FOUND = "Request not found"
UPLOAD_SUCCESS = "Files uploaded successfully"


@dataclass
class Reply:
    """How to answer one request. The default is a 200 with the sample MP4 (v1) or a quick job (v2)."""

    status: int = 200
    body: bytes | None = None  # None: the normal answer (for 200) or Segmind's error JSON (for errors)
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0  # seconds before the status line (the v1 "generation time")
    size: int | None = None  # pad the video to this many bytes with an MP4 'free' box (v1, and a v2 job's output)
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks: a slow transfer (v1, and a v2 job's output)
    cut_after: int | None = None  # close the socket after this many body bytes (v1 answers, scripted bodies)
    chunked: bool = False  # send the video with Transfer-Encoding: chunked, no Content-Length (v1, a v2 job's output)
    json_video: str | None = None  # v1: "url" or "base64": answer 200 JSON pointing at the video
    # v2 jobs: the timeline and the result of the job this Reply's submit creates.
    queued: float = 0.0  # seconds in QUEUED
    processing: float = 0.0  # seconds in PROCESSING
    failed: str | None = None  # end FAILED with this error text instead of COMPLETED
    output_form: str = "url"  # where COMPLETED puts the video URL: one of OUTPUT_FORMS
    output_cuts: int = 0  # the first N downloads of the job's video are cut halfway
    request_id: str | None = None  # the job's id (default: a fresh UUID); a hostile upstream may put anything there
    dead_links: int = 0  # the first N video links the job's result hands out answer ``dead_link_status``
    dead_link_status: int = 404  # what a dead link answers (404, or 403 as an expired signed URL does)
    # storage uploads
    upload_form: str = "file_urls"  # "urls": answer with the older {"urls": [...]} shape
    # chat models (v1 answers and v2 results)
    text: str | None = None  # the assistant's text (None: CHAT_TEXT; "": an empty reply)
    quote_key: bool = False  # end the assistant's text with the x-api-key the request carried
    # hostile upstream
    drop: bool = False  # read the whole request, then close the connection without answering
    redirect_to: str | None = None  # answer 307 with this Location
    set_cookie: str | None = None  # add this Set-Cookie header to the answer

    def __post_init__(self) -> None:
        if self.output_form not in OUTPUT_FORMS:
            raise ValueError(f"Reply.output_form must be one of {', '.join(OUTPUT_FORMS)} (got {self.output_form!r})")
        if self.upload_form not in UPLOAD_FORMS:
            raise ValueError(f"Reply.upload_form must be one of {', '.join(UPLOAD_FORMS)} (got {self.upload_form!r})")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic, compare=False)  # time.monotonic() when it arrived


@dataclass
class Job:
    """One v2 request. Times are ``time.monotonic()`` seconds; move ``submitted_at`` back to let time pass."""

    request_id: str
    body: Any
    submitted_at: float
    queued: float = 0.0
    processing: float = 0.0
    failed: str | None = None
    output_form: str = "url"
    output_cuts: int = 0
    size: int | None = None
    chunk_delay: float = 0.0
    chunked: bool = False
    dead_links: int = 0
    dead_link_status: int = 404
    links: int = 0  # video links its result has handed out so far (with dead_links, each is a new one)
    downloads: int = 0  # GETs of its video so far
    chat: dict[str, Any] | None = None  # a chat model's answer (OpenAI shape): its result's ``output``, as JSON

    @property
    def started_at(self) -> float:
        return self.submitted_at + self.queued

    @property
    def finished_at(self) -> float:
        return self.started_at + self.processing

    @property
    def state(self) -> str:
        """QUEUED, PROCESSING, COMPLETED or FAILED, now."""
        now = time.monotonic()
        if now < self.started_at:
            return "QUEUED"
        if now < self.finished_at:
            return "PROCESSING"
        return "FAILED" if self.failed is not None else "COMPLETED"


class UploadRejectedError(ValueError):
    """An upload Segmind would refuse with HTTP 400; the message is its reason."""


def padded_video_size(video: bytes, size: int | None) -> int:
    return len(video) if size is None or size <= len(video) + 8 else size


def iter_padded_video(video: bytes, size: int | None, chunk: int = 1 << 20):
    """The video followed by one 'free' box so the file is ``size`` bytes and still plays."""
    total = padded_video_size(video, size)
    yield video
    pad = total - len(video)
    if pad <= 0:
        return
    yield struct.pack(">I", pad) + b"free"
    remaining = pad - 8
    while remaining > 0:
        n = min(remaining, chunk, len(_ZEROS))
        yield _ZEROS[:n]
        remaining -= n


class SegmindStandIn:
    def __init__(
        self,
        video: bytes | None = None,
        api_key: str = TEST_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.video = video if video is not None else SAMPLE_VIDEO.read_bytes()
        self.api_key = api_key
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._poll_queue: collections.deque[Reply] = collections.deque()
        self._upload_queue: collections.deque[Reply] = collections.deque()
        self._chat_queue: collections.deque[Reply] = collections.deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_video_sent_at: float | None = None  # time.time() when a video's last byte left
        self._skipped = 0.0  # seconds let pass by advance()
        self._forget()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _forget(self) -> None:
        self.default = Reply()
        self.chat_default = Reply()
        self.chat_models: set[str] = set(CHAT_MODELS)
        self.received: list[Received] = []  # every POST
        self.submissions: list[Received] = []  # every POST to /v1/... and /v2/... but a chat model's
        self.chats: list[Received] = []  # every POST to a chat model's /v1/<model> and /v2/<model>
        self.polls: list[Received] = []  # every GET to /v2/requests/...
        self.file_requests: list[Received] = []  # every other GET (videos, assets)
        self.jobs: dict[str, Job] = {}
        self.uploads: list[tuple[bytes, str]] = []  # (bytes, mime) of each stored upload
        self.assets: dict[str, tuple[bytes, str]] = {}  # name under /assets/ -> (bytes, mime)
        self.result_ttl = 3600.0
        self.upload_limit = 10_000_000
        self.abandoned = 0
        self.abandoned_paths: list[str] = []

    # -- addresses
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def v2_url(self) -> str:
        return f"{self.root_url}/v2"

    # -- control
    def then(self, *replies: Reply) -> SegmindStandIn:
        """Answer the next v1 and v2 POSTs with these, in order; afterwards ``default`` again."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def fail(self, status: int, message: str | None = None, **kwargs: Any) -> SegmindStandIn:
        body = None if message is None else json.dumps({"error": message}).encode()
        return self.then(Reply(status=status, body=body, **kwargs))

    def then_poll(self, *replies: Reply) -> SegmindStandIn:
        """Answer the next GETs to /v2/requests/... with these; afterwards the job's real state.

        A Reply with status 200 and no body still answers with the real state, after its latency and with
        its headers.
        """
        with self._lock:
            self._poll_queue.extend(replies)
        return self

    def then_upload(self, *replies: Reply) -> SegmindStandIn:
        """Answer the next POSTs to /upload-asset with these; afterwards a normal upload."""
        with self._lock:
            self._upload_queue.extend(replies)
        return self

    def then_chat(self, *replies: Reply) -> SegmindStandIn:
        """Answer the next POSTs to a chat model (v1 or v2) with these; afterwards ``chat_default``.
        ``Reply(text=...)`` sets the assistant's text, ``text=""`` an empty reply, ``quote_key`` quotes the
        key back; a status, latency, drop... script it as any other answer (a v2 job: its timeline too)."""
        with self._lock:
            self._chat_queue.extend(replies)
        return self

    def now(self) -> float:
        """The stand-in's clock for latencies: time.monotonic() and every advance() so far."""
        return time.monotonic() + self._skipped

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass at once, for the jobs (their timelines move back) and for each answer
        waiting out its latency: a test ends a wait when it has seen what it waited for."""
        with self._lock:
            self._skipped += seconds
            for job in self.jobs.values():
                job.submitted_at -= seconds

    def reset(self) -> None:
        """Forget scripted replies, jobs, uploads and what was received (for a server shared between tests)."""
        with self._lock:
            self._queue.clear()
            self._poll_queue.clear()
            self._upload_queue.clear()
            self._chat_queue.clear()
            self._forget()
            self.max_in_flight = 0

    def next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def next_poll_reply(self) -> Reply:
        with self._lock:
            return self._poll_queue.popleft() if self._poll_queue else Reply()

    def next_upload_reply(self) -> Reply:
        with self._lock:
            return self._upload_queue.popleft() if self._upload_queue else Reply()

    def next_chat_reply(self) -> Reply:
        with self._lock:
            return self._chat_queue.popleft() if self._chat_queue else self.chat_default

    # -- bookkeeping for the handler
    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _abandon(self, path: str) -> None:
        with self._lock:
            self.abandoned += 1
            self.abandoned_paths.append(path)

    def _create_job(self, reply: Reply, body: Any, chat: dict[str, Any] | None = None) -> Job:
        job = Job(
            request_id=reply.request_id or str(uuid.uuid4()),
            body=body,
            submitted_at=time.monotonic(),
            queued=reply.queued,
            processing=reply.processing,
            failed=reply.failed,
            output_form=reply.output_form,
            output_cuts=reply.output_cuts,
            size=reply.size,
            chunk_delay=reply.chunk_delay,
            chunked=reply.chunked,
            dead_links=reply.dead_links,
            dead_link_status=reply.dead_link_status,
            chat=chat,
        )
        self.jobs[job.request_id] = job
        return job

    def _live_job(self, request_id: str) -> Job | None:
        """The job, unless unknown or its result has expired."""
        job = self.jobs.get(request_id)
        if job is None or time.monotonic() >= job.finished_at + self.result_ttl:
            return None
        return job

    def _count_download(self, job: Job) -> int:
        with self._lock:
            job.downloads += 1
            return job.downloads

    def _store_asset(self, data: bytes, mime: str) -> str:
        name = f"{uuid.uuid4()}.{extension_for(mime)}"
        self.assets[name] = (data, mime)
        self.uploads.append((data, mime))
        return f"{self.root_url}/assets/{name}"

    def video_url(self, job: Job) -> str:
        return f"{self.root_url}/files/{job.request_id}.mp4"

    def _issue_link(self, job: Job) -> str:
        """The job's video URL; with ``dead_links``, a new link each time (``?link=N``), the first N dead."""
        if not job.dead_links:
            return self.video_url(job)
        with self._lock:
            job.links += 1
            return f"{self.video_url(job)}?link={job.links}"

    def link_is_dead(self, job: Job, query: str) -> bool:
        if not job.dead_links:
            return False
        number = re.fullmatch(r"link=([0-9]+)", query)
        return number is None or int(number.group(1)) <= job.dead_links

    def submit_answer(self, job: Job) -> dict[str, str]:
        response_url = f"{self.v2_url}/requests/{job.request_id}"
        return {
            "request_id": job.request_id,
            "status": "QUEUED",
            "status_url": f"{response_url}/status",
            "response_url": response_url,
        }

    def poll_answer(self, job: Job, *, full: bool) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for the job's status (``full=False``) or response (``full=True``) URL."""
        state = job.state
        answer: dict[str, Any] = {"request_id": job.request_id, "status": state}
        if state == "FAILED":
            return 422, {**answer, "error": job.failed}
        if state == "COMPLETED" and full:
            output = {"output": json.dumps(job.chat)} if job.chat is not None else self._output(job)
            return 200, {**answer, **output, "metrics": {"inference_time": job.processing}}
        return 200, answer

    def _output(self, job: Job) -> dict[str, str]:
        url = self._issue_link(job)
        return {
            "url": {"output": url},
            "json-string": {"output": json.dumps([url])},
            "video_url": {"video_url": url},
            "url-key": {"url": url},
        }[job.output_form]

    # -- running
    def start(self) -> SegmindStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SegmindStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def validate_body(body: Any) -> str | None:
    """Segmind's checks on the JSON body; the message of the first problem, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if "aspect_ratio" in body and body["aspect_ratio"] not in ASPECT_RATIOS:
        return f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
    duration = body.get("duration", 5)
    if isinstance(duration, bool) or duration not in (5, 9):
        return "duration must be one of 5, 9"
    if not isinstance(body.get("loop", False), bool):
        return "loop must be a boolean"
    for name in ("start_image_url", "end_image_url"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
            return f"{name} must be a valid URI"
    unknown = set(body) - {"prompt", "aspect_ratio", "duration", "loop", "start_image_url", "end_image_url"}
    if unknown:
        return f"Unknown parameters: {', '.join(sorted(unknown))}"
    return None


def validate_chat_body(body: Any) -> str | None:
    """A chat model's checks on the JSON body (``messages``, or the flat ``prompt``); the first problem, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    if "messages" not in body:
        return None if isinstance(body.get("prompt"), str) and body["prompt"].strip() else "messages is required"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
            return f"messages[{index}].role must be one of {', '.join(CHAT_ROLES)}"
        if not isinstance(message.get("content"), (str, list)):
            return f"messages[{index}].content is required"
    return None


def chat_answer(model: str, text: str) -> dict[str, Any]:
    """A chat model's answer in the OpenAI shape Segmind passes through."""
    return {
        "id": f"chat_{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": len(text.split()), "total_tokens": 120},
    }


def decode_upload(body: Any) -> list[tuple[bytes, str]]:
    """The (bytes, mime) of each data URL in an upload body; UploadRejectedError names the first problem."""
    data_urls = body.get("data_urls") if isinstance(body, dict) else None
    if not isinstance(data_urls, list) or not data_urls:
        raise UploadRejectedError('Request body must be JSON {"data_urls": ["data:<mime>;base64,...", ...]}')
    return [decode_data_url(item, index) for index, item in enumerate(data_urls)]


def decode_data_url(item: Any, index: int) -> tuple[bytes, str]:
    if not isinstance(item, str) or not item.startswith("data:") or "," not in item:
        raise UploadRejectedError(f"data_urls[{index}] is not a data URL")
    header, payload = item.removeprefix("data:").split(",", 1)
    mime, *params = header.split(";")
    if not _MIME.fullmatch(mime):
        raise UploadRejectedError(f"data_urls[{index}] has no MIME type")
    if "base64" not in params:
        raise UploadRejectedError(f"data_urls[{index}] is not base64-encoded")
    try:
        return base64.b64decode(payload, validate=True), mime
    except (binascii.Error, ValueError):
        raise UploadRejectedError(f"data_urls[{index}] is not valid base64") from None


def extension_for(mime: str) -> str:
    return _EXTENSIONS.get(mime) or (mimetypes.guess_extension(mime) or ".bin").lstrip(".")


def _handler_for(standin: SegmindStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SegmindStandIn/1.0"
        _cookie: str | None = None  # Set-Cookie for every answer to the current request

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        # -- routing
        def do_GET(self) -> None:
            self._cookie = None
            path = self.path.split("?")[0]
            if path.startswith("/v2/requests/"):
                return self._answer_poll(path)
            standin.file_requests.append(Received(self.path, dict(self.headers), None))
            if path == "/files/clip.mp4":
                return self._send_video(Reply())
            if match := _JOB_FILE_PATH.fullmatch(path):
                return self._serve_job_video(match.group(1), self.path.partition("?")[2])
            if match := _ASSET_PATH.fullmatch(path):
                return self._serve_asset(match.group(1))
            self._json(404, {"error": "Not found"})

        def do_POST(self) -> None:
            self._cookie = None
            standin._enter()
            try:
                body = self._read_body()
                received = Received(self.path, dict(self.headers), body)
                standin.received.append(received)
                if self.path == UPLOAD_PATH:
                    return self._answer_upload(body)
                if self._chat_model() is not None:
                    standin.chats.append(received)
                    return self._answer_chat(body)
                if self.path.startswith(("/v1/", "/v2/")):
                    standin.submissions.append(received)
                if self.path.startswith("/v2/"):
                    return self._answer_submit(body)
                self._answer_generation(body)
            finally:
                standin._leave()

        # -- v1: one blocking call
        def _answer_generation(self, body: Any) -> None:
            reply = standin.next_reply()
            if self._answered_by_script(reply):
                return
            if not self._key_ok():
                return self._json(401, {"error": ERROR_MESSAGES[401]})
            if self.path != f"/v1/{MODEL}":
                return self._json(404, {"error": ERROR_MESSAGES[404]})
            if problem := validate_body(body):
                return self._json(400, {"error": problem})
            if reply.json_video == "url":
                return self._json(200, {"video": f"{standin.root_url}/files/clip.mp4"}, reply.headers)
            if reply.json_video == "base64":
                return self._json(200, {"video": base64.b64encode(standin.video).decode()}, reply.headers)
            if reply.body is not None:
                return self._send_body(reply, "text/html")
            self._send_video(reply)

        # -- v2: the queue
        def _answer_submit(self, body: Any) -> None:
            reply = standin.next_reply()
            if self._answered_by_script(reply):
                return
            if not self._key_ok():
                return self._json(401, {"error": ERROR_MESSAGES[401]})
            if self.path != f"/v2/{MODEL}":
                return self._json(404, {"error": ERROR_MESSAGES[404]})
            if problem := validate_body(body):
                return self._json(400, {"error": problem})
            if reply.body is not None:
                return self._send_body(reply, "application/json")
            job = standin._create_job(reply, body)
            self._json(200, standin.submit_answer(job), reply.headers)

        def _answer_poll(self, path: str) -> None:
            standin.polls.append(Received(self.path, dict(self.headers), None))
            reply = standin.next_poll_reply()
            if self._answered_by_script(reply):
                return
            if not self._key_ok():
                return self._json(401, {"error": ERROR_MESSAGES[401]}, reply.headers)
            if reply.body is not None:
                return self._send_body(reply, "application/json")
            match = _POLL_PATH.fullmatch(path)
            job = standin._live_job(match.group(1)) if match else None
            if job is None:
                return self._json(404, {"error": REQUEST_NOT_FOUND}, reply.headers)
            status, answer = standin.poll_answer(job, full=match.group(2) is None)
            self._json(status, answer, reply.headers)

        def _serve_job_video(self, request_id: str, query: str = "") -> None:
            job = standin.jobs.get(request_id)
            if job is None or job.state != "COMPLETED":
                return self._json(404, {"error": "Not found"})
            if standin.link_is_dead(job, query):
                return self._json(job.dead_link_status, {"error": "This link has expired"})
            total = padded_video_size(standin.video, job.size)
            cut = standin._count_download(job) <= job.output_cuts
            reply = Reply(
                headers=dict(CREDIT_HEADERS),
                chunk_delay=job.chunk_delay,
                cut_after=total // 2 if cut else None,
                chunked=job.chunked,
            )
            if self._send(200, "video/mp4", iter_padded_video(standin.video, job.size), total, reply) and not cut:
                standin.last_video_sent_at = time.time()

        # -- chat models: v1 answers at once, v2 queues a job whose result holds the answer
        def _chat_model(self) -> str | None:
            version, _, model = self.path.split("?")[0].removeprefix("/").partition("/")
            return model if version in ("v1", "v2") and model in standin.chat_models else None

        def _answer_chat(self, body: Any) -> None:
            reply = standin.next_chat_reply()
            if self._answered_by_script(reply):
                return
            if not self._key_ok():
                return self._json(401, {"error": ERROR_MESSAGES[401]}, reply.headers)
            if problem := validate_chat_body(body):
                return self._json(400, {"error": problem}, reply.headers)
            if reply.body is not None:
                return self._send_body(reply, "application/json")
            text = CHAT_TEXT if reply.text is None else reply.text
            if reply.quote_key:
                text += f" (key: {self.headers.get('x-api-key', '')})"
            answer = chat_answer(self._chat_model() or "", text)
            if self.path.startswith("/v1/"):
                return self._json(200, answer, reply.headers)
            job = standin._create_job(reply, body, chat=answer)
            self._json(200, standin.submit_answer(job), reply.headers)

        # -- storage
        def _answer_upload(self, body: Any) -> None:
            reply = standin.next_upload_reply()
            if self._answered_by_script(reply):
                return
            if not self._key_ok():
                return self._json(401, {"error": ERROR_MESSAGES[401]}, reply.headers)
            try:
                files = decode_upload(body)
            except UploadRejectedError as problem:
                return self._json(400, {"error": str(problem)}, reply.headers)
            if any(len(data) > standin.upload_limit for data, _ in files):
                return self._json(413, {"error": ERROR_MESSAGES[413]}, reply.headers)
            if reply.body is not None:
                return self._send_body(reply, "application/json")
            urls = [standin._store_asset(data, mime) for data, mime in files]
            self._json(200, {reply.upload_form: urls, "message": UPLOAD_SUCCESS}, reply.headers)

        def _serve_asset(self, name: str) -> None:
            if name not in standin.assets:
                return self._json(404, {"error": "Not found"})
            data, mime = standin.assets[name]
            self._send(200, mime, [data], len(data), Reply())

        # -- what a Reply scripts before the normal answer
        def _answered_by_script(self, reply: Reply) -> bool:
            """Wait out the latency, then drop, redirect or answer the scripted error; False: answer normally."""
            if reply.latency and not self._client_stayed(reply.latency):
                return True
            self._cookie = reply.set_cookie
            if reply.drop:
                self._drop()
            elif reply.redirect_to:
                self._send(
                    307, "application/json", [b""], 0, Reply(headers={**reply.headers, "Location": reply.redirect_to})
                )
            elif reply.status != 200:
                self._error(reply)
            else:
                return False
            return True

        def _client_stayed(self, seconds: float) -> bool:
            """Wait ``seconds`` (on the stand-in's clock); False (and counted as abandoned) as soon as the
            client hangs up."""
            deadline = standin.now() + seconds
            while (left := deadline - standin.now()) > 0:
                if self._client_hung_up(min(left, HANGUP_CHECK_SECONDS)):
                    standin._abandon(self.path)
                    self.close_connection = True
                    return False
            return True

        def _client_hung_up(self, timeout: float) -> bool:
            try:
                readable, _, _ = select.select([self.connection], [], [], timeout)
                if not readable:
                    return False
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:  # reset by the peer
                return True
            time.sleep(timeout)  # bytes of a next request are waiting: the client is still there
            return False

        # -- helpers
        def _key_ok(self) -> bool:
            return self.headers.get("x-api-key") == standin.api_key

        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", "replace")

        def _send_video(self, reply: Reply) -> None:
            total = padded_video_size(standin.video, reply.size)
            headers = {**CREDIT_HEADERS, **reply.headers}
            reply = Reply(**{**reply.__dict__, "headers": headers})
            self._send(
                200, reply.content_type or "video/mp4", iter_padded_video(standin.video, reply.size), total, reply
            )
            standin.last_video_sent_at = time.time()

        def _send_body(self, reply: Reply, default_type: str) -> None:
            assert reply.body is not None
            self._send(200, reply.content_type or default_type, [reply.body], len(reply.body), reply)

        def _error(self, reply: Reply) -> None:
            body = reply.body
            if body is None:
                body = json.dumps({"error": ERROR_MESSAGES.get(reply.status, "Error")}).encode()
            self._send(reply.status, reply.content_type or "application/json", [body], len(body), reply)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(data).encode()
            self._send(status, "application/json", [body], len(body), Reply(headers=headers or {}))

        def _send(self, status: int, content_type: str, chunks, total: int, reply: Reply) -> bool:
            """Send the answer; False when it was cut or the client went away."""
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(total))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self._cookie:
                self.send_header("Set-Cookie", self._cookie)
            self.end_headers()
            sent = 0
            try:
                for chunk in chunks:
                    view = memoryview(chunk)
                    step = 64 * 1024 if reply.chunk_delay else len(view) or 1
                    for i in range(0, len(view), step):
                        piece = view[i : i + step]
                        if reply.cut_after is not None and sent + len(piece) > reply.cut_after:
                            self._write(piece[: max(0, reply.cut_after - sent)], reply.chunked)
                            self._drop()
                            return False
                        self._write(piece, reply.chunked)
                        sent += len(piece)
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                if reply.chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                standin._abandon(self.path)
                return False
            return True

        def _write(self, piece: bytes | memoryview, chunked: bool) -> None:
            if not chunked:
                self.wfile.write(piece)
            elif len(piece):
                self.wfile.write(b"%x\r\n" % len(piece) + bytes(piece) + b"\r\n")

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run the Segmind stand-in until interrupted. Prints the v1 base URL; the v2 queue is at "
        "ROOT/v2 and storage uploads at ROOT/upload-asset (ROOT: that URL without /v1)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (any 127.x.y.z works on Linux)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--size", type=int, default=None, help="pad each video to this many bytes")
    parser.add_argument("--api-key", default=TEST_API_KEY)
    parser.add_argument("--status", type=int, default=200, help="answer every request with this status")
    parser.add_argument("--retry-after", help="with --status 429: the Retry-After header to send")
    parser.add_argument("--queued", type=float, default=0.0, help="v2: seconds each job stays QUEUED")
    parser.add_argument("--processing", type=float, default=0.0, help="v2: seconds each job stays PROCESSING")
    parser.add_argument("--fail", metavar="REASON", help="v2: every job ends FAILED with this error")
    parser.add_argument("--output-form", choices=OUTPUT_FORMS, default="url", help="v2: where the video URL goes")
    parser.add_argument("--output-cuts", type=int, default=0, help="v2: cut this many downloads of each video")
    parser.add_argument("--dead-links", type=int, default=0, help="v2: the first N video links of each job answer 404")
    parser.add_argument("--chunked", action="store_true", help="send videos chunked, without a Content-Length")
    parser.add_argument("--result-ttl", type=float, default=3600.0, help="v2: seconds a finished result is kept")
    parser.add_argument("--upload-limit", type=int, default=10_000_000, help="largest upload, bytes per file")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--html", action="store_true", help="answer 200 with an HTML page instead of a video")
    answer.add_argument("--cut", action="store_true", help="close the connection halfway through the video")
    answer.add_argument("--drop", action="store_true", help="close the connection without answering")
    args = parser.parse_args(argv)
    standin = SegmindStandIn(api_key=args.api_key, host=args.host, port=args.port)
    standin.default = default_reply(args)
    standin.result_ttl = args.result_ttl
    standin.upload_limit = args.upload_limit
    standin.start()
    print(standin.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()


def default_reply(args: argparse.Namespace) -> Reply:
    return Reply(
        status=args.status,
        latency=args.latency,
        size=args.size or (2_000_000 if args.cut else None),
        cut_after=1_000_000 if args.cut else None,
        body=b"<!doctype html><title>Oops</title>" if args.html else None,
        content_type="text/html" if args.html else None,
        headers={"Retry-After": args.retry_after} if args.retry_after else {},
        drop=args.drop,
        queued=args.queued,
        processing=args.processing,
        failed=args.fail,
        output_form=args.output_form,
        output_cuts=args.output_cuts,
        dead_links=args.dead_links,
        chunked=args.chunked,
    )


if __name__ == "__main__":
    main()
