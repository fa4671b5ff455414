"""The app as API users and visitors reach it: a launched page, called through gradio_client."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from ray_studio.client.errors import PAGE_CANNOT, PASTE_YOUR_OWN, InvalidRequestError
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.words import EXAMPLES
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY, ROOT, free_port
from tests.segmind_standin import Reply, SegmindStandIn


@pytest.fixture(scope="module")
def api(studio):
    return Client(studio.url, verbose=False)


@pytest.fixture
def app_main(monkeypatch, capsys, tmp_path):
    """``app_main(*argv)``: ``python app.py ARGV`` in this process, for the ways it stops before serving
    (its help, a bad setting): the exit status, stdout and stderr."""

    def run(*argv: str) -> tuple[int, str, str]:
        before = set(os.environ)
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        try:
            with pytest.raises(SystemExit) as stop:
                app.main(list(argv))
        finally:
            for name in set(os.environ) - before:
                del os.environ[name]  # what load_dotenv added from a developer's .env
        stdout, stderr = capsys.readouterr()
        return stop.value.code or 0, stdout, stderr

    return run


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()
    yield


def generate(api: Client, prompt: str = "a fox in the snow", **params):
    return api.predict(prompt=prompt, **params, api_name="/generate")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------- the endpoint


def test_generate_returns_the_upstream_video_and_a_summary(api, upstream):
    video, summary = generate(api)
    assert Path(video).read_bytes() == upstream.video
    assert summary.startswith("16:9 · 5 s · ") and "$0.375" in summary


def test_a_visitor_on_the_pages_key_never_sees_the_owners_balance(api, upstream):
    _, summary = generate(api)
    assert "credits" not in summary and "billed to this page's key" in summary


def test_every_parameter_reaches_segmind_under_its_own_name(api, upstream):
    generate(
        api,
        "a kite",
        aspect_ratio="9:21",
        duration=9,
        loop=True,
        start_image_url="https://img.test/first.png",
        end_image_url="https://img.test/last.png",
    )
    assert upstream.received[-1].body == {
        "prompt": "a kite",
        "aspect_ratio": "9:21",
        "duration": 9,
        "loop": True,
        "start_image_url": "https://img.test/first.png",
        "end_image_url": "https://img.test/last.png",
    }


@pytest.mark.parametrize("ratio", ["1:1", "3:4", "4:3", "9:16", "21:9"])
def test_each_aspect_ratio_is_passed_through(api, upstream, ratio):
    generate(api, aspect_ratio=ratio)
    assert upstream.received[-1].body["aspect_ratio"] == ratio


def test_empty_keyframes_mean_none(api, upstream):
    generate(api, start_image_url="", end_image_url="")
    assert "start_image_url" not in upstream.received[-1].body


def test_the_api_schema_names_every_parameter_and_types_duration_as_a_number(studio):
    info = json.loads(fetch(studio.url + "gradio_api/info"))
    endpoint = info["named_endpoints"]["/generate"]
    params = {p["parameter_name"]: p for p in endpoint["parameters"]}
    assert list(params) == [
        "prompt",
        "aspect_ratio",
        "duration",
        "loop",
        "start_image_url",
        "end_image_url",
        "api_key",
    ]
    assert params["duration"]["type"]["type"] == "integer"
    assert params["duration"]["type"]["enum"] == [5, 9]


def test_only_generate_variants_enhance_and_allowance_are_in_the_api(studio):
    info = json.loads(fetch(studio.url + "gradio_api/info"))
    assert sorted(info["named_endpoints"]) == ["/allowance", "/enhance", "/generate", "/variants"]
    assert info["unnamed_endpoints"] == {}
    params = [p["parameter_name"] for p in info["named_endpoints"]["/variants"]["parameters"]]
    assert params == [
        "prompts", "aspect_ratios", "duration", "loop", "start_image_url", "end_image_url", "api_key", "cameras"
    ]  # fmt: skip


def test_a_visitor_key_is_used_for_that_request_only(api, upstream):
    with pytest.raises(AppError):
        generate(api, api_key="visitor-own-key")
    assert upstream.received[-1].headers["x-api-key"] == "visitor-own-key"
    generate(api)
    assert upstream.received[-1].headers["x-api-key"] == OWNER_KEY


# --------------------------------------------------------------------------- errors

# What a visitor on the page's key reads: advice they can follow, none meant for the owner.
ERROR_CASES = [
    (400, "Segmind rejected the request", "Check the prompt"),
    (401, PAGE_CANNOT, PASTE_YOUR_OWN),
    (403, PAGE_CANNOT, PASTE_YOUR_OWN),
    (404, "Model not found", "its owner needs to fix that"),
    (406, PAGE_CANNOT, PASTE_YOUR_OWN),
    (429, "Rate limited", "wait"),
    (500, "Segmind server error", "try again in a minute"),
    (502, "Segmind is temporarily unavailable", "Try again in a minute"),
    (504, "Segmind timed out", "5 s clip"),
]
OWNER_ONLY_WORDS = ["SEGMIND_", "RAY_", "127.0.0.1", "/tmp/", "--resume", ".env"]


@pytest.mark.parametrize("status, title, action", ERROR_CASES)
def test_each_api_error_arrives_as_its_own_clean_message_for_a_visitor(api, upstream, status, title, action):
    upstream.default = Reply(status=status, headers={"Retry-After": "60"} if status == 429 else {})
    with pytest.raises(AppError) as err:
        generate(api)
    assert err.value.title == title
    assert err.value.message.startswith(title) and action in err.value.message
    assert "Traceback" not in err.value.message and OWNER_KEY not in err.value.message
    for words in OWNER_ONLY_WORDS:
        assert words not in err.value.message


def test_a_visitor_with_their_own_key_is_told_to_check_it(api, upstream):
    with pytest.raises(AppError) as err:
        generate(api, api_key="SG_visitor_wrong_key_1234")
    assert err.value.title == "API key rejected" and "Check the key you pasted" in err.value.message
    assert "SG_visitor_wrong_key_1234"[:10] not in err.value.message


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"duration": 7}, "duration must be 5 or 9"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio must be one of"),
        ({"start_image_url": "cat.png"}, "start_image_url must be an absolute http"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(api, upstream, params, fragment):
    with pytest.raises(AppError) as err:
        generate(api, **params)
    assert err.value.title == "Invalid request" and fragment in err.value.message.lower()
    assert upstream.received == []


def test_a_download_that_keeps_failing_and_a_non_json_answer_are_explained(api, upstream):
    upstream.then(Reply(size=2_000_000, output_cuts=99), Reply(body=b"<html>oops</html>", content_type="text/html"))
    with pytest.raises(AppError) as cut:
        generate(api)
    with pytest.raises(AppError) as html:
        generate(api)
    assert cut.value.title == "Connection problem" and "reload the page to fetch it again" in cut.value.message
    assert len(upstream.submissions) == 2
    assert html.value.title == "Unexpected answer from Segmind"


def test_a_cut_download_is_fetched_again_without_paying_twice(api, upstream):
    upstream.then(Reply(size=2_000_000, output_cuts=2))
    video, _ = generate(api)
    assert Path(video).stat().st_size == 2_000_000 and len(upstream.submissions) == 1


def test_the_app_keeps_working_after_an_error(api, upstream):
    upstream.fail(500)
    with pytest.raises(AppError):
        generate(api)
    video, _ = generate(api)
    assert Path(video).exists()


# --------------------------------------------------------------------------- the key stays secret


def test_the_owner_key_never_reaches_a_browser(studio, api, upstream):
    pages = [fetch(studio.url), fetch(studio.url + "config"), fetch(studio.url + "gradio_api/info")]
    upstream.fail(400, f"bad request for key {OWNER_KEY}")
    with pytest.raises(AppError) as err:
        generate(api)
    _, summary = generate(api)
    for text in [*pages, err.value.message, err.value.title, summary]:
        assert OWNER_KEY not in text


def test_run_history_is_off_so_no_visitor_key_is_recorded_anywhere(studio):
    assert json.loads(fetch(studio.url + "config"))["run_history"] is False


def test_clips_are_served_from_their_own_folder_apart_from_uploads_without_a_copy(studio, api, upstream):
    video, _ = generate(api)
    clips = list(studio.clips.rglob("*.mp4"))
    assert clips and all(p.read_bytes()[: len(upstream.video)] == upstream.video for p in clips)
    assert not studio.clips.is_relative_to(studio.cache_dir) and list(studio.cache_dir.rglob("*.mp4")) == []
    assert Path(video).name in {p.name for p in clips}


def test_old_clips_are_cleaned_up_on_a_schedule(studio):
    assert studio.demo.delete_cache == (app.AppSettings.cleanup_every, app.AppSettings.clip_max_age)


def test_a_visitors_session_starts_without_a_copy_of_every_blocks_config(studio, api):
    from gradio.state_holder import SessionState

    session = SessionState(studio.demo)
    assert session.config_values == {}
    assert len(studio.demo.blocks) > 50  # what each API call would otherwise copy
    state = next(k for k, b in studio.demo.blocks.items() if getattr(b, "stateful", False))
    assert state in session.blocks_config.blocks  # a session still reads and writes its own state
    session[state] = ["kept"]
    assert session[state] == ["kept"]
    assert generate(api)[0]  # and the API works with such sessions


def test_a_visitors_session_builds_no_config_for_the_values_a_call_carries(studio):
    from gradio.state_holder import SessionState

    session = SessionState(studio.demo)
    prompt = next(k for k, b in studio.demo.blocks.items() if getattr(b, "elem_id", None) == "prompt")
    session[prompt] = studio.demo.blocks[prompt]
    session._update_value_in_config(prompt, "a fox")  # what Gradio does for each input and output of a call
    assert session.config_values == {} and list(session.components) == []
    assert session[prompt] is studio.demo.blocks[prompt]


# --------------------------------------------------------------------------- many visitors


def test_generations_of_many_visitors_run_at_once(studio, upstream):
    # More than asyncio's default executor holds on a small machine (min(32, cores + 4)).
    visitors = 12
    upstream.default = Reply(latency=60)  # each submission waits at Segmind until all twelve are there
    clients = [Client(studio.url, verbose=False) for _ in range(visitors)]
    with ThreadPoolExecutor(visitors) as pool:
        made = [pool.submit(generate, c) for c in clients]
        try:
            deadline = time.monotonic() + 30  # generous for a busy machine; held back, they never all arrive
            while upstream.in_flight < visitors and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            upstream.advance(60)
        results = [m.result() for m in made]
    assert len(results) == visitors
    assert upstream.max_in_flight == visitors


@pytest.mark.slow
def test_no_more_generations_run_at_once_than_the_concurrency_setting(upstream, tmp_path):
    upstream.default = Reply(latency=1.0)
    with running_app(upstream.base_url, OWNER_KEY, app.AppSettings(concurrency=2), temp_dir=str(tmp_path)) as running:
        clients = [Client(running.url, verbose=False) for _ in range(4)]
        with ThreadPoolExecutor(len(clients)) as pool:
            list(pool.map(generate, clients))
    assert upstream.max_in_flight == 2 and len(upstream.received) == 4


def test_queue_settings_come_from_the_environment():
    settings = app.AppSettings.from_env({"RAY_CONCURRENCY": "8", "RAY_QUEUE_SIZE": "20", "RAY_MCP": "true"})
    assert (settings.concurrency, settings.queue_size, settings.mcp) == (8, 20, True)


@pytest.mark.parametrize("value", ["0", "many", "-3", "²", "1e3", "3.5"])
def test_a_bad_queue_setting_is_named(value):
    with pytest.raises(InvalidRequestError, match="RAY_CONCURRENCY"):
        app.AppSettings.from_env({"RAY_CONCURRENCY": value})


# --------------------------------------------------------------------------- MCP


def test_with_mcp_on_an_agent_can_list_and_call_generate(upstream, tmp_path):
    pytest.importorskip("mcp", reason="pip install -r requirements-test.txt")
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def as_an_agent(url: str):
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            tools = (await s.list_tools()).tools
            made = await s.call_tool("generate", {"prompt": "a kite", "aspect_ratio": "9:16", "duration": 9})
            refused = await s.call_tool("generate", {"prompt": "  "})
            return tools, made, refused

    with running_app(upstream.base_url, OWNER_KEY, app.AppSettings(mcp=True), temp_dir=str(tmp_path)) as running:
        tools, made, refused = asyncio.run(as_an_agent(running.url))
    assert sorted(t.name for t in tools) == ["allowance", "enhance", "generate", "variants"]
    tools = [t for t in tools if t.name == "generate"]
    assert set(tools[0].inputSchema["properties"]) == {
        "prompt", "aspect_ratio", "duration", "loop", "start_image_url", "end_image_url", "api_key",
    }  # fmt: skip
    text = " ".join(getattr(c, "text", "") for c in made.content)
    assert not made.isError and "gradio_api/file=" in text and "9:16 · 9 s" in text
    assert upstream.received[-1].body["duration"] == 9
    assert refused.isError and "prompt is empty" in refused.content[0].text.lower()
    assert OWNER_KEY not in repr(tools) + text


def test_mcp_is_off_by_default(studio):
    with pytest.raises(urllib.error.HTTPError):
        fetch(studio.url + "gradio_api/mcp/schema")


# --------------------------------------------------------------------------- without a server key


@pytest.fixture(scope="module")
def keyless(upstream, tmp_path_factory):
    with running_app(upstream.base_url, None, temp_dir=str(tmp_path_factory.mktemp("gradio-keyless"))) as running:
        yield running


def test_without_any_key_the_page_loads_and_says_how_to_get_one(keyless):
    page = fetch(keyless.url + "config")
    assert "no Segmind key of its own" in page and "cloud.segmind.com/console/api-keys" in page


def test_without_any_key_generate_says_how_to_set_one(keyless, upstream):
    with pytest.raises(AppError) as err:
        generate(Client(keyless.url, verbose=False))
    assert err.value.title == "No API key" and "paste yours under 'Your Segmind API key'" in err.value.message
    assert "SEGMIND_API_KEY" not in err.value.message
    assert upstream.received == []


def test_without_a_server_key_a_visitor_key_works(keyless, upstream):
    video, _ = generate(Client(keyless.url, verbose=False), api_key=OWNER_KEY)
    assert Path(video).read_bytes() == upstream.video


# --------------------------------------------------------------------------- python app.py


@pytest.mark.slow
def test_python_app_py_serves_the_page_on_gradios_port_setting(upstream, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_TEMP_DIR": str(tmp_path),
        "SEGMIND_API_KEY": OWNER_KEY,
        "SEGMIND_BASE_URL": upstream.base_url,
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = fetch(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "app.py did not start within 60 s"
                time.sleep(0.2)
        assert "Ray Studio" in page and OWNER_KEY not in page
        video, _ = generate(Client(f"http://127.0.0.1:{port}/", verbose=False))
        assert Path(video).exists()
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert OWNER_KEY not in output


@pytest.mark.slow
def test_python_app_py_refuses_a_bad_setting_with_exit_2(tmp_path):
    env = {**os.environ, "RAY_QUEUE_SIZE": "lots"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "RAY_QUEUE_SIZE must be a whole number" in proc.stderr


def test_python_app_py_help_lists_its_options(app_main):
    status, stdout, _ = app_main("--help")
    assert status == 0
    for option in ("--share", "--host", "--port", "--mcp"):
        assert option in stdout


def test_examples_cover_ratios_durations_loop_and_a_keyframe():
    ratios = {e[1] for e in EXAMPLES}
    assert len(ratios) >= 4 and {e[2] for e in EXAMPLES} == {5, 9}
    assert any(e[3] for e in EXAMPLES) and any(e[4] for e in EXAMPLES)


def test_examples_are_never_generated_at_start_up(tmp_path):
    with (
        SegmindStandIn(api_key=OWNER_KEY) as fresh,
        running_app(fresh.base_url, OWNER_KEY, temp_dir=str(tmp_path)) as running,
    ):
        fetch(running.url)
        fetch(running.url + "config")
        assert fresh.received == []


# --------------------------------------------------------------------------- variants, names, sidecars


def variants(api: Client, prompts: str, ratios: list[str], **params):
    return api.predict(prompts=prompts, aspect_ratios=ratios, **params, api_name="/variants")


def test_variants_send_every_wording_in_every_shape(api, upstream):
    clips, summary = variants(api, "a lighthouse at dusk\na lighthouse in a storm", ["16:9", "9:16"], duration=9)
    sent = sorted((s.body["prompt"], s.body["aspect_ratio"], s.body["duration"]) for s in upstream.submissions)
    assert sent == sorted(
        (p, r, 9) for p in ("a lighthouse at dusk", "a lighthouse in a storm") for r in ("16:9", "9:16")
    )
    assert len(clips) == 4 and summary.startswith("4 of 4 clips made · $2.70")
    captions = sorted(c["caption"] for c in clips)
    assert "“a lighthouse in a storm” · 9:16" in captions


def test_variants_run_at_once(api, upstream):
    upstream.default = Reply(processing=1.0)
    variants(api, "a fox\na hare", ["1:1", "21:9"])
    first_done = min(job.finished_at for job in upstream.jobs.values())
    assert len(upstream.submissions) == 4
    assert all(s.at < first_done for s in upstream.submissions)  # all four were queued before any finished


def test_more_variants_than_the_cap_are_refused_naming_both_numbers_before_any_call(api, upstream):
    with pytest.raises(AppError) as err:
        variants(api, "one\ntwo\nthree", ["16:9", "9:16"])
    assert "6 variants asked for" in err.value.message and "the limit is 4" in err.value.message
    assert upstream.received == []


def test_a_clip_is_named_after_its_prompt_and_settings(api):
    video, _ = generate(api, "Lighthouse at dusk!", aspect_ratio="16:9", duration=5)
    assert Path(video).name == "lighthouse-at-dusk_16x9_5s.mp4"
    video, _ = generate(api, "Lighthouse at dusk!", aspect_ratio="9:16", duration=9, loop=True)
    assert Path(video).name == "lighthouse-at-dusk_9x16_9s_loop.mp4"


def test_with_a_save_dir_every_clip_is_kept_with_a_sidecar_to_make_it_again(upstream, tmp_path):
    keep = tmp_path / "kept"
    settings = app.AppSettings(save_dir=keep)
    with running_app(upstream.base_url, OWNER_KEY, settings, temp_dir=str(tmp_path / "gradio")) as running:
        generate(Client(running.url, verbose=False), "a lighthouse at dusk", aspect_ratio="9:16",
                 start_image_url="https://img.test/a.png")  # fmt: skip
        deadline = time.monotonic() + 10
        while not list(keep.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    (sidecar,) = keep.glob("*.json")
    data = json.loads(sidecar.read_text())
    assert (keep / "a-lighthouse-at-dusk_9x16_5s.mp4").read_bytes() == upstream.video
    assert sidecar.name == "a-lighthouse-at-dusk_9x16_5s.json"
    assert data["prompt"] == "a lighthouse at dusk" and data["aspect_ratio"] == "9:16"
    assert data["start_image_url"] == "https://img.test/a.png" and data["model"] == "ray-flash-2-720p"
    assert data["job_id"] == next(iter(upstream.jobs)) and data["cost_usd"] == 0.375
    assert OWNER_KEY not in sidecar.read_text()


# --------------------------------------------------------------------------- settings and odd calls


def test_every_setting_the_code_reads_is_in_env_example_and_the_readme():
    code = "".join(p.read_text() for p in [*ROOT.glob("*.py"), *ROOT.glob("ray_studio/**/*.py")])
    names = set(re.findall(r'"((?:RAY|SEGMIND)_[A-Z_]+)"', code))
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    assert len(names) > 25
    assert sorted(n for n in names if n not in example) == []
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


def test_env_example_as_it_is_gives_working_settings():
    from dotenv import dotenv_values

    from ray_studio.web.config import read_settings

    env = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    client_settings, settings, policy = read_settings(env)
    assert settings == app.AppSettings()
    assert (policy.daily_budget, policy.visitor_limits, policy.in_flight_per_visitor) == (
        10.0,
        "4 per 10 minutes; 12 per day",
        1,
    )
    assert client_settings.api_mode == "async"


def test_a_call_with_fewer_inputs_than_the_endpoint_takes_is_told_which(studio, upstream):
    import requests

    submitted = requests.post(f"{studio.url}gradio_api/call/generate", json={"data": ["a fox"]}, timeout=10)
    event_id = submitted.json()["event_id"]
    with requests.get(f"{studio.url}gradio_api/call/generate/{event_id}", stream=True, timeout=30) as events:
        text = "\n".join(line.decode() for line in events.iter_lines())
    assert "event: error" in text and "This endpoint takes 7 inputs" in text and "the call sent 1" in text
    assert "null" not in text.split("event: error", 1)[1]
    assert upstream.received == []


@pytest.mark.parametrize(
    "name, value",
    [("RAY_QUEUE_SIZE", "²"), ("RAY_DAILY_BUDGET", "lots"), ("RAY_VISITOR_LIMITS", "many per hour"),
     ("SEGMIND_READ_TIMEOUT", "nan"), ("RAY_AUTH", "alice")],
)  # fmt: skip
def test_python_app_py_refuses_a_bad_setting_with_exit_2_naming_it(app_main, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    status, _, stderr = app_main()
    assert status == 2 and name in stderr and "Traceback" not in stderr


def test_with_ray_auth_the_page_and_the_api_need_a_login_and_limits_follow_the_user(upstream, tmp_path):
    from ray_studio.web.policy import SpendPolicy

    settings = app.AppSettings(auth=(("alice", "wonderland"),))
    policy = SpendPolicy(visitor_limits="1 per minute", daily_budget=None, in_flight_per_visitor=5)
    with running_app(upstream.base_url, OWNER_KEY, settings, temp_dir=str(tmp_path), policy=policy) as running:
        with pytest.raises(Exception):  # noqa: B017  (gradio_client's error for a page behind a login)
            Client(running.url, verbose=False)
        alice = Client(running.url, auth=("alice", "wonderland"), verbose=False)
        generate(alice)
        with pytest.raises(AppError) as refused:
            generate(alice)
    assert "Limit reached" in refused.value.title and len(upstream.submissions) == 1


# --------------------------------------------------------------------------- money and secrets, end to end


def test_a_submission_dropped_after_segmind_read_it_is_not_sent_again_and_the_visitor_is_told(api, upstream):
    upstream.then(Reply(drop=True))
    with pytest.raises(AppError) as err:
        generate(api)
    assert len(upstream.submissions) == 1
    assert err.value.title == "Connection problem" and "may have reached Segmind and been billed" in err.value.message


def test_a_visitors_own_key_reaches_no_log_line_when_their_clip_fails(api, upstream, caplog):
    visitor_key = "SG_visitor_not_for_the_log_5d2e9a71"
    with caplog.at_level(logging.DEBUG), pytest.raises(AppError):
        generate(api, api_key=visitor_key)  # the stand-in knows only the owner's key: 401
    lines = [r.getMessage().lower() for r in caplog.records]
    assert any("failed" in line for line in lines)  # the failure was logged
    pieces = {visitor_key[i : i + 8].lower() for i in range(len(visitor_key) - 7)}
    assert not [p for p in pieces for line in lines if p in line]


def test_a_log_line_quoting_the_pages_key_is_hidden_whoever_writes_it(upstream, tmp_path, caplog):
    with caplog.at_level(logging.INFO), running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path)):
        logging.getLogger("some.library").warning("request headers: x-api-key=%s", OWNER_KEY.upper())
    (line,) = [r.getMessage() for r in caplog.records if r.name == "some.library"]
    assert "[key hidden]" in line and OWNER_KEY[4:20].lower() not in line.lower()


def test_a_set_of_variants_is_charged_to_the_day_budget_clip_by_clip(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=0.75, in_flight_per_visitor=5)  # two 5 s clips
    launched = running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy)
    with launched as running, pytest.raises(AppError) as refused:
        variants(Client(running.url, verbose=False), "a fox", ["16:9", "9:16", "1:1"], duration=5)
    assert refused.value.title == "Daily budget spent" and upstream.submissions == []


def test_a_clip_that_failed_with_a_server_error_stays_counted_against_the_budget(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=0.375, in_flight_per_visitor=5)  # one 5 s clip
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        api = Client(running.url, verbose=False)
        upstream.fail(500)  # Segmind may have started (and billed) it
        with pytest.raises(AppError):
            generate(api)
        with pytest.raises(AppError) as refused:
            generate(api)
    assert refused.value.title == "Daily budget spent" and len(upstream.submissions) == 1


def test_after_a_clip_is_made_the_same_visitor_may_start_the_next(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=1)
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        api = Client(running.url, verbose=False)
        first, _ = generate(api)
        second, _ = generate(api)
    assert Path(first).exists() and Path(second).exists() and len(upstream.submissions) == 2


def test_a_set_of_variants_holds_the_visitors_slot_until_its_last_clip_has_ended(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=1)
    upstream.then(Reply(), Reply(processing=600))
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        api = Client(running.url, verbose=False)
        running_set = api.submit(prompts="a fox", aspect_ratios=["16:9", "9:16"], api_name="/variants")
        for _ in range(2400):  # until the quick clip is saved; the other one is still being made
            if list(running.clips.glob("*/*.mp4")):
                break
            time.sleep(0.05)
        with pytest.raises(AppError) as refused:
            generate(api)
        for job in upstream.jobs.values():
            job.submitted_at -= 600  # let the long clip finish
        clips, _ = running_set.result(timeout=60)
    assert refused.value.title == "One clip at a time" and len(clips) == 2 and len(upstream.submissions) == 2


def test_a_forged_x_forwarded_for_does_not_make_a_caller_a_new_visitor(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="1 per day", daily_budget=None, in_flight_per_visitor=5)  # RAY_PROXY_HOPS=0
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        generate(Client(running.url, verbose=False, headers={"X-Forwarded-For": "203.0.113.7"}))
        with pytest.raises(AppError) as refused:
            generate(Client(running.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.9"}))
    assert refused.value.title == "Limit reached" and len(upstream.submissions) == 1


def test_on_own_keys_only_a_key_of_spaces_is_no_key_and_nothing_is_sent(upstream, tmp_path):
    policy = SpendPolicy(own_key_only=True)
    launched = running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy)
    with launched as running, pytest.raises(AppError) as err:
        generate(Client(running.url, verbose=False), api_key="   ")
    assert err.value.title == "Your own key needed" and upstream.received == []


def test_a_clip_folder_without_room_is_refused_before_anything_is_sent(upstream, tmp_path):
    launched = running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), min_free_bytes=10**18)
    with launched as running, pytest.raises(AppError) as err:
        generate(Client(running.url, verbose=False))
    assert err.value.title == "Cannot save the video there" and upstream.received == []
