"""Launch app.py's page in this process against a stand-in, on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

import app
from ray_studio.client.client import RayClient
from ray_studio.client.settings import Settings
from ray_studio.web.clip_store import clip_folder_beside
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.wiring import build_demo
from tests.conftest import free_port

# No per-visitor limits, no budget: for tests of everything but spending (tests/test_spending.py).
UNLIMITED = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=1000)


@dataclass
class RunningApp:
    url: str
    demo: gr.Blocks
    client: RayClient
    cache_dir: Path  # Gradio's cache folder for this app, where uploads go (clips have their own folder)

    @property
    def clips(self) -> Path:
        return clip_folder_beside(self.cache_dir)


def client_settings(base_url: str, owner_key: str | None, **changes) -> Settings:
    """The app's client against a stand-in: Segmind's queue polled every 50 ms, retries after at most
    0.1 s (a retry against the stand-in needs no pause; a longer Retry-After is reported, not waited)."""
    root = base_url.removesuffix("/v1")
    settings = Settings(
        api_key=owner_key, base_url=base_url, upload_url=root, read_timeout=30, max_retry_wait=0.1, poll_interval=0.05
    )
    return dataclasses.replace(settings, **changes)


@contextlib.contextmanager
def running_app(
    base_url: str,
    owner_key: str | None,
    settings: app.AppSettings | None = None,
    temp_dir: str | None = None,
    policy: SpendPolicy = UNLIMITED,
    host: str = "127.0.0.1",
    **client_changes,
) -> Iterator[RunningApp]:
    settings = settings or app.AppSettings()
    client = RayClient(client_settings(base_url, owner_key, **client_changes))
    with gradio_temp_dir(temp_dir):
        demo = build_demo(client, settings, policy)
        url = launch_on_a_free_port(demo, host, app.launch_options(settings, policy, demo))
        try:
            yield RunningApp(url, demo, client, Path(get_upload_folder()))
        finally:
            demo.close()
            client.close()


@contextlib.contextmanager
def gradio_temp_dir(temp_dir: str | None) -> Iterator[None]:
    """Gradio's cache folder (GRADIO_TEMP_DIR) while the app runs; the one before it afterwards."""
    before = os.environ.get("GRADIO_TEMP_DIR")
    if temp_dir:
        os.environ["GRADIO_TEMP_DIR"] = temp_dir
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before


def launch_on_a_free_port(demo: gr.Blocks, host: str, options: dict, tries: int = 3) -> str:
    """The app's URL; another port when the one picked was taken in the meantime (by another test run)."""
    for attempt in range(tries):
        port = free_port()
        try:
            demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, **options)
        except OSError:
            if attempt == tries - 1:
                raise
            continue
        return f"http://{host}:{port}/"
    raise AssertionError("unreachable")
