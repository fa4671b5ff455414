"""Holes left after issue 21's fixes, found by replaying its attacks against ``python app.py`` and the stand-in.

Each test fails on the code it was written against (branch h-attack, 6ebba0a) and names the behaviour
that would close the hole.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import InvalidRequestError, InvalidResponseError
from ray_studio.client.request import VideoRequest
from tests.conftest import ROOT
from tests.segmind_standin import TEST_API_KEY, Reply

CLI = [sys.executable, str(ROOT / "ray_client.py")]


def key_pieces_in(text: str, key: str = TEST_API_KEY) -> list[str]:
    folded = text.lower()
    return [key[i : i + 8] for i in range(len(key) - 7) if key[i : i + 8].lower() in folded]


# --------------------------------------------------------------------------- hole 2: keyframe hosts

# Browsers, Node's fetch and Rust's url crate parse URLs by the WHATWG rules, where a backslash in an
# http(s) URL is a slash: the host of each of these is the local name or address before it.
BACKSLASH_HOSTS = [
    "http://localhost\\.example.com/a.png",  # WHATWG host: localhost
    "http://metadata\\.example.com/a.png",  # WHATWG host: metadata (a cloud's metadata service)
    "http://0x7f000001\\.example.com/a.png",  # WHATWG host: 127.0.0.1
    "http://127.1\\.example.com/a.png",  # WHATWG host: 127.0.0.1
]


@pytest.mark.parametrize("url", BACKSLASH_HOSTS)
def test_a_keyframe_url_whose_host_ends_at_a_backslash_is_refused_before_anything_is_sent(
    queue_settings, standin, tmp_path, url
):
    with RayClient(queue_settings) as client, pytest.raises(InvalidRequestError):
        client.generate(VideoRequest("a fox", start_image_url=url), tmp_path / "v.mp4")
    assert standin.submissions == []


# --------------------------------------------------------------------------- hole 3: the key as a job id

SPLIT_KEY_IDS = {
    "dashes every 4": "-".join(TEST_API_KEY[i : i + 4] for i in range(0, len(TEST_API_KEY), 4)),
    "underscores every 7": "_".join(TEST_API_KEY[i : i + 7] for i in range(0, len(TEST_API_KEY), 7)),
}


@pytest.mark.parametrize("hostile_id", SPLIT_KEY_IDS.values(), ids=SPLIT_KEY_IDS.keys())
def test_a_job_id_spelling_the_key_with_separators_is_refused(queue_settings, standin, tmp_path, hostile_id):
    # A job id is letters, digits, '-' and '_': the key with a separator every few characters holds no
    # run of 8 of its characters, yet anyone reading the history, a sidecar or the log reads the key.
    standin.then(Reply(request_id=hostile_id))
    with RayClient(queue_settings) as client, pytest.raises(InvalidResponseError):
        client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_resume_with_the_key_in_place_of_a_job_id_is_refused_without_echoing_or_sending_it(standin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_"))}
    env.update(
        SEGMIND_API_KEY=TEST_API_KEY, SEGMIND_BASE_URL=standin.base_url, SEGMIND_UPLOAD_URL=standin.root_url,
        SEGMIND_POLL_INTERVAL="0.05", SEGMIND_READ_TIMEOUT="10",
    )  # fmt: skip
    # The key pasted where the job id goes (an easy slip), for a job the stand-in happens to know.
    standin.then(Reply(request_id=TEST_API_KEY))
    with RayClient(_settings_from(env)) as client, pytest.raises(InvalidResponseError):
        client.generate(VideoRequest("a fox"), tmp_path / "first.mp4")
    polls_before = len(standin.polls)
    done = subprocess.run(
        [*CLI, "--resume", TEST_API_KEY, "-o", str(tmp_path / "v.mp4")],
        capture_output=True, text=True, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert key_pieces_in(done.stdout + done.stderr) == []
    assert standin.polls[polls_before:] == []  # the key never went into a URL path


def _settings_from(env: dict[str, str]):
    from ray_studio.client.settings import Settings

    return Settings(
        api_key=env["SEGMIND_API_KEY"],
        base_url=env["SEGMIND_BASE_URL"],
        upload_url=env["SEGMIND_UPLOAD_URL"],
        api_mode="async",
        poll_interval=0.05,
        job_timeout=30,
    )


# --------------------------------------------------------------------------- hole 10: routes


@pytest.mark.parametrize("path", ["gradio_api/call/no-such-endpoint/abc123", "gradio_api/call/generate/no-such-event"])
def test_an_unknown_call_stream_answers_404_and_logs_no_traceback(studio, capfd, path):
    with httpx.Client(timeout=10, trust_env=False) as http:
        response = http.get(studio.url + path)  # today: the connection is dropped mid-answer
    assert response.status_code == 404
    assert "Traceback" not in capfd.readouterr().err
