"""Prompt craft in headless Chromium: Enhance beside the prompt, the camera move picker, a bridge between two clips."""

from __future__ import annotations

import pytest

from ray_studio.client import media
from ray_studio.client.camera import CAMERA_MOVES
from ray_studio.client.wording import format_usd
from tests.browser import make_clip, open_page, wait_until_playing
from tests.conftest import ARTIFACTS
from tests.segmind_standin import Reply

pytestmark = pytest.mark.browser

CARDS = "#history .history-card"
PROMPT = "#prompt textarea"
REWRITE = "A red fox trots through fresh snow at dawn, the camera tracking low beside it, soft golden light."


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context, page = open_page(chromium, studio.url, width=1366)
    yield page
    context.close()


def test_enhance_shows_a_suggestion_beside_the_prompt_and_use_it_then_generate_sends_it(page, upstream):
    upstream.then_chat(Reply(text=REWRITE))
    page.locator(PROMPT).fill("a fox in the snow")
    page.locator("#enhance").click()
    page.locator("#enhance-text textarea").wait_for()
    page.wait_for_function(f"() => document.querySelector('#enhance-text textarea').value === {REWRITE!r}")
    assert page.locator("#enhance-original textarea").input_value() == "a fox in the snow"
    assert page.locator(PROMPT).input_value() == "a fox in the snow"  # nothing changed until "Use it"
    page.screenshot(path=str(ARTIFACTS / "craft-enhance-1366.png"), full_page=False)
    assert upstream.submissions == []
    page.locator("#enhance-use").click()
    page.wait_for_function(f"() => document.querySelector('#prompt textarea').value === {REWRITE!r}")
    assert upstream.submissions == []  # nothing generated until Generate
    page.locator("#generate").click()
    wait_until_playing(page)
    page.locator(CARDS, has_text="A red fox trots").wait_for()
    assert upstream.submissions[-1].body["prompt"] == REWRITE
    page.locator("#enhance-undo").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a fox in the snow'")


def test_the_enhance_buttons_tooltip_gives_its_price_on_the_pages_key(page, studio):
    price = format_usd(studio.client.settings.enhance_price)
    page.wait_for_function("() => document.querySelector('#enhance')?.title")
    assert page.locator("#enhance").get_attribute("title") == f"Enhance costs {price} on this page's key"


def test_a_camera_pick_adds_its_words_to_the_prompt_and_sends_nothing(page, upstream):
    page.locator(PROMPT).fill("a red kite over dunes")
    page.get_by_text("Camera moves and phrases Ray responds to").click()  # under the prompt, closed at first
    page.locator("#camera-move input").click()
    page.get_by_role("option", name="orbit left", exact=True).click()
    expected = f"a red kite over dunes. {CAMERA_MOVES['orbit_left']}"
    page.wait_for_function(f"() => document.querySelector('#prompt textarea').value === {expected!r}")
    assert upstream.received == []


def test_a_bridge_from_two_clips_starts_on_the_first_s_last_frame_and_ends_on_the_second_s_first(
    page, studio, upstream
):
    make_clip(page, "a fox on a hill")
    make_clip(page, "a fox by a river")
    page.get_by_text("Bridge two of your clips").click()
    page.locator("#bridge-from input").click()
    page.get_by_role("option", name="a fox on a hill").first.click()
    page.locator("#bridge-to input").click()
    page.get_by_role("option", name="a fox by a river").first.click()
    page.locator("#bridge").click()
    page.locator("#clip-status", has_text="Bridging").wait_for(timeout=20_000)
    sample = studio.clips.parent / "sample.mp4"
    sample.write_bytes(upstream.video)
    (start, _), (end, _) = upstream.uploads[-2:]
    assert start == media.last_frame(sample).data and end == media.first_frame(sample).data
    page.locator(PROMPT).fill("the fox walks down to the river")
    page.locator("#generate").click()
    page.locator("#clip-status", has_text="Done").wait_for(timeout=30_000)
    page.locator(CARDS, has_text="walks down to the river").locator("video").wait_for(timeout=30_000)
    sent = upstream.submissions[-1].body
    assert sent["start_image_url"] and sent["end_image_url"]
    page.locator("#join", has_text="chain of 3 clips").click()
    page.locator("#chain-file a").first.wait_for(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "craft-bridge-1366.png"), full_page=False)


def test_a_cards_lead_in_makes_a_clip_that_ends_on_that_clips_first_frame(page, studio, upstream):
    make_clip(page, "a heron lands on a post")
    make_clip(page, "a kingfisher dives")  # the player now holds this one; the card below is the heron's
    heron = page.locator(CARDS, has_text="a heron lands on a post")
    heron_id = heron.get_attribute("data-id")
    heron.locator(".card-lead-in").click()
    page.locator("#clip-status", has_text="Leading in to that clip").wait_for(timeout=20_000)
    sample = studio.clips.parent / "sample.mp4"
    sample.write_bytes(upstream.video)
    end, _ = upstream.uploads[-1]
    assert end == media.first_frame(sample).data
    page.locator(PROMPT).fill("the heron glides in over the reeds")
    page.locator("#generate").click()
    page.locator(CARDS, has_text="glides in over the reeds").wait_for(timeout=30_000)
    sent = upstream.submissions[-1].body
    assert sent["end_image_url"] and not sent.get("start_image_url")
    leads_into = page.evaluate(
        "() => [...rayStudio.cards.entries.values()].find((e) => e.prompt.includes('glides in')).leads_into"
    )
    assert leads_into == heron_id  # the heron's clip, not the one in the player


def test_the_craft_controls_fit_a_phone_screen(chromium, studio, upstream):
    context, page = open_page(chromium, studio.url, width=390, height=844)
    try:
        page.locator("#enhance").wait_for()
        page.locator("#enhance").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "craft-390.png"), full_page=False)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390
    finally:
        context.close()
