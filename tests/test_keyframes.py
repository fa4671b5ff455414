"""RayClient.keyframe_url: a keyframe from a URL, a file or its bytes, as one call, against the stand-in."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from pathlib import Path

import pytest
from PIL import Image

from ray_studio.client import media
from ray_studio.client.client import RayClient
from ray_studio.client.errors import (
    InvalidRequestError,
    KeyFormatError,
    MissingAPIKeyError,
    UploadAuthenticationError,
    UploadResponseError,
    UploadServerError,
    UploadTooLargeError,
)
from ray_studio.client.request import VideoRequest
from tests.media_samples import BLUE, GREEN, RED, image_bytes, noise_jpeg, png_header_claiming, write_clip
from tests.segmind_standin import TEST_API_KEY, Reply


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def make_clip_from(client: RayClient, source, tmp_path: Path, **kwargs):
    """What a caller does: a keyframe URL from the source, then a generation starting on it."""
    url = client.keyframe_url(source, **kwargs)
    request = VideoRequest("a fox in the snow", start_image_url=url)
    return url, client.generate(request, tmp_path / "fox.mp4", api_key=kwargs.get("api_key"))


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def uploaded_image(standin, index: int = 0) -> Image.Image:
    data, _ = standin.uploads[index]
    return Image.open(io.BytesIO(data))


# --------------------------------------------------------------------------- local images


@pytest.mark.parametrize(
    "fmt, name, mime",
    [("PNG", "cat.png", "image/png"), ("JPEG", "cat.jpg", "image/jpeg"), ("WEBP", "cat.webp", "image/webp")],
)
def test_a_local_image_is_uploaded_once_and_its_url_is_what_the_generation_sends(
    client, standin, tmp_path, fmt, name, mime
):
    path = write(tmp_path, name, image_bytes(fmt, colour=GREEN))
    url, _ = make_clip_from(client, path, tmp_path)
    assert len(standin.uploads) == 1
    data, sent_mime = standin.uploads[0]
    assert sent_mime == mime
    assert near(Image.open(io.BytesIO(data)).convert("RGB").getpixel((10, 10)), GREEN)
    assert url.startswith(f"{standin.root_url}/assets/")
    assert standin.submissions[-1].body["start_image_url"] == url


def test_the_image_is_given_as_a_path_string_or_as_bytes_alike(client, standin, tmp_path):
    data = image_bytes("PNG", colour=BLUE)
    path = write(tmp_path, "blue.png", data)
    client.keyframe_url(str(path))
    client.keyframe_url(data)
    assert standin.uploads[0] == standin.uploads[1]


def test_a_large_photo_is_scaled_here_before_it_is_uploaded(client, standin, tmp_path):
    path = write(tmp_path, "big.jpg", image_bytes("JPEG", size=(2560, 1440)))
    client.keyframe_url(path)
    assert uploaded_image(standin).size == (1280, 720)


def test_a_prepared_keyframe_such_as_a_clips_last_frame_is_uploaded_as_it_is(client, standin, tmp_path):
    keyframe = media.last_frame(write_clip(tmp_path / "a.mp4", [RED, BLUE]))
    url = client.keyframe_url(keyframe)
    assert standin.uploads == [(keyframe.data, "image/png")]
    assert url.startswith(f"{standin.root_url}/assets/")


# --------------------------------------------------------------------------- refused here: nothing sent


def test_a_text_file_named_png_is_refused_naming_the_file_and_nothing_is_sent(client, standin, tmp_path):
    path = write(tmp_path, "notes.png", b"shopping: eggs, milk, a fox costume\n")
    with pytest.raises(media.NotAnImageError, match=r"notes.png is not an image"):
        make_clip_from(client, path, tmp_path)
    assert standin.received == []


def test_a_truncated_jpeg_is_refused_naming_the_file_and_nothing_is_sent(client, standin, tmp_path):
    data = noise_jpeg()
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    with pytest.raises(media.CorruptImageError, match=r"cut.jpg is damaged or cut short"):
        make_clip_from(client, path, tmp_path)
    assert standin.received == []


def test_a_20000_by_20000_image_is_refused_from_its_header_and_nothing_is_sent(client, standin, tmp_path):
    path = write(tmp_path, "bomb.png", png_header_claiming(20000, 20000))
    with pytest.raises(media.ImageTooLargeError, match=r"bomb.png is 20000×20000 \(400 MP\)"):
        make_clip_from(client, path, tmp_path)
    assert standin.received == []


def test_a_refused_image_is_an_invalid_request_the_cli_exits_2_on(client, tmp_path):
    path = write(tmp_path, "tiny.png", image_bytes("PNG", size=(40, 40)))
    with pytest.raises(InvalidRequestError, match=r"tiny.png is 40×40"):
        client.keyframe_url(path)


def test_the_name_given_is_what_the_message_calls_the_image(client, standin):
    with pytest.raises(media.NotAnImageError, match=r"^Invalid request: holiday.jpg is not an image"):
        client.keyframe_url(b"<html></html>", name="holiday.jpg")
    assert standin.received == []


def test_without_a_key_a_local_image_is_not_even_read(standin, settings, tmp_path):
    with RayClient(dataclasses.replace(settings, api_key=None)) as keyless, pytest.raises(MissingAPIKeyError):
        keyless.keyframe_url(tmp_path / "does-not-exist.png")
    assert standin.received == []


def test_a_malformed_visitor_key_is_refused_before_any_upload(client, standin, tmp_path):
    path = write(tmp_path, "cat.png", image_bytes("PNG"))
    with pytest.raises(KeyFormatError):
        client.keyframe_url(path, "sg_key with spaces")
    assert standin.received == []


# --------------------------------------------------------------------------- the upload fails: no generation


@pytest.mark.parametrize(
    "reply, error, message",
    [
        (Reply(status=401), UploadAuthenticationError, "Image upload refused: API key rejected (HTTP 401)"),
        (Reply(status=413), UploadTooLargeError, "Image too large for Segmind's storage (HTTP 413)"),
        (Reply(status=500), UploadServerError, "Segmind's storage failed (HTTP 500)"),
        (Reply(body=b"{}"), UploadResponseError, "Unexpected answer from Segmind's storage"),
    ],
    ids=["401", "413", "500", "empty-reply"],
)
def test_an_upload_failure_is_its_own_error_and_no_generation_is_sent(client, standin, tmp_path, reply, error, message):
    standin.then_upload(reply)
    path = write(tmp_path, "cat.png", image_bytes("PNG"))
    with pytest.raises(error) as raised:
        make_clip_from(client, path, tmp_path)
    assert str(raised.value).startswith(message)
    assert "no video was made" in str(raised.value).lower()
    assert len(standin.received) == 1 and standin.submissions == []


def test_the_older_urls_reply_shape_is_understood(client, standin, tmp_path):
    standin.then_upload(Reply(upload_form="urls"))
    url, _ = make_clip_from(client, write(tmp_path, "cat.png", image_bytes("PNG")), tmp_path)
    assert url.startswith(f"{standin.root_url}/assets/")
    assert standin.submissions[-1].body["start_image_url"] == url


def test_a_visitors_key_is_the_one_the_upload_carries(standin, settings, tmp_path):
    owner = dataclasses.replace(settings, api_key="owner-key-not-accepted-by-the-standin")
    with RayClient(owner) as client:
        url = client.keyframe_url(write(tmp_path, "cat.png", image_bytes("PNG")), TEST_API_KEY)
    upload = standin.received[-1]
    assert upload.path == "/upload-asset" and upload.headers["x-api-key"] == TEST_API_KEY
    assert url.startswith(f"{standin.root_url}/assets/")


def test_the_owners_key_is_used_when_no_visitor_key_is_given(client, standin, tmp_path):
    client.keyframe_url(write(tmp_path, "cat.png", image_bytes("PNG")))
    assert standin.received[-1].headers["x-api-key"] == TEST_API_KEY


def test_on_own_keys_only_a_visitors_image_is_not_uploaded_on_the_pages_key(settings, standin, tmp_path):
    from ray_studio.web.board import JobBoard
    from ray_studio.web.identity import Visitor
    from ray_studio.web.policy import SpendPolicy
    from ray_studio.web.refusals import OwnKeyRequiredError
    from ray_studio.web.spending import SpendGate
    from ray_studio.web.studio import Studio

    image = write(tmp_path, "cat.png", image_bytes("PNG", (640, 360), RED))
    with RayClient(settings) as client:
        board = JobBoard(client, concurrency=1, threads=2)
        studio = Studio(client, board, SpendGate(SpendPolicy(own_key_only=True)), tmp_path / "clips")
        with pytest.raises(OwnKeyRequiredError):
            asyncio.run(studio.keyframe(str(image), "cat.png", "", Visitor("ip:127.0.0.2", "127.0.0.2"), tmp_path))
    assert standin.uploads == [] and standin.received == []


# --------------------------------------------------------------------------- URLs: checked, never fetched


def test_an_https_url_is_returned_unchanged_and_nothing_is_sent(client, standin):
    url = "https://images.example.com/fox.jpg?size=large"
    assert client.keyframe_url(url) == url
    assert standin.received == [] and standin.file_requests == []


@pytest.mark.parametrize("nothing", [None, "", "   "])
def test_no_source_means_no_keyframe(client, standin, nothing):
    assert client.keyframe_url(nothing) is None
    assert standin.received == []


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://192.168.1.20/fox.jpg", "points at a private, loopback or link-local address (192.168.1.20)"),
        ("http://localhost:8000/fox.jpg", "points at a local or internal host name (localhost)"),
        ("https://user:secret@example.com/fox.jpg", "must not carry a user name or password"),
        ("ftp://example.com/fox.jpg", "must be an absolute http:// or https:// address"),
    ],
)
def test_a_url_a_request_would_refuse_is_refused_naming_the_option(client, standin, url, problem):
    with pytest.raises(InvalidRequestError, match=r"^Invalid request: --start-image ") as raised:
        client.keyframe_url(url, name="--start-image")
    assert problem in str(raised.value)
    assert standin.received == []


def test_a_url_on_segminds_own_storage_is_accepted_even_on_a_private_host(client, standin):
    url = f"{standin.root_url}/assets/earlier-upload.png"  # the stand-in's storage is on 127.0.0.1
    assert client.keyframe_url(url) == url
