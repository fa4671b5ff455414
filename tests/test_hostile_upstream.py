"""An upstream that misbehaves on purpose: it quotes keys back, redirects to other hosts, sets cookies
and drops connections after reading a request. None of it may leak a key or charge twice."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import (
    APIConnectionError,
    BadRequestError,
    CancelledError,
    InvalidResponseError,
    JobFailedError,
    RateLimitError,
    RayError,
    RedirectRefusedError,
    UploadAuthenticationError,
)
from ray_studio.client.request import VideoRequest
from tests.segmind_standin import TEST_API_KEY, Reply, SegmindStandIn

VISITOR_KEY = "SG_visitor_7f3a9c2e5b1d4f80"


def quoted_forms(key: str) -> dict[str, str]:
    return {
        "whole": key,
        "upper case": key.upper(),
        "lower case": key.lower(),
        "an 8-character piece": key[5:13],
        "a piece in other case": key[9:19].swapcase(),
        "twice, glued to text": f"key={key}&again={key[:12]}",
    }


def pieces_of(key: str, size: int = 8) -> set[str]:
    return {key[i : i + size].lower() for i in range(len(key) - size + 1)}


def assert_no_piece_of(key: str, *texts: str) -> None:
    for text in texts:
        folded = text.lower()
        leaked = [p for p in pieces_of(key) if p in folded]
        assert not leaked, f"{leaked[:3]} of the key in {text!r}"


def every_text_of(err: RayError) -> list[str]:
    return [str(err), repr(err), err.visitor_message(True), err.visitor_message(False), err.server_message or ""]


# --------------------------------------------------------------------------- keys quoted back


@pytest.mark.parametrize("form", list(quoted_forms(TEST_API_KEY)))
def test_a_key_quoted_back_in_a_200_json_error_never_reaches_the_caller(client, standin, tmp_path, form):
    quoted = quoted_forms(TEST_API_KEY)[form]
    standin.then(Reply(body=json.dumps({"error": f"invalid key {quoted}"}).encode(), content_type="application/json"))
    with pytest.raises(InvalidResponseError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert "[key hidden]" in str(err.value)
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
@pytest.mark.parametrize("form", ["whole", "upper case", "an 8-character piece"])
def test_a_key_quoted_back_in_an_error_status_never_reaches_the_caller(client, standin, tmp_path, status, form):
    standin.fail(status, f"rejected {quoted_forms(TEST_API_KEY)[form]} for this model")
    with RayClient(replace(client.settings, max_retries=0)) as once, pytest.raises(RayError) as err:
        once.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))


def test_a_visitor_key_quoted_back_is_hidden_as_well_as_the_owners(settings, standin, tmp_path):
    standin.api_key = VISITOR_KEY
    standin.fail(400, f"owner {TEST_API_KEY.upper()} visitor {VISITOR_KEY[3:15]}")
    with RayClient(settings) as client, pytest.raises(BadRequestError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=VISITOR_KEY)
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))
    assert_no_piece_of(VISITOR_KEY, *every_text_of(err.value))


def test_a_failed_queue_job_quoting_the_key_is_hidden(queue_settings, standin, tmp_path):
    standin.then(Reply(failed=f"worker saw key {TEST_API_KEY.lower()} and gave up"))
    with RayClient(queue_settings) as client, pytest.raises(JobFailedError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert "gave up" in str(err.value)
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))


def test_a_queue_submission_answer_quoting_the_key_is_hidden(queue_settings, standin, tmp_path):
    body = json.dumps({"status": "QUEUED", "note": f"hello {TEST_API_KEY}", "error": f"no id for {TEST_API_KEY}"})
    standin.then(Reply(body=body.encode(), content_type="application/json"))
    with RayClient(queue_settings) as client, pytest.raises(InvalidResponseError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))


def test_an_upload_error_quoting_the_key_is_hidden(client, standin):
    standin.then_upload(Reply(status=401, body=json.dumps({"error": f"bad {TEST_API_KEY}"}).encode()))
    with pytest.raises(UploadAuthenticationError) as err:
        client.upload(["data:image/png;base64,iVBORw0KGgo="])
    assert_no_piece_of(TEST_API_KEY, *every_text_of(err.value))


def test_no_key_reaches_the_log_when_calls_fail(settings, standin, tmp_path, caplog):
    standin.api_key = VISITOR_KEY
    standin.fail(400, f"bad {VISITOR_KEY}")
    standin.then(Reply(drop=True), Reply(status=500, body=f"oops {VISITOR_KEY.upper()}".encode()))
    with caplog.at_level(logging.DEBUG), RayClient(replace(settings, max_retries=0)) as client:
        for _ in range(3):
            with pytest.raises(RayError):
                client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=VISITOR_KEY)
    assert caplog.records
    assert_no_piece_of(VISITOR_KEY, *(r.getMessage() for r in caplog.records))
    assert_no_piece_of(TEST_API_KEY, *(r.getMessage() for r in caplog.records))


# --------------------------------------------------------------------------- redirects


@pytest.fixture
def elsewhere():
    """Another host (127.0.0.2) that a hostile answer may redirect to: it must never see the key."""
    with SegmindStandIn(host="127.0.0.2") as other:
        yield other


def test_a_redirect_of_the_generation_to_another_host_is_refused_and_the_key_not_sent(
    client, standin, elsewhere, tmp_path
):
    standin.then(Reply(redirect_to=f"{elsewhere.base_url}/ray-flash-2-720p"))
    with pytest.raises(RedirectRefusedError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert elsewhere.received == [] and elsewhere.polls == [] and elsewhere.file_requests == []
    assert "127.0.0.2" not in err.value.visitor_message()
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_of_the_generation_to_another_port_of_segminds_host_is_refused_and_the_key_not_sent(
    client, standin, tmp_path
):
    with SegmindStandIn(host="127.0.0.1") as same_host:  # the stand-in's own address, another port
        standin.then(Reply(redirect_to=f"{same_host.base_url}/ray-flash-2-720p"))
        with pytest.raises(RedirectRefusedError):
            client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
        assert same_host.received == [] and list(tmp_path.iterdir()) == []


def test_a_redirected_status_check_to_another_host_is_refused(queue_settings, standin, elsewhere, tmp_path):
    standin.then(Reply(processing=0.5))
    standin.then_poll(*[Reply(redirect_to=f"{elsewhere.v2_url}/requests/x/status")] * 3)
    with RayClient(queue_settings) as client, pytest.raises(RedirectRefusedError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert elsewhere.polls == [] and elsewhere.received == []
    assert len(standin.submissions) == 1


def test_a_redirected_upload_to_another_host_is_refused(client, standin, elsewhere):
    standin.then_upload(Reply(redirect_to=f"{elsewhere.root_url}/upload-asset"))
    with pytest.raises(RedirectRefusedError):
        client.upload(["data:image/png;base64,iVBORw0KGgo="])
    assert elsewhere.uploads == [] and elsewhere.received == []


def test_a_redirect_within_segminds_own_host_is_followed(client, standin, tmp_path):
    standin.then(Reply(redirect_to=f"{standin.base_url}/ray-flash-2-720p"))
    assert client.generate(VideoRequest("a fox"), tmp_path / "v.mp4").path.exists()


def test_status_and_result_urls_naming_another_host_are_ignored_and_the_job_followed_at_segmind(
    queue_settings, standin, elsewhere, tmp_path
):
    segminds_answer = standin.submit_answer
    standin.submit_answer = lambda job: {
        **segminds_answer(job),
        "status_url": f"{elsewhere.v2_url}/requests/{job.request_id}/status",
        "response_url": f"{elsewhere.v2_url}/requests/{job.request_id}",
    }
    standin.then(Reply(processing=0.2))
    with RayClient(queue_settings) as client:
        result = client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.path.read_bytes() == standin.video
    assert elsewhere.polls == [] and elsewhere.received == [] and len(standin.submissions) == 1


# --------------------------------------------------------------------------- cookies


def test_a_cookie_set_on_one_visitors_call_never_rides_on_anothers(client, standin, tmp_path):
    standin.then(Reply(set_cookie="session=visitor-A; Path=/"), Reply(set_cookie="other=1; Path=/; Max-Age=3600"))
    client.generate(VideoRequest("visitor A"), tmp_path / "a.mp4", api_key=TEST_API_KEY)
    client.generate(VideoRequest("visitor A again"), tmp_path / "b.mp4", api_key=TEST_API_KEY)
    client.generate(VideoRequest("visitor B"), tmp_path / "c.mp4", api_key=TEST_API_KEY)
    assert all("cookie" not in {k.lower() for k in r.headers} for r in standin.received)


def test_no_cookie_rides_on_queue_checks_or_downloads(queue_settings, standin, tmp_path):
    standin.then(Reply(set_cookie="session=A; Path=/", processing=0.2))
    with RayClient(queue_settings) as client:
        client.generate(VideoRequest("a"), tmp_path / "a.mp4")
        client.generate(VideoRequest("b"), tmp_path / "b.mp4")
    every = standin.received + standin.polls + standin.file_requests
    assert all("cookie" not in {k.lower() for k in r.headers} for r in every)


# --------------------------------------------------------------------------- dropped after the request left


@pytest.mark.parametrize("retries", [0, 2])
def test_a_generation_dropped_after_segmind_read_it_is_never_sent_again(settings, standin, tmp_path, retries):
    standin.then(Reply(drop=True))
    with RayClient(replace(settings, max_retries=retries)) as client, pytest.raises(APIConnectionError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.received) == 1
    assert "before Segmind answered" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_queue_submission_dropped_after_segmind_read_it_is_never_sent_again_and_may_be_billed(
    queue_settings, standin, tmp_path
):
    standin.then(Reply(drop=True))
    with RayClient(queue_settings) as client, pytest.raises(APIConnectionError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.submissions) == 1
    assert "may have reached Segmind and been billed" in str(err.value)


def test_a_connection_that_never_opened_is_tried_again(settings, tmp_path):
    from tests.conftest import free_port

    waits: list[float] = []
    dead = replace(settings, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=2)
    with RayClient(dead, sleep=waits.append) as client, pytest.raises(APIConnectionError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(waits) == 2


# --------------------------------------------------------------------------- Retry-After at its edges


def test_a_retry_after_equal_to_the_cap_is_waited_out_and_the_request_resent(client, standin, tmp_path, sleeps):
    cap = client.settings.max_retry_wait
    standin.fail(429, headers={"Retry-After": "5"})
    assert cap == 5
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert sleeps == [5.0] and len(standin.received) == 2


def test_a_retry_after_just_over_the_cap_is_reported_not_slept(client, standin, tmp_path, sleeps):
    standin.fail(429, headers={"Retry-After": "6"})
    with pytest.raises(RateLimitError, match="wait 6 seconds"):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert sleeps == [] and len(standin.received) == 1


def test_a_retry_after_given_as_an_http_date_is_understood(client, standin, tmp_path, sleeps):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 4))
    standin.fail(429, headers={"Retry-After": when})
    client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 5.0


# --------------------------------------------------------------------------- cancel ends the request


def test_a_cancel_during_a_sync_generation_closes_the_upstream_request_and_saves_nothing(settings, standin, tmp_path):
    standin.then(Reply(latency=10))
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    with RayClient(settings) as client, pytest.raises(CancelledError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", cancel=cancel)
    deadline = time.monotonic() + 5
    while standin.abandoned == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert standin.abandoned == 1
    assert list(tmp_path.iterdir()) == []
