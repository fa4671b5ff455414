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
    """The app's client against a stand-in: Segmind's queue polled every 50 ms."""
    root = base_url.removesuffix("/v1")
    settings = Settings(
        api_key=owner_key, base_url=base_url, upload_url=root, read_timeout=30, max_retry_wait=1, poll_interval=0.05
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
    if temp_dir:
        os.environ["GRADIO_TEMP_DIR"] = temp_dir
    client = RayClient(client_settings(base_url, owner_key, **client_changes))
    demo = build_demo(client, settings, policy)
    port = free_port()
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **app.launch_options(settings, policy, demo),
    )
    try:
        yield RunningApp(f"http://{host}:{port}/", demo, client, Path(get_upload_folder()))
    finally:
        demo.close()
        client.close()
