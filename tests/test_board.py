"""The job board when a visitor stops waiting (Cancel, a closed tab), at each stage of a clip's life:
what is kept, what goes back to the day's budget, and whether the clip keeps its card.

A cancel reaches the board as the page sends it: ``board.abandon`` once the last watcher has gone.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import RayError
from ray_studio.client.request import VideoRequest
from ray_studio.web.board import JobBoard, Tracked
from ray_studio.web.identity import Visitor
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import client_settings
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn

ALICE = Visitor("ip:127.0.0.2", "127.0.0.2")
BUDGETED = SpendPolicy(visitor_limits="off", daily_budget=10.0, in_flight_per_visitor=100)
FIVE_S = 0.375  # one 5 s clip


@pytest.fixture
def owner_standin():
    with SegmindStandIn(api_key=OWNER_KEY) as server:
        yield server


def studio_for(standin: SegmindStandIn, clips, concurrency: int = 8, **client_changes) -> Studio:
    client = RayClient(client_settings(standin.base_url, OWNER_KEY, **client_changes))
    board = JobBoard(client, concurrency=concurrency, threads=concurrency + 4)
    return Studio(client, board, SpendGate(BUDGETED), clips)


@pytest.fixture
def studio(owner_standin, tmp_path):
    made = studio_for(owner_standin, tmp_path / "clips")
    yield made
    made.client.close()


async def reach(tracked: Tracked, phase: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while tracked.phase != phase:
            await asyncio.sleep(0.005)


async def ended(tracked: Tracked) -> None:
    async with asyncio.timeout(20):
        while not tracked.finished:
            await asyncio.sleep(0.01)


@dataclasses.dataclass
class AfterCancel:
    tracked: Tracked
    cards: list[dict]  # the visitor's history once the clip has ended
    spent: float  # the day's budget spent on the page's key, after it ended


async def cancel_at(studio: Studio, phase: str, started: Tracked | None = None) -> AfterCancel:
    """Start a clip (or take ``started``), cancel it once it reaches ``phase``, and let it end."""
    tracked = started or (await studio.start(VideoRequest("a fox"), "", ALICE))[0]
    cards = studio.remember([], tracked, own_key=False)  # what the page keeps at once
    await reach(tracked, phase)
    await asyncio.sleep(0.02)  # well into that stage
    assert tracked.phase == phase
    cards = studio.remember(cards, tracked, own_key=False)
    studio.board.abandon(tracked)
    await ended(tracked)
    await asyncio.sleep(0.05)  # the admission is settled as the job's task ends
    return AfterCancel(tracked, studio.remember(cards, tracked, own_key=False), studio.gate.spent_today())


# --------------------------------------------------------------------------- before Segmind has it: dropped


def test_a_cancel_while_waiting_for_a_server_slot_sends_nothing_refunds_it_and_leaves_no_card(owner_standin, tmp_path):
    owner_standin.default = Reply(processing=1.0)
    studio = studio_for(owner_standin, tmp_path / "clips", concurrency=1)  # RAY_CONCURRENCY=1

    async def scenario():
        first, _ = await studio.start(VideoRequest("the clip holding the slot"), "", ALICE)
        second, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        after = await cancel_at(studio, "waiting", second)
        await first.outcome()
        return after

    after = asyncio.run(scenario())
    studio.client.close()
    assert after.tracked.phase == "stopped" and after.cards == []
    assert after.spent == FIVE_S  # the first clip's only
    assert [s.body["prompt"] for s in owner_standin.submissions] == ["the clip holding the slot"]


def test_a_cancel_the_moment_a_clip_is_started_sends_nothing_refunds_it_and_leaves_no_card(studio, owner_standin):
    async def scenario():
        tracked, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        studio.board.abandon(tracked)  # before its task first ran
        await ended(tracked)
        return tracked, studio.remember([], tracked, own_key=False)

    tracked, cards = asyncio.run(scenario())
    assert tracked.phase == "stopped" and cards == [] and studio.gate.spent_today() == 0
    assert owner_standin.received == []


def test_a_cancel_while_waiting_out_a_429_sends_nothing_more_refunds_it_and_leaves_no_card(owner_standin, tmp_path):
    owner_standin.then(Reply(status=429, headers={"Retry-After": "1"}))
    studio = studio_for(owner_standin, tmp_path / "clips", max_retry_wait=1)

    async def scenario():
        tracked, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        cards = studio.remember([], tracked, own_key=False)
        while not owner_standin.received:  # the 429 has come back: the client waits a second
            await asyncio.sleep(0.005)
        studio.board.abandon(tracked)
        await ended(tracked)
        await asyncio.sleep(0.05)
        return AfterCancel(tracked, studio.remember(cards, tracked, own_key=False), studio.gate.spent_today())

    after = asyncio.run(scenario())
    studio.client.close()
    assert len(owner_standin.submissions) == 1  # the refused one; none after the cancel
    assert after.cards == [] and after.spent == 0 and not after.tracked.maybe_billed


# --------------------------------------------------------------------------- Segmind has it: kept


@pytest.mark.parametrize(
    "phase, reply",
    [
        ("QUEUED", Reply(queued=0.4)),
        ("PROCESSING", Reply(processing=0.4)),
        ("downloading", Reply(size=3_000_000, chunk_delay=0.02)),
    ],
)
def test_a_cancel_once_segmind_has_the_clip_keeps_it_charges_it_and_its_card_shows_it(
    studio, owner_standin, phase, reply
):
    owner_standin.default = reply
    after = asyncio.run(cancel_at(studio, phase))
    assert after.tracked.phase == "done" and after.tracked.result.path.is_file()
    assert after.spent == FIVE_S and len(owner_standin.submissions) == 1
    [card] = after.cards
    assert card["state"] == "done" and studio.clip_file(card) == after.tracked.result.path


def test_in_sync_mode_a_cancel_cuts_the_call_keeps_it_charged_and_its_card_says_it_may_be_billed(
    owner_standin, tmp_path
):
    owner_standin.default = Reply(latency=2.0)  # the single v1 call: Segmind makes the clip meanwhile
    studio = studio_for(owner_standin, tmp_path / "clips", api_mode="sync")
    after = asyncio.run(cancel_at(studio, "PROCESSING"))
    studio.client.close()
    assert after.tracked.phase == "failed" and after.spent == FIVE_S
    [card] = after.cards
    assert card["state"] == "failed" and "billed" in card["error"]


def test_a_clip_nobody_waits_for_any_more_is_still_saved_and_picked_up_without_paying_again(studio, owner_standin):
    owner_standin.default = Reply(processing=0.4)

    async def scenario():
        tracked, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        await reach(tracked, "QUEUED")
        studio.board.abandon(tracked)  # a Cancel, then a reload while Segmind makes it
        [(again, _)] = studio.pick_up(studio.remember([], tracked, False), "", ALICE)
        await again.outcome()
        return tracked, again

    tracked, again = asyncio.run(scenario())
    assert again is tracked and tracked.result.path.is_file() and len(owner_standin.submissions) == 1


def test_a_clip_that_failed_after_segmind_took_it_stays_charged(studio, owner_standin):
    owner_standin.default = Reply(processing=0.1, failed="the model could not make this")

    async def scenario():
        tracked, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        with pytest.raises(RayError):
            await tracked.outcome()
        await asyncio.sleep(0.05)
        return studio.remember([], tracked, False)

    [card] = asyncio.run(scenario())
    assert card["state"] == "failed" and studio.gate.spent_today() == FIVE_S


def test_a_job_that_ends_while_its_watcher_is_busy_is_still_seen_finished(tmp_path):
    async def watch() -> list[str]:
        tracked = Tracked(None, ALICE.id, tmp_path / "clip.mp4")
        seen = []
        async for state in tracked.changes():
            seen.append(state.phase)
            if state.phase == "waiting":
                tracked._set("failed")  # it ends while the watcher still handles "waiting" (a refused submit)
        return seen

    assert asyncio.run(watch()) == ["waiting", "failed"]
