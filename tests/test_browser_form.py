"""The form a newcomer meets: it reads at once, refuses an empty prompt in the browser, works from the
keyboard, and waiting looks like waiting."""

from __future__ import annotations

import pytest

from tests.browser import VIDEO, open_page, wait_until_playing
from tests.conftest import ARTIFACTS
from tests.segmind_standin import Reply

pytestmark = pytest.mark.browser


def test_an_empty_prompt_is_refused_in_the_browser_with_nothing_sent(page, upstream):
    page.locator("#generate").click()
    page.locator("#prompt-empty", has_text="Write a prompt first").wait_for()
    page.wait_for_timeout(500)
    assert page.locator("#cancel").is_hidden()
    assert upstream.received == []


def test_a_keyframe_url_the_browser_could_not_load_blocks_generate_until_it_is_cleared(page, upstream):
    page.locator("#prompt textarea").fill("a fox with a broken start image")
    page.get_by_text("Keyframes: start and end images").click()
    page.locator("#start-image-url textarea, #start-image-url input").first.fill(
        upstream.root_url + "/not-an-image.jpg"
    )
    page.locator("#start-preview .keyframe-bad").wait_for()
    page.locator("#generate").click()
    page.locator("#prompt-empty", has_text="start image's address did not load as an image").wait_for()
    page.wait_for_timeout(300)
    assert upstream.submissions == []
    page.locator("#start-image-url textarea, #start-image-url input").first.fill("")
    page.locator("#start-preview .keyframe-bad").wait_for(state="detached")
    page.locator("#generate").click()
    wait_until_playing(page)
    assert len(upstream.submissions) == 1


def test_ctrl_enter_in_the_prompt_generates(page, upstream):
    page.locator("#prompt textarea").fill("a fox sent from the keyboard")
    page.locator("#prompt textarea").press("Control+Enter")
    wait_until_playing(page)
    assert upstream.submissions[-1].body["prompt"] == "a fox sent from the keyboard"


def test_generate_is_within_six_tab_stops_of_the_prompt_and_the_shapes_are_one_stop(page):
    page.locator("#prompt textarea").focus()
    for _stop in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "generate":
            break
    else:
        pytest.fail("Generate is more than 6 Tab stops after the prompt")


def test_arrow_keys_move_between_the_shapes(page):
    page.get_by_label("16:9", exact=True).focus()
    page.keyboard.press("ArrowRight")
    page.locator(".ratio-shape", has_text="9:21").wait_for()


@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)])
def test_generate_and_the_price_are_in_view_on_first_load(chromium, studio, width, height):
    context, page = open_page(chromium, studio.url, width=width, height=height)
    try:
        page.screenshot(path=str(ARTIFACTS / f"first-load-{width}x{height}.png"))
        for selector in ("#prompt", "#price", "#generate"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, selector
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"first-load-{width}x{height}.png"))
    finally:
        context.close()


def test_while_waiting_the_last_clip_stays_and_the_buttons_say_what_they_do(page, upstream):
    page.locator("#prompt textarea").fill("a first fox")
    page.locator("#generate").click()
    first = wait_until_playing(page)["src"]
    upstream.default = Reply(processing=3.0)
    page.locator("#prompt textarea").fill("a second fox")
    page.locator("#generate").click()
    page.locator("#cancel", has_text="Stop waiting").wait_for()
    assert page.evaluate(f"() => document.querySelector('{VIDEO}')?.src") == first
    grey = page.evaluate("() => getComputedStyle(document.querySelector('#generate')).backgroundColor")
    assert grey == "rgb(156, 163, 175)"
    page.wait_for_function(f"() => document.querySelector('{VIDEO}')?.src !== '{first}'", timeout=30_000)
