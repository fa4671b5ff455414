"""A finished clip whose video link stopped working: Segmind is asked for a fresh link, never for a new clip.

Segmind's result holds a link to the video; such links expire (a 403 from signed storage, a 404 once
moved). The clip is paid for, so the client asks Segmind for the job's result again, which carries a
new link, and downloads from that; it never submits the generation a second time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import requests

from ray_studio.client.client import RayClient
from ray_studio.client.downloads import DOWNLOAD_ATTEMPTS
from ray_studio.client.errors import RayError
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn
from tests.visitor_http import Caller


@pytest.fixture
def queue(queue_settings: Settings, sleeps: list[float]) -> Iterator[RayClient]:
    """A client on Segmind's queue whose pauses are recorded, not slept."""
    with RayClient(queue_settings, sleep=sleeps.append) as client:
        yield client


def results_asked(standin: SegmindStandIn) -> list[str]:
    """The GETs of a job's result (the answer that holds the video link), not of its status."""
    return [p.path for p in standin.polls if not p.path.endswith("/status")]


@pytest.mark.parametrize("status", [404, 403])
@pytest.mark.parametrize("dead", [1, DOWNLOAD_ATTEMPTS - 1])
def test_a_dead_video_link_is_replaced_by_a_fresh_one_and_the_clip_saved_without_a_second_submission(
    queue, standin, tmp_path, status, dead
):
    standin.then(Reply(dead_links=dead, dead_link_status=status))
    result = queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.path.read_bytes() == standin.video
    assert len(standin.submissions) == 1
    links = [f.path for f in standin.file_requests]
    assert len(links) == len(set(links)) == dead + 1  # each try on a link Segmind had just handed out
    assert len(results_asked(standin)) == dead + 1


def test_a_dead_link_is_not_simply_fetched_again(queue, standin, tmp_path):
    standin.then(Reply(dead_links=1))
    queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    first, second = (f.path for f in standin.file_requests)
    assert first != second


def test_links_that_stay_dead_end_naming_the_job_to_fetch_later_and_nothing_is_submitted_again(
    queue, standin, tmp_path
):
    standin.then(Reply(dead_links=DOWNLOAD_ATTEMPTS))
    with pytest.raises(RayError) as err:
        queue.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    job_id = next(iter(standin.jobs))
    assert job_id in str(err.value) and "no new charge" in err.value.visitor_message(False)
    assert len(standin.submissions) == 1 and list(tmp_path.iterdir()) == []


def test_fetching_a_finished_job_by_id_asks_for_a_fresh_link_too(queue_settings, standin, tmp_path):
    standin.then(Reply(dead_links=2))
    with RayClient(queue_settings) as first:
        job = first.submit(VideoRequest("a fox"))
    with RayClient(dataclasses.replace(queue_settings, max_retry_wait=0)) as later:
        result = later.fetch(later.job(job.id), tmp_path / "v.mp4")
    assert result.path.read_bytes() == standin.video
    assert len(standin.submissions) == 1


def test_a_visitors_clip_with_a_dead_link_reaches_them_without_a_second_submission(upstream, tmp_path):
    upstream.reset()
    upstream.then(Reply(dead_links=2, dead_link_status=403))
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), max_retry_wait=0) as running:
        made = Caller(running.url, source="127.0.0.2").generate("a fox")
        clips = [c.read_bytes() for c in running.clips.rglob("*.mp4")]
    assert made.ok, made.text
    assert clips == [upstream.video]
    assert len(upstream.submissions) == 1


# --------------------------------------------------------------------------- the stand-in's dead links


def test_the_standins_first_links_answer_the_dead_status_and_later_ones_serve_the_video(standin):
    standin.then(Reply(dead_links=2, dead_link_status=403))
    key = {"x-api-key": standin.api_key}
    job = requests.post(f"{standin.v2_url}/ray-flash-2-720p", json={"prompt": "a fox"}, headers=key, timeout=10)
    response_url = job.json()["response_url"]
    links = [requests.get(response_url, headers=key, timeout=10).json()["output"] for _ in range(3)]
    answers = [requests.get(link, timeout=10) for link in links]
    assert len(set(links)) == 3
    assert [a.status_code for a in answers] == [403, 403, 200]
    assert answers[2].content == standin.video
    assert requests.get(links[0], timeout=10).status_code == 403  # a dead link stays dead
