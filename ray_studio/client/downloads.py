"""Clips downloaded whole: a video answer streamed under the size cap into a file that appears only when
whole, a link Segmind gave fetched without the key, and a cut or failed download of a finished clip
fetched again (never generated again)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3.exceptions

from ray_studio.client.answers import credits_of, decode_base64_video, expected_size
from ray_studio.client.errors import (
    Advice,
    APIConnectionError,
    APITimeoutError,
    CancelledError,
    ClipNotSavedError,
    InvalidResponseError,
    VideoTooLargeError,
)
from ray_studio.client.files import AtomicVideoFile
from ray_studio.client.transport import AbortScope, Transport, current_abort_scope

CHUNK_BYTES = 1 << 20
DOWNLOAD_ATTEMPTS = 4  # a cut download of a finished job is fetched again, never generated again


@dataclass(frozen=True)
class Saved:
    """A clip saved whole, and the account's credits as the answer that carried it said."""

    size_bytes: int
    remaining_credits: float | None = None
    credits_consumed: float | None = None


class LinkFailedError(InvalidResponseError):
    """The clip's download link answered an error: ask Segmind for the result (and link) again."""


def iter_body(response: requests.Response, cancel: threading.Event | None) -> Iterator[bytes]:
    for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
        if cancel is not None and cancel.is_set():
            raise CancelledError("stopped while the video was downloading")
        yield chunk


def stream_to(response: requests.Response, target: Path, settings: Any, cancel: threading.Event | None) -> int:
    """Stream a video answer to ``target`` whole (or not at all), as RayErrors on failure."""
    try:
        video = AtomicVideoFile(target, settings.max_video_bytes)
        return video.write(iter_body(response, cancel), expected_size(response))
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


def download(http: Transport, url: str, target: Path, cancel: threading.Event | None) -> Saved:
    """The clip at a URL Segmind gave (or a base64 clip in its answer), fetched without the key (it must
    never reach another host)."""
    if not url.startswith(("http://", "https://")):
        return Saved(AtomicVideoFile(target, http.settings.max_video_bytes).write([decode_base64_video(url)], None))
    with AbortScope(cancel), http.get_without_key(url, "the video download") as answer:
        if answer.status_code >= 400:
            raise LinkFailedError(
                f"the video link answered HTTP {answer.status_code}", action="Try again; the link may have expired."
            )
        size = stream_to(answer, target, http.settings, cancel)
        return Saved(size, *credits_of(answer))


def save_clip(
    http: Transport,
    url: str,
    target: Path,
    cancel: threading.Event | None,
    *,
    fresh_url: Callable[[], str | None],
    advice: Advice,
    on_attempt: Callable[[], None] | None = None,
) -> tuple[Saved, int]:
    """A finished clip saved at ``target``, and the downloads it took. A cut or failed download is
    fetched again (``fresh_url`` asks for the link anew when it stopped working), up to
    DOWNLOAD_ATTEMPTS; the last failure is raised with ``advice``."""
    attempt = 0
    while True:
        attempt += 1
        if on_attempt:
            on_attempt()
        try:
            try:
                return download(http, url, target, cancel), attempt
            except OSError as err:  # the disk, or the process's open files, not the network
                raise ClipNotSavedError(f"saving {target.name} failed ({err.strerror or type(err).__name__})") from err
        except (APIConnectionError, APITimeoutError, InvalidResponseError, ClipNotSavedError) as err:
            if attempt == DOWNLOAD_ATTEMPTS or isinstance(err, (VideoTooLargeError, CancelledError)):
                raise advice.applied_to(err) from err
            if isinstance(err, LinkFailedError):
                url = fresh_url() or ""
                if not url:
                    raise
            http.sleep(min(http.settings.max_retry_wait, 0.5 * attempt))
