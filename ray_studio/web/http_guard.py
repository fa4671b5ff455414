"""What the server accepts from a visitor before Gradio sees the request.

An ASGI middleware, installed through the FastAPI app Gradio builds (``launch(app_kwargs=...)``):

- **Body sizes.** A request body is capped (``max_body``; the upload route at ``max_upload``): Gradio
  would otherwise read a 75 MB ``queue/join`` into memory.
- **Upload quota.** Gradio's upload route stores any file a visitor sends for a day; each visitor may
  upload ``upload_limit`` (limits notation) files, so one visitor cannot fill the disk. A visitor is
  an address as identity.py counts them: an IPv6 client is its /64, however many addresses it uses.
- **Unknown API names.** Gradio answers a call to an API name or function index it does not have
  (``/gradio_api/call/<unknown>``, ``/gradio_api/queue/join`` with a bad ``fn_index``) with a 500 and
  a traceback in the log; the guard turns that into a short 404 and logs nothing.
- **Who calls through MCP.** Gradio's MCP tool calls the app back over 127.0.0.1, copying the MCP
  request's headers, so every MCP caller would look like one local visitor. The guard adds the MCP
  caller's address to MCP requests as ``x-ray-visitor: ADDRESS;SIGNATURE`` (HMAC with a secret of this
  process); ``trusted_visitor`` accepts it only with a valid signature, so a visitor cannot forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import limits
from gradio.route_utils import FnIndexInferError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ray_studio.web.gradio_tweaks import names_a_held_stream
from ray_studio.web.identity import IPAddress, Proxies, address_visitor, client_address

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

VISITOR_HEADER = b"x-ray-visitor"
MAX_BODY = 2 * 1024 * 1024  # a generation, a history of 50 entries: a few kB
UPLOAD_LIMIT = "30 per 10 minutes"
# Routes that look a function up by the API name in their path or the fn_index in their body.
_CALL_ROUTE = re.compile(r"/gradio_api/(?:(?:call(?:/v2)?|run|api)/[^/]+|queue/join)/?\Z")
_SECRET = os.urandom(32)


def _sign(address: str) -> str:
    return hmac.new(_SECRET, address.encode(), hashlib.sha256).hexdigest()[:32]


def visitor_header(address: str) -> str:
    return f"{address};{_sign(address)}"


def trusted_visitor(value: str | None) -> str | None:
    """The address in an ``x-ray-visitor`` header this process signed, else None."""
    if not value or ";" not in value:
        return None
    address, signature = value.rsplit(";", 1)
    return address if hmac.compare_digest(signature, _sign(address)) else None


class HttpGuard:
    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        proxies: Proxies | int = 0,
        max_body: int = MAX_BODY,
        max_upload: int = 20 * 1024 * 1024,
        upload_limit: str = UPLOAD_LIMIT,
    ) -> None:
        self.app = app
        self.proxies = proxies
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_limit = limits.parse(upload_limit)
        self._uploads = MovingWindowRateLimiter(MemoryStorage())

    def _client(self, scope: Scope) -> IPAddress | None:
        peer = (scope.get("client") or (None,))[0]
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
        return client_address(peer, forwarded, self.proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope.get("path", "")
        if re.sub("/+", "/", path).rstrip("/").endswith("/gradio_api/deep_link"):
            # Gradio's deep links save a session's inputs (a visitor's pasted key among them) to disk and
            # serve them to whoever has the link; this page offers none.
            return await _refuse(send, 404, "Not found.")
        is_upload = path.endswith("/gradio_api/upload") and scope.get("method") == "POST"
        limit = self.max_upload + 64 * 1024 if is_upload else self.max_body
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _refuse(send, 413, f"The request is larger than this server takes ({limit // 1024} kB).")
        if is_upload and not self._uploads.hit(self.upload_limit, address_visitor(self._client(scope)).id):
            return await _refuse(send, 429, "Too many uploads from your address; wait a few minutes and try again.")
        if "/gradio_api/mcp" in path:
            headers = [(k, v) for k, v in scope["headers"] if k != VISITOR_HEADER]
            address = self._client(scope)
            headers.append((VISITOR_HEADER, visitor_header(str(address or "unknown")).encode("latin-1")))
            scope = {**scope, "headers": headers}
        if scope.get("method") == "GET" and not _stream_held(scope, path):
            return await _refuse(send, 404, "No such event stream on this server.")
        if _CALL_ROUTE.search(path) and scope.get("method") == "POST":
            return await _unknown_names_not_found(self.app, scope, _capped(receive, limit), send)
        return await self.app(scope, _capped(receive, limit), send)


def _stream_held(scope: Scope, path: str) -> bool:
    app = scope.get("app")
    blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
    return blocks is None or names_a_held_stream(blocks, path, scope.get("query_string", b""))


async def _unknown_names_not_found(
    app: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope, receive: Receive, send: Send
) -> None:
    """Gradio's own failure to find the function a call names, as a 404 (before any answer was sent)."""
    started = False

    async def watched(message: Message) -> None:
        nonlocal started
        started = started or message.get("type") == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, watched)
    except (FnIndexInferError, KeyError):
        if started:
            raise
        await _refuse(send, 404, "No such API endpoint or function on this server.")


def _capped(receive: Receive, limit: int) -> Receive:
    """A body without a Content-Length (chunked) is cut off past ``limit``: the request fails."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return capped


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "error": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
