from __future__ import annotations

import dataclasses
import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
# No test may phone home: Gradio's usage analytics would try the network.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
sys.path.insert(0, str(ROOT))

from ray_client import RayClient, Settings  # noqa: E402
from tests.segmind_standin import TEST_API_KEY, SegmindStandIn  # noqa: E402


@pytest.fixture
def standin():
    with SegmindStandIn() as server:
        yield server


@pytest.fixture
def settings(standin: SegmindStandIn) -> Settings:
    """The v1 call (one long request). Tests of Segmind's queue use ``queue_settings``."""
    return Settings(
        api_key=TEST_API_KEY,
        base_url=standin.base_url,
        upload_url=standin.root_url,
        api_mode="sync",
        connect_timeout=2,
        read_timeout=5,
        max_retries=2,
        max_retry_wait=5,
    )


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    """Segmind's queue (v2), polled every 50 ms."""
    return dataclasses.replace(settings, api_mode="async", poll_interval=0.05, job_timeout=30)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(settings: Settings, sleeps: list[float]):
    with RayClient(settings, sleep=sleeps.append) as c:
        yield c


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on (the OS picked it and it was released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the app, for a module

OWNER_KEY = "sg_OWNER_secret_key_do_not_leak_42"


@pytest.fixture(scope="module")
def upstream():
    """A stand-in that accepts the app owner's key, shared by one test module."""
    with SegmindStandIn(api_key=OWNER_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def studio(upstream, tmp_path_factory):
    """app.py's page, launched on a free port with the owner's key, talking to ``upstream``."""
    from tests.app_harness import running_app  # imports gradio: only for the modules that use it

    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path_factory.mktemp("gradio"))) as running:
        yield running


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's), one per test module."""
    from tests.browser import launch_chromium

    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()
