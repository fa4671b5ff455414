"""`python ray_client.py` as a person runs it, against the stand-in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.segmind_standin import TEST_API_KEY, Reply


def run_cli(*args: str, standin=None, key: str | None = TEST_API_KEY, cwd=None, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMIND_")}
    # Set even when empty, so a developer's own .env cannot fill them in (load_dotenv never overrides).
    env.update(SEGMIND_MAX_RETRY_WAIT="1", SEGMIND_CONNECT_TIMEOUT="2", SEGMIND_READ_TIMEOUT="10")
    env["SEGMIND_API_KEY"] = key or ""
    if standin is not None:
        env["SEGMIND_BASE_URL"] = standin.base_url
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, str(ROOT / "ray_client.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_prints_the_saved_path_on_stdout_and_exits_0(standin, tmp_path):
    out = tmp_path / "fox.mp4"
    proc = run_cli("a fox", "--output", str(out), standin=standin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert out.read_bytes() == standin.video


def test_without_output_names_the_file_after_the_prompt(standin, tmp_path):
    proc = run_cli("A Fox, jumping!", standin=standin, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    saved = tmp_path / proc.stdout.strip()
    assert saved.name.startswith("a-fox-jumping-") and saved.suffix == ".mp4" and saved.exists()


def test_passes_every_option_to_the_api(standin, tmp_path):
    proc = run_cli(
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


def test_reports_what_it_is_doing_and_the_summary_on_stderr(standin, tmp_path):
    proc = run_cli("a fox", "-o", str(tmp_path / "v.mp4"), standin=standin)
    assert "16:9 · 5 s costs $0.375" in proc.stderr
    assert "saved: 16:9 · 5 s" in proc.stderr and "$0.375" in proc.stderr


def test_in_sync_mode_the_summary_has_the_credits_left(standin, tmp_path):
    proc = run_cli("a fox", "-o", str(tmp_path / "v.mp4"), standin=standin, SEGMIND_API_MODE="sync")
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
def test_bad_input_exits_2_with_a_precise_message_and_sends_nothing(standin, tmp_path, args, message):
    proc = run_cli(*args, standin=standin, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert standin.received == [] and list(tmp_path.iterdir()) == []


def test_a_missing_key_exits_2_saying_how_to_set_it(standin, tmp_path):
    proc = run_cli("a fox", standin=standin, key=None, cwd=tmp_path)
    assert proc.returncode == 2
    assert "SEGMIND_API_KEY" in proc.stderr and "cloud.segmind.com" in proc.stderr
    assert standin.received == []


def test_a_bad_setting_exits_2_naming_it(standin, tmp_path):
    proc = run_cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_READ_TIMEOUT="soon")
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
def test_an_api_failure_exits_1_with_one_line_naming_cause_and_remedy(standin, tmp_path, status, message):
    standin.default = Reply(status=status)
    proc = run_cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_MAX_RETRIES="0")
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


def test_in_sync_mode_a_cut_transfer_exits_1_says_it_may_be_billed_and_leaves_no_file(standin, tmp_path):
    standin.then(Reply(size=2_000_000, cut_after=500_000))
    proc = run_cli("a fox", standin=standin, cwd=tmp_path, SEGMIND_API_MODE="sync")
    assert proc.returncode == 1 and "No video was saved" in proc.stderr
    assert "probably billed" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_key_is_never_printed(standin, tmp_path):
    standin.fail(400, f"echo {TEST_API_KEY}")
    proc = run_cli("a fox", standin=standin, cwd=tmp_path)
    assert proc.returncode == 1
    assert TEST_API_KEY not in proc.stdout + proc.stderr


def test_help_lists_every_option():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for option in ("--aspect-ratio", "--duration", "--loop", "--start-image-url", "--end-image-url", "--output"):
        assert option in proc.stdout


def test_the_standin_run_by_hand_shows_a_person_an_error_kind(tmp_path):
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.segmind_standin", "--status", "406"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base_url = standin.stdout.readline().strip()
        proc = run_cli("a fox", cwd=tmp_path, SEGMIND_BASE_URL=base_url)
    finally:
        standin.terminate()
        standin.wait(timeout=10)
    assert proc.returncode == 1 and "Not enough credits (HTTP 406)" in proc.stderr
