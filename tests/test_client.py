"""RayClient against the Segmind stand-in, over real sockets."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import (
    Advice,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    CancelledError,
    GatewayTimeoutError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    InvalidResponseError,
    KeyFormatError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    error_for_status,
)
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from tests.conftest import free_port
from tests.segmind_standin import ERROR_MESSAGES, TEST_API_KEY, Reply


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- success


def test_saves_the_served_video_and_reports_size_time_and_credits(client, standin, tmp_path):
    result = client.generate(VideoRequest("a fox"), tmp_path / "fox.mp4")
    assert result.path.read_bytes() == standin.video
    assert result.size_bytes == len(standin.video)
    assert result.remaining_credits == 42.5
    assert result.credits_consumed == 0.5
    assert result.elapsed_seconds >= 0
    assert _leftovers(tmp_path) == ["fox.mp4"]


def test_sends_the_key_in_the_x_api_key_header_to_the_model_path(client, standin, tmp_path):
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    (received,) = standin.received
    assert received.path == "/v1/ray-flash-2-720p"
    assert received.headers["x-api-key"] == TEST_API_KEY


@pytest.mark.parametrize("ratio", ["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"])
@pytest.mark.parametrize("duration", [5, 9])
def test_sends_every_ratio_and_duration_as_segmind_documents_them(client, standin, tmp_path, ratio, duration):
    client.generate(VideoRequest("a fox", aspect_ratio=ratio, duration=duration), tmp_path / "v.mp4")
    body = standin.received[-1].body
    assert body["aspect_ratio"] == ratio
    assert body["duration"] == duration and type(body["duration"]) is int


def test_sends_loop_and_both_keyframes(client, standin, tmp_path):
    request = VideoRequest(
        "a fox", loop=True, start_image_url="https://img.test/a.png", end_image_url="https://img.test/b.png"
    )
    client.generate(request, tmp_path / "v.mp4")
    assert standin.received[-1].body == {
        "prompt": "a fox",
        "aspect_ratio": "16:9",
        "duration": 5,
        "loop": True,
        "start_image_url": "https://img.test/a.png",
        "end_image_url": "https://img.test/b.png",
    }


def test_a_visitor_key_overrides_the_configured_one(standin, settings, tmp_path):
    with RayClient(replace(settings, api_key="owner-key")) as client:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=TEST_API_KEY)
    assert standin.received[-1].headers["x-api-key"] == TEST_API_KEY


def test_streams_a_large_video_to_disk_whole(client, standin, tmp_path):
    standin.default = Reply(size=30_000_000)
    result = client.generate(VideoRequest("a fox"), tmp_path / "big.mp4")
    assert result.size_bytes == 30_000_000 == result.path.stat().st_size
    assert result.path.read_bytes()[: len(standin.video)] == standin.video


def test_a_slow_transfer_that_keeps_moving_succeeds(client, standin, tmp_path):
    standin.default = Reply(size=640 * 1024, chunk_delay=0.02)
    assert client.generate(VideoRequest("a fox"), tmp_path / "v.mp4").size_bytes == 640 * 1024


def test_creates_missing_output_folders(client, tmp_path):
    result = client.generate(VideoRequest("a fox"), tmp_path / "a" / "b" / "v.mp4")
    assert result.path.exists()


def test_a_json_answer_with_a_video_url_is_downloaded_without_sending_the_key(client, standin, tmp_path):
    standin.then(Reply(json_video="url"))
    result = client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.path.read_bytes() == standin.video
    (download,) = standin.file_requests
    assert "x-api-key" not in {k.lower() for k in download.headers}


def test_a_json_answer_with_base64_video_is_decoded(client, standin, tmp_path):
    standin.then(Reply(json_video="base64"))
    assert client.generate(VideoRequest("a fox"), tmp_path / "v.mp4").path.read_bytes() == standin.video


# --------------------------------------------------------------------------- error statuses

STATUS_CLASSES = [
    (400, BadRequestError, "Check the prompt"),
    (401, AuthenticationError, "Check SEGMIND_API_KEY"),
    (403, PermissionDeniedError, "permissions"),
    (404, NotFoundError, "SEGMIND_MODEL"),
    (406, InsufficientCreditsError, "Add credits"),
    (429, RateLimitError, "wait"),
    (500, InternalServerError, "try again in a minute"),
    (502, BadGatewayError, "Try again in a minute"),
    (503, BadGatewayError, "Try again in a minute"),
    (504, GatewayTimeoutError, "5 s clip"),
]


@pytest.mark.parametrize("status, error_class, action", STATUS_CLASSES)
def test_each_documented_status_raises_its_own_error_with_segminds_message(
    standin, settings, tmp_path, status, error_class, action
):
    standin.default = Reply(status=status)
    with RayClient(replace(settings, max_retries=0)) as client, pytest.raises(error_class) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert err.value.status == status
    assert err.value.server_message == ERROR_MESSAGES[status]
    assert action in str(err.value) and f"HTTP {status}" in str(err.value)
    assert not list(tmp_path.iterdir())


def test_a_wrong_key_is_rejected_and_never_appears_in_the_error(standin, settings, tmp_path):
    secret = "sg_live_SECRET_value_123"
    with RayClient(replace(settings, api_key=secret)) as client, pytest.raises(AuthenticationError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    for text in (str(err.value), repr(err.value), repr(client), repr(client.settings)):
        assert secret not in text


def test_a_server_message_echoing_the_key_is_redacted(client, standin, tmp_path):
    standin.fail(400, f"bad key {TEST_API_KEY} for prompt")
    with pytest.raises(BadRequestError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert TEST_API_KEY not in str(err.value)
    assert "[key hidden]" in str(err.value)


def test_an_html_error_page_is_not_shown_as_the_message(client, standin, tmp_path):
    standin.then(
        Reply(status=502, body=b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
    )
    with pytest.raises(BadGatewayError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert err.value.server_message is None
    assert "<html>" not in str(err.value)


def test_an_error_body_of_another_json_shape_still_gives_its_message(client, standin, tmp_path):
    standin.then(Reply(status=400, body=json.dumps({"message": "prompt flagged"}).encode()))
    with pytest.raises(BadRequestError, match="prompt flagged"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")


def test_an_empty_error_body_still_gives_a_clear_error(client, standin, tmp_path):
    standin.then(Reply(status=500, body=b""))
    with pytest.raises(InternalServerError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert err.value.server_message is None and "HTTP 500" in str(err.value)


def test_an_unlisted_status_maps_to_the_nearest_kind():
    assert isinstance(error_for_status(418, None), BadRequestError)
    assert isinstance(error_for_status(507, None), InternalServerError)
    assert isinstance(error_for_status(402, None), InsufficientCreditsError)


def test_advice_given_to_a_failure_keeps_its_kind_detail_status_and_segminds_words():
    failure = InternalServerError("the answer stopped", status=500, server_message="upstream busy")
    advised = Advice("Check the console.", "the clip may be billed", "Wait a minute.").applied_to(failure)
    assert type(advised) is InternalServerError
    assert (advised.detail, advised.status, advised.server_message) == ("the answer stopped", 500, "upstream busy")
    assert (
        str(advised)
        == 'Segmind server error (HTTP 500): the answer stopped. Segmind said: "upstream busy". Check the console.'
    )
    assert advised.visitor_message().endswith('The clip may be billed. Segmind said: "upstream busy". Wait a minute.')


# --------------------------------------------------------------------------- retries


def test_rate_limit_is_retried_after_the_servers_retry_after(client, standin, sleeps, tmp_path):
    standin.fail(429, headers={"Retry-After": "3"})
    result = client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert sleeps == [3.0]
    assert result.attempts == 2 and len(standin.received) == 2


def test_rate_limit_without_retry_after_backs_off_within_the_cap(client, standin, sleeps, tmp_path):
    standin.fail(429).fail(429)
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(sleeps) == 2
    assert all(0 <= s <= client.settings.max_retry_wait for s in sleeps)


def test_a_retry_after_longer_than_the_cap_is_reported_not_waited(client, standin, sleeps, tmp_path):
    standin.fail(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert sleeps == [] and len(standin.received) == 1
    assert err.value.retry_after == 120 and "wait 120 seconds" in str(err.value)


def test_retries_stop_after_the_configured_number(client, standin, sleeps, tmp_path):
    standin.default = Reply(status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.received) == 1 + client.settings.max_retries


def test_retry_progress_is_reported(client, standin, tmp_path):
    updates: list = []
    standin.fail(429, headers={"Retry-After": "2"})
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", progress=updates.append)
    waits = [u for u in updates if u.state == "waiting"]
    assert [str(u) for u in waits] == ["rate limited by Segmind; waiting 2 s before trying again"]
    assert waits[0].wait == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_errors_after_which_we_may_be_billed_are_not_resent_by_default(client, standin, sleeps, tmp_path, status):
    standin.fail(status)
    with pytest.raises(APIStatusError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.received) == 1 and sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_resent_when_opted_in(standin, settings, tmp_path, status):
    standin.fail(status)
    with RayClient(replace(settings, retry_gateway_errors=True), sleep=lambda s: None) as client:
        result = client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.attempts == 2


def test_a_500_is_never_resent_even_when_opted_in(standin, settings, tmp_path):
    standin.fail(500)
    with (
        RayClient(replace(settings, retry_gateway_errors=True), sleep=lambda s: None) as client,
        pytest.raises(InternalServerError),
    ):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.received) == 1


def test_a_refused_connection_is_retried_then_reported(settings, sleeps, tmp_path):
    port = free_port()
    with (
        RayClient(replace(settings, base_url=f"http://127.0.0.1:{port}/v1"), sleep=sleeps.append) as client,
        pytest.raises(APIConnectionError) as err,
    ):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(sleeps) == settings.max_retries
    assert f"127.0.0.1:{port}" in str(err.value) and "SEGMIND_BASE_URL" in str(err.value)


def test_a_read_timeout_is_reported_and_not_resent(standin, settings, sleeps, tmp_path):
    standin.default = Reply(latency=1.5)
    with (
        RayClient(replace(settings, read_timeout=0.3), sleep=sleeps.append) as client,
        pytest.raises(APITimeoutError, match="SEGMIND_READ_TIMEOUT") as err,
    ):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert "may have been made and billed" in str(err.value)
    assert (
        "may have been made and billed" in err.value.visitor_message() and "SEGMIND" not in err.value.visitor_message()
    )
    assert len(standin.received) == 1 and sleeps == []


def test_a_read_timeout_is_resent_when_opted_in(standin, settings, tmp_path):
    standin.then(Reply(latency=1.0))
    with RayClient(replace(settings, read_timeout=0.3, retry_gateway_errors=True), sleep=lambda s: None) as client:
        assert client.generate(VideoRequest("a fox"), tmp_path / "v.mp4").attempts == 2


# --------------------------------------------------------------------------- no partial files


def test_a_cut_transfer_leaves_no_file(client, standin, tmp_path):
    standin.then(Reply(size=3_000_000, cut_after=1_000_000))
    with pytest.raises(APIConnectionError, match="No video was saved"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert _leftovers(tmp_path) == []


def test_a_cut_transfer_keeps_an_older_file_at_the_same_path(client, standin, tmp_path):
    target = tmp_path / "v.mp4"
    target.write_bytes(b"previous clip")
    standin.then(Reply(size=3_000_000, cut_after=1_000_000))
    with pytest.raises(APIConnectionError):
        client.generate(VideoRequest("a fox"), target)
    assert target.read_bytes() == b"previous clip"
    assert _leftovers(tmp_path) == ["v.mp4"]


def test_a_stalled_transfer_times_out_and_leaves_no_file(standin, settings, tmp_path):
    standin.then(Reply(size=2_000_000, chunk_delay=1.0))
    with RayClient(replace(settings, read_timeout=0.3)) as client, pytest.raises(APITimeoutError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert _leftovers(tmp_path) == []


def test_html_instead_of_a_video_is_refused_and_leaves_no_file(client, standin, tmp_path):
    standin.then(Reply(body=b"<!doctype html><title>Oops</title>", content_type="text/html"))
    with pytest.raises(InvalidResponseError, match="text/html instead of a video"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert _leftovers(tmp_path) == []


def test_bytes_that_are_not_an_mp4_are_refused_and_leave_no_file(client, standin, tmp_path):
    standin.then(Reply(body=b"GIF89a" + bytes(5000), content_type="video/mp4"))
    with pytest.raises(InvalidResponseError, match="not an MP4"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert _leftovers(tmp_path) == []


def test_an_empty_success_is_refused(client, standin, tmp_path):
    standin.then(Reply(body=b"", content_type="video/mp4"))
    with pytest.raises(InvalidResponseError, match="empty"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "malformed JSON"),
        (b'{"status": "ok"}', "no video URL"),
        (b'{"error": "NSFW content detected"}', "NSFW content detected"),
    ],
)
def test_a_json_success_without_a_video_is_refused(client, standin, tmp_path, body, fragment):
    standin.then(Reply(body=body, content_type="application/json"))
    with pytest.raises(InvalidResponseError, match=fragment):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert _leftovers(tmp_path) == []


def test_cancelling_during_download_leaves_no_file(client, standin, tmp_path):
    cancel = threading.Event()
    standin.then(Reply(size=5_000_000, chunk_delay=0.01))
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(CancelledError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", cancel=cancel)
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- key and settings


def test_no_key_fails_before_anything_is_sent(standin, settings, tmp_path):
    with RayClient(replace(settings, api_key=None)) as client, pytest.raises(MissingAPIKeyError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert standin.received == []
    assert "SEGMIND_API_KEY" in str(err.value)


def test_an_output_path_that_is_a_folder_is_refused(client, standin, tmp_path):
    with pytest.raises(InvalidRequestError, match="is a folder"):
        client.generate(VideoRequest("a fox"), tmp_path)
    assert standin.received == []


def test_settings_read_the_environment():
    settings = Settings.from_env(
        {
            "SEGMIND_API_KEY": " k ",
            "SEGMIND_BASE_URL": "http://127.0.0.1:9/v1/",
            "SEGMIND_MODEL": "other-model",
            "SEGMIND_READ_TIMEOUT": "12.5",
            "SEGMIND_MAX_RETRIES": "0",
            "SEGMIND_RETRY_GATEWAY_ERRORS": "yes",
        }
    )
    assert settings.api_key == "k"
    assert settings.endpoint == "http://127.0.0.1:9/v1/other-model"
    assert settings.read_timeout == 12.5 and settings.max_retries == 0 and settings.retry_gateway_errors


def test_settings_default_to_segminds_api():
    settings = Settings.from_env({})
    assert settings.endpoint == "https://api.segmind.com/v1/ray-flash-2-720p"
    assert settings.api_key is None and settings.retry_gateway_errors is False


@pytest.mark.parametrize(
    "name, value",
    [("SEGMIND_READ_TIMEOUT", "soon"), ("SEGMIND_MAX_RETRIES", "-1"), ("SEGMIND_RETRY_GATEWAY_ERRORS", "maybe")],
)
def test_a_bad_setting_is_named(name, value):
    with pytest.raises(InvalidRequestError, match=name):
        Settings.from_env({name: value})


def test_result_summary_names_parameters_time_size_and_credits(client, tmp_path):
    result = client.generate(VideoRequest("a fox", aspect_ratio="1:1", loop=True), tmp_path / "v.mp4")
    summary = result.summary()
    assert summary.startswith("1:1 · 5 s · loop · ")
    assert "kB" in summary and "42.5 credits left" in summary


def test_a_cancel_during_a_retry_wait_sends_nothing_more(standin, settings, tmp_path):
    cancel = threading.Event()
    standin.fail(429, headers={"Retry-After": "1"})
    with RayClient(settings, sleep=lambda seconds: cancel.set()) as client, pytest.raises(CancelledError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", cancel=cancel)
    assert len(standin.received) == 1


# --------------------------------------------------------------------------- keys a caller passes


@pytest.mark.parametrize(
    "key",
    [12345, b"bytes-key", ["k"], "ключ-на-кириллице", "SG_key\r\nX-Injected: 1", "SG_key\nmore", "SG key with spaces"],
)
def test_a_key_that_could_not_be_a_segmind_key_is_refused_unquoted_and_nothing_is_sent(client, standin, tmp_path, key):
    with pytest.raises(KeyFormatError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=key)
    assert "Invalid API key" in str(err.value) and "nothing was sent" in str(err.value)
    assert str(key) not in str(err.value)
    assert standin.received == []


@pytest.mark.parametrize("key", ["", "   ", "\t\n"])
def test_a_blank_caller_key_means_the_configured_key(client, standin, tmp_path, key):
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=key)
    assert standin.received[-1].headers["x-api-key"] == TEST_API_KEY


def test_a_keyframe_url_at_a_private_address_is_refused_before_anything_is_sent(client, standin, tmp_path):
    request = VideoRequest("a fox", start_image_url="http://169.254.169.254/latest/meta-data/")
    with pytest.raises(InvalidRequestError, match="private, loopback or link-local"):
        client.generate(request, tmp_path / "v.mp4")
    assert standin.received == []


def test_a_keyframe_on_segminds_own_storage_is_allowed_even_where_it_is_local(client, standin, tmp_path):
    # The stand-in's storage lives on 127.0.0.1; as the configured upload host it is trusted.
    request = VideoRequest("a fox", start_image_url=f"{standin.root_url}/assets/a.png")
    assert client.generate(request, tmp_path / "v.mp4").path.exists()
