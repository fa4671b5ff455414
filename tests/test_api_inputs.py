"""What the API endpoints accept: nothing is turned into a paid clip that the caller did not spell out."""

from __future__ import annotations

import pytest
import requests
from gradio_client import Client

from ray_studio.client.camera import CAMERA_MOVES

OTHER = ["", "", ""]  # start_image_url, end_image_url, api_key
NO_CAMERAS = [[]]  # /variants' cameras, after api_key


def call(app, endpoint: str, data: list) -> str:
    """One raw call of a named endpoint, as any HTTP client may send it; the event stream's text."""
    submitted = requests.post(f"{app.url}gradio_api/call/{endpoint}", json={"data": data}, timeout=10)
    event_id = submitted.json()["event_id"]
    with requests.get(f"{app.url}gradio_api/call/{endpoint}/{event_id}", stream=True, timeout=60) as events:
        return "\n".join(line.decode() for line in events.iter_lines())


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()


@pytest.mark.parametrize("prompts", [123, {"a": 1}, ["a", 2], None])
def test_variants_refuse_prompts_that_are_not_text_and_send_nothing(studio, upstream, prompts):
    text = call(studio, "variants", [prompts, ["16:9"], 5, False, *OTHER, *NO_CAMERAS])
    assert "event: error" in text
    assert upstream.received == []


@pytest.mark.parametrize("ratios", [["16:9", None], [None], ["2:1"]])
def test_variants_refuse_a_shape_that_is_not_an_aspect_ratio_and_send_nothing(studio, upstream, ratios):
    text = call(studio, "variants", ["a fox", ratios, 5, False, *OTHER, *NO_CAMERAS])
    assert "event: error" in text and "aspect" in text.lower()
    assert upstream.received == []


def test_variants_merge_repeated_shapes_and_wordings_so_each_clip_is_paid_once(studio, upstream):
    text = call(
        studio, "variants", [["a fox", "a fox"], ["16:9", "16:9", "16:9", "16:9"], 5, False, *OTHER, *NO_CAMERAS]
    )
    assert "event: complete" in text
    assert len(upstream.submissions) == 1


@pytest.mark.parametrize("duration", ["009", "05", "9.0s"])
def test_generate_refuses_a_duration_that_is_not_exactly_5_or_9(studio, upstream, duration):
    text = call(studio, "generate", ["a fox", "16:9", duration, False, *OTHER])
    assert "event: error" in text and "duration must be 5 or 9" in text.lower()
    assert upstream.received == []


def test_variants_make_one_clip_per_camera_move_with_its_words_in_the_prompt(studio, upstream):
    text = call(studio, "variants", ["a fox", ["16:9"], 5, False, *OTHER, ["push_in", "orbit-left"]])
    assert "event: complete" in text
    sent = sorted(s.body["prompt"] for s in upstream.submissions)
    assert sent == sorted(f"a fox. {CAMERA_MOVES[m]}" for m in ("push_in", "orbit_left"))


def test_variants_refuse_an_unknown_camera_move_naming_the_valid_ones_and_send_nothing(studio, upstream):
    text = call(studio, "variants", ["a fox", ["16:9"], 5, False, *OTHER, ["push_in", "sideways"]])
    assert "event: error" in text and "Unknown camera move" in text and "'sideways'" in text
    assert all(move in text for move in CAMERA_MOVES)
    assert upstream.received == []


@pytest.mark.parametrize("cameras", [[5], [None], {"move": "push_in"}, 7])
def test_variants_refuse_cameras_that_are_not_a_list_of_move_names_and_send_nothing(studio, upstream, cameras):
    text = call(studio, "variants", ["a fox", ["16:9"], 5, False, *OTHER, cameras])
    assert "event: error" in text and "camera move" in text
    assert upstream.received == []


def test_the_variants_api_lists_the_camera_moves_it_takes(studio):
    info = Client(studio.url, verbose=False).view_api(return_format="dict", print_info=False)
    params = {p["parameter_name"]: p for p in info["named_endpoints"]["/variants"]["parameters"]}
    assert params["cameras"]["type"]["items"]["enum"] == list(CAMERA_MOVES)
    assert params["cameras"]["parameter_default"] == []


def test_a_gradio_client_call_that_names_no_camera_moves_still_runs_the_variants(studio, upstream):
    clips, summary = Client(studio.url, verbose=False).predict(
        prompts="a fox", aspect_ratios=["16:9"], duration=5, loop=False, api_name="/variants"
    )
    assert len(clips) == 1 and summary.startswith("1 of 1 clips made")
    assert [s.body["prompt"] for s in upstream.submissions] == ["a fox"]
