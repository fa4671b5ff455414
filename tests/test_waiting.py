"""The placeholder of a clip being made (ray_studio/web/waiting.py): its shape, its words, and a progress
bar a screen reader can read, with what the browser needs to move the clock between updates."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from ray_studio.web.board import JobBoard, Release, Tracked
from ray_studio.web.waiting import Waiting, waiting_html
from ray_studio.web.words import status_line
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn

LONG = 600.0  # seconds a step takes at the stand-in until the test lets them pass (standin.advance)


def drawn(waiting: Waiting) -> ET.Element:
    return ET.fromstring(waiting_html(waiting))


def bar_of(waiting: Waiting) -> ET.Element:
    bar = drawn(waiting).find(".//*[@role='progressbar']")
    assert bar is not None
    return bar


def text_of(waiting: Waiting) -> str:
    return " ".join(" ".join(drawn(waiting).find(".//p[@class='wait-text']").itertext()).split())


def test_the_placeholder_has_the_shape_of_the_clip():
    box = drawn(Waiting("QUEUED", 3, 70, "9:16"))
    assert "--w: 9; --h: 16" in box.get("style")
    assert box.find(".//*[@class='wait-shape']/span").text == "9:16"


def test_generating_reads_the_clock_against_the_usual_time():
    assert text_of(Waiting("PROCESSING", 42, 70)) == "Generating 0:42 of about 1:10"


def test_the_bar_counts_seconds_against_the_usual_time():
    bar = bar_of(Waiting("PROCESSING", 42.4, 70))
    assert (bar.get("aria-valuemin"), bar.get("aria-valuenow"), bar.get("aria-valuemax")) == ("0", "42", "70")
    assert bar.get("aria-valuetext") == "Generating 0:42 of about 1:10"
    assert bar.find("*").get("style") == "width: 60.6%"


def test_past_the_usual_time_the_bar_stays_near_full_and_the_words_say_it_is_longer():
    waiting = Waiting("PROCESSING", 91, 70)
    assert text_of(waiting) == "Generating 1:31 (longer than the usual 1:10)"
    bar = bar_of(waiting)
    assert bar.get("aria-valuenow") == bar.get("aria-valuemax") == "70"
    assert bar.find("*").get("style") == "width: 97.0%"


def test_without_a_usual_time_the_bar_is_indeterminate_and_says_only_the_clock():
    waiting = Waiting("PROCESSING", 42, None)
    bar = bar_of(waiting)
    assert "indeterminate" in bar.get("class")
    assert bar.get("aria-valuenow") is None and bar.get("aria-valuetext") == "Generating 0:42"
    assert text_of(waiting) == "Generating 0:42"


def test_queued_says_so_with_its_clock():
    assert text_of(Waiting("QUEUED", 5, 70)) == "Queued at Segmind… 0:05"


def test_a_clip_waiting_for_a_slot_here_says_nothing_was_sent_and_has_no_bar_value():
    waiting = Waiting("waiting", 12, None)
    assert text_of(waiting) == "Waiting for a free slot on this server… 0:12 (nothing sent yet)"
    assert bar_of(waiting).get("aria-valuenow") is None


def test_downloading_fills_the_bar():
    bar = bar_of(Waiting("downloading", 50, 70))
    assert bar.get("aria-valuenow") == "70" and bar.find("*").get("style") == "width: 100.0%"


def test_the_clock_ticking_in_the_page_is_not_read_out_each_second():
    clock = drawn(Waiting("PROCESSING", 42, 70)).find(".//*[@class='wait-clock']")
    assert clock.get("aria-hidden") == "true"


def test_the_browser_gets_the_clock_as_sent_and_the_wording_of_each_side_of_the_usual_time():
    box = drawn(Waiting("PROCESSING", 42.25, 70))
    assert (box.get("data-phase"), box.get("data-elapsed"), box.get("data-usual")) == ("PROCESSING", "42.2", "70.0")
    assert box.get("data-within") == "{t} of about 1:10"
    assert box.get("data-over") == "{t} (longer than the usual 1:10)"


@pytest.fixture
def board():
    """A board that learnt nothing yet (nothing is sent: only its estimate is asked for)."""
    with RayClient(Settings(api_key="unused", base_url="http://127.0.0.1:9/v1")) as client:
        yield JobBoard(client, concurrency=1, threads=1)


def test_the_clock_counts_from_when_the_clip_was_sent_not_from_its_wait_for_a_slot(board, tmp_path):
    now = time.monotonic()
    tracked = Tracked(VideoRequest("a fox", "9:16"), "someone", tmp_path / "fox.mp4", phase="PROCESSING",
                      started=now - 100, sent=now - 42.2)  # fmt: skip
    waiting = Waiting.of(tracked, board)
    assert (round(waiting.elapsed), waiting.usual, waiting.ratio) == (42, 60.0, "9:16")
    assert status_line(tracked, board) == "Generating 0:42 of about 1:00" == text_of(waiting)


def test_the_board_starts_the_clock_again_when_a_clip_that_waited_for_a_slot_is_sent(tmp_path):
    async def scenario(standin: SegmindStandIn) -> tuple[Tracked, float]:
        settings = Settings(api_key=OWNER_KEY, base_url=standin.base_url, poll_interval=0.05)
        with RayClient(settings) as client:
            board = JobBoard(client, concurrency=1, threads=2)
            first = board.start(VideoRequest("a fox"), OWNER_KEY, "someone", tmp_path / "1.mp4", Release())
            second = board.start(VideoRequest("a kite"), OWNER_KEY, "someone", tmp_path / "2.mp4", Release())
            while first.phase != "PROCESSING" or second.phase != "waiting":
                await asyncio.sleep(0.01)
            slot_freed = time.monotonic()
            standin.advance(LONG)  # the first one is made: the second gets its slot and is sent
            while second.phase != "PROCESSING":
                await asyncio.sleep(0.01)
            standin.advance(LONG)
            await asyncio.gather(first.outcome(), second.outcome())
            return second, slot_freed

    with SegmindStandIn(api_key=OWNER_KEY) as standin:
        standin.default = Reply(processing=LONG)
        second, slot_freed = asyncio.run(scenario(standin))
    assert second.sent is not None and second.started < slot_freed < second.sent


def test_a_watcher_gets_the_finished_clip_last_even_when_it_finishes_while_the_watcher_is_busy(tmp_path):
    async def scenario() -> list[str]:
        tracked = Tracked(VideoRequest("a fox"), "someone", tmp_path / "fox.mp4", phase="QUEUED")
        seen = []
        async for state in tracked.changes(tick=None):
            seen.append(state.phase)
            if state.phase == "QUEUED":
                tracked._set("done")  # as the board does, while the page is still sending "Queued"
        return seen

    assert asyncio.run(scenario()) == ["QUEUED", "done"]
