"""Ray Studio: a Gradio page for Luma Ray Flash 2 (720p) on Segmind.

Parse the options, read the settings, build the page (ray_studio/web: layout.py, page.py and
wiring.py), launch it. Runs the same locally (``python app.py``) and as a Hugging Face Space.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr
from dotenv import load_dotenv
from starlette.middleware import Middleware

from ray_studio.client.client import RayClient
from ray_studio.client.errors import InvalidRequestError
from ray_studio.web.config import AppSettings, read_settings
from ray_studio.web.gradio_tweaks import app_built_at_launch
from ray_studio.web.http_guard import HttpGuard
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.record import data_dir
from ray_studio.web.share import ShareCards
from ray_studio.web.wiring import build_demo

log = logging.getLogger("ray_studio")
ASSETS = Path(__file__).with_name("assets")
CSS_FILES = ("page.css", "first_look.css")
JS_FILES = ("page.js", "first_look.js")  # first_look.js adds to page.js's window.rayStudio


def launch_options(settings: AppSettings, policy: SpendPolicy | None = None, demo: Any = None) -> dict[str, Any]:
    # Gradio's own sync work (file uploads, small events) runs on its thread pool; generations wait
    # on the job board without a thread. run_history off: Gradio would record every run's inputs,
    # the visitor's key among them, and offers to upload that record to a Hugging Face bucket.
    # Uvicorn would rewrite the client address from X-Forwarded-For for requests from 127.0.0.1;
    # identity.identify decides whom to trust (RAY_PROXY_HOPS, RAY_TRUSTED_PROXIES), so uvicorn trusts nobody.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    return {
        # Gradio runs at most max_threads queued events at once, whatever their concurrency limit: room
        # for every generation, a pick-up per visitor and the small events besides.
        "max_threads": 2 * settings.concurrency + 40,
        "css": "".join((ASSETS / name).read_text() for name in CSS_FILES),
        "head": "".join(f"<script>{(ASSETS / name).read_text()}</script>" for name in JS_FILES),
        "mcp_server": settings.mcp,
        "run_history": False,
        "max_file_size": settings.max_upload_bytes,
        "auth": list(settings.auth) or None,
        # Body sizes, the upload quota, and the MCP caller's address: see http_guard.
        # The owner's routes (/owner, owner.py) come first in the app Gradio makes, under the same guard.
        "app_kwargs": {
            "routes": list(getattr(demo, "ray_owner_routes", [])),
            "middleware": [
                Middleware(
                    HttpGuard,
                    proxies=(policy or SpendPolicy()).proxies,
                    max_upload=settings.max_upload_bytes,
                ),
                Middleware(ShareCards),  # Open Graph tags for a shared clip's link
            ],
        },
    }


def options_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run Ray Studio (a Gradio page for Luma Ray Flash 2).")
    parser.add_argument("--share", action="store_true", help="also serve on a public *.gradio.live link")
    parser.add_argument("--host", help="address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--mcp", action="store_true", help="also serve /generate and /variants as MCP tools (RAY_MCP)")
    return parser


def prepare(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[gr.Blocks, dict[str, Any]]:
    """The page and its launch options, from the settings; exits 2 on a bad setting. Gradio's app is
    built once, in launch(); PyAV and the app's Pillow code wait for their first use."""
    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        client_settings, settings, policy = read_settings()
        client = RayClient(client_settings)
    except InvalidRequestError as err:
        parser.exit(2, f"error: {err}\n")
    if args.mcp:
        settings = dataclasses.replace(settings, mcp=True)
    if settings.data_dir is None:  # the spend record lasts: /data on a Space with storage, else ./ray-data
        settings = dataclasses.replace(settings, data_dir=data_dir(None))
    if settings.mcp and importlib.util.find_spec("mcp") is None:
        parser.exit(2, 'error: MCP needs an extra package: pip install "gradio[mcp]"\n')
    if not client.settings.api_key:
        log.warning("SEGMIND_API_KEY is not set: visitors must paste their own key")
    with app_built_at_launch():
        demo = build_demo(client, settings, policy)
    return demo, launch_options(settings, policy, demo)


def main(argv: list[str] | None = None) -> None:
    parser = options_parser()
    args = parser.parse_args(argv)
    demo, options = prepare(parser, args)
    demo.launch(share=args.share or None, server_name=args.host, server_port=args.port, **options)


if __name__ == "__main__":
    main()
