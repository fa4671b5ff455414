"""The HTTP pieces under the client: a session that keeps no cookies, requests a cancel can cut
short, reading Segmind's answers, and clips saved whole or not at all."""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import json
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import requests
import urllib3
import urllib3.exceptions

from ray_studio.client.errors import (
    APIConnectionError,
    APITimeoutError,
    CancelledError,
    InvalidResponseError,
    OutputNotWritableError,
    RayError,
    VideoTooLargeError,
    redact,
)
from ray_studio.client.settings import MIN_FREE_BYTES

CHUNK_BYTES = 1 << 20


def is_mp4_head(head: bytes) -> bool:
    """Whether a file starting with ``head`` is an ISO media file (MP4, MOV, 3GP, HEIF, AVIF): each starts
    with a box whose type sits at bytes 4..8, 'ftyp' normally."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def header_number(response: requests.Response, name: str) -> float | None:
    raw = response.headers.get(name)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def expected_size(response: requests.Response) -> int | None:
    """Bytes the body should have once decoded; unknown when it is compressed in transit."""
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    length = header_number(response, "Content-Length")
    return int(length) if length is not None and length >= 0 else None


def parse_retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    raw = raw.strip()
    if re.fullmatch(r"[0-9]{1,9}(\.[0-9]+)?", raw):
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _text_from_json(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("error")
            if isinstance(value, str) and value.strip():
                return value
        return None
    return data if isinstance(data, str) else None


def server_message(body: bytes, content_type: str, secrets: Iterable[str | None]) -> str | None:
    """Segmind's own error text, ``{"error": ...}`` normally, any short plain text otherwise; with
    every piece of a key hidden, since an upstream may quote what it was sent."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if data is not None:
        message = _text_from_json(data)
    elif "html" not in content_type.lower() and not text.startswith("<"):
        message = text or None
    else:
        message = None
    if message is None:
        return None
    message = redact(" ".join(message.split()), secrets)
    return message[:300] + ("…" if len(message) > 300 else "")


_VIDEO_KEYS = ("video", "video_url", "url", "output", "outputs", "result", "data", "file", "image")


def find_video_reference(data: Any, depth: int = 0) -> str | None:
    """A URL, data URI or base64 string of the video inside a JSON success body (``output`` may
    itself be a JSON-encoded string)."""
    if depth > 6:
        return None
    if isinstance(data, str):
        candidate = data.strip()
        if candidate[:1] in ("[", "{", '"'):
            try:
                return find_video_reference(json.loads(candidate), depth + 1)
            except ValueError:
                return None
        if candidate.startswith(("http://", "https://", "data:")):
            return candidate
        if len(candidate) >= 64 and not any(ch.isspace() for ch in candidate[:200]):
            return candidate
        return None
    if isinstance(data, list):
        for item in data:
            if found := find_video_reference(item, depth + 1):
                return found
        return None
    if isinstance(data, dict):
        for key in _VIDEO_KEYS:
            if key in data and (found := find_video_reference(data[key], depth + 1)):
                return found
    return None


def decode_base64_video(reference: str) -> bytes:
    payload = reference.split(",", 1)[1] if reference.startswith("data:") else reference
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponseError("the JSON answer holds no video URL or base64 video") from None


def check_output(target: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Prove, before anything is paid for, that a clip can be saved at ``target``: the folder exists
    (or is made), a file can be created in it, and it has ``min_free`` bytes of room."""
    target = Path(target)
    if target.is_dir():
        raise OutputNotWritableError([f"{target} is a folder; give a file name ending in .mp4"])
    if target.is_symlink() or (target.exists() and not target.is_file()):
        # A clip replaces a file of the same name; a link, a pipe or a device (/dev/null) it must not.
        raise OutputNotWritableError([f"{target} is not a regular file (a link, pipe or device); give a file name"])
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = partial_path(target)
        probe.open("xb").close()
        probe.unlink()
    except OSError as err:
        raise OutputNotWritableError([f"cannot write in {folder} ({err.strerror or type(err).__name__})"]) from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise OutputNotWritableError(
            [f"only {free / 1e6:.0f} MB free in {folder}; saving a clip needs at least {min_free / 1e6:.0f} MB"]
        )


def partial_path(target: Path) -> Path:
    """A fresh name beside ``target`` for a file being written: ``NAME.<random>.incomplete``."""
    return target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.incomplete")


@contextlib.contextmanager
def partial_file(target: Path) -> Iterator[Path]:
    """A ``partial_path`` to write ``target``'s content to; whatever is left there when the block ends,
    normally or not, is removed."""
    partial = partial_path(target)
    try:
        yield partial
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A ``partial_file`` renamed over ``target`` when the block ends normally: ``target`` then holds the
    whole new file, and on any failure what it held before."""
    with partial_file(target) as partial:
        yield partial
        os.replace(partial, target)


def atomic_write(target: Path, data: bytes) -> None:
    """Writes ``data`` at ``target`` whole or not at all (flushed to disk before the rename)."""
    with replacing(Path(target)) as partial, open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


class AtomicVideoFile:
    """Writes a video to ``target`` through ``replacing``: renamed into place only when whole and an
    MP4, so a path holds a whole video or nothing."""

    def __init__(self, target: Path, limit: int) -> None:
        self.target = target
        self.limit = limit

    def _too_large(self, size: int) -> VideoTooLargeError:
        return VideoTooLargeError(f"the video is over {self.limit / 1e6:.0f} MB ({size / 1e6:.0f} MB or more)")

    def write(self, chunks: Iterable[bytes], expected_size: int | None) -> int:
        if expected_size is not None and expected_size > self.limit:
            raise self._too_large(expected_size)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(self.target) as partial:
            with open(partial, "wb") as out:
                size, head = self._copy(chunks, out)
            if not is_mp4_head(head):
                raise InvalidResponseError("the answer was empty" if size == 0 else "the answer is not an MP4 video")
            if expected_size is not None and size != expected_size:
                raise APIConnectionError(f"the download was cut off after {size:,} of {expected_size:,} bytes")
        return size

    def _copy(self, chunks: Iterable[bytes], out: Any) -> tuple[int, bytes]:
        """(bytes written, the first 12): refused as soon as the head is no MP4's or the size is over the limit."""
        size, head = 0, b""
        for chunk in chunks:
            if not chunk:
                continue
            if len(head) < 12:
                head += chunk[:12]
                if len(head) >= 12 and not is_mp4_head(head):
                    raise InvalidResponseError("the answer is not an MP4 video")
            size += len(chunk)
            if size > self.limit:
                raise self._too_large(size)
            out.write(chunk)
        return size, head


def iter_body(response: requests.Response, cancel: threading.Event | None) -> Iterator[bytes]:
    for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
        if cancel is not None and cancel.is_set():
            raise CancelledError("stopped while the video was downloading")
        yield chunk


# --------------------------------------------------------------------------- transport


class RefuseAllCookies(DefaultCookiePolicy):
    """One Session serves every visitor: a cookie set on one visitor's call must never ride on another's."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


_abort_scope = threading.local()


def current_abort_scope() -> AbortScope | None:
    return getattr(_abort_scope, "current", None)


class AbortScope:
    """While active in a thread, a set ``cancel`` event shuts the sockets that thread's requests use,
    so a blocking wait for Segmind's answer ends at once and the upstream request really ends."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    def watch(self, conn: Any) -> None:
        with self._lock:
            self._sockets.append(conn)

    def _abort(self) -> None:
        with self._lock:
            conns = list(self._sockets)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _watch_cancel(self) -> None:
        assert self.cancel is not None
        while not self._done.wait(0.05):
            if self.cancel.is_set():
                self._abort()
                return

    def __enter__(self) -> AbortScope:
        _abort_scope.current = self
        if self.cancel is not None:
            threading.Thread(target=self._watch_cancel, name="ray-abort-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        _abort_scope.current = None
        self._done.set()


def _watched(pool_class: type) -> type:
    class Watched(pool_class):  # type: ignore[misc, valid-type]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            scope = current_abort_scope()
            if scope is not None:
                scope.watch(conn)
            return conn

    Watched.__name__ = f"Watched{pool_class.__name__}"
    return Watched


class WatchedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _watched(urllib3.HTTPConnectionPool),
            "https": _watched(urllib3.HTTPSConnectionPool),
        }


def may_have_reached(err: RayError) -> bool:
    """Whether a failed request may have reached Segmind (and so been billed)."""
    cause = err.__cause__
    return not (isinstance(cause, requests.exceptions.RequestException) and never_connected(cause))


def never_connected(err: requests.exceptions.RequestException) -> bool:
    """True when the request never left: no connection was made, so nothing can be billed."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(err, requests.exceptions.ConnectionError):
        return False
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError))


def read_small(response: requests.Response, limit: int = 64 * 1024) -> bytes:
    """Up to ``limit`` bytes of a (small, error or JSON) body; empty if the connection fails."""
    try:
        return response.raw.read(limit, decode_content=True) or b""
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""


def stream_to(response: requests.Response, target: Path, settings: Any, cancel: threading.Event | None) -> int:
    """Stream a video answer to ``target`` whole (or not at all), as RayErrors on failure."""
    try:
        return AtomicVideoFile(target, settings.max_video_bytes).write(iter_body(response, cancel),
                                                                       expected_size(response))  # fmt: skip
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as err:
        scope = current_abort_scope()
        if scope is not None and scope.cancel is not None and scope.cancel.is_set():
            raise CancelledError("stopped while the video was downloading") from err
        # requests reports a read timeout inside iter_content as a ConnectionError.
        if err.args and isinstance(err.args[0], urllib3.exceptions.ReadTimeoutError):
            raise APITimeoutError(f"the download stalled for {settings.read_timeout:g} s") from err
        raise APIConnectionError("the connection dropped while the video was downloading") from err
    except requests.exceptions.Timeout as err:
        raise APITimeoutError(f"the download stalled for {settings.read_timeout:g} s") from err
    except requests.exceptions.RequestException as err:
        raise APIConnectionError(f"the download failed ({type(err).__name__})") from err
