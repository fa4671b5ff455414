"""What `python app.py` does before its first page view: no more than that view needs. Nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, free_port
from tests.test_layers import MEDIA_BACKENDS

# app.main up to launch(), then launch() on a free port; Gradio's app builds are counted throughout.
START = """
import json, sys, urllib.request
from gradio.routes import App
built = []
real = App.__dict__["create_app"].__func__
App.create_app = staticmethod(lambda *args, **kwargs: built.append(1) or real(*args, **kwargs))
import app
parser = app.options_parser()
demo, options = app.prepare(parser, parser.parse_args([]))
before_launch = {"built": len(built), "modules": sorted(sys.modules)}
demo.launch(prevent_thread_lock=True, server_port=int(sys.argv[1]), **options)
status = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=30).status
demo.close()
print(json.dumps({**before_launch, "built_in_all": len(built), "status": status}))
"""


def start_app() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_", "GRADIO_"))}
    env.update(SEGMIND_API_KEY="sk-start-up-test", GRADIO_ANALYTICS_ENABLED="False", GRADIO_SERVER_NAME="127.0.0.1")
    done = subprocess.run(
        [sys.executable, "-c", START, str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_starting_the_page_loads_no_pyav_nor_the_apps_pillow_code_nor_redis():
    started = start_app()
    loaded = set(started["modules"])
    # Gradio itself imports Pillow; the app's own Pillow and PyAV code waits for a keyframe or a joined
    # chain. limits imports its storage wrappers with it; the Redis client waits for a redis:// storage.
    assert {"av", "redis", *MEDIA_BACKENDS} & loaded == set()
    assert started["status"] == 200


def test_gradio_builds_the_pages_web_app_once_in_launch():
    started = start_app()
    assert started["built"] == 0
    assert started["built_in_all"] == 1
    assert started["status"] == 200
