"""The Segmind stand-in speaks Segmind's v1, v2 (queue) and storage protocols, and can play a hostile upstream.

First as Segmind's own Python SDK sees it, then over plain HTTP, one behaviour per test.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
import segmind.v2
from segmind import SegmindClient
from segmind.exceptions import SegmindError
from segmind.files import Files

from tests.conftest import ROOT
from tests.segmind_standin import (
    CHAT_MODEL,
    CHAT_TEXT,
    ERROR_MESSAGES,
    MODEL,
    TEST_API_KEY,
    Received,
    Reply,
    SegmindStandIn,
)

KEY = {"x-api-key": TEST_API_KEY}
PROMPT = {"prompt": "a paper boat on a rainy street", "aspect_ratio": "9:16", "duration": 5}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MESSAGES = [{"role": "user", "content": "Rewrite for a video model: a fox in the snow"}]


# --------------------------------------------------------------------------- helpers


def submit(standin: SegmindStandIn, body: object = PROMPT, headers: dict[str, str] = KEY, **kw) -> requests.Response:
    return requests.post(f"{standin.v2_url}/{MODEL}", json=body, headers=headers, timeout=kw.pop("timeout", 10), **kw)


def submit_job(standin: SegmindStandIn, reply: Reply | None = None) -> dict:
    if reply is not None:
        standin.then(reply)
    answer = submit(standin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def get(url: str, headers: dict[str, str] = KEY, **kw) -> requests.Response:
    return requests.get(url, headers=headers, timeout=kw.pop("timeout", 10), **kw)


def upload(standin: SegmindStandIn, body: object, headers: dict[str, str] = KEY, **kw) -> requests.Response:
    return requests.post(f"{standin.root_url}/upload-asset", json=body, headers=headers, timeout=10, **kw)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def age(standin: SegmindStandIn, job: dict, seconds: float) -> None:
    """Let ``seconds`` pass for the job, without waiting."""
    standin.jobs[job["request_id"]].submitted_at -= seconds


def fetch(url: str) -> tuple[int, int, bytes]:
    """(status, promised Content-Length, bytes that arrived), even when the transfer is cut."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        try:
            data = response.read()
        except http.client.IncompleteRead as cut:
            data = cut.partial
        return response.status, int(response.headers["Content-Length"]), data
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def everything_received(standin: SegmindStandIn) -> list[Received]:
    return standin.received + standin.polls + standin.file_requests


# --------------------------------------------------------------------------- Segmind's own SDK


@pytest.fixture
def sdk(standin):
    client = SegmindClient(api_key=TEST_API_KEY, base_url=standin.base_url)
    yield client
    client._client.close()


@pytest.fixture
def storage_at_standin(standin):
    original = Files.STORAGE_BASE_URL
    Files.STORAGE_BASE_URL = standin.root_url
    try:
        yield
    finally:
        Files.STORAGE_BASE_URL = original


def test_the_sdks_run_submits_to_v2_polls_and_returns_an_output_url_that_serves_the_mp4(sdk, standin):
    standin.then(Reply(queued=0.1, processing=0.1))
    result = sdk.run(MODEL, **PROMPT)
    assert result["status"] == "COMPLETED"
    assert get(result["output"], headers={}).content == standin.video
    (submitted,) = standin.submissions
    assert submitted.path == f"/v2/{MODEL}" and submitted.body == PROMPT
    assert [urlsplit(p.path).path.rsplit("/", 1)[-1] for p in standin.polls][-2:] == ["status", result["request_id"]]


def test_the_sdks_run_sync_gets_the_mp4_bytes_from_v1(sdk, standin):
    assert sdk.run_sync(MODEL, **PROMPT).content == standin.video
    assert standin.submissions[0].path == f"/v1/{MODEL}"


def test_a_failed_job_makes_the_sdks_run_raise_inference_failed_with_segminds_reason(sdk, standin):
    standin.then(Reply(queued=0.1, processing=0.1, failed="Prompt flagged by the content filter"))
    with pytest.raises(segmind.v2.InferenceFailed) as failed:
        sdk.run(MODEL, **PROMPT)
    assert failed.value.detail == "Prompt flagged by the content filter"
    assert failed.value.status_body["status"] == "FAILED"


def test_a_wrong_key_makes_the_sdks_submit_raise_with_status_401(standin):
    client = SegmindClient(api_key="sg_wrong_key", base_url=standin.base_url)
    try:
        with pytest.raises(SegmindError) as refused:
            client.run(MODEL, **PROMPT)
    finally:
        client._client.close()
    assert refused.value.status == 401 and refused.value.detail == ERROR_MESSAGES[401]
    assert standin.jobs == {}


def test_the_sdks_file_upload_returns_a_url_that_serves_the_same_bytes(sdk, standin, storage_at_standin, tmp_path):
    picture = tmp_path / "keyframe.png"
    picture.write_bytes(PNG)
    answer = sdk.files.upload(picture)
    (url,) = answer["file_urls"]
    assert get(url, headers={}).content == PNG
    assert standin.uploads == [(PNG, "image/png")]


def test_the_sdks_storage_address_is_restored_after_the_upload_test():
    assert Files.STORAGE_BASE_URL == "https://workflows-api.segmind.com"


# --------------------------------------------------------------------------- chat models, as Segmind's SDK sees them


def test_the_sdks_chat_queues_at_v2_and_reads_the_text_from_the_json_string_in_output(sdk, standin):
    standin.then_chat(Reply(text="A fox trots through snow, the camera low beside it.", queued=0.1))
    reply = sdk.chat(CHAT_MODEL, messages=MESSAGES)
    assert reply.text == "A fox trots through snow, the camera low beside it."
    (posted,) = standin.chats
    assert posted.path == f"/v2/{CHAT_MODEL}" and posted.body == {"messages": MESSAGES}
    (job,) = standin.jobs.values()
    output = get(f"{standin.v2_url}/requests/{job.request_id}").json()["output"]
    assert isinstance(output, str) and json.loads(output)["choices"][0]["message"]["content"] == reply.text


def test_the_sdks_chat_sync_gets_the_openai_answer_from_v1(sdk, standin):
    reply = sdk.chat_sync(CHAT_MODEL, messages=MESSAGES)
    assert reply.text == CHAT_TEXT and reply.finish_reason == "stop"
    assert reply.raw["choices"][0]["message"]["role"] == "assistant"
    assert [c.path for c in standin.chats] == [f"/v1/{CHAT_MODEL}"]


def test_chat_calls_are_not_clip_submissions_but_are_received(sdk, standin):
    sdk.chat_sync(CHAT_MODEL, messages=MESSAGES)
    assert standin.submissions == [] and [r.path for r in standin.received] == [f"/v1/{CHAT_MODEL}"]


@pytest.mark.parametrize("verb", ["chat", "chat_sync"])
def test_an_empty_reply_can_be_scripted(sdk, standin, verb):
    standin.then_chat(Reply(text=""))
    assert getattr(sdk, verb)(CHAT_MODEL, messages=MESSAGES).text == ""


@pytest.mark.parametrize("verb", ["chat", "chat_sync"])
def test_a_scripted_chat_error_reaches_the_sdk_with_its_status(sdk, standin, verb):
    standin.then_chat(Reply(status=406))
    with pytest.raises(SegmindError) as refused:
        getattr(sdk, verb)(CHAT_MODEL, messages=MESSAGES)
    assert refused.value.status == 406 and refused.value.detail == ERROR_MESSAGES[406]
    assert standin.jobs == {}


@pytest.mark.parametrize("verb", ["chat", "chat_sync"])
def test_a_chat_reply_can_quote_the_key_back(sdk, standin, verb):
    standin.then_chat(Reply(text="A fox.", quote_key=True))
    assert getattr(sdk, verb)(CHAT_MODEL, messages=MESSAGES).text == f"A fox. (key: {TEST_API_KEY})"


def test_a_queued_chat_that_fails_makes_the_sdk_raise_inference_failed(sdk, standin):
    standin.then_chat(Reply(failed="model overloaded"))
    with pytest.raises(segmind.v2.InferenceFailed) as failed:
        sdk.chat(CHAT_MODEL, messages=MESSAGES)
    assert failed.value.detail == "model overloaded"


def test_a_chat_without_the_right_key_is_refused_with_401(standin):
    answer = requests.post(f"{standin.base_url}/{CHAT_MODEL}", json={"messages": MESSAGES},
                           headers={"x-api-key": "wrong"}, timeout=10)  # fmt: skip
    assert answer.status_code == 401 and standin.jobs == {}


@pytest.mark.parametrize(
    "body, problem",
    [
        ({}, "messages is required"),
        ({"messages": []}, "messages must be a non-empty array"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role must be one of"),
        ({"messages": [{"role": "user"}]}, "messages[0].content is required"),
    ],
)
def test_a_chat_with_a_bad_body_is_refused_with_400_naming_the_field(standin, body, problem):
    answer = requests.post(f"{standin.v2_url}/{CHAT_MODEL}", json=body, headers=KEY, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"].startswith(problem)
    assert standin.jobs == {}


def test_chat_scripts_answer_only_chats(standin):
    standin.then_chat(Reply(status=500))
    assert submit(standin).status_code == 200
    chat = requests.post(f"{standin.base_url}/{CHAT_MODEL}", json={"messages": MESSAGES}, headers=KEY, timeout=10)
    assert chat.status_code == 500


def test_a_model_that_is_not_a_chat_model_is_still_404(standin):
    answer = requests.post(f"{standin.base_url}/no-such-llm", json={"messages": MESSAGES}, headers=KEY, timeout=10)
    assert answer.status_code == 404 and standin.chats == []


# --------------------------------------------------------------------------- v2 submit


def test_a_submit_answers_at_once_queued_with_absolute_status_and_response_urls(standin):
    job = submit_job(standin, Reply(queued=60))
    request_id = job["request_id"]
    assert job == {
        "request_id": request_id,
        "status": "QUEUED",
        "status_url": f"{standin.root_url}/v2/requests/{request_id}/status",
        "response_url": f"{standin.root_url}/v2/requests/{request_id}",
    }
    assert standin.jobs[request_id].body == PROMPT


def test_the_v2_url_is_the_v1_base_with_v2_in_place_of_v1(standin):
    assert standin.v2_url == standin.base_url.removesuffix("/v1") + "/v2" == standin.root_url + "/v2"


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "sg_wrong"}], ids=["missing", "wrong"])
def test_a_submit_without_the_right_key_is_refused_with_401_and_makes_no_job(standin, headers):
    answer = submit(standin, headers=headers)
    assert answer.status_code == 401 and answer.json() == {"error": ERROR_MESSAGES[401]}
    assert standin.jobs == {}


def test_a_submit_with_a_bad_body_is_refused_with_400_naming_the_field(standin):
    answer = submit(standin, body={**PROMPT, "duration": 7})
    assert answer.status_code == 400 and "duration" in answer.json()["error"]
    assert standin.jobs == {}


def test_a_submit_to_an_unknown_model_is_404(standin):
    answer = requests.post(f"{standin.v2_url}/no-such-model", json=PROMPT, headers=KEY, timeout=10)
    assert answer.status_code == 404 and answer.json() == {"error": ERROR_MESSAGES[404]}


@pytest.mark.parametrize("status, headers", [(406, {}), (429, {"Retry-After": "7"}), (503, {})])
def test_a_scripted_error_answers_the_submit(standin, status, headers):
    standin.fail(status, headers=headers)
    answer = submit(standin)
    assert answer.status_code == status and answer.json() == {"error": ERROR_MESSAGES[status]}
    assert all(answer.headers[name] == value for name, value in headers.items())
    assert standin.jobs == {}


def test_v1_posts_and_v2_submits_take_their_answers_from_the_same_script_in_order(standin):
    standin.fail(429).fail(406)
    assert requests.post(f"{standin.base_url}/{MODEL}", json=PROMPT, headers=KEY, timeout=10).status_code == 429
    assert submit(standin).status_code == 406
    assert submit(standin).status_code == 200


def test_submissions_hold_v1_and_v2_posts_in_order_and_received_holds_every_post(standin):
    requests.post(f"{standin.base_url}/{MODEL}", json=PROMPT, headers=KEY, timeout=10)
    submit(standin)
    upload(standin, {"data_urls": [data_url(PNG)]})
    assert [r.path for r in standin.submissions] == [f"/v1/{MODEL}", f"/v2/{MODEL}"]
    assert [r.path for r in standin.received] == [f"/v1/{MODEL}", f"/v2/{MODEL}", "/upload-asset"]


# --------------------------------------------------------------------------- v2 states


def test_a_job_is_queued_then_processing_then_completed_as_its_time_passes(standin):
    job = submit_job(standin, Reply(queued=10, processing=10))
    seen = [get(job["status_url"]).json()["status"]]
    age(standin, job, 10)
    seen.append(get(job["status_url"]).json()["status"])
    age(standin, job, 10)
    seen.append(get(job["status_url"]).json()["status"])
    assert seen == ["QUEUED", "PROCESSING", "COMPLETED"]
    assert standin.jobs[job["request_id"]].state == "COMPLETED"


def test_a_job_reaches_completed_on_its_own_through_its_states_in_order(standin):
    job = submit_job(standin, Reply(queued=0.3, processing=0.3))
    seen: list[str] = []

    def completed() -> bool:
        state = get(job["status_url"]).json()["status"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "COMPLETED"

    assert wait_until(completed)
    order = ["QUEUED", "PROCESSING", "COMPLETED"]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "COMPLETED"


def test_the_status_of_a_job_carries_only_its_id_and_state(standin):
    job = submit_job(standin, Reply(queued=60))
    answer = get(job["status_url"])
    assert answer.status_code == 200 and answer.json() == {"request_id": job["request_id"], "status": "QUEUED"}


def test_the_response_of_an_unfinished_job_gives_only_its_state(standin):
    job = submit_job(standin, Reply(processing=60))
    answer = get(job["response_url"])
    assert answer.status_code == 200 and answer.json() == {"request_id": job["request_id"], "status": "PROCESSING"}


@pytest.mark.parametrize("which", ["status_url", "response_url"])
def test_a_failed_job_answers_422_with_segminds_reason(standin, which):
    job = submit_job(standin, Reply(failed="NSFW content detected"))
    answer = get(job[which])
    assert answer.status_code == 422
    assert answer.json() == {"request_id": job["request_id"], "status": "FAILED", "error": "NSFW content detected"}


def test_a_job_that_will_fail_is_queued_like_any_other_until_its_time_is_up(standin):
    job = submit_job(standin, Reply(queued=10, failed="NSFW content detected"))
    assert get(job["status_url"]).json()["status"] == "QUEUED"
    age(standin, job, 10)
    assert get(job["status_url"]).status_code == 422


OUTPUT_FORMS = [
    ("url", "output", lambda value: value),
    ("json-string", "output", lambda value: json.loads(value)[0]),
    ("video_url", "video_url", lambda value: value),
    ("url-key", "url", lambda value: value),
]


@pytest.mark.parametrize("form, key, video_url_in", OUTPUT_FORMS, ids=[f[0] for f in OUTPUT_FORMS])
def test_each_output_form_puts_the_video_url_where_it_says(standin, form, key, video_url_in):
    job = submit_job(standin, Reply(processing=2.5, output_form=form))
    age(standin, job, 2.5)
    answer = get(job["response_url"]).json()
    assert set(answer) == {"request_id", "status", "metrics", key}
    assert answer["status"] == "COMPLETED" and answer["metrics"] == {"inference_time": 2.5}
    url = video_url_in(answer[key])
    assert url == f"{standin.root_url}/files/{job['request_id']}.mp4"
    assert get(url, headers={}).content == standin.video


def test_the_json_string_form_is_a_string_holding_a_json_list(standin):
    job = submit_job(standin, Reply(output_form="json-string"))
    assert isinstance(get(job["response_url"]).json()["output"], str)


def test_an_unknown_output_form_is_refused_when_scripted():
    with pytest.raises(ValueError, match="output_form"):
        Reply(output_form="base64")


@pytest.mark.parametrize("which", ["status", ""])
def test_an_unknown_request_id_is_404_request_not_found(standin, which):
    answer = get(f"{standin.v2_url}/requests/00000000-0000-0000-0000-000000000000/{which}".rstrip("/"))
    assert answer.status_code == 404 and answer.json() == {"error": "Request not found"}


@pytest.mark.parametrize("which", ["status_url", "response_url"])
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "sg_wrong"}], ids=["missing", "wrong"])
def test_polls_without_the_right_key_are_refused_with_401(standin, which, headers):
    job = submit_job(standin)
    answer = get(job[which], headers=headers)
    assert answer.status_code == 401 and answer.json() == {"error": ERROR_MESSAGES[401]}


@pytest.mark.parametrize("which", ["status_url", "response_url"])
def test_a_result_is_kept_for_result_ttl_seconds_after_completion_then_not_found(standin, which):
    standin.result_ttl = 10.0
    job = submit_job(standin, Reply(processing=5))
    age(standin, job, 5 + 9)
    assert get(job[which]).status_code == 200
    age(standin, job, 2)
    answer = get(job[which])
    assert answer.status_code == 404 and answer.json() == {"error": "Request not found"}


def test_every_poll_is_recorded_in_polls_and_not_as_a_file_request(standin):
    job = submit_job(standin)
    get(job["status_url"])
    get(job["response_url"])
    assert [p.path for p in standin.polls] == [urlsplit(job["status_url"]).path, urlsplit(job["response_url"]).path]
    assert standin.polls[0].headers["x-api-key"] == TEST_API_KEY
    assert standin.file_requests == []


# --------------------------------------------------------------------------- a job's video


def test_the_output_video_is_served_without_a_key_padded_to_the_scripted_size(standin):
    job = submit_job(standin, Reply(size=3_000_000))
    answer = get(f"{standin.root_url}/files/{job['request_id']}.mp4", headers={})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "video/mp4"
    assert len(answer.content) == 3_000_000 and answer.content.startswith(standin.video)


def test_the_output_video_carries_the_same_credit_headers_as_a_v1_video(standin):
    job = submit_job(standin)
    video = get(f"{standin.root_url}/files/{job['request_id']}.mp4", headers={})
    v1 = requests.post(f"{standin.base_url}/{MODEL}", json=PROMPT, headers=KEY, timeout=10)
    for name in ("x-remaining-credits", "x-credits-consumed"):
        assert video.headers[name] == v1.headers[name]


def test_the_output_video_answer_echoes_no_request_header(standin):
    job = submit_job(standin)
    answer = get(f"{standin.root_url}/files/{job['request_id']}.mp4", headers={**KEY, "Cookie": "session=visitorA"})
    assert not any(TEST_API_KEY in value or "visitorA" in value for value in answer.headers.values())


def test_the_output_video_of_an_unfinished_or_failed_job_is_not_found(standin):
    waiting = submit_job(standin, Reply(queued=60))
    failed = submit_job(standin, Reply(failed="boom"))
    for job in (waiting, failed):
        assert get(f"{standin.root_url}/files/{job['request_id']}.mp4").status_code == 404


def test_output_cuts_cut_the_first_downloads_halfway_then_serve_the_video_whole(standin):
    job = submit_job(standin, Reply(size=2_000_000, output_cuts=2))
    url = f"{standin.root_url}/files/{job['request_id']}.mp4"
    downloads = [fetch(url) for _ in range(3)]
    assert [(status, promised, len(data)) for status, promised, data in downloads] == [
        (200, 2_000_000, 1_000_000),
        (200, 2_000_000, 1_000_000),
        (200, 2_000_000, 2_000_000),
    ]
    assert downloads[2][2].startswith(standin.video)


def test_each_download_of_a_jobs_video_is_recorded_as_a_file_request(standin):
    job = submit_job(standin)
    get(f"{standin.root_url}/files/{job['request_id']}.mp4", headers={})
    (download,) = standin.file_requests
    assert download.path == f"/files/{job['request_id']}.mp4"
    assert "x-api-key" not in {name.lower() for name in download.headers}


# --------------------------------------------------------------------------- scripted polls


def test_scripted_poll_answers_come_first_then_the_jobs_real_state(standin):
    job = submit_job(standin)
    standin.then_poll(Reply(status=429, headers={"Retry-After": "2"}), Reply(status=502))
    limited, bad_gateway, real = (get(job["status_url"]) for _ in range(3))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json() == {"error": ERROR_MESSAGES[429]}
    assert bad_gateway.status_code == 502 and bad_gateway.json() == {"error": ERROR_MESSAGES[502]}
    assert real.status_code == 200 and real.json()["status"] == "COMPLETED"
    assert len(standin.polls) == 3


def test_a_dropped_poll_closes_the_connection_without_an_answer(standin):
    job = submit_job(standin)
    standin.then_poll(Reply(drop=True))
    with pytest.raises(requests.ConnectionError):
        get(job["response_url"])
    assert get(job["response_url"]).json()["status"] == "COMPLETED"
    assert len(standin.polls) == 2


def test_a_scripted_poll_that_only_waits_then_answers_the_real_state_with_its_headers(standin):
    job = submit_job(standin)
    standin.then_poll(Reply(latency=0.2, headers={"X-Trace": "slow"}))
    answer = get(job["status_url"])
    assert answer.json()["status"] == "COMPLETED" and answer.headers["X-Trace"] == "slow"


def test_each_script_answers_only_its_own_kind_of_request(standin):
    job = submit_job(standin)
    standin.then_poll(Reply(status=502))
    standin.then_upload(Reply(status=500))
    standin.fail(406)
    assert submit(standin).status_code == 406
    assert upload(standin, {"data_urls": [data_url(PNG)]}).status_code == 500
    assert get(job["status_url"]).status_code == 502
    assert upload(standin, {"data_urls": [data_url(PNG)]}).status_code == 200
    assert get(job["status_url"]).status_code == 200


# --------------------------------------------------------------------------- storage uploads


def test_an_upload_answers_file_urls_that_serve_the_bytes_with_their_mime_type(standin):
    answer = upload(standin, {"data_urls": [data_url(PNG), data_url(b"\xff\xd8\xff" + bytes(99), "image/jpeg")]})
    assert answer.status_code == 200
    assert answer.json()["message"] == "Files uploaded successfully"
    png_url, jpeg_url = answer.json()["file_urls"]
    assert png_url.startswith(f"{standin.root_url}/assets/") and png_url.endswith(".png")
    assert jpeg_url.endswith(".jpg")
    served = get(png_url, headers={})
    assert served.content == PNG and served.headers["Content-Type"] == "image/png"
    assert standin.uploads == [(PNG, "image/png"), (b"\xff\xd8\xff" + bytes(99), "image/jpeg")]


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "sg_wrong"}], ids=["missing", "wrong"])
def test_an_upload_without_the_right_key_is_refused_with_401(standin, headers):
    answer = upload(standin, {"data_urls": [data_url(PNG)]}, headers=headers)
    assert answer.status_code == 401 and answer.json() == {"error": "Invalid API key"}
    assert standin.uploads == []


@pytest.mark.parametrize(
    "body",
    [{}, {"data_urls": []}, {"data_urls": "data:image/png;base64,AAAA"}, {"data_urls": ["https://x.test/a.png"]}, [1]],
    ids=["no-data-urls", "empty-list", "not-a-list", "not-a-data-url", "not-an-object"],
)
def test_an_upload_that_is_not_a_list_of_data_urls_is_refused_with_400_and_a_reason(standin, body):
    answer = upload(standin, body)
    assert answer.status_code == 400 and "data_urls" in answer.json()["error"]
    assert standin.uploads == []


@pytest.mark.parametrize(
    "item", ["data:image/png,AAAA", "data:image/png;base64,@@not base64@@"], ids=["not-marked", "bad-base64"]
)
def test_a_data_url_that_is_not_base64_is_refused_with_400(standin, item):
    answer = upload(standin, {"data_urls": [data_url(PNG), item]})
    assert answer.status_code == 400 and "data_urls[1]" in answer.json()["error"]
    assert standin.uploads == []


def test_a_file_over_the_upload_limit_is_refused_with_413_file_too_large(standin):
    standin.upload_limit = 1000
    assert upload(standin, {"data_urls": [data_url(bytes(1000))]}).status_code == 200
    answer = upload(standin, {"data_urls": [data_url(bytes(1001))]})
    assert answer.status_code == 413 and answer.json() == {"error": "File too large"}
    assert len(standin.uploads) == 1


def test_the_upload_limit_is_ten_million_bytes_by_default(standin):
    assert standin.upload_limit == 10_000_000


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_scripted_upload_error_has_a_segmind_shaped_body(standin, status):
    standin.then_upload(Reply(status=status))
    answer = upload(standin, {"data_urls": [data_url(PNG)]})
    assert answer.status_code == status and answer.json() == {"error": ERROR_MESSAGES[status]}
    assert standin.uploads == []


def test_an_empty_upload_answer_can_be_scripted(standin):
    standin.then_upload(Reply(body=b"{}", content_type="application/json"))
    answer = upload(standin, {"data_urls": [data_url(PNG)]})
    assert answer.status_code == 200 and answer.json() == {}


def test_the_older_urls_shape_can_be_scripted(standin):
    standin.then_upload(Reply(upload_form="urls"))
    answer = upload(standin, {"data_urls": [data_url(PNG)]}).json()
    assert set(answer) == {"urls", "message"}
    assert get(answer["urls"][0], headers={}).content == PNG


def test_an_unknown_asset_is_404(standin):
    assert get(f"{standin.root_url}/assets/nothing.png", headers={}).status_code == 404


# --------------------------------------------------------------------------- hostile upstream, at every door


@dataclass
class Door:
    """One kind of request the stand-in answers, how to script it and how to send it."""

    script: Callable[[SegmindStandIn, Reply], object]
    send: Callable[..., requests.Response]
    path_prefix: str


def _post_v1(standin, http=requests, **kw):
    return http.post(f"{standin.base_url}/{MODEL}", json=PROMPT, headers=KEY, **{"timeout": 10, **kw})


def _post_v2(standin, http=requests, **kw):
    return http.post(f"{standin.v2_url}/{MODEL}", json=PROMPT, headers=KEY, **{"timeout": 10, **kw})


def _get_status(standin, http=requests, **kw):
    job = _post_v2(standin).json()
    return http.get(job["status_url"], headers=KEY, **{"timeout": 10, **kw})


UPLOAD_BODY = {"data_urls": [data_url(PNG)]}


def _post_upload(standin, http=requests, **kw):
    return http.post(f"{standin.root_url}/upload-asset", json=UPLOAD_BODY, headers=KEY, **{"timeout": 10, **kw})


def _post_chat(standin, http=requests, **kw):
    body = {"messages": MESSAGES}
    return http.post(f"{standin.base_url}/{CHAT_MODEL}", json=body, headers=KEY, **{"timeout": 10, **kw})


DOORS = {
    "v1": Door(SegmindStandIn.then, _post_v1, f"/v1/{MODEL}"),
    "v2-submit": Door(SegmindStandIn.then, _post_v2, f"/v2/{MODEL}"),
    "v2-status": Door(SegmindStandIn.then_poll, _get_status, "/v2/requests/"),
    "upload": Door(SegmindStandIn.then_upload, _post_upload, "/upload-asset"),
    "chat": Door(SegmindStandIn.then_chat, _post_chat, f"/v1/{CHAT_MODEL}"),
}
POST_DOORS = ["v1", "v2-submit", "upload"]


@pytest.fixture(params=list(DOORS))
def door(request) -> Door:
    return DOORS[request.param]


@pytest.fixture
def elsewhere() -> Iterator[SegmindStandIn]:
    """A second stand-in on another loopback address: where a hostile redirect points."""
    with SegmindStandIn(host="127.0.0.2") as server:
        yield server


@pytest.mark.parametrize("name", POST_DOORS)
def test_a_dropped_post_was_read_whole_but_never_answered(standin, name):
    DOORS[name].script(standin, Reply(drop=True))
    with pytest.raises(requests.ConnectionError):
        DOORS[name].send(standin)
    (post,) = standin.received
    assert post.body == (UPLOAD_BODY if name == "upload" else PROMPT)
    assert standin.jobs == {} and standin.uploads == []


def test_a_redirect_answers_307_with_the_given_location(standin, door):
    door.script(standin, Reply(redirect_to="http://127.0.0.2:9/elsewhere"))
    answer = door.send(standin, allow_redirects=False)
    assert answer.status_code == 307 and answer.headers["Location"] == "http://127.0.0.2:9/elsewhere"


def test_a_client_that_follows_a_redirect_blindly_carries_the_key_to_the_other_host(standin, elsewhere, door):
    door.script(standin, Reply(redirect_to=f"{elsewhere.root_url}/collect"))
    door.send(standin)
    (arrived,) = everything_received(elsewhere)
    assert arrived.path == "/collect" and arrived.headers["x-api-key"] == TEST_API_KEY


def test_set_cookie_is_added_to_the_answer_and_the_cookie_sent_back_is_recorded(standin, door):
    door.script(standin, Reply(set_cookie="session=visitorA; Path=/"))
    session = requests.Session()
    assert door.send(standin, http=session).headers["Set-Cookie"] == "session=visitorA; Path=/"
    door.send(standin, http=session)
    last = everything_received(standin)
    assert any(r.headers.get("Cookie") == "session=visitorA" for r in last)


@pytest.mark.parametrize("status", [200, 400])
def test_a_json_body_quoting_the_key_is_sent_as_scripted(standin, door, status):
    body = json.dumps({"error": f"invalid key {TEST_API_KEY}"}).encode()
    door.script(standin, Reply(status=status, body=body, content_type="application/json"))
    answer = door.send(standin)
    assert answer.status_code == status and answer.content == body
    assert answer.headers["Content-Type"] == "application/json"


def test_a_client_that_hangs_up_while_the_answer_waits_is_counted_as_abandoned(standin, door):
    door.script(standin, Reply(latency=60))
    with pytest.raises(requests.ReadTimeout):
        door.send(standin, timeout=(5, 0.3))
    assert wait_until(lambda: standin.abandoned == 1 and standin.in_flight == 0)
    (path,) = standin.abandoned_paths
    assert path.startswith(door.path_prefix)


def test_a_client_that_waits_out_the_latency_is_not_counted_as_abandoned(standin, door):
    door.script(standin, Reply(latency=0.2))
    assert door.send(standin).status_code == 200
    assert standin.abandoned == 0 and standin.abandoned_paths == []


def test_advance_ends_a_latency_being_waited_out_and_moves_every_job_on(standin):
    queued = submit_job(standin, Reply(queued=60, processing=60))
    standin.then(Reply(latency=60))
    answers: list[requests.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(_post_v1(standin, timeout=(5, 30))))
    waiting.start()
    assert wait_until(lambda: standin.in_flight == 1)
    started = time.monotonic()
    standin.advance(60)
    waiting.join(30)
    assert [a.status_code for a in answers] == [200] and time.monotonic() - started < 5
    assert standin.abandoned == 0
    assert get(queued["status_url"]).json()["status"] == "PROCESSING"
    standin.advance(60)
    assert get(queued["status_url"]).json()["status"] == "COMPLETED"


def test_a_client_that_hangs_up_during_a_slow_v1_video_is_counted_as_abandoned(standin):
    standin.then(Reply(size=20_000_000, chunk_delay=0.05))
    with requests.post(f"{standin.base_url}/{MODEL}", json=PROMPT, headers=KEY, timeout=10, stream=True) as answer:
        next(answer.iter_content(64 * 1024))
    assert wait_until(lambda: standin.abandoned == 1 and standin.in_flight == 0)
    assert standin.abandoned_paths == [f"/v1/{MODEL}"]


# --------------------------------------------------------------------------- another loopback address, reset


def test_a_standin_on_127_0_0_2_answers_there_and_points_its_urls_there(elsewhere):
    assert elsewhere.base_url.startswith("http://127.0.0.2:")
    job = submit_job(elsewhere)
    assert job["status_url"].startswith("http://127.0.0.2:")
    video_url = get(job["response_url"]).json()["output"]
    assert video_url.startswith("http://127.0.0.2:")
    assert get(video_url, headers={}).content == elsewhere.video


def test_reset_forgets_jobs_polls_uploads_scripts_and_counters(standin):
    job = submit_job(standin)
    get(job["status_url"])
    upload(standin, {"data_urls": [data_url(PNG)]})
    standin.then_poll(Reply(status=502))
    standin.then_upload(Reply(status=500))
    standin.then(Reply(latency=60))
    with pytest.raises(requests.ReadTimeout):
        submit(standin, timeout=(5, 0.3))
    assert wait_until(lambda: standin.abandoned == 1)
    standin.result_ttl = 1.0
    standin.upload_limit = 10
    standin.reset()
    assert (standin.jobs, standin.polls, standin.submissions, standin.uploads) == ({}, [], [], [])
    assert (standin.abandoned, standin.abandoned_paths) == (0, [])
    assert (standin.result_ttl, standin.upload_limit) == (3600.0, 10_000_000)
    assert upload(standin, {"data_urls": [data_url(PNG)]}).status_code == 200
    assert get(submit_job(standin)["status_url"]).status_code == 200


# --------------------------------------------------------------------------- run by hand


@contextlib.contextmanager
def standin_process(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.segmind_standin", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_command_line_sets_the_jobs_timeline_and_listens_where_told():
    with standin_process("--host", "127.0.0.2", "--queued", "60", "--processing", "60") as base_url:
        assert base_url.startswith("http://127.0.0.2:") and base_url.endswith("/v1")
        root = base_url.removesuffix("/v1")
        job = requests.post(f"{root}/v2/{MODEL}", json=PROMPT, headers=KEY, timeout=10).json()
        assert get(job["status_url"]).json()["status"] == "QUEUED"


def test_the_command_line_can_make_every_job_fail_with_a_reason():
    with standin_process("--fail", "Prompt flagged") as base_url:
        root = base_url.removesuffix("/v1")
        job = requests.post(f"{root}/v2/{MODEL}", json=PROMPT, headers=KEY, timeout=10).json()
        answer = get(job["status_url"])
    assert answer.status_code == 422 and answer.json()["error"] == "Prompt flagged"


def test_the_command_line_still_answers_v1_with_a_video():
    with standin_process("--output-form", "video_url") as base_url:
        answer = requests.post(f"{base_url}/{MODEL}", json=PROMPT, headers=KEY, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "video/mp4"
