"""Every limit at its edge: what is exactly at a limit passes, what is one step past it does not.

The download cap (SEGMIND_MAX_VIDEO_BYTES), the smallest keyframe side (128 px), the day budget and a
visitor's clip limit, each tried at the limit and one past it, over real sockets against the stand-in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from ray_studio.client import media
from ray_studio.client.client import RayClient
from ray_studio.client.errors import VideoTooLargeError
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from ray_studio.web.policy import SpendPolicy
from tests.app_harness import RunningApp, running_app
from tests.conftest import OWNER_KEY
from tests.media_samples import image_bytes
from tests.redis_server import running_redis
from tests.segmind_standin import Reply, SegmindStandIn
from tests.visitor_http import Caller

CAP = 100_000  # bytes; the stand-in pads its sample video to any size above its own 12 kB


# --------------------------------------------------------------------------- the download cap


@pytest.fixture(params=["async", "sync"], ids=["queue", "one call"])
def capped(request, queue_settings: Settings) -> Iterator[RayClient]:
    """A client whose download cap is CAP bytes, on Segmind's queue or on the v1 call."""
    with RayClient(dataclasses.replace(queue_settings, api_mode=request.param, max_video_bytes=CAP)) as client:
        yield client


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
def test_a_video_of_exactly_the_download_cap_is_saved(capped, standin, tmp_path, chunked):
    standin.then(Reply(size=CAP, chunked=chunked))
    result = capped.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert result.size_bytes == CAP == (tmp_path / "v.mp4").stat().st_size
    assert (tmp_path / "v.mp4").read_bytes().startswith(standin.video)


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
def test_a_video_one_byte_over_the_download_cap_is_refused_and_nothing_is_kept(capped, standin, tmp_path, chunked):
    standin.then(Reply(size=CAP + 1, chunked=chunked))
    with pytest.raises(VideoTooLargeError):
        capped.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []
    assert len(standin.submissions) == 1


def test_the_download_cap_is_read_from_segmind_max_video_bytes():
    assert Settings.from_env({"SEGMIND_MAX_VIDEO_BYTES": str(CAP)}).max_video_bytes == CAP


def test_the_standin_sends_a_chunked_video_without_a_content_length(standin):
    standin.then(Reply(size=CAP, chunked=True))
    key = {"x-api-key": standin.api_key}
    answer = requests.post(f"{standin.base_url}/ray-flash-2-720p", json={"prompt": "a fox"}, headers=key, timeout=10)
    assert answer.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in answer.headers
    assert len(answer.content) == CAP


# --------------------------------------------------------------------------- the smallest keyframe side


@pytest.mark.parametrize("size", [(127, 300), (300, 127)], ids=["127 px wide", "127 px high"])
def test_a_keyframe_127_px_on_a_side_is_refused_and_not_uploaded(client, standin, tmp_path, size):
    image = tmp_path / "small.png"
    image.write_bytes(image_bytes("PNG", size))
    with pytest.raises(media.ImageTooSmallError, match="at least 128 px on each side"):
        client.keyframe_url(image)
    assert standin.received == []


@pytest.mark.parametrize("size", [(128, 300), (300, 128), (128, 128)], ids=["128 px wide", "128 px high", "square"])
def test_a_keyframe_128_px_on_a_side_is_uploaded_at_its_size(client, standin, tmp_path, size):
    image = tmp_path / "small.png"
    image.write_bytes(image_bytes("PNG", size))
    url = client.keyframe_url(image)
    ((data, _),) = standin.uploads
    assert url.startswith(standin.root_url) and Image.open(io.BytesIO(data)).size == size


# --------------------------------------------------------------------------- the day budget and a visitor's limit


@pytest.fixture(scope="module")
def redis_uri() -> Iterator[str]:
    with running_redis() as uri:
        yield uri


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> str:
    """Where the page counts: this process's memory, or a real redis-server (emptied for the test)."""
    if request.param == "memory":
        return "memory://"
    import redis

    uri = request.getfixturevalue("redis_uri")
    with redis.Redis.from_url(uri) as connection:
        connection.flushall()
    return uri


@pytest.fixture
def page(upstream: SegmindStandIn, tmp_path: Path, storage: str) -> Iterator[Callable[..., RunningApp]]:
    """``page(visitor_limits=, daily_budget=)``: the page on the owner's key, counting in ``storage``."""
    upstream.reset()
    with contextlib.ExitStack() as stack:

        def launch(visitor_limits: str = "off", daily_budget: float | None = None) -> RunningApp:
            policy = SpendPolicy(visitor_limits, daily_budget, in_flight_per_visitor=5, storage_uri=storage)
            return stack.enter_context(running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy))

        yield launch


def visitor(running: RunningApp, n: int) -> Caller:
    return Caller(running.url, source=f"127.0.0.{n}")


def test_a_clip_that_brings_the_day_exactly_to_the_budget_is_made_and_the_next_is_refused(page, upstream):
    running = page(daily_budget=0.375 + 0.675)
    assert visitor(running, 2).generate(duration=5).ok
    reaching = visitor(running, 3).generate(duration=9)  # $1.05 of $1.05
    assert reaching.ok, reaching.text
    assert visitor(running, 4).generate(duration=5).title == "Daily budget spent"
    assert [s.body["duration"] for s in upstream.submissions] == [5, 9]


def test_a_clip_that_would_pass_the_budget_by_a_micro_dollar_is_refused_while_a_cheaper_one_fits(page, upstream):
    running = page(daily_budget=0.375 + 0.675 - 0.000001)
    assert visitor(running, 2).generate(duration=5).ok
    assert visitor(running, 3).generate(duration=9).title == "Daily budget spent"
    assert visitor(running, 3).generate(duration=5).ok  # $0.75 of $1.049999
    assert [s.body["duration"] for s in upstream.submissions] == [5, 5]


@pytest.mark.parametrize("limit", [1, 3])
def test_a_visitors_nth_clip_is_made_and_the_next_is_refused(page, upstream, limit):
    running = page(visitor_limits=f"{limit} per minute")
    alice = visitor(running, 2)
    made = [alice.generate(f"clip {n}") for n in range(limit)]
    assert all(o.ok for o in made), [o.text for o in made if not o.ok]
    assert alice.generate("one too many").title == "Limit reached"
    assert visitor(running, 3).generate("someone else").ok
    assert len(upstream.submissions) == limit + 1


def test_a_set_of_exactly_the_visitors_limit_is_made_and_one_more_clip_is_refused(page, upstream):
    running = page(visitor_limits="3 per minute")
    alice = visitor(running, 2)
    made = alice.result(
        "variants", alice.call("variants", ["a fox\na kite\na boat", ["16:9"], 5, False, "", "", "", []])
    )
    assert made.ok, made.text
    assert alice.generate("one more").title == "Limit reached"
    assert len(upstream.submissions) == 3
