"""The single v1 call (``SEGMIND_API_MODE=sync``, or when Segmind has no queue for the model): the clip
comes back on the same long request, as MP4 bytes or as JSON holding its URL or base64. A cancel closes
the request; a clip cut off on the way cannot be fetched again, which the advice says."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import requests

from ray_studio.client.answers import credits_of, find_video_reference
from ray_studio.client.downloads import Saved, download, stream_to
from ray_studio.client.errors import Advice, APIConnectionError, APITimeoutError, InvalidResponseError
from ray_studio.client.job import ProgressCallback
from ray_studio.client.request import VideoRequest
from ray_studio.client.transport import AbortScope, Transport, may_have_reached

V1_CALL_MAY_HAVE_REACHED = Advice(
    action="The request reached Segmind, so the clip may have been made and billed: check your Segmind console "
    "before trying again.",
    visitor_detail="the connection dropped after the request reached Segmind",
    visitor_action="The clip may have been made and billed; wait a minute before trying again.",
)
V1_CLIP_CUT_OFF = Advice(
    action="No video was saved. Segmind made the clip and has probably billed it, but the direct (sync) call "
    "cannot fetch it again; SEGMIND_API_MODE=async can.",
    visitor_detail="the clip was made (and probably billed) but its download was cut off",
    visitor_action="No video was saved; try again in a minute.",
)


def make_clip(
    http: Transport,
    request: VideoRequest,
    target: Path,
    key: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> tuple[Saved, int]:
    """One v1 call for ``request`` (resent only as ``Transport.with_retries`` allows) and its clip saved
    at ``target``; the attempts it took."""

    def send() -> requests.Response:
        response = http.send("POST", http.settings.endpoint, key, json_body=request.to_payload(),
                             what="the generation request")  # fmt: skip
        http.raise_for_status(response, key)
        return response

    with AbortScope(cancel):
        try:
            response, attempts = http.with_retries(send, progress, cancel)
        except (APIConnectionError, APITimeoutError) as err:
            if not may_have_reached(err):
                raise
            advice = V1_CALL_MAY_HAVE_REACHED
            if isinstance(err, APITimeoutError):
                advice = replace(advice, action=advice.action + " If Segmind is slow, raise SEGMIND_READ_TIMEOUT.")
            raise advice.applied_to(err) from err
        with response:
            return save_answer(http, response, target, key, cancel), attempts


def save_answer(
    http: Transport, response: requests.Response, target: Path, key: str, cancel: threading.Event | None
) -> Saved:
    """The clip in a v1 answer (MP4 bytes, or JSON holding its URL or base64) saved at ``target``."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json" or content_type.endswith("+json"):
            size = _save_json_answer(http, response, target, key, cancel)
        else:
            if content_type.startswith("text/"):
                raise InvalidResponseError(f"Segmind sent {content_type} instead of a video")
            size = stream_to(response, target, http.settings, cancel)
    except (APIConnectionError, APITimeoutError) as err:
        raise V1_CLIP_CUT_OFF.applied_to(err) from err
    return Saved(size, *credits_of(response))


def _save_json_answer(
    http: Transport, response: requests.Response, target: Path, key: str, cancel: threading.Event | None
) -> int:
    data = http.read_json(response, "the generation request")
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        raise InvalidResponseError("Segmind answered without a video", server_message=http.quoted(data, key))
    reference = find_video_reference(data)
    if reference is None:
        raise InvalidResponseError("the JSON answer holds no video URL or base64 video")
    return download(http, reference, target, cancel).size_bytes
