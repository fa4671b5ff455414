from __future__ import annotations

import dataclasses
import itertools
import os
import random
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
# No test may phone home: Gradio's usage analytics would try the network.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
sys.path.insert(0, str(ROOT))

from ray_client import RayClient, Settings  # noqa: E402
from tests.segmind_standin import TEST_API_KEY, SegmindStandIn  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser tests go last: while Playwright's sync API has Chromium open it marks its event
    # loop as running on the main thread, and asyncio.run() in any test after them would fail.
    # Before them, the files that hold slow tests go first, so that two workers (each takes a whole
    # file, in this order) end at about the same time.
    # A file with any browser test goes last whole: the workers take whole files (--dist loadfile), so a
    # file's other tests would otherwise run after Chromium opened in that worker.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    browser_files = {item.path for item in items if item.get_closest_marker("browser")}
    items.sort(key=lambda item: (item.path in browser_files, item.path not in slow_files))


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


# Ports handed out by free_port: below the kernel's ephemeral range (32768 and up), where a bind to
# port 0 or an outgoing connection never lands, one block per pytest-xdist worker.
PORT_BLOCK_START, PORT_BLOCK_SIZE = 20_000, 1_000


def _worker_ports() -> Iterator[int]:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    first = PORT_BLOCK_START + (worker % 12) * PORT_BLOCK_SIZE
    # A random start: another test run on the same machine walks its block from elsewhere.
    offset = random.randrange(PORT_BLOCK_SIZE)
    return (first + (offset + n) % PORT_BLOCK_SIZE for n in itertools.count())


_ports = _worker_ports()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on, from this worker's own block: the port the OS would pick
    for a bind to port 0 could be picked again by another worker before the caller binds it."""
    while True:
        with _ports_lock:
            port = next(_ports)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


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


@pytest.fixture
def page(chromium, studio, upstream):
    """The page at 1366×900 in a context of its own, against a stand-in with nothing scripted (a test
    file may define a page of its own)."""
    from tests.browser import open_page

    upstream.reset()
    context, page = open_page(chromium, studio.url, width=1366, height=900)
    yield page
    context.close()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (Debian's), one per test session (each test opens its own context)."""
    from tests.browser import launch_chromium

    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()
