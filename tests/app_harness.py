"""Launch app.py's page in this process against a stand-in, on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

import app
from ray_client import RayClient, Settings
from tests.conftest import free_port


@dataclass
class RunningApp:
    url: str
    demo: gr.Blocks
    client: RayClient
    cache_dir: Path  # Gradio's cache folder for this app, where the clips are written


@contextlib.contextmanager
def running_app(
    base_url: str,
    owner_key: str | None,
    settings: app.AppSettings | None = None,
    temp_dir: str | None = None,
) -> Iterator[RunningApp]:
    settings = settings or app.AppSettings()
    if temp_dir:
        os.environ["GRADIO_TEMP_DIR"] = temp_dir
    client = RayClient(Settings(api_key=owner_key, base_url=base_url, read_timeout=30, max_retry_wait=1))
    demo = app.build_demo(client, settings)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_options(settings)
    )
    try:
        yield RunningApp(f"http://127.0.0.1:{port}/", demo, client, Path(get_upload_folder()))
    finally:
        demo.close()
        client.close()
