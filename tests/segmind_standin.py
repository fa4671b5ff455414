"""A local stand-in for Segmind's Ray Flash 2 endpoint: a real HTTP/1.1 server on 127.0.0.1.

It checks the key and the body as Segmind documents them, answers with MP4 bytes, and can be told
to answer any documented error, to be slow, to cut a transfer, to send HTML, a huge body, JSON with
a URL or base64, or a Retry-After. Tests, the bench and people (``python -m tests.segmind_standin``)
point the client at ``standin.base_url``.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLE_VIDEO = Path(__file__).with_name("data") / "sample.mp4"
TEST_API_KEY = "standin-test-key-0123456789"
MODEL = "ray-flash-2-720p"
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
_ZEROS = bytes(1 << 20)

# Bodies in the shape Segmind uses: {"error": "..."}.
ERROR_MESSAGES = {
    400: "Invalid request parameters",
    401: "Invalid API key",
    403: "Forbidden: your account does not have access to this model",
    404: "Model not found",
    406: "Insufficient credits. Please recharge your account",
    429: "Rate limit exceeded. Please try again later",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Request timed out",
}


@dataclass
class Reply:
    """How to answer one request. The default is a 200 with the sample MP4."""

    status: int = 200
    body: bytes | None = None  # None: the video (for 200) or Segmind's error JSON (for errors)
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0  # seconds before the status line (the upstream "generation time")
    size: int | None = None  # pad the video to this many bytes with an MP4 'free' box
    chunk_delay: float = 0.0  # seconds between 64 KiB chunks: a slow transfer
    cut_after: int | None = None  # close the socket after this many body bytes
    json_video: str | None = None  # "url" or "base64": answer 200 JSON pointing at the video


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


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
        self.default = Reply()
        self.received: list[Received] = []
        self.file_requests: list[Received] = []
        self._queue: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_video_sent_at: float | None = None  # time.time() when a video's last byte left
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- control
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def then(self, *replies: Reply) -> SegmindStandIn:
        """Answer the next requests with these, in order; afterwards the default again."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def fail(self, status: int, message: str | None = None, **kwargs: Any) -> SegmindStandIn:
        body = None if message is None else json.dumps({"error": message}).encode()
        return self.then(Reply(status=status, body=body, **kwargs))

    def reset(self) -> None:
        """Forget scripted replies and what was received (for a server shared between tests)."""
        with self._lock:
            self._queue.clear()
            self.default = Reply()
            self.received.clear()
            self.file_requests.clear()
            self.max_in_flight = 0

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

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


def _handler_for(standin: SegmindStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SegmindStandIn/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            standin.file_requests.append(Received(self.path, dict(self.headers), None))
            if self.path.split("?")[0] != "/files/clip.mp4":
                return self._json(404, {"error": "Not found"})
            self._send_video(Reply())

        def do_POST(self) -> None:
            standin._enter()
            try:
                self._answer_post()
            finally:
                standin._leave()

        def _answer_post(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            standin.received.append(Received(self.path, dict(self.headers), body))
            reply = standin.next_reply()
            if reply.latency:
                time.sleep(reply.latency)

            if reply.status != 200:
                return self._error(reply)
            if self.headers.get("x-api-key") != standin.api_key:
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
                return self._send(200, reply.content_type or "text/html", [reply.body], len(reply.body), reply)
            self._send_video(reply)

        # -- helpers
        def _send_video(self, reply: Reply) -> None:
            total = padded_video_size(standin.video, reply.size)
            headers = {"x-remaining-credits": "42.5", "x-credits-consumed": "0.5", **reply.headers}
            reply = Reply(**{**reply.__dict__, "headers": headers})
            self._send(
                200, reply.content_type or "video/mp4", iter_padded_video(standin.video, reply.size), total, reply
            )
            standin.last_video_sent_at = time.time()

        def _error(self, reply: Reply) -> None:
            body = reply.body
            if body is None:
                body = json.dumps({"error": ERROR_MESSAGES.get(reply.status, "Error")}).encode()
            self._send(reply.status, reply.content_type or "application/json", [body], len(body), reply)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(data).encode()
            self._send(status, "application/json", [body], len(body), Reply(headers=headers or {}))

        def _send(self, status: int, content_type: str, chunks, total: int, reply: Reply) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(total))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            sent = 0
            try:
                for chunk in chunks:
                    view = memoryview(chunk)
                    step = 64 * 1024 if reply.chunk_delay else len(view) or 1
                    for i in range(0, len(view), step):
                        piece = view[i : i + step]
                        if reply.cut_after is not None and sent + len(piece) > reply.cut_after:
                            self.wfile.write(piece[: max(0, reply.cut_after - sent)])
                            self._drop()
                            return
                        self.wfile.write(piece)
                        sent += len(piece)
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Segmind stand-in until interrupted.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--size", type=int, default=None, help="pad each video to this many bytes")
    parser.add_argument("--api-key", default=TEST_API_KEY)
    parser.add_argument("--status", type=int, default=200, help="answer every request with this status")
    parser.add_argument("--retry-after", help="with --status 429: the Retry-After header to send")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--html", action="store_true", help="answer 200 with an HTML page instead of a video")
    answer.add_argument("--cut", action="store_true", help="close the connection halfway through the video")
    args = parser.parse_args(argv)
    standin = SegmindStandIn(api_key=args.api_key, port=args.port)
    standin.default = Reply(
        status=args.status,
        latency=args.latency,
        size=args.size or (2_000_000 if args.cut else None),
        cut_after=1_000_000 if args.cut else None,
        body=b"<!doctype html><title>Oops</title>" if args.html else None,
        content_type="text/html" if args.html else None,
        headers={"Retry-After": args.retry_after} if args.retry_after else {},
    )
    standin.start()
    print(standin.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()


if __name__ == "__main__":
    main()
