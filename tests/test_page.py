"""The page's API as gr.api serves it, and what the owner's log shows of visitors' mistakes and of bugs."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from tests.visitor_http import Caller


@pytest.fixture(scope="module")
def api(studio):
    return Client(studio.url, verbose=False)


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()
    yield


def api_info(studio) -> dict:
    with urllib.request.urlopen(studio.url + "gradio_api/info", timeout=10) as response:
        return json.loads(response.read())["named_endpoints"]


def page_of(studio):
    """The Page whose handlers the launched app runs (to break one of them on purpose)."""
    return next(fn.fn.__self__ for fn in studio.demo.fns.values() if fn.name == "continue_from")


# --------------------------------------------------------------------------- the API


def test_the_schema_says_generate_returns_a_file_and_a_summary_and_variants_a_list_of_captioned_videos(studio):
    endpoints = api_info(studio)
    generate = [(r["label"], r["python_type"]["type"]) for r in endpoints["/generate"]["returns"]]
    variants = [(r["label"], r["python_type"]["type"]) for r in endpoints["/variants"]["returns"]]
    assert generate == [("clip", "filepath"), ("summary", "str")]
    assert variants == [("clips", "list[dict(video: filepath, caption: None | str)]"), ("summary", "str")]


def test_the_schema_types_the_shapes_as_the_ones_segmind_takes(studio):
    endpoints = api_info(studio)
    (ratio,) = [p for p in endpoints["/generate"]["parameters"] if p["parameter_name"] == "aspect_ratio"]
    (ratios,) = [p for p in endpoints["/variants"]["parameters"] if p["parameter_name"] == "aspect_ratios"]
    assert ratio["type"] == {"enum": ["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"], "type": "string"}
    assert ratios["type"]["items"] == ratio["type"] and ratios["parameter_default"] == ["16:9", "9:16"]


def test_each_variant_arrives_downloaded_with_its_caption(api, upstream):
    clips, summary = api.predict(prompts="a fox\na hare", aspect_ratios=["1:1"], api_name="/variants")
    assert sorted(c["caption"] for c in clips) == ["“a fox”", "“a hare”"]
    assert all(Path(c["video"]).read_bytes() == upstream.video for c in clips)
    assert summary.startswith("2 of 2 clips made")


def test_a_caller_who_leaves_out_the_shapes_gets_the_pages_two(api, upstream):
    clips, _ = api.predict(prompts="a fox", api_name="/variants")
    assert sorted(s.body["aspect_ratio"] for s in upstream.submissions) == ["16:9", "9:16"] and len(clips) == 2


def test_a_call_with_missing_inputs_is_told_their_names_and_the_log_gets_one_line(studio, upstream, caplog):
    caller = Caller(studio.url)
    with caplog.at_level(logging.INFO, logger="ray_studio"):
        outcome = caller.result("generate", caller.call("generate", ["a fox", "16:9"]))
    names = "prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key"
    assert outcome.title == "Invalid request" and f"takes 7 inputs ({names}); the call sent 2" in outcome.message
    assert [r.getMessage() for r in caplog.records if r.name == "ray_studio"] == [
        "refused a call with 2 of the 7 inputs it takes"
    ]
    assert upstream.received == []


# --------------------------------------------------------------------------- the owner's log


def test_a_visitors_mistake_is_logged_in_one_line_without_a_traceback(studio, capfd, caplog):
    visitor = Caller(studio.url)
    with caplog.at_level(logging.INFO, logger="ray_studio"):
        refused = visitor.join_and_wait(visitor.fn_index("continue_from"), [None, ""])
        empty = visitor.generate("   ")
    assert "Nothing to continue" in refused.text and empty.title == "Invalid request"  # the page's: in its status line
    told = [r for r in caplog.records if r.name == "ray_studio" and r.getMessage().startswith("told a visitor")]
    assert [r.getMessage() for r in told] == [
        "told a visitor: Nothing to continue (NothingToContinueError)",
        "told a visitor: Invalid request (InvalidRequestError)",
    ]
    assert all(r.exc_info is None for r in told)
    assert "Traceback" not in capfd.readouterr().err


def test_a_bug_in_a_handler_keeps_its_traceback(studio, capfd, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("a bug in join_chain")

    monkeypatch.setattr(page_of(studio).studio, "join_chain", broken)
    visitor = Caller(studio.url)
    outcome = visitor.join_and_wait(visitor.fn_index("join"), [[], None, ""])
    err = capfd.readouterr().err
    assert outcome.kind == "error" and "Traceback" in err and "RuntimeError: a bug in join_chain" in err
