"""The owner's money after a clip was admitted: what comes back, how much of it, and at which price.

A visitor's clip on the page's key is counted against the day's budget before anything is sent. What
happens to that money afterwards is the subject here: a clip Segmind refused before starting it (a 4xx)
gives back exactly its own price, one clip of a set gives back its share only, and a clip that may
have been billed gives back nothing. Most tests run the page's server side (``Studio``, its job board
and its ``SpendGate``) in this process against the Segmind stand-in over real sockets, and read the
day's spending to the micro-dollar; the last ones call a launched page as visitors do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import RayError
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from ray_studio.web.board import JobBoard, Tracked
from ray_studio.web.identity import Visitor
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.refusals import DailyBudgetError
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn
from tests.visitor_http import Caller

ALICE = Visitor("ip:127.0.0.2", "127.0.0.2")
BOB = Visitor("ip:127.0.0.3", "127.0.0.3")
FIVE_S, NINE_S = 0.375, 0.675  # Segmind's listed price, $0.075 a second
ROOMY = SpendPolicy(visitor_limits="off", daily_budget=10.0, in_flight_per_visitor=5)


@pytest.fixture
def run() -> Iterator[Callable]:
    """Runs a coroutine on one event loop kept for the whole test (the job board lives on it)."""
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete
    finally:
        loop.close()


@pytest.fixture
def studio_for(queue_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Studio]]:
    """``studio_for(policy, **client_settings)``: the page's server side on the owner's key, against the
    stand-in's queue; its board sends one clip at a time, so a set's clips reach Segmind in order."""
    with contextlib.ExitStack() as stack:

        def make(policy: SpendPolicy = ROOMY, **changes) -> Studio:
            client = stack.enter_context(RayClient(replace(queue_settings, **changes)))
            board = JobBoard(client, concurrency=1, threads=4)
            return Studio(client, board, SpendGate(policy), tmp_path / "clips")

        yield make


async def clips_made(studio: Studio, visitor: Visitor, *requests: VideoRequest) -> list[Tracked]:
    """Start the clips as one call on the page's key and wait until each has ended, made or failed."""
    tracked, own_key = await studio.start_many(list(requests), "", visitor)
    assert not own_key
    for clip in tracked:
        with contextlib.suppress(RayError):
            await clip.outcome()
    return tracked


def clip(duration: int = 5, prompt: str = "a fox in the snow") -> VideoRequest:
    return VideoRequest(prompt, duration=duration)


# --------------------------------------------------------------------------- what comes back, and how much


@pytest.mark.parametrize("status", [400, 406, 422])
def test_a_clip_segmind_refused_before_starting_gives_back_exactly_its_price_and_no_one_elses(
    studio_for, standin, run, status
):
    studio = studio_for()
    (made,) = run(clips_made(studio, BOB, clip(5)))
    assert made.phase == "done"
    standin.fail(status)
    (refused,) = run(clips_made(studio, ALICE, clip(9)))
    assert refused.phase == "failed" and len(standin.submissions) == 2
    assert studio.gate.spent_today() == FIVE_S  # Bob's clip, whole; Alice's $0.675, all of it back


def test_one_refused_clip_of_a_set_gives_back_its_own_share_only(studio_for, standin, run):
    studio = studio_for()
    standin.fail(400)  # the first clip of the set to reach Segmind: the 9 s one
    tracked = run(clips_made(studio, ALICE, clip(9, "a kite"), clip(5, "a boat"), clip(5, "a fox")))
    assert [t.phase for t in tracked] == ["failed", "done", "done"]
    assert studio.gate.spent_today() == 2 * FIVE_S


def test_two_refused_clips_of_a_set_give_back_both_shares_and_the_made_one_stays_counted(studio_for, standin, run):
    studio = studio_for()
    standin.fail(400).fail(406)
    tracked = run(clips_made(studio, ALICE, clip(5, "a kite"), clip(9, "a boat"), clip(9, "a fox")))
    assert [t.phase for t in tracked] == ["failed", "failed", "done"]
    assert studio.gate.spent_today() == NINE_S


@pytest.mark.parametrize(
    "upstream, client_changes",
    [
        pytest.param(Reply(status=500), {}, id="a server error answering the submission"),
        pytest.param(Reply(drop=True), {}, id="the connection dropped after the submission was read"),
        pytest.param(Reply(processing=0.1, failed="GPU worker crashed"), {}, id="the job failed at Segmind"),
        pytest.param(Reply(size=2_000_000), {"max_video_bytes": 1_000_000}, id="made but too large to keep"),
    ],
)
def test_a_clip_that_failed_after_it_may_have_been_billed_gives_nothing_back(
    studio_for, standin, run, upstream, client_changes
):
    studio = studio_for(**client_changes)
    (made,) = run(clips_made(studio, BOB, clip(5)))
    standin.then(upstream)
    (failed,) = run(clips_made(studio, ALICE, clip(9)))
    assert made.phase == "done" and failed.phase == "failed" and failed.maybe_billed
    assert studio.gate.spent_today() == FIVE_S + NINE_S


def test_a_billed_failure_in_a_set_keeps_every_clip_counted(studio_for, standin, run):
    studio = studio_for()
    standin.then(Reply(status=500))
    tracked = run(clips_made(studio, ALICE, clip(9, "a kite"), clip(5, "a boat")))
    assert [t.phase for t in tracked] == ["failed", "done"]
    assert studio.gate.spent_today() == NINE_S + FIVE_S


# --------------------------------------------------------------------------- at which price


def price_of_0_2_a_second() -> float:
    return Settings.from_env({"RAY_PRICE_PER_SECOND": "0.2"}).price_per_second


def test_at_0_2_a_second_a_5_s_clip_costs_one_dollar_of_the_day_budget(studio_for, standin, run):
    studio = studio_for(SpendPolicy(visitor_limits="off", daily_budget=1.0), price_per_second=price_of_0_2_a_second())
    (made,) = run(clips_made(studio, ALICE, clip(5)))
    assert made.phase == "done"
    assert studio.gate.spent_today() == 1.0
    with pytest.raises(DailyBudgetError):
        run(clips_made(studio, BOB, clip(5)))
    assert len(standin.submissions) == 1


def test_at_0_2_a_second_the_price_line_says_one_dollar_for_a_5_s_clip(studio_for):
    studio = studio_for(price_per_second=price_of_0_2_a_second())
    assert "**$1.00**" in studio.price_line(5)
    assert "**$3.00** ($1.00 each)" in studio.price_line(5, clips=3)


def test_at_0_2_a_second_a_refused_clip_gives_back_its_price_at_that_rate(studio_for, standin, run):
    studio = studio_for(SpendPolicy(visitor_limits="off", daily_budget=5.0), price_per_second=price_of_0_2_a_second())
    run(clips_made(studio, BOB, clip(9)))  # $1.80
    standin.fail(400)
    run(clips_made(studio, ALICE, clip(5)))  # $1.00, all of it back
    assert studio.gate.spent_today() == 1.8


# --------------------------------------------------------------------------- the same, as visitors reach the page


@pytest.fixture
def fresh(upstream: SegmindStandIn) -> SegmindStandIn:
    """The module's stand-in (it knows the owner's key), forgetting what earlier tests sent."""
    upstream.reset()
    return upstream


def variants_data(prompts: list[str], duration: int = 5) -> list:
    return ["\n".join(prompts), ["16:9"], duration, False, "", "", "", []]


def test_after_one_clip_of_a_set_is_refused_exactly_its_price_is_free_again_on_the_page(fresh, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=3 * FIVE_S, in_flight_per_visitor=5)
    with running_app(fresh.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        alice, bob = Caller(running.url, source="127.0.0.2"), Caller(running.url, source="127.0.0.3")
        fresh.fail(400)
        alice.result("variants", alice.call("variants", variants_data(["a fox", "a kite", "a boat"])))
        assert len(fresh.submissions) == 3
        assert bob.generate("one more").ok  # the refused clip's $0.375 came back…
        late = bob.generate("and another")  # …and only that
    assert late.title == "Daily budget spent", late.text
    assert len(fresh.submissions) == 4


def test_at_0_2_a_second_the_page_shows_one_dollar_and_a_one_dollar_budget_takes_one_clip(fresh, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=1.0, in_flight_per_visitor=5)
    launched = running_app(
        fresh.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy, price_per_second=price_of_0_2_a_second()
    )
    with launched as running:
        alice = Caller(running.url, source="127.0.0.2")
        (price,) = [c for c in alice.config["components"] if c.get("props", {}).get("elem_id") == "price"]
        first, second = alice.generate("a fox"), alice.generate("a kite")
    assert "**$1.00**" in price["props"]["value"]
    assert first.ok, first.text
    assert second.title == "Daily budget spent", second.text
    assert len(fresh.submissions) == 1
