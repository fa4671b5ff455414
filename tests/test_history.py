"""A visitor's history comes back from their browser: only what this server signed is trusted."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import JobNotFoundError, RayError
from ray_studio.client.request import VideoRequest
from ray_studio.web import history
from ray_studio.web.board import JobBoard
from ray_studio.web.frames import BusyWithImageError, ClipGoneError, UploadLimitError
from ray_studio.web.identity import Visitor
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import UNLIMITED, client_settings
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn

ALICE = Visitor("ip:127.0.0.2", "127.0.0.2")
MALLORY = Visitor("ip:127.0.0.3", "127.0.0.3")


@pytest.fixture
def owner_standin():
    with SegmindStandIn(api_key=OWNER_KEY) as server:
        yield server


@pytest.fixture
def studio(owner_standin, tmp_path):
    client = RayClient(client_settings(owner_standin.base_url, OWNER_KEY))
    board = JobBoard(client, concurrency=8, threads=8)
    yield Studio(client, board, SpendGate(UNLIMITED), tmp_path / "clips")
    client.close()


def run(coroutine):
    return asyncio.run(coroutine)


async def make(studio: Studio, visitor: Visitor, prompt: str = "a fox", entries: list | None = None) -> list[dict]:
    tracked, own_key = await studio.start(VideoRequest(prompt), "", visitor)
    await tracked.outcome()
    return studio.remember(entries or [], tracked, own_key)


# --------------------------------------------------------------------------- signatures


def test_an_entry_is_valid_only_as_this_server_signed_it():
    signer = history.EntrySigner.for_key(OWNER_KEY)
    entry = signer.sign({"id": "a" * 32, "job": "job-1", "file": f"{'a' * 32}/fox.mp4", "own_key": False})
    assert signer.valid(entry)
    for field, value in [("id", "b" * 32), ("job", "job-2"), ("file", f"{'b' * 32}/fox.mp4"), ("own_key", True)]:
        assert not signer.valid({**entry, field: value})
    assert not signer.valid({k: v for k, v in entry.items() if k != "sig"})
    assert not history.EntrySigner.for_key("another-key-0123456789").valid(entry)


def test_signatures_stay_valid_across_restarts_with_the_same_key():
    entry = {"id": "a" * 32, "job": "j", "file": None, "own_key": False}
    assert history.EntrySigner.for_key(OWNER_KEY).valid(history.EntrySigner.for_key(OWNER_KEY).sign(entry))


def test_a_huge_history_from_a_browser_is_cut_to_what_a_browser_holds():
    assert len(history.trimmed([{"id": str(i)} for i in range(100_000)])) == history.HISTORY_LENGTH
    assert history.trimmed("not a list") == [] and history.trimmed([1, "x", None, {"id": "a"}]) == [{"id": "a"}]


def test_a_chain_holds_each_clip_once():
    entry = {"id": "a", "continues": "a"}
    assert history.chain_of([entry] * 50, "a") == [entry]


# --------------------------------------------------------------------------- what a forged entry cannot do


def test_a_forged_or_edited_entry_names_no_clip(studio, owner_standin):
    (entry,) = run(make(studio, ALICE))
    assert studio.clip_file(entry).is_file()
    for forged in ({**entry, "sig": "0" * 32}, {k: v for k, v in entry.items() if k != "sig"},
                   {**entry, "file": "../../../../etc/passwd"}):  # fmt: skip
        with pytest.raises(ClipGoneError):
            studio.clip_file(forged)


def test_a_signed_clip_copied_into_a_long_chain_joins_nothing(studio):
    (entry,) = run(make(studio, ALICE))
    copies = [{**entry, "continues": entry["id"]} for _ in range(50)]
    with pytest.raises(RayError, match="nothing to join"):
        run(studio.join_chain(copies, entry["id"], ALICE))


def test_a_chain_longer_than_twelve_clips_is_refused(studio):
    async def chain_of_13() -> list[dict]:
        entries: list[dict] = []
        for i in range(13):
            tracked, own_key = await studio.start(VideoRequest(f"clip {i}"), "", ALICE)
            await tracked.outcome()
            entries = studio.remember(entries, tracked, own_key, continues=entries[0]["id"] if entries else None)
        return entries

    entries = run(chain_of_13())
    with pytest.raises(RayError, match="at most 12 are joined"):
        run(studio.join_chain(entries, entries[0]["id"], ALICE))


def test_a_job_another_visitor_started_is_not_picked_up_for_someone_else(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(processing=0.5)
        tracked, own_key = await studio.start(VideoRequest("alice's clip"), "", ALICE)
        entries = studio.remember([], tracked, own_key)
        while tracked.job_id is None:
            await asyncio.sleep(0.02)
        entries = studio.remember([], tracked, own_key)
        stolen = studio.pick_up(entries, "", MALLORY)
        mine = studio.pick_up(entries, "", ALICE)
        await tracked.outcome()
        return stolen, mine

    stolen, mine = run(scenario())
    assert stolen == [] and len(mine) == 1


def restarted(studio: Studio) -> Studio:
    """The same server after a restart: the same key and clip folder, a board that knows no job."""
    client = RayClient(client_settings(studio.client.settings.base_url, studio.client.settings.api_key))
    return Studio(client, JobBoard(client, concurrency=8, threads=8), SpendGate(UNLIMITED), studio.clips)


async def job_before_a_restart(studio: Studio, owner_standin, visitor: Visitor, own_key: bool = False) -> list[dict]:
    """A clip started before a restart, still being made: the history its maker's browser keeps."""
    owner_standin.default = Reply(processing=0.5)
    tracked, _ = await studio.start(VideoRequest("alice's clip"), "", visitor)
    while tracked.job_id is None:
        await asyncio.sleep(0.02)
    tracked.task.cancel()  # the server stops: the job goes on at Segmind
    return [studio.signer.sign({**history.entry_for(tracked, own_key), "state": "running"})]


def test_after_a_restart_a_copied_entry_picked_up_first_does_not_lock_out_its_maker(studio, owner_standin):
    async def scenario():
        entries = await job_before_a_restart(studio, owner_standin, ALICE)
        later = restarted(studio)
        [(mallorys, _)] = later.pick_up(entries, "", MALLORY)  # a copy of Alice's history, picked up first
        [(alices, _)] = later.pick_up(entries, "", ALICE)
        await alices.outcome()
        return later, alices, mallorys, later.remember(entries, alices, False)

    later, alices, mallorys, [entry] = run(scenario())
    assert alices is mallorys and alices.result is not None  # one job followed, both get the clip
    assert entry["state"] == "done" and later.clip_file(entry).read_bytes() == owner_standin.video
    assert len(owner_standin.submissions) == 1
    later.client.close()


def test_after_a_restart_a_copied_entry_followed_on_another_key_does_not_lock_out_its_maker(tmp_path):
    alices_key, mallorys_key = "sg_alice_own_key_0123456789", "sg_mallory_own_key_9876543210"
    with SegmindStandIn(api_key=alices_key) as alices_account:
        client = RayClient(client_settings(alices_account.base_url, None))
        before = Studio(client, JobBoard(client, concurrency=8, threads=8), SpendGate(UNLIMITED), tmp_path)

        async def scenario():
            alices_account.default = Reply(processing=0.5)
            job = await asyncio.to_thread(client.submit, VideoRequest("alice's clip"), alices_key)
            entry = {"id": "a" * 32, "job": job.id, "state": "running", "own_key": True, "prompt": "alice's clip"}
            entries = [before.signer.sign(entry)]
            later = restarted(before)
            [(mallorys, _)] = later.pick_up(entries, mallorys_key, MALLORY)  # Segmind refuses her key
            with pytest.raises(RayError):
                await mallorys.outcome()
            [(alices, _)] = later.pick_up(entries, alices_key, ALICE)
            return mallorys, alices, await alices.outcome()

        mallorys, alices, result = run(scenario())
        client.close()
    assert alices is not mallorys and result.path.read_bytes() == alices_account.video
    assert len(alices_account.submissions) == 1


def test_before_a_restart_a_clip_whose_download_failed_is_fetched_again_by_its_maker_only(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(size=2_000_000, output_cuts=4)  # every try of the first fetch is cut
        tracked, own_key = await studio.start(VideoRequest("a fox cut short"), "", ALICE)
        with pytest.raises(RayError):
            await tracked.outcome()
        entries = studio.remember([], tracked, own_key)
        stolen = studio.pick_up(entries, "", MALLORY)  # a copy of Alice's history
        [(again, _)] = studio.pick_up(entries, "", ALICE)
        return stolen, again, await again.outcome()

    stolen, again, result = run(scenario())
    assert stolen == [] and again.owner == ALICE.id and result.path.stat().st_size == 2_000_000
    assert len(owner_standin.submissions) == 1


def test_after_a_restart_a_clip_whose_download_failed_is_fetched_again_by_any_holder_of_its_entry(
    studio, owner_standin
):
    async def scenario():
        entries = await job_before_a_restart(studio, owner_standin, ALICE)
        for job in owner_standin.jobs.values():
            job.output_cuts = 4  # every try of the first fetch after the restart is cut
        later = restarted(studio)
        [(first, _)] = later.pick_up(entries, "", ALICE)
        with pytest.raises(RayError):
            await first.outcome()
        [(again, _)] = later.pick_up(entries, "", MALLORY)  # a copy of Alice's history
        await again.outcome()
        [(alices, _)] = later.pick_up(entries, "", ALICE)
        return later, first, again, alices

    later, first, again, alices = run(scenario())
    assert first.fetch_failed and again is not first and alices is again and again.result is not None
    assert len(owner_standin.submissions) == 1
    later.client.close()


def test_a_clip_whose_job_segmind_no_longer_knows_ends_failed_and_is_not_followed_again(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(processing=0.5)
        tracked, own_key = await studio.start(VideoRequest("a fox Segmind forgot"), "", ALICE)
        while tracked.job_id is None:
            await asyncio.sleep(0.02)
        owner_standin.then_poll(Reply(status=404))
        with pytest.raises(JobNotFoundError):
            await tracked.outcome()
        entries = studio.remember([], tracked, own_key)
        return entries, studio.pick_up(entries, "", ALICE)

    [entry], again = run(scenario())
    assert entry["state"] == "failed" and again == []


def test_a_padded_or_unsigned_job_id_is_not_followed(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(processing=5)
        job = await asyncio.to_thread(studio.client.submit, VideoRequest("x"))
        forged = [{"id": "c" * 32, "job": f"  {job.id}", "state": "running", "own_key": False}]
        padded = [studio.signer.sign(forged[0])]
        return studio.pick_up(forged, "", MALLORY) + studio.pick_up(padded, "", MALLORY)

    assert run(scenario()) == []
    assert owner_standin.polls == []


def test_at_most_four_jobs_from_before_a_restart_are_followed_per_visitor(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(processing=5)
        jobs = [await asyncio.to_thread(studio.client.submit, VideoRequest(f"clip {i}")) for i in range(6)]
        entries = [
            studio.signer.sign({"id": f"{i:032x}", "job": j.id, "state": "running", "own_key": False, "prompt": "x"})
            for i, j in enumerate(jobs)
        ]
        first = studio.pick_up(entries, "", ALICE)
        again = studio.pick_up(entries, "", ALICE)
        for tracked, _ in first:
            tracked.task.cancel()
        return first, again

    first, again = run(scenario())
    assert len(first) == 4 and {id(t) for t, _ in again} == {id(t) for t, _ in first}


def test_a_clip_is_in_the_history_before_segmind_has_it_and_a_reload_then_finds_it(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(latency=1.0)  # the submission takes a second to be answered
        tracked, own_key = await studio.start(VideoRequest("a fox sent slowly"), "", ALICE)
        entries = studio.remember([], tracked, own_key)  # what the page keeps at once
        found = studio.pick_up(studio.settle_lost(entries), "", ALICE)  # a reload while it is sent
        await tracked.outcome()
        return entries, found, tracked

    entries, found, tracked = run(scenario())
    assert entries[0]["state"] == "running" and entries[0]["job"] is None
    assert [t for t, _ in found] == [tracked] and len(owner_standin.submissions) == 1


def test_a_clip_refused_before_segmind_took_it_leaves_no_entry(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(status=406)
        tracked, own_key = await studio.start(VideoRequest("a fox without credits"), "", ALICE)
        entries = studio.remember([], tracked, own_key)
        with pytest.raises(RayError):
            await tracked.outcome()
        return entries, studio.remember(entries, tracked, own_key)

    started, ended = run(scenario())
    assert len(started) == 1 and ended == []


def test_a_clip_that_may_have_been_billed_without_a_job_id_keeps_its_card_and_says_so(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(drop=True)  # Segmind reads the submission, then the line drops
        tracked, own_key = await studio.start(VideoRequest("a fox lost on the line"), "", ALICE)
        with pytest.raises(RayError):
            await tracked.outcome()
        return studio.remember([], tracked, own_key)

    [entry] = run(scenario())
    assert entry["state"] == "failed" and entry["job"] is None and "may have reached Segmind" in entry["error"]
    assert len(owner_standin.received) == 1


def test_a_clip_made_on_the_visitors_own_key_is_not_followed_on_the_pages_key(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(processing=5)
        job = await asyncio.to_thread(studio.client.submit, VideoRequest("x"))
        mine = {"id": "e" * 32, "job": job.id, "state": "running", "own_key": True, "prompt": "x"}
        return studio.pick_up([studio.signer.sign(mine)], "  ", ALICE)

    assert run(scenario()) == []
    assert owner_standin.polls == []


def test_a_clip_the_server_lost_while_sending_it_says_so_after_a_restart(studio):
    sent = studio.signer.sign({"id": "d" * 32, "job": None, "state": "running", "own_key": False, "prompt": "x"})
    settled = studio.settle_lost([sent])
    assert settled[0]["state"] == "failed" and "restarted while this clip was being sent" in settled[0]["error"]
    assert studio.signer.valid(settled[0])


def test_a_made_clip_that_could_not_be_fetched_is_fetched_on_the_next_visit_without_paying_again(studio, owner_standin):
    async def scenario():
        owner_standin.default = Reply(size=2_000_000, output_cuts=4)  # every try of the first fetch is cut
        tracked, own_key = await studio.start(VideoRequest("a fox cut short"), "", ALICE)
        with pytest.raises(RayError):
            await tracked.outcome()
        entries = studio.remember([], tracked, own_key)
        [(again, _)] = studio.pick_up(entries, "", ALICE)  # the visitor reloads
        return tracked, again, await again.outcome()

    first, again, result = run(scenario())
    assert first.fetch_failed and again is not first and result.path.stat().st_size == 2_000_000
    assert len(owner_standin.submissions) == 1


def test_after_a_made_clip_could_not_be_saved_the_clip_folder_is_checked_again_before_paying(studio, owner_standin):
    async def scenario():
        first, _ = await studio.start(VideoRequest("a fox"), "", ALICE)
        shutil.rmtree(studio.clips, ignore_errors=True)
        studio.clips.write_text("not a folder any more")
        with pytest.raises(RayError):
            await first.outcome()
        with pytest.raises(RayError) as refused:
            await studio.start(VideoRequest("another fox"), "", ALICE)
        return refused.value

    refused = run(scenario())
    assert refused.title == "Cannot save the video there" and len(owner_standin.submissions) == 1
    assert str(studio.clips) not in refused.visitor_message(own_key=False)


# --------------------------------------------------------------------------- images


def _uploaded(studio: Studio, tmp_path, name: str, data: bytes):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path, folder


def test_a_file_that_is_not_an_image_is_refused_and_left_where_it_is(studio, tmp_path, owner_standin):
    path, uploads = _uploaded(studio, tmp_path, "cat.png", b"not a picture at all" * 10)
    with pytest.raises(RayError, match=r"cat\.png"):
        run(studio.keyframe(str(path), "cat.png", "", ALICE, uploads))
    assert path.exists() and owner_standin.received == []


def test_a_clip_sent_as_an_uploaded_image_is_refused_and_kept(studio, tmp_path, owner_standin):
    (entry,) = run(make(studio, ALICE))
    clip = studio.clip_file(entry)
    for uploads in (tmp_path / "uploads", tmp_path):  # the clip folder apart from uploads, or inside them
        uploads.mkdir(exist_ok=True)
        with pytest.raises(RayError, match="not one uploaded to this page"):
            run(studio.keyframe(str(clip), "clip.png", "", MALLORY, uploads))
    assert clip.read_bytes() == owner_standin.video and owner_standin.uploads == []


def test_a_second_image_from_the_same_visitor_while_one_is_prepared_is_refused(studio, tmp_path):
    from PIL import Image

    path, uploads = _uploaded(studio, tmp_path, "a.png", b"")
    Image.new("RGB", (2000, 2000), (10, 200, 30)).save(path)

    async def twice():
        first = asyncio.create_task(studio.keyframe(str(path), "a.png", "", ALICE, uploads))
        await asyncio.sleep(0)
        try:
            await studio.keyframe(str(path), "a.png", "", ALICE, uploads)
        finally:
            await first

    with pytest.raises(BusyWithImageError):
        run(twice())


def test_uploads_on_the_pages_key_are_limited_per_visitor(studio, tmp_path, owner_standin):
    from PIL import Image

    path, uploads = _uploaded(studio, tmp_path, "a.png", b"")
    Image.new("RGB", (200, 200), (10, 200, 30)).save(path)

    async def many():
        for _ in range(20):
            await studio.keyframe(str(path), "a.png", "", ALICE, uploads)
        with pytest.raises(UploadLimitError):
            await studio.keyframe(str(path), "a.png", "", ALICE, uploads)
        await studio.keyframe(str(path), "a.png", "", MALLORY, uploads)

    run(many())
    assert len(owner_standin.uploads) == 21


def test_a_clip_file_the_server_deleted_says_so(studio):
    (entry,) = run(make(studio, ALICE))
    shutil.rmtree(studio.clip_file(entry).parent)
    with pytest.raises(ClipGoneError):
        run(studio.continue_from(entry, "", ALICE))


def test_without_a_page_key_the_signing_secret_is_kept_privately_and_survives_a_restart(tmp_path):
    kept = tmp_path / "private" / "history.key"
    entry = history.EntrySigner.for_key(None, kept).sign({"id": "a" * 32, "job": "j", "file": None, "own_key": True})
    assert history.EntrySigner.for_key(None, kept).valid(entry)
    assert kept.stat().st_mode & 0o077 == 0 and kept.parent.stat().st_mode & 0o077 == 0
    assert not history.EntrySigner.for_key(None, tmp_path / "elsewhere.key").valid(entry)


def test_after_a_restart_a_clip_in_the_making_on_its_makers_own_key_is_not_followed_for_a_holder_of_another_key(
    tmp_path,
):
    alices_key, mallorys_key = "sg_alice_own_key_0123456789", "sg_mallory_own_key_9876543210"
    with SegmindStandIn(api_key=alices_key) as alices_account:
        client = RayClient(client_settings(alices_account.base_url, None))
        before = Studio(client, JobBoard(client, concurrency=8, threads=8), SpendGate(UNLIMITED), tmp_path)

        async def scenario():
            alices_account.default = Reply(processing=1.0)
            job = await asyncio.to_thread(client.submit, VideoRequest("alice's clip"), alices_key)
            entry = {"id": "a" * 32, "job": job.id, "state": "running", "own_key": True, "prompt": "alice's clip"}
            entries = [before.signer.sign(entry)]
            later = restarted(before)
            [(alices, _)] = later.pick_up(entries, alices_key, ALICE)
            mallorys = later.pick_up(entries, mallorys_key, MALLORY)  # a copy of Alice's history, her own key
            await alices.outcome()
            return mallorys, later

        mallorys, later = run(scenario())
        later.client.close()
        client.close()
    assert mallorys == []
