"""What the API endpoints accept: nothing is turned into a paid clip that the caller did not spell out."""

from __future__ import annotations

import pytest
import requests

OTHER = ["", "", ""]  # start_image_url, end_image_url, api_key


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
    text = call(studio, "variants", [prompts, ["16:9"], 5, False, *OTHER])
    assert "event: error" in text
    assert upstream.received == []


@pytest.mark.parametrize("ratios", [["16:9", None], [None], ["2:1"]])
def test_variants_refuse_a_shape_that_is_not_an_aspect_ratio_and_send_nothing(studio, upstream, ratios):
    text = call(studio, "variants", ["a fox", ratios, 5, False, *OTHER])
    assert "event: error" in text and "aspect" in text.lower()
    assert upstream.received == []


def test_variants_merge_repeated_shapes_and_wordings_so_each_clip_is_paid_once(studio, upstream):
    text = call(studio, "variants", [["a fox", "a fox"], ["16:9", "16:9", "16:9", "16:9"], 5, False, *OTHER])
    assert "event: complete" in text
    assert len(upstream.submissions) == 1


@pytest.mark.parametrize("duration", ["009", "05", "9.0s"])
def test_generate_refuses_a_duration_that_is_not_exactly_5_or_9(studio, upstream, duration):
    text = call(studio, "generate", ["a fox", "16:9", duration, False, *OTHER])
    assert "event: error" in text and "duration must be 5 or 9" in text.lower()
    assert upstream.received == []
