"""Camera moves: Luma's concept names, each a phrase Ray follows, added to the prompt; several moves are
variants through the one expansion."""

from __future__ import annotations

import pytest

from ray_studio.client.camera import CAMERA_MOVES, UnknownCameraMoveError, camera_moves, caption, with_camera
from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.request import MAX_PROMPT_CHARS
from ray_studio.client.variants import TooManyVariantsError, plan_variants

LUMA_CONCEPTS = [
    "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down", "orbit_left", "orbit_right", "crane_up",
    "crane_down", "dolly_zoom", "truck_left", "truck_right", "handheld", "static", "aerial_drone", "low_angle",
    "overhead", "pov",
]  # fmt: skip


def test_every_luma_concept_the_issue_names_is_a_move():
    assert set(LUMA_CONCEPTS) <= set(CAMERA_MOVES)


def test_each_move_is_one_short_sentence():
    for name, phrase in CAMERA_MOVES.items():
        assert phrase[0].isupper() and phrase.endswith(".") and len(phrase) <= 120, name


def test_a_move_is_added_to_the_end_of_the_prompt_as_its_own_sentence():
    assert with_camera("a fox in the snow", "orbit_left") == (
        "a fox in the snow. The camera orbits left around the subject."
    )


def test_a_prompt_that_ends_a_sentence_gets_no_second_full_stop():
    assert with_camera("A fox in the snow!", "static").startswith("A fox in the snow! Static camera")


def test_no_move_leaves_the_prompt_as_it_is():
    assert with_camera("a fox", None) == "a fox"


def test_names_may_be_written_with_hyphens_or_capitals_and_repeats_merge():
    assert camera_moves(["Push-In", "push_in", "PAN LEFT"]) == ("push_in", "pan_left")


def test_an_unknown_move_is_refused_naming_it_and_every_valid_one():
    with pytest.raises(UnknownCameraMoveError) as refused:
        camera_moves(["orbit_left", "sideways"])
    message = str(refused.value)
    assert "unknown camera move 'sideways'" in message
    assert all(name in message for name in CAMERA_MOVES)
    assert "nothing was sent" in message


def test_a_caption_reads_the_move_as_words():
    assert (caption("orbit_left"), caption(None)) == ("orbit left", "no camera move")


def test_the_longest_phrase_leaves_room_in_a_prompt():
    longest = max(CAMERA_MOVES.values(), key=len)
    assert len(with_camera("x" * (MAX_PROMPT_CHARS - len(longest) - 2), "dolly_zoom")) <= MAX_PROMPT_CHARS


# --------------------------------------------------------------------------- the camera axis of variants


def test_several_moves_for_one_wording_are_one_variant_each_with_the_move_in_its_prompt():
    plan = plan_variants("a fox", ["16:9"], cameras=["orbit_left", "crane_up"])
    prompts = [request.prompt for request in plan.requests(5)]
    assert prompts == [with_camera("a fox", "orbit_left"), with_camera("a fox", "crane_up")]
    assert [c.camera for c in plan.combinations()] == ["orbit_left", "crane_up"]


def test_the_moves_multiply_the_count_and_are_named_among_its_factors():
    plan = plan_variants("a fox\nan owl", ["16:9"], cameras=["pan_left", "pan_right"])
    assert plan.count == 4 and plan.describe_count() == "4 variants (2 wordings × 1 shape × 2 camera moves)"


def test_one_move_is_no_factor_but_is_in_every_prompt():
    plan = plan_variants("a fox\nan owl", ["16:9", "1:1"], cameras=["static"])
    assert plan.describe_count() == "4 variants (2 wordings × 2 shapes)"
    assert all(r.prompt.endswith(CAMERA_MOVES["static"]) for r in plan.requests(5))


def test_moves_count_against_the_variants_limit():
    with pytest.raises(TooManyVariantsError, match=r"6 variants asked for .*3 camera moves"):
        plan_variants("a fox\nan owl", ["16:9"], cameras=["pan_left", "pan_right", "static"]).check(4)


def test_an_unknown_move_in_variants_is_its_own_error():
    with pytest.raises(UnknownCameraMoveError, match="sideways"):
        plan_variants("a fox", ["16:9"], cameras=["sideways"])


def test_an_unknown_move_is_named_with_the_other_problems():
    with pytest.raises(InvalidRequestError) as refused:
        plan_variants("a fox", ["2:1"], cameras=["sideways"])
    assert "aspect ratios" in str(refused.value) and "sideways" in str(refused.value)


def test_without_moves_the_plan_is_as_before():
    plan = plan_variants("a fox", ["16:9"])
    assert plan.cameras == (None,) and plan.requests(5)[0].prompt == "a fox"
