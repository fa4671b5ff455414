"""Keyframes for a request: a URL checked as it is, or a local image checked here and hosted at
Segmind's storage (not billed; it takes the same key a generation would)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from requests import Response

from ray_studio.client.errors import (
    Advice,
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    UploadResponseError,
    upload_error_for_status,
)
from ray_studio.client.request import _url_problem, private_host_problem
from ray_studio.client.settings import origin
from ray_studio.client.transport import Transport

if TYPE_CHECKING:
    from ray_studio.client.client import RayClient
    from ray_studio.client.media import Keyframe

# A scheme of two letters at least: "C://..." is a Windows path.
URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")

UPLOAD_NOT_SENT = Advice(
    action="The image was not uploaded and no video was made; try again.",
    visitor_detail="the image upload did not reach Segmind",
    visitor_action="The image was not uploaded and no video was made; try again in a minute.",
)


def upload(http: Transport, key: str, data_urls: Sequence[str]) -> list[str]:
    """Host images at Segmind's storage (``data:image/...;base64,...`` each) and return their URLs, in order."""
    if not data_urls or not all(isinstance(u, str) and u.startswith("data:") for u in data_urls):
        raise InvalidRequestError(["upload takes data: URLs of images"])
    url = f"{http.settings.upload_url}/upload-asset"

    def send() -> Response:
        try:
            response = http.send("POST", url, key, json_body={"data_urls": list(data_urls)}, what="the upload")
        except (APIConnectionError, APITimeoutError) as err:
            raise UPLOAD_NOT_SENT.applied_to(err) from err
        http.raise_for_status(response, key, ladder=upload_error_for_status)
        return response

    response, _ = http.with_retries(send)
    data = http.read_json(response, "the upload")
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
    client: RayClient,
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
    if isinstance(source, str) and URL_START.match(source.strip()):
        return checked_url(source.strip(), name or "keyframe URL", client.settings.trusted_origins)
    key = client.key_for(api_key)  # before the image is read: a missing key is the cheaper news
    keyframe = source if isinstance(source, Keyframe) else load_keyframe(source, name)
    return client.upload([keyframe.data_url()], key)[0]


def checked_url(url: str, label: str, trusted_origins: frozenset[str]) -> str:
    """``url`` when a request could send it: well formed, and on no private or local host unless it is
    one of ``trusted_origins`` (Segmind's own storage, as configured). Nothing is sent."""
    problem = _url_problem(label, url)
    if problem is None and origin(url) not in trusted_origins:
        problem = private_host_problem(label, url)
    if problem:
        raise InvalidRequestError([problem])
    return url
