"""VideoRequest: every problem is named before anything is sent."""

from __future__ import annotations

import pytest

from ray_client import ASPECT_RATIOS, MAX_PROMPT_CHARS, InvalidRequestError, VideoRequest


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_every_documented_aspect_ratio_is_accepted(ratio):
    assert VideoRequest("a fox", aspect_ratio=ratio).aspect_ratio == ratio


@pytest.mark.parametrize("duration", [5, 9, "9", 9.0])
def test_duration_accepts_5_or_9_in_any_spelling_a_form_sends(duration):
    assert VideoRequest("a fox", duration=duration).duration == int(float(duration))


def test_defaults_match_segmind():
    request = VideoRequest("a fox")
    assert request.to_payload() == {"prompt": "a fox", "aspect_ratio": "16:9", "duration": 5, "loop": False}


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_refused(prompt):
    with pytest.raises(InvalidRequestError, match="prompt is empty"):
        VideoRequest(prompt)


def test_overlong_prompt_is_refused_with_its_length_and_the_limit():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("x" * (MAX_PROMPT_CHARS + 1))
    assert f"{MAX_PROMPT_CHARS + 1} characters" in str(err.value)
    assert str(MAX_PROMPT_CHARS) in str(err.value)


def test_prompt_is_trimmed():
    assert VideoRequest("  a fox  \n").prompt == "a fox"


def test_non_text_prompt_is_refused():
    with pytest.raises(InvalidRequestError, match="prompt must be text"):
        VideoRequest(None)  # type: ignore[arg-type]


def test_unknown_aspect_ratio_is_refused_listing_the_allowed_ones():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("a fox", aspect_ratio="2:1")
    assert "'2:1'" in str(err.value) and "21:9" in str(err.value)


@pytest.mark.parametrize("duration", [7, 0, "five", 5.5, True, None])
def test_other_durations_are_refused(duration):
    with pytest.raises(InvalidRequestError, match="duration must be 5 or 9"):
        VideoRequest("a fox", duration=duration)


@pytest.mark.parametrize("loop, expected", [(True, True), (False, False), ("true", True), ("False", False)])
def test_loop_accepts_booleans_and_their_spellings(loop, expected):
    assert VideoRequest("a fox", loop=loop).loop is expected


@pytest.mark.parametrize("loop", ["yes", 1, None])
def test_loop_refuses_anything_else(loop):
    with pytest.raises(InvalidRequestError, match="loop must be true or false"):
        VideoRequest("a fox", loop=loop)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("/images/cat.png", "absolute http"),
        ("ftp://example.com/cat.png", "absolute http"),
        ("cat.png", "absolute http"),
        ("https://", "absolute http"),
        ("https://example.com/my cat.png", "contains spaces"),
        ("https://example.com/" + "a" * 3000, "limit is 2048"),
    ],
)
def test_keyframe_must_be_an_absolute_http_url(url, fragment):
    with pytest.raises(InvalidRequestError, match=fragment) as err:
        VideoRequest("a fox", start_image_url=url)
    assert "start_image_url" in str(err.value)


def test_empty_keyframe_means_none():
    request = VideoRequest("a fox", start_image_url="", end_image_url="  ")
    assert request.start_image_url is None and request.end_image_url is None
    assert "start_image_url" not in request.to_payload()


def test_keyframes_are_sent_when_set():
    request = VideoRequest("a fox", start_image_url="https://x.test/a.png", end_image_url="http://x.test/b.jpg")
    payload = request.to_payload()
    assert payload["start_image_url"] == "https://x.test/a.png"
    assert payload["end_image_url"] == "http://x.test/b.jpg"


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("", aspect_ratio="5:4", duration=6, end_image_url="nope")
    assert len(err.value.problems) == 4
    for name in ("prompt", "aspect_ratio", "duration", "end_image_url"):
        assert name in str(err.value)


def test_describe_summarises_the_parameters():
    request = VideoRequest("a fox", aspect_ratio="9:16", duration=9, loop=True, start_image_url="https://x.test/a.png")
    assert request.describe() == "9:16 · 9 s · loop · start keyframe"
