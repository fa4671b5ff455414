"""The clip folder: apart from uploads, swept of old files, and spared by work nobody pays for."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.request import VideoRequest
from ray_studio.web.board import JobBoard
from ray_studio.web.clip_store import SPARE_WORK_FLOOR, ClipStore, NoRoomForExtrasError
from ray_studio.web.frames import FILE_WORK, FileWorkLimitError
from ray_studio.web.identity import Visitor
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import UNLIMITED, client_settings, running_app
from tests.conftest import OWNER_KEY
from tests.segmind_standin import SegmindStandIn
from tests.visitor_http import Caller

ALICE = Visitor("ip:127.0.0.2", "127.0.0.2")
MALLORY = Visitor("ip:127.0.0.3", "127.0.0.3")
DAY = 86_400


@pytest.fixture
def owner_standin():
    with SegmindStandIn(api_key=OWNER_KEY) as server:
        yield server


def studio_for(standin: SegmindStandIn, clips, **client_changes) -> Studio:
    client = RayClient(client_settings(standin.base_url, OWNER_KEY, **client_changes))
    return Studio(client, JobBoard(client, concurrency=8, threads=8), SpendGate(UNLIMITED), clips)


@pytest.fixture
def studio(owner_standin, tmp_path):
    made = studio_for(owner_standin, tmp_path / "clips")
    yield made
    made.client.close()


async def chain(studio: Studio, visitor: Visitor, length: int = 2) -> list[dict]:
    """``length`` clips, each continuing the one before: the history a browser would send back."""
    entries: list[dict] = []
    for i in range(length):
        tracked, own_key = await studio.start(VideoRequest(f"clip {i}"), "", visitor)
        await tracked.outcome()
        entries = studio.remember(entries, tracked, own_key, continues=entries[0]["id"] if entries else None)
    return entries


def chain_files(studio: Studio) -> list:
    return sorted(studio.clips.rglob("*_chain-of-*.mp4"))


# --------------------------------------------------------------------------- clips are not uploads


@pytest.fixture(scope="module")
def page(upstream, tmp_path_factory):
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path_factory.mktemp("gradio"))) as running:
        yield running


def test_a_clip_or_another_visitors_upload_sent_as_a_start_image_is_refused_and_nothing_is_deleted(page, upstream):
    upstream.reset()
    alice, mallory = Caller(page.url, source="127.0.0.2"), Caller(page.url, source="127.0.0.3")
    made = alice.generate("alice's fox")
    clip = made.data[0]
    (junk,) = alice.upload("notes.png", b"alice's shopping list, not a picture").json()
    keyframe = mallory.fn_index("keyframe")
    notes = []
    for path in (clip["path"], junk):
        sent = mallory.join_and_wait(keyframe, [{"path": path, "meta": {"_type": "gradio.FileData"}}, ""])
        assert sent.ok
        url, note, *_ = sent.data["data"]
        notes.append(note)
        assert url == ""
    assert "not one uploaded to this page" in notes[0] and "not an image" in notes[1]
    assert os.path.exists(junk) and alice.get(clip["url"].split("/", 3)[3]).content == upstream.video
    assert upstream.uploads == []


def test_the_clip_folder_is_beside_gradios_upload_folder_never_inside_it(page):
    assert page.clips.parent == page.cache_dir.parent and not page.clips.is_relative_to(page.cache_dir)


# --------------------------------------------------------------------------- old clips are swept


def test_files_past_their_age_are_swept_with_their_folders_and_newer_ones_stay(tmp_path):
    store = ClipStore(tmp_path, max_age=DAY, sweep_every=3600)
    old, new = tmp_path / ("a" * 32) / "old.mp4", tmp_path / ("b" * 32) / "new.mp4"
    for path in (old, new):
        path.parent.mkdir()
        path.write_bytes(b"clip")
    a_day_ago = time.time() - DAY - 60
    os.utime(old, (a_day_ago, a_day_ago))
    assert store.sweep_if_due() == 1 and not old.exists() and new.exists()
    os.utime(old.parent, (a_day_ago, a_day_ago))  # its folder, empty for a day too
    assert store.sweep() == 0 and not old.parent.exists() and new.parent.exists()


def test_the_sweep_runs_at_most_once_in_its_interval(tmp_path):
    store = ClipStore(tmp_path, max_age=DAY, sweep_every=3600)
    store.sweep_if_due()
    old = tmp_path / "old.mp4"
    old.write_bytes(b"clip")
    os.utime(old, (0, 0))
    assert store.sweep_if_due() == 0 and old.exists()


# --------------------------------------------------------------------------- a chain is joined once


def test_the_same_chain_asked_for_again_is_the_same_file_written_once(studio):
    async def scenario():
        entries = await chain(studio, ALICE)
        first = await studio.join_chain(entries, entries[0]["id"], ALICE)
        written = first.stat().st_ino
        again = [await studio.join_chain(entries, entries[0]["id"], ALICE) for _ in range(40)]
        return first, written, again

    first, written, again = asyncio.run(scenario())
    assert set(again) == {first} and first.stat().st_ino == written and chain_files(studio) == [first]


def test_a_chain_through_other_clips_to_the_same_last_clip_is_joined_as_its_own_file(studio):
    async def scenario():
        entries = await chain(studio, ALICE)  # [last, first]: the last clip continues the first
        other, own_key = await studio.start(VideoRequest("another first clip"), "", ALICE)
        await other.outcome()
        entries = studio.remember(entries, other, own_key)
        last = entries[1]
        rewired = [{**last, "continues": entries[0]["id"]}, entries[0]]  # "continues" is the browser's to say
        through_first = await studio.join_chain(entries, last["id"], ALICE)
        through_other = await studio.join_chain(rewired, last["id"], ALICE)
        return through_first, through_other

    through_first, through_other = asyncio.run(scenario())
    assert through_first != through_other and chain_files(studio) == sorted([through_first, through_other])


def test_the_same_chain_asked_for_by_two_visitors_at_once_is_joined_once(studio):
    async def scenario():
        entries = await chain(studio, ALICE)

        async def join(visitor: Visitor):
            path = await studio.join_chain(entries, entries[0]["id"], visitor)
            return path, path.stat().st_ino  # a second join would have replaced the file: a new inode

        return await asyncio.gather(join(ALICE), join(MALLORY))

    (first, written), (second, seen) = asyncio.run(scenario())
    assert first == second and written == seen and chain_files(studio) == [first]


# --------------------------------------------------------------------------- work nobody pays for is bounded


def test_joins_and_last_frames_are_limited_per_visitor_and_others_go_on(studio, owner_standin):
    allowed = int(FILE_WORK.split()[0])

    async def scenario():
        entries = await chain(studio, ALICE)
        for _ in range(allowed - 1):
            await studio.continue_from(entries[0], "", ALICE)
        await studio.join_chain(entries, entries[0]["id"], ALICE)
        with pytest.raises(FileWorkLimitError) as refused:
            await studio.continue_from(entries[0], "", ALICE)
        await studio.continue_from(entries[0], "", MALLORY)
        return refused.value

    refused = asyncio.run(scenario())
    assert "Wait a few minutes" in refused.visitor_message(own_key=False)
    assert len(owner_standin.uploads) == allowed  # the refused frame was neither taken nor uploaded


def test_a_join_is_refused_while_the_disk_keeps_room_only_for_paid_clips(owner_standin, tmp_path):
    (tmp_path / "clips").mkdir()
    free = shutil.disk_usage(tmp_path).free
    studio = studio_for(owner_standin, tmp_path / "clips", min_free_bytes=free // (SPARE_WORK_FLOOR - 1))

    async def scenario():
        entries = await chain(studio, ALICE)  # paid clips still go
        with pytest.raises(NoRoomForExtrasError) as refused:
            await studio.join_chain(entries, entries[0]["id"], ALICE)
        return refused.value

    try:
        refused = asyncio.run(scenario())
    finally:
        studio.client.close()
    assert len(owner_standin.submissions) == 2 and chain_files(studio) == []
    message = refused.visitor_message(own_key=False)
    assert "your clips are still here" in message and "MB" not in message and str(tmp_path) not in message
