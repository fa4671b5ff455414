"""`python ray_client.py` as a person runs it, against the stand-in.

Most tests run the command line's ``main(argv)`` in this process (the ``cli`` fixture) with the
environment a shell would give it; a few run the real ``python ray_client.py`` (``run_cli``,
``start_cli``): the entry point, its exit statuses, and Ctrl-C.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from PIL import Image

from ray_studio.client import media
from ray_studio.client.cli import main
from tests.conftest import ROOT
from tests.media_samples import BLUE, GREEN, RED, image_bytes, write_clip
from tests.segmind_standin import TEST_API_KEY, Reply

CLI = [sys.executable, str(ROOT / "ray_client.py")]


def cli_env(standin=None, key: str | None = TEST_API_KEY, **env_extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_"))}
    # Set even when empty, so a developer's own .env cannot fill them in (load_dotenv never overrides).
    env.update(SEGMIND_MAX_RETRY_WAIT="1", SEGMIND_CONNECT_TIMEOUT="2", SEGMIND_READ_TIMEOUT="10")
    env.update(SEGMIND_POLL_INTERVAL="0.05", RAY_MAX_VARIANTS="")
    env["SEGMIND_API_KEY"] = key or ""
    if standin is not None:
        env["SEGMIND_BASE_URL"] = standin.base_url
        env["SEGMIND_UPLOAD_URL"] = standin.root_url
    env.update(env_extra)
    return env


def run_cli(*args: str, standin=None, key: str | None = TEST_API_KEY, cwd=None, **env_extra: str):
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=cli_env(standin, key, **env_extra),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@dataclass
class Ran:
    """How one run of the command line in this process ended (read like subprocess.CompletedProcess)."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """``cli(*args, standin=, key=, cwd=, **env)``: ``main(args)`` in this process, in ``cwd`` (default
    ``tmp_path``), with the environment ``run_cli`` gives the real command; its exit status and output."""
    # argparse wraps --help at the terminal's width; a subprocess with a pipe gets 80 columns.
    monkeypatch.setenv("COLUMNS", "80")

    def run(*args: str, standin=None, key: str | None = TEST_API_KEY, cwd=None, **env_extra: str) -> Ran:
        before = set(os.environ)
        with monkeypatch.context() as env:
            for name in before:
                if name.startswith(("SEGMIND_", "RAY_")):
                    env.delenv(name)
            for name, value in cli_env(standin, key, **env_extra).items():
                env.setenv(name, value)
            env.chdir(cwd or tmp_path)
            capsys.readouterr()
            try:
                returncode = main(list(args))
            except SystemExit as stop:  # argparse: --help, and a usage error
                returncode = stop.code or 0
            stdout, stderr = capsys.readouterr()
        for name in set(os.environ) - before:
            del os.environ[name]  # what load_dotenv added from a developer's .env
        return Ran(returncode, stdout, stderr)

    return run


def start_cli(*args: str, standin, cwd, **env_extra: str) -> subprocess.Popen:
    """The command line running in the background, its stderr to be read line by line."""
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(standin, **env_extra),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def read_until(proc: subprocess.Popen, needle: str, count: int = 1) -> list[str]:
    """stderr lines up to the ``count``-th holding ``needle`` (the test's own timeout guards a hang)."""
    lines: list[str] = []
    while sum(needle in line for line in lines) < count:
        line = proc.stderr.readline()
        assert line, f"the command line ended before saying {needle!r}: {''.join(lines)}"
        lines.append(line)
    return lines


QUEUED = "queued at Segmind (billed from now"  # the line that gives a job's id and how to fetch it later


def job_id_in(line: str) -> str:
    return line.split("job ", 1)[1].split()[0]


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def colour_of(data: bytes) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_prints_the_saved_path_on_stdout_and_exits_0(standin, tmp_path):
    out = tmp_path / "fox.mp4"
    proc = run_cli("a fox", "--output", str(out), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert out.read_bytes() == standin.video


def test_without_output_names_the_file_after_the_prompt(cli, standin, tmp_path):
    proc = cli("A Fox, jumping!", standin=standin, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    saved = tmp_path / proc.stdout.strip()
    assert saved.name == "a-fox-jumping_16x9_5s.mp4" and saved.exists()


def test_without_output_a_second_clip_of_the_same_prompt_does_not_replace_the_first(cli, standin, tmp_path):
    first = cli("a fox", standin=standin, cwd=tmp_path).stdout.strip()
    second = cli("a fox", standin=standin, cwd=tmp_path).stdout.strip()
    assert (first, second) == ("a-fox_16x9_5s.mp4", "a-fox_16x9_5s-2.mp4")


def test_an_output_folder_gets_the_clip_named_after_its_prompt(cli, standin, tmp_path):
    proc = cli("a fox", "--loop", "-o", str(tmp_path), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "a-fox_16x9_5s_loop.mp4")


def test_passes_every_option_to_the_api(cli, standin, tmp_path):
    proc = cli(
        "a fox",
        "--aspect-ratio", "9:21",
        "--duration", "9",
        "--loop",
        "--start-image-url", "https://img.test/a.png",
        "--end-image-url", "https://img.test/b.png",
        "-o", str(tmp_path / "v.mp4"),
        standin=standin,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert standin.received[-1].body == {
        "prompt": "a fox",
        "aspect_ratio": "9:21",
        "duration": 9,
        "loop": True,
        "start_image_url": "https://img.test/a.png",
        "end_image_url": "https://img.test/b.png",
    }


def test_reports_what_it_is_doing_and_the_summary_on_stderr(cli, standin, tmp_path):
    proc = cli("a fox", "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert "16:9 · 5 s costs $0.375" in proc.stderr
    assert "saved: 16:9 · 5 s" in proc.stderr and "$0.375" in proc.stderr


def test_in_sync_mode_the_summary_has_the_credits_left(cli, standin, tmp_path):
    proc = cli("a fox", "-o", str(tmp_path / "v.mp4"), standin=standin, SEGMIND_API_MODE="sync")
    assert "saved: 16:9 · 5 s" in proc.stderr and "42.5 credits left" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["   "], "prompt is empty"),
        (["a fox", "--start-image-url", "cat.png"], "start_image_url must be an absolute http"),
        (["a fox", "--end-image-url", "ftp://x/y.png"], "end_image_url must be an absolute http"),
        (["a fox", "--duration", "7"], "invalid choice: 7"),
        (["a fox", "--aspect-ratio", "2:1"], "invalid choice: '2:1'"),
    ],
)
def test_bad_input_exits_2_with_a_precise_message_and_sends_nothing(cli, standin, tmp_path, args, message):
    proc = cli(*args, standin=standin, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert standin.received == [] and list(tmp_path.iterdir()) == []


def test_a_missing_key_exits_2_saying_how_to_set_it(standin, tmp_path):
    proc = run_cli("a fox", standin=standin, key=None, cwd=tmp_path)
    assert proc.returncode == 2
    assert "SEGMIND_API_KEY" in proc.stderr and "cloud.segmind.com" in proc.stderr
    assert standin.received == []


def test_a_bad_setting_exits_2_naming_it(cli, standin, tmp_path):
    proc = cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_READ_TIMEOUT="soon")
    assert proc.returncode == 2 and "SEGMIND_READ_TIMEOUT must be a number" in proc.stderr


@pytest.mark.parametrize(
    "status, message",
    [
        (401, "API key rejected (HTTP 401)"),
        (406, "Not enough credits (HTTP 406)"),
        (429, "Rate limited (HTTP 429)"),
        (500, "Segmind server error (HTTP 500)"),
        (504, "Segmind timed out (HTTP 504)"),
    ],
)
def test_an_api_failure_exits_1_with_one_line_naming_cause_and_remedy(cli, standin, tmp_path, status, message):
    standin.default = Reply(status=status)
    proc = cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_MAX_RETRIES="0")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_api_exits_1(tmp_path):
    proc = run_cli("a fox", cwd=tmp_path, SEGMIND_BASE_URL="http://127.0.0.1:9/v1", SEGMIND_MAX_RETRIES="0")
    assert proc.returncode == 1
    assert "error: Connection problem: could not reach 127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_in_sync_mode_a_cut_transfer_exits_1_says_it_may_be_billed_and_leaves_no_file(cli, standin, tmp_path):
    standin.then(Reply(size=2_000_000, cut_after=500_000))
    proc = cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_API_MODE="sync")
    assert proc.returncode == 1 and "No video was saved" in proc.stderr
    assert "probably billed" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_key_is_never_printed(cli, standin, tmp_path):
    standin.fail(400, f"echo {TEST_API_KEY}")
    proc = cli("a fox", standin=standin, cwd=tmp_path)
    assert proc.returncode == 1
    assert TEST_API_KEY not in proc.stdout + proc.stderr


def test_help_lists_every_option_in_groups(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    groups = ["generation:", "keyframes:", "variants:", "resume and join:", "output:"]
    assert [line for line in proc.stdout.splitlines() if line in groups] == groups
    options = ["--aspect-ratio", "--duration", "--loop", "--start-image-url", "--end-image-url", "--output"]
    options += ["--start-image", "--end-image", "--extend", "--prompts-file", "--resume", "--join", "--sidecar"]
    for option in options:
        assert option in proc.stdout


def test_the_standin_run_by_hand_shows_a_person_an_error_kind(cli, tmp_path):
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.segmind_standin", "--status", "406"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base_url = standin.stdout.readline().strip()
        proc = cli("a fox", cwd=tmp_path, SEGMIND_BASE_URL=base_url)
    finally:
        standin.terminate()
        standin.wait(timeout=10)
    assert proc.returncode == 1 and "Not enough credits (HTTP 406)" in proc.stderr


# --------------------------------------------------------------------------- keyframes from files


def test_a_local_start_image_is_uploaded_once_and_its_url_is_sent(cli, standin, tmp_path):
    image = write(tmp_path, "wide.png", image_bytes("PNG", size=(2000, 1000), colour=GREEN))
    proc = cli("a fox", "--start-image", str(image), "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert len(standin.uploads) == 1 and near(colour_of(standin.uploads[0][0]), GREEN)
    url = standin.submissions[-1].body["start_image_url"]
    assert url.startswith(f"{standin.root_url}/assets/")


def test_what_was_done_to_the_image_is_said_on_stderr(cli, standin, tmp_path):
    image = write(tmp_path, "wide.png", image_bytes("PNG", size=(2000, 1000)))
    proc = cli("a fox", "--start-image", str(image), "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert f"start image {image}: 1280×640, scaled from 2000×1000 to 1280×640" in proc.stderr


def test_an_end_image_url_is_sent_as_it_is_without_an_upload(cli, standin, tmp_path):
    proc = cli("a fox", "--end-image", "https://img.test/b.png", "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert standin.uploads == []
    assert standin.submissions[-1].body["end_image_url"] == "https://img.test/b.png"


def test_start_and_end_images_from_files_are_each_uploaded(cli, standin, tmp_path):
    start = write(tmp_path, "a.jpg", image_bytes("JPEG", colour=RED))
    end = write(tmp_path, "b.webp", image_bytes("WEBP", colour=BLUE))
    proc = cli("a fox", "--start-image", str(start), "--end-image", str(end), "-o", str(tmp_path / "v.mp4"),
                   standin=standin)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [mime for _, mime in standin.uploads] == ["image/jpeg", "image/webp"]
    body = standin.submissions[-1].body
    assert body["start_image_url"] != body["end_image_url"]


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("notes.png", b"eggs, milk\n", "notes.png is not an image"),
        ("cut.jpg", image_bytes("JPEG", size=(800, 600))[:3000], "cut.jpg is damaged or cut short"),
        ("tiny.png", image_bytes("PNG", size=(50, 50)), "tiny.png is 50×50"),
    ],
)
def test_a_bad_image_file_exits_2_naming_it_and_sends_nothing(cli, standin, tmp_path, name, data, message):
    image = write(tmp_path, name, data)
    proc = cli("a fox", "--start-image", str(image), "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert standin.received == []


def test_a_missing_image_file_exits_2_naming_it(cli, standin, tmp_path):
    proc = cli("a fox", "--end-image", "nowhere.png", standin=standin, cwd=tmp_path)
    assert proc.returncode == 2 and "nowhere.png cannot be read" in proc.stderr
    assert standin.received == []


def test_a_start_image_url_on_a_private_address_exits_2_naming_the_option(cli, standin, tmp_path):
    proc = cli("a fox", "--start-image", "http://192.168.0.7/a.png", standin=standin, cwd=tmp_path)
    assert proc.returncode == 2 and "--start-image points at a private" in proc.stderr
    assert standin.received == []


@pytest.mark.parametrize(
    "args",
    [
        ["--start-image", "a.png", "--start-image-url", "https://img.test/a.png"],
        ["--end-image", "a.png", "--end-image-url", "https://img.test/a.png"],
        ["--extend", "prev.mp4", "--start-image", "a.png"],
    ],
)
def test_two_sources_for_one_frame_exit_2(cli, standin, tmp_path, args):
    proc = cli("a fox", *args, standin=standin, cwd=tmp_path)
    assert proc.returncode == 2 and "give one" in proc.stderr
    assert standin.received == []


def test_an_upload_failure_exits_1_with_its_own_message_and_no_generation(cli, standin, tmp_path):
    standin.then_upload(Reply(status=413))
    image = write(tmp_path, "cat.png", image_bytes("PNG"))
    proc = cli("a fox", "--start-image", str(image), standin=standin, cwd=tmp_path)
    assert proc.returncode == 1
    assert "error: Image too large for Segmind's storage (HTTP 413)" in proc.stderr
    assert standin.submissions == []


# --------------------------------------------------------------------------- --extend


def test_extend_uploads_the_clips_last_frame_not_its_first(cli, standin, tmp_path):
    clip = write_clip(tmp_path / "prev.mp4", [RED, BLUE])
    proc = cli("the fox runs on", "--extend", str(clip), "-o", str(tmp_path / "next.mp4"), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert len(standin.uploads) == 1
    assert near(colour_of(standin.uploads[0][0]), BLUE)
    assert standin.submissions[-1].body["start_image_url"].startswith(f"{standin.root_url}/assets/")
    assert f"start image: last frame of {clip}" in proc.stderr


@pytest.mark.parametrize(
    "size, ratio", [((320, 180), "16:9"), ((180, 320), "9:16"), ((240, 240), "1:1"), ((320, 240), "4:3")]
)
def test_extend_takes_the_clips_shape_as_the_aspect_ratio(cli, standin, tmp_path, size, ratio):
    clip = write_clip(tmp_path / "prev.mp4", [RED], size=size)
    proc = cli("more", "--extend", str(clip), "-o", str(tmp_path / "next.mp4"), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert standin.submissions[-1].body["aspect_ratio"] == ratio


def test_extend_of_a_clip_of_no_model_shape_keeps_the_default_aspect_ratio_and_says_so(cli, standin, tmp_path):
    clip = write_clip(tmp_path / "prev.mp4", [RED], size=(400, 180))
    proc = cli("more", "--extend", str(clip), "-o", str(tmp_path / "next.mp4"), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert standin.submissions[-1].body["aspect_ratio"] == "16:9"
    assert "is 400×180, none of the model's shapes; using 16:9" in proc.stderr


def test_an_aspect_ratio_given_wins_over_the_extended_clips_shape(cli, standin, tmp_path):
    clip = write_clip(tmp_path / "prev.mp4", [RED], size=(320, 180))
    proc = cli("more", "--extend", str(clip), "--aspect-ratio", "1:1", "-o", str(tmp_path / "n.mp4"),
                   standin=standin)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert standin.submissions[-1].body["aspect_ratio"] == "1:1"


def test_extend_of_a_clip_that_cannot_be_decoded_exits_2_and_sends_nothing(cli, standin, tmp_path):
    clip = write(tmp_path, "prev.mp4", b"not a video at all\n")
    proc = cli("more", "--extend", str(clip), standin=standin, cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{clip} cannot be decoded as a video" in proc.stderr
    assert standin.received == []


def test_extend_still_needs_a_prompt(cli, standin, tmp_path):
    clip = write_clip(tmp_path / "prev.mp4", [RED])
    proc = cli("--extend", str(clip), standin=standin, cwd=tmp_path)
    assert proc.returncode == 2 and "give a PROMPT" in proc.stderr
    assert standin.received == []


# --------------------------------------------------------------------------- --join


@pytest.fixture
def three_clips(tmp_path):
    return [write_clip(tmp_path / f"{n}.mp4", [colour]) for n, colour in enumerate((RED, GREEN, BLUE))]


def test_join_of_three_clips_makes_one_playable_mp4_as_long_as_all_three(cli, tmp_path, three_clips):
    out = tmp_path / "all.mp4"
    proc = cli("--join", *map(str, three_clips), "-o", str(out), key=None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    total = sum(media.clip_info(clip).duration for clip in three_clips)
    assert media.clip_info(out).duration == pytest.approx(total, abs=1 / 24)
    with av.open(str(out)) as container:
        frames = list(container.decode(video=0))
    assert near(frames[0].to_image().getpixel((5, 5)), RED) and near(frames[-1].to_image().getpixel((5, 5)), BLUE)


def test_join_needs_no_key_and_sends_nothing(cli, standin, tmp_path, three_clips):
    proc = cli("--join", *map(str, three_clips), "-o", str(tmp_path / "all.mp4"), standin=standin, key=None)
    assert proc.returncode == 0, proc.stderr
    assert standin.received == [] and standin.file_requests == []


def test_join_of_clips_of_different_shapes_exits_2_saying_so_and_writes_nothing(cli, tmp_path):
    wide = write_clip(tmp_path / "wide.mp4", [RED], size=(320, 180))
    tall = write_clip(tmp_path / "tall.mp4", [RED], size=(180, 320))
    proc = cli("--join", str(wide), str(tall), "-o", str(tmp_path / "all.mp4"))
    assert proc.returncode == 2
    assert f"{tall} is 180×320 but {wide} is 320×180, a different shape" in proc.stderr
    assert not (tmp_path / "all.mp4").exists() and proc.stdout == ""


def test_join_of_a_single_clip_exits_2(cli, tmp_path, three_clips):
    proc = cli("--join", str(three_clips[0]), "-o", str(tmp_path / "all.mp4"))
    assert proc.returncode == 2 and "joining needs at least 2 clips" in proc.stderr


def test_join_with_a_prompt_exits_2(cli, tmp_path, three_clips):
    proc = cli("a fox", "--join", *map(str, three_clips), "-o", str(tmp_path / "all.mp4"))
    assert proc.returncode == 2 and "--join makes no new clip; drop a PROMPT" in proc.stderr


# --------------------------------------------------------------------------- variants


def prompts_file(folder: Path, *lines: str) -> Path:
    return write(folder, "prompts.txt", "\n".join(lines).encode())


def test_variants_send_every_prompt_with_every_aspect_ratio(cli, standin, tmp_path):
    prompts = prompts_file(tmp_path, "a fox", "", "   ", "a heron")
    out = tmp_path / "clips"
    proc = cli("--prompts-file", str(prompts), "--aspect-ratio", "16:9", "--aspect-ratio", "9:16",
                   "-o", str(out), standin=standin)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sent = sorted((s.body["prompt"], s.body["aspect_ratio"]) for s in standin.submissions)
    assert sent == [("a fox", "16:9"), ("a fox", "9:16"), ("a heron", "16:9"), ("a heron", "9:16")]
    names = ["a-fox_16x9_5s.mp4", "a-fox_9x16_5s.mp4", "a-heron_16x9_5s.mp4", "a-heron_9x16_5s.mp4"]
    assert sorted(proc.stdout.split()) == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == names


def test_variants_say_the_total_price_first(cli, standin, tmp_path):
    proc = cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", "--duration", "9", standin=standin,
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "2 clips cost $1.35 at Segmind's listed price, made at once:"


def test_variants_are_made_at_once_each_its_own_job(cli, standin, tmp_path):
    standin.default = Reply(processing=3600)  # no job finishes until the test says so
    # Made one after another, each clip would wait for the one before it until it gave up (the job
    # timeout): the third job would be submitted only then, and the run would fail.
    ran: list[Ran] = []
    args = ["a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", "--aspect-ratio", "9:16"]
    making = threading.Thread(target=lambda: ran.append(cli(*args, standin=standin, SEGMIND_JOB_TIMEOUT="30")))
    making.start()
    try:
        deadline = time.monotonic() + 20  # well before the job timeout
        while len(standin.jobs) < 3 and making.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        all_at_once = len(standin.jobs)
    finally:
        for job in list(standin.jobs.values()):
            job.processing = 0
        making.join(60)
    assert all_at_once == 3, f"{all_at_once} of 3 jobs at Segmind while none had finished"
    (proc,) = ran
    assert proc.returncode == 0, proc.stderr
    job_ids = {job_id_in(line) for line in proc.stderr.splitlines() if QUEUED in line}
    assert job_ids == set(standin.jobs) and len(standin.submissions) == 3
    assert len(proc.stdout.split()) == 3


def test_a_local_start_image_is_uploaded_once_for_every_variant(cli, standin, tmp_path):
    image = write(tmp_path, "cat.png", image_bytes("PNG"))
    proc = cli("a fox", "--start-image", str(image), "--aspect-ratio", "16:9", "--aspect-ratio", "1:1",
                   standin=standin, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(standin.uploads) == 1
    assert len({s.body["start_image_url"] for s in standin.submissions}) == 1 and len(standin.submissions) == 2


def test_more_variants_than_the_limit_exit_2_before_anything_is_sent(cli, standin, tmp_path):
    prompts = prompts_file(tmp_path, "a fox", "a heron", "a crab")
    image = write(tmp_path, "cat.png", image_bytes("PNG"))
    proc = cli("--prompts-file", str(prompts), "--aspect-ratio", "16:9", "--aspect-ratio", "1:1",
                   "--start-image", str(image), standin=standin, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert "6 variants asked for (3 wordings × 2 shapes); the limit is 4" in proc.stderr
    assert standin.received == []


def test_the_limit_is_set_by_ray_max_variants(cli, standin, tmp_path):
    proc = cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", standin=standin, cwd=tmp_path,
                   RAY_MAX_VARIANTS="1")  # fmt: skip
    assert proc.returncode == 2 and "2 variants asked for (1 wording × 2 shapes); the limit is 1" in proc.stderr
    assert standin.received == []


def test_a_bad_ray_max_variants_exits_2_naming_it(cli, standin, tmp_path):
    proc = cli("a fox", standin=standin, cwd=tmp_path, RAY_MAX_VARIANTS="many")
    assert proc.returncode == 2 and "RAY_MAX_VARIANTS must be a whole number" in proc.stderr


def test_one_failed_variant_exits_1_naming_it_while_the_others_are_saved(cli, standin, tmp_path):
    standin.then(Reply(status=500))
    proc = cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", standin=standin, cwd=tmp_path,
                   SEGMIND_MAX_RETRIES="0")  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Segmind server error (HTTP 500)" in errors[0]
    failed = errors[0].split("[", 1)[1].split("]", 1)[0]
    saved = proc.stdout.split()
    assert len(saved) == 1 and (tmp_path / saved[0]).exists()
    assert {failed, Path(saved[0]).name} == {"a-fox_16x9_5s.mp4", "a-fox_1x1_5s.mp4"}
    assert "saved 1 of 2 clips" in proc.stderr


def test_a_bad_line_in_the_prompts_file_exits_2_naming_it(cli, standin, tmp_path):
    prompts = prompts_file(tmp_path, "a fox", "x" * 2001)
    proc = cli("--prompts-file", str(prompts), standin=standin, cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{prompts} line 2: prompt is 2001 characters long; the limit is 2000" in proc.stderr
    assert standin.received == []


def test_a_missing_prompts_file_exits_2_naming_it(cli, standin, tmp_path):
    proc = cli("--prompts-file", "nowhere.txt", standin=standin, cwd=tmp_path)
    assert proc.returncode == 2 and "prompts file nowhere.txt cannot be read" in proc.stderr


def test_with_several_clips_output_must_name_a_folder(cli, standin, tmp_path):
    proc = cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", "-o", str(tmp_path / "fox.mp4"),
                   standin=standin)  # fmt: skip
    assert proc.returncode == 2 and "with 2 clips, -o names a folder" in proc.stderr
    assert standin.received == []


# --------------------------------------------------------------------------- --sidecar


def test_the_sidecar_beside_the_clip_says_what_made_it(cli, standin, tmp_path):
    image = write(tmp_path, "cat.png", image_bytes("PNG"))
    out = tmp_path / "fox.mp4"
    proc = cli("a fox", "--loop", "--start-image", str(image), "-o", str(out), "--sidecar", standin=standin)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    body = standin.submissions[-1].body
    assert {k: data[k] for k in ("prompt", "aspect_ratio", "duration", "loop", "start_image_url")} == {
        k: body[k] for k in ("prompt", "aspect_ratio", "duration", "loop", "start_image_url")
    }
    assert data["end_image_url"] is None
    assert data["sources"] == {"start_image_url": str(image)}
    assert (data["file"], data["size_bytes"]) == ("fox.mp4", out.stat().st_size)
    assert (data["model"], data["api_mode"], data["cost_usd"]) == ("ray-flash-2-720p", "async", 0.375)
    assert data["job_id"] in standin.jobs


def test_the_sidecars_command_line_asks_for_the_same_clip_again(cli, standin, tmp_path):
    out = tmp_path / "fox.mp4"
    cli("it's a \"fox\"", "--aspect-ratio", "9:21", "--duration", "9", "--end-image-url", "https://img.test/b.png",
            "-o", str(out), "--sidecar", standin=standin)  # fmt: skip
    argv = shlex.split(json.loads(out.with_suffix(".json").read_text())["cli"])
    again = tmp_path / "again"
    again.mkdir()
    proc = cli(*argv[2:], standin=standin, cwd=again)
    assert proc.returncode == 0, proc.stderr
    first, second = standin.submissions
    assert first.body == second.body and (again / proc.stdout.strip()).is_file()
    assert out.read_bytes() == standin.video  # the clip the sidecar describes is never overwritten


def test_an_output_that_is_a_link_a_pipe_or_a_device_is_refused_before_paying(cli, standin, tmp_path):
    link = tmp_path / "l.mp4"
    link.symlink_to(tmp_path / "target.txt")
    pipe = tmp_path / "p.mp4"
    os.mkfifo(pipe)
    for output in (link, pipe, Path("/dev/null")):
        proc = cli("a fox", "-o", str(output), standin=standin)
        assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert standin.received == [] and Path("/dev/null").is_char_device()


def test_joining_into_one_of_the_clips_is_refused(cli, tmp_path):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"whatever")
    proc = cli("--join", str(clip), str(clip), "-o", str(clip))
    assert proc.returncode == 2 and "is one of the clips to join" in proc.stderr
    assert clip.read_bytes() == b"whatever"


def test_every_variant_gets_its_own_sidecar(cli, standin, tmp_path):
    proc = cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", "-o", str(tmp_path), "--sidecar",
                   standin=standin)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.split():
        data = json.loads(Path(line).with_suffix(".json").read_text())
        assert data["file"] == Path(line).name and data["aspect_ratio"] == Path(line).name.split("_")[1].replace(
            "x", ":"
        )


# --------------------------------------------------------------------------- Ctrl-C and --resume


def test_after_ctrl_c_resume_saves_the_clip_with_one_submission_in_all(cli, standin, tmp_path):
    standin.default = Reply(processing=3600)
    out = tmp_path / "clip.mp4"
    proc = start_cli("a fox", "-o", str(out), standin=standin, cwd=tmp_path)
    job_id = job_id_in(read_until(proc, QUEUED)[-1])
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"python ray_client.py --resume {job_id} -o {out}" in stderr
    assert not out.exists()

    standin.jobs[job_id].processing = 0
    resumed = cli("--resume", job_id, "-o", str(out), standin=standin)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == standin.video
    assert len(standin.submissions) == 1


def test_ctrl_c_with_several_variants_gives_a_resume_command_for_each(standin, tmp_path):
    standin.default = Reply(processing=3600)
    proc = start_cli("a fox", "--aspect-ratio", "16:9", "--aspect-ratio", "1:1", "-o", "clips", standin=standin,
                     cwd=tmp_path)  # fmt: skip
    lines = read_until(proc, QUEUED, count=2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    ids = {job_id_in(line) for line in lines if QUEUED in line}
    assert ids == set(standin.jobs)
    hints = [line for line in stderr.splitlines() if "stopped waiting" in line]
    assert len(hints) == 2
    for name in ("a-fox_16x9_5s.mp4", "a-fox_1x1_5s.mp4"):
        (hint,) = [line for line in hints if line.startswith(f"[{name}]")]
        assert f"--resume {job_id_in(hint.split('Segmind goes on with ', 1)[1])} -o clips/{name}" in hint


def test_resume_can_write_a_sidecar_too(cli, standin, tmp_path):
    cli("a fox", "-o", str(tmp_path / "first.mp4"), standin=standin)
    (job_id,) = standin.jobs
    out = tmp_path / "again.mp4"
    proc = cli("--resume", job_id, "-o", str(out), "--sidecar", standin=standin)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["job_id"] == job_id and data["cli"] == f"python ray_client.py --resume {job_id} -o again.mp4"
