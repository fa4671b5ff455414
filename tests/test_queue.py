"""Segmind's queue (v2) through RayClient: a paid job is submitted once and never lost."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import (
    APIConnectionError,
    BadGatewayError,
    CancelledError,
    InvalidRequestError,
    JobFailedError,
    JobIdHoldsKeyError,
    JobNotFoundError,
    JobTimeoutError,
    OutputNotWritableError,
    VideoTooLargeError,
    error_for_status,
)
from ray_studio.client.files import AtomicVideoFile
from ray_studio.client.job import JobStatus, PollPlan, Update, typical_seconds
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from tests.segmind_standin import TEST_API_KEY, Reply


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def queue(queue_settings, waits):
    """A client on the queue whose sleeps are recorded (and kept short, so tests stay quick)."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, 0.05))

    with RayClient(queue_settings, sleep=sleep) as client:
        yield client


def v2_submissions(standin) -> list:
    return [r for r in standin.submissions if r.path.startswith("/v2/")]


# --------------------------------------------------------------------------- the happy path


def test_a_clip_is_submitted_once_followed_through_its_states_and_saved(queue, standin, tmp_path):
    standin.then(Reply(queued=0.2, processing=0.3))
    updates: list[Update] = []
    result = queue.generate(VideoRequest("a fox"), tmp_path / "fox.mp4", progress=updates.append)
    assert result.path.read_bytes() == standin.video
    assert [r.path for r in standin.submissions] == ["/v2/ray-flash-2-720p"]
    states = [u.state for u in updates]
    assert states.index("QUEUED") < states.index("PROCESSING") < states.index("downloading")
    assert "Generating…" in [u.text for u in updates]
    assert result.job_id == next(iter(standin.jobs))
    assert result.cost == 0.375


def test_every_parameter_is_submitted_to_the_queue_as_to_v1(queue, standin, tmp_path):
    request = VideoRequest(
        "a kite", aspect_ratio="9:21", duration=9, loop=True, start_image_url="https://img.test/a.png"
    )
    queue.generate(request, tmp_path / "v.mp4")
    (submitted,) = standin.submissions
    assert submitted.body == request.to_payload()
    assert submitted.headers["x-api-key"] == TEST_API_KEY


def test_status_checks_and_the_result_carry_the_key_but_the_video_download_does_not(queue, standin, tmp_path):
    queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert standin.polls and all(p.headers.get("x-api-key") == TEST_API_KEY for p in standin.polls)
    assert standin.file_requests
    assert all("x-api-key" not in {k.lower() for k in f.headers} for f in standin.file_requests)


@pytest.mark.parametrize("form", ["url", "json-string", "video_url", "url-key"])
def test_the_video_url_is_found_in_each_shape_segmind_uses(queue, standin, tmp_path, form):
    standin.then(Reply(output_form=form))
    assert queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4").path.read_bytes() == standin.video


def test_a_failed_job_ends_with_segminds_reason_and_no_file(queue, standin, tmp_path):
    standin.then(Reply(processing=0.1, failed="NSFW content detected in prompt"))
    with pytest.raises(JobFailedError) as err:
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert err.value.server_message == "NSFW content detected in prompt"
    assert "Segmind could not make this clip" in str(err.value)
    assert list(tmp_path.iterdir()) == []
    assert len(standin.submissions) == 1


# --------------------------------------------------------------------------- never submitted twice


def test_a_cut_output_download_is_fetched_again_without_a_second_submission(queue, standin, tmp_path):
    standin.then(Reply(size=2_000_000, output_cuts=2))
    result = queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.size_bytes == 2_000_000 == result.path.stat().st_size
    assert len(standin.submissions) == 1
    assert len(standin.file_requests) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_a_download_cut_every_time_names_the_job_to_fetch_later(queue, standin, tmp_path):
    standin.then(Reply(size=2_000_000, output_cuts=99))
    with pytest.raises(APIConnectionError) as err:
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    job_id = next(iter(standin.jobs))
    assert job_id in str(err.value) and "still at Segmind" in str(err.value)
    assert len(standin.submissions) == 1 and list(tmp_path.iterdir()) == []


def test_dropped_and_failed_status_checks_are_asked_again_never_resubmitted(queue, standin, tmp_path):
    standin.then(Reply(processing=0.2))
    standin.then_poll(Reply(drop=True), Reply(status=502), Reply(status=500))
    assert queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4").path.exists()
    assert len(standin.submissions) == 1


def test_a_rate_limited_status_check_waits_as_segmind_asks_and_says_so(queue, standin, tmp_path, waits):
    standin.then(Reply(processing=0.2))
    standin.then_poll(Reply(status=429, headers={"Retry-After": "3"}))
    updates: list[Update] = []
    queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4", progress=updates.append)
    assert 3.0 in waits
    assert any(u.state == "waiting" and "rate limited" in u.text and "3 s" in u.text for u in updates)


def test_a_status_check_that_keeps_failing_gives_up_naming_the_job(queue, standin, tmp_path):
    standin.then(Reply(processing=30))
    standin.then_poll(*[Reply(status=503)] * 20)
    with pytest.raises(BadGatewayError):
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert len(standin.submissions) == 1


def test_polling_eases_off_gently_while_a_job_runs_long(queue_settings):
    clock = [0.0]
    plan = PollPlan(replace(queue_settings, poll_interval=1.0, job_timeout=600), "j", clock=lambda: clock[0])
    running = JobStatus("j", "PROCESSING")
    delays = []
    for at in (0, 30, 60, 120, 300):
        clock[0] = at
        delays.append(plan.delay_after(running))
    assert delays == [1.0, 2.0, 3.0, 5.0, 5.0]


def test_a_503_status_check_that_says_when_to_come_back_is_waited_out(queue_settings):
    plan = PollPlan(replace(queue_settings, poll_interval=1.0, job_timeout=600), "j")
    unavailable = error_for_status(503, "Service unavailable", 40.0)
    assert unavailable.retry_after == 40.0 and plan.delay_after(unavailable) == 40.0


def test_polling_is_brisk_again_while_the_job_is_expected_to_finish(queue_settings):
    clock = [0.0]
    settings = replace(queue_settings, poll_interval=1.0, job_timeout=600)
    plan = PollPlan(settings, "j", clock=lambda: clock[0], expected=60)
    running = JobStatus("j", "PROCESSING")
    delays = {}
    for at in (30, 48, 60, 100, 119, 121, 300):
        clock[0] = at
        delays[at] = plan.delay_after(running)
    assert delays == {30: 2.0, 48: 1.0, 60: 1.0, 100: 1.0, 119: 1.0, 121: 5.0, 300: 5.0}


def test_without_an_estimate_a_clip_is_expected_to_take_what_such_clips_usually_take():
    assert typical_seconds(5) == 60.0
    assert typical_seconds(9) == 90.0


def test_waiting_past_the_deadline_says_the_clip_may_still_come(queue_settings, standin, tmp_path):
    standin.then(Reply(processing=30))
    with RayClient(replace(queue_settings, job_timeout=0.5)) as client, pytest.raises(JobTimeoutError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert "fetch it later by its job id" in str(err.value)
    assert len(standin.submissions) == 1


# --------------------------------------------------------------------------- resume by id


def test_a_job_is_fetched_later_by_its_id_alone_without_a_second_submission(queue_settings, standin, tmp_path):
    standin.then(Reply(processing=0.3))
    with RayClient(queue_settings) as first:
        job = first.submit(VideoRequest("a fox"))
    with RayClient(queue_settings) as later:
        result = later.fetch(later.job(job.id), tmp_path / "later.mp4")
    assert result.path.read_bytes() == standin.video and result.job_id == job.id
    assert len(standin.submissions) == 1


def test_submit_status_and_save_output_are_separate_steps(queue, standin, tmp_path):
    standin.then(Reply(processing=0.2))
    job = queue.submit(VideoRequest("a fox"))
    assert queue.status(job).state in ("QUEUED", "PROCESSING")
    done = queue.wait(job)
    assert done.state == "COMPLETED" and done.output_url
    assert queue.save_output(job, tmp_path / "v.mp4", status=done).path.exists()


def test_a_job_segmind_no_longer_keeps_is_named_as_such(queue, standin, tmp_path):
    standin.result_ttl = 0.0
    job = queue.submit(VideoRequest("a fox"))
    time.sleep(0.05)
    with pytest.raises(JobNotFoundError) as err:
        queue.fetch(job, tmp_path / "v.mp4")
    assert "about an hour" in str(err.value)


@pytest.mark.parametrize("bad_id", ["", "../../v1/ray-flash-2-720p", "a b", "x" * 200, "id?x=1"])
def test_a_job_id_that_could_not_be_segminds_is_refused(queue, bad_id):
    with pytest.raises(InvalidRequestError):
        queue.job(bad_id)


def test_a_cancel_while_waiting_stops_following_the_job_at_once(queue, standin, tmp_path):
    standin.then(Reply(processing=30))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(CancelledError) as err:
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4", cancel=cancel)
    assert "goes on at Segmind" in str(err.value)
    polls_then = len(standin.polls)
    time.sleep(0.3)
    assert len(standin.polls) == polls_then and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- a job id holding the key


def key_pieces_in(text: str, key: str = TEST_API_KEY) -> list[str]:
    folded = text.lower()
    return [key[i : i + 8] for i in range(len(key) - 7) if key[i : i + 8].lower() in folded]


@pytest.mark.parametrize(
    "hostile_id",
    [TEST_API_KEY, TEST_API_KEY.upper(), TEST_API_KEY.swapcase(), f"job-{TEST_API_KEY[-8:]}"],
    ids=["the key", "upper case", "swapped case", "its last 8 characters"],
)
def test_a_job_id_holding_a_piece_of_the_key_is_refused_and_shown_nowhere(queue, standin, tmp_path, caplog, hostile_id):
    caplog.set_level(logging.DEBUG)
    standin.then(Reply(request_id=hostile_id))
    with pytest.raises(JobIdHoldsKeyError) as err:
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    texts = [str(err.value), repr(err.value), err.value.visitor_message(True), err.value.visitor_message(False)]
    assert all("billed" in text for text in texts[:1] + texts[2:])
    assert [key_pieces_in(text) for text in [*texts, caplog.text]] == [[]] * 5
    assert standin.polls == [] and list(tmp_path.iterdir()) == []


def test_a_job_id_holding_the_pages_key_is_refused_when_a_visitor_calls_on_their_own_key(
    queue_settings, standin, tmp_path
):
    pages_key = "sg_page_owner_key_5f3a9c2e7b1d"
    standin.then(Reply(request_id=pages_key))
    with RayClient(replace(queue_settings, api_key=pages_key)) as client, pytest.raises(JobIdHoldsKeyError) as err:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=TEST_API_KEY)
    assert key_pieces_in(err.value.visitor_message(True), pages_key) == []
    assert standin.polls == [] and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- fallback to v1


def test_without_a_queue_for_the_model_it_falls_back_to_v1_once_and_says_so(queue, standin, tmp_path, caplog):
    standin.then(Reply(status=404))
    with caplog.at_level(logging.WARNING, logger="ray_client"):
        first = queue.generate(VideoRequest("a fox"), tmp_path / "a.mp4")
        second = queue.generate(VideoRequest("a fox"), tmp_path / "b.mp4")
    assert first.path.exists() and second.path.exists()
    assert [r.path for r in standin.submissions] == [
        "/v2/ray-flash-2-720p",
        "/v1/ray-flash-2-720p",
        "/v1/ray-flash-2-720p",
    ]
    assert sum("answered 404" in r.getMessage() for r in caplog.records) == 1


def test_sync_mode_sends_the_single_v1_call(settings, standin, tmp_path):
    with RayClient(settings) as client:
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert [r.path for r in standin.submissions] == ["/v1/ray-flash-2-720p"]


def test_the_v2_base_is_the_v1_base_with_its_last_v1_replaced():
    assert Settings(base_url="https://api.segmind.com/v1").v2_endpoint == "https://api.segmind.com/v2/ray-flash-2-720p"
    assert Settings(base_url="https://h.test/proxy/v1/").v2_base == "https://h.test/proxy/v2"
    assert Settings(base_url="https://h.test/api").v2_base == "https://h.test/api/v2"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"SEGMIND_API_MODE": "fast"}, "SEGMIND_API_MODE must be async or sync"),
        ({"SEGMIND_POLL_INTERVAL": "often"}, "SEGMIND_POLL_INTERVAL must be a number"),
        ({"SEGMIND_MAX_VIDEO_BYTES": "0"}, "SEGMIND_MAX_VIDEO_BYTES must be a whole number of at least 1"),
    ],
)
def test_queue_settings_are_checked_and_named(env, fragment):
    with pytest.raises(InvalidRequestError, match=fragment):
        Settings.from_env(env)


# --------------------------------------------------------------------------- check before paying


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_an_output_that_cannot_be_written_is_refused_before_anything_is_sent(queue_settings, standin, tmp_path, mode):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with RayClient(replace(queue_settings, api_mode=mode)) as client:
        for output in (blocker / "v.mp4", "/proc/ray-studio.mp4", tmp_path):
            with pytest.raises(OutputNotWritableError) as err:
                client.generate(VideoRequest("a fox"), output)
            assert "nothing was sent" in str(err.value)
    assert standin.received == [] and standin.submissions == []


def test_a_disk_without_room_for_a_clip_is_refused_before_anything_is_sent(queue_settings, standin, tmp_path):
    with (
        RayClient(replace(queue_settings, min_free_bytes=1 << 60)) as client,
        pytest.raises(OutputNotWritableError, match="MB free"),
    ):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert standin.submissions == []


def test_a_video_larger_than_the_cap_is_not_saved_and_the_job_can_be_fetched_later(queue_settings, standin, tmp_path):
    standin.then(Reply(size=3_000_000))
    with (
        RayClient(replace(queue_settings, max_video_bytes=1_000_000)) as client,
        pytest.raises(VideoTooLargeError) as err,
    ):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert "over 1 MB" in str(err.value) and next(iter(standin.jobs)) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_video_shorter_than_its_promised_length_leaves_the_earlier_file_as_it_was(standin, tmp_path):
    target = tmp_path / "v.mp4"
    target.write_bytes(b"the clip saved before")
    half = standin.video[: len(standin.video) // 2]
    with pytest.raises(APIConnectionError, match="cut off"):
        AtomicVideoFile(target, limit=10_000_000).write([half], len(standin.video))
    assert target.read_bytes() == b"the clip saved before" and list(tmp_path.iterdir()) == [target]


def test_a_video_that_grows_past_the_cap_without_a_promised_length_is_stopped(standin, tmp_path):
    chunks = [standin.video, bytes(600_000), bytes(600_000)]
    with pytest.raises(VideoTooLargeError):
        AtomicVideoFile(tmp_path / "v.mp4", limit=1_000_000).write(chunks, None)
    assert list(tmp_path.iterdir()) == []
