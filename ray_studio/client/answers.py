"""Reading Segmind's answers: numbers in headers, a Retry-After, its own error text (every piece of a
key hidden), and where a JSON answer keeps the video."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import re
import time
from collections.abc import Iterable
from typing import Any

from requests import Response

from ray_studio.client.errors import InvalidResponseError, redact
from ray_studio.client.job import JobStatus


def header_number(response: Response, name: str) -> float | None:
    raw = response.headers.get(name)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def credits_of(response: Response) -> tuple[float | None, float | None]:
    """The account's credits left, and those the clip took, as Segmind's headers say."""
    return header_number(response, "x-remaining-credits"), header_number(response, "x-credits-consumed")


def expected_size(response: Response) -> int | None:
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


def job_status(job_id: str, data: dict[str, Any], secrets: Iterable[str | None]) -> JobStatus:
    """A queue answer whose ``status`` is known, as a JobStatus: Segmind's reason when FAILED (every piece
    of a key hidden), the video's URL when COMPLETED and the answer holds it."""
    state = data["status"]
    error = None
    if state == "FAILED":
        raw = data.get("error")
        error = redact(" ".join(str(raw).split())[:300], secrets) if raw else "no reason given"
    output = find_video_reference(data) if state == "COMPLETED" else None
    return JobStatus(job_id, state, error, output)
