"""Variants: one expansion, so the count and cost shown are what is made and paid for."""

from __future__ import annotations

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.variants import TooManyVariantsError, plan_variants
from ray_studio.web.board import JobBoard
from ray_studio.web.page import variants_price
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import client_settings


def test_repeated_wordings_are_merged_so_the_count_is_what_is_made():
    plan = plan_variants("a fox\na fox\n  a fox  \n\nan owl", ["16:9", "9:16"])
    assert plan.wordings == ("a fox", "an owl")
    assert plan.count == len(plan.requests(5)) == 4


def test_repeated_shapes_are_merged():
    assert plan_variants("a fox", ["16:9", "16:9", " 16:9"]).ratios == ("16:9",)


def test_prompts_may_be_a_list_of_texts():
    assert plan_variants(["a fox", "an owl", "a fox"], "1:1").wordings == ("a fox", "an owl")


@pytest.mark.parametrize("prompts", [123, {"a": 1}, ["a", 2], None, b"a fox"])
def test_prompts_that_are_not_text_are_refused_not_turned_into_text(prompts):
    with pytest.raises(InvalidRequestError, match="prompts must be text"):
        plan_variants(prompts, ["16:9"])


@pytest.mark.parametrize("ratios", [["16:9", None], ["2:1"], [7], 16.9])
def test_a_shape_that_is_not_an_aspect_ratio_is_refused_not_dropped(ratios):
    with pytest.raises(InvalidRequestError, match="aspect"):
        plan_variants("a fox", ratios)


def test_no_shape_is_refused():
    with pytest.raises(InvalidRequestError, match="at least one aspect ratio"):
        plan_variants("a fox", [])


def test_loop_on_and_off_doubles_the_run():
    plan = plan_variants("a fox", ["16:9"], (False, True))
    assert [r.loop for r in plan.requests(5)] == [False, True]


def test_a_run_over_the_limit_names_the_count_its_factors_and_the_limit():
    plan = plan_variants("a\nb\nc", ["16:9", "9:16"])
    with pytest.raises(TooManyVariantsError) as err:
        plan.check(4)
    assert "6 variants asked for (3 wordings × 2 shapes); the limit is 4" in str(err.value)


def test_the_pages_count_line_counts_repeats_once(studio):
    line = variants_price(studio, "a fox\na fox\nan owl", ["16:9", "16:9", "9:16"], False, 5)
    assert "These 4 clips cost **$1.50**" in line


@pytest.fixture
def studio(tmp_path):
    client = RayClient(client_settings("http://127.0.0.1:9/v1", "owner-key-0123456789"))
    yield Studio(client, JobBoard(client, concurrency=1, threads=1), SpendGate(SpendPolicy()), tmp_path / "c")
    client.close()
