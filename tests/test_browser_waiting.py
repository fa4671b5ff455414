"""Waiting that feels like progress: while a clip is made, a placeholder in its shape (in the player's
place, or a strip above the clip still playing) says what is happening and fills a bar against the
usual time, moving with the page's own clock between the server's updates.

The page's clock is Playwright's (``page.clock``): a test moves it on rather than waiting for it."""

from __future__ import annotations

import re

import pytest

from tests.browser import VIDEO, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import Reply

pytestmark = pytest.mark.browser

LONG = 600.0  # seconds a step takes at the stand-in until the test lets them pass (upstream.advance)
SCREENS = [(1366, 900), (390, 844)]
BAR = "#clip-status [role=progressbar]"
FIRST_GUESS = "1:00"  # the usual time of a 5 s clip before this server has learnt one


def open_with_clock(chromium, url: str, width: int = 1366, height: int = 900):
    # Reduced motion: the bar takes each new width at once, so a screenshot shows where it is.
    context = chromium.new_context(viewport={"width": width, "height": height}, reduced_motion="reduce")
    page = context.new_page()
    page.clock.install()
    page.goto(url)
    page.wait_for_selector("#generate")
    return context, page


def generate(page, prompt: str, ratio: str = "16:9", duration: str = "5 s") -> None:
    page.get_by_label(ratio, exact=True).check()
    page.get_by_label(duration, exact=True).check()
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate").click()


def bar_value(page) -> int:
    return int(page.locator(BAR).get_attribute("aria-valuenow"))


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    upstream.default = Reply(queued=LONG, processing=LONG)
    context, page = open_with_clock(chromium, studio.url)
    yield page
    context.close()


@pytest.fixture
def fresh_studio(upstream, tmp_path):
    """An app of its own, for a test that lets clips finish: the board has learnt no usual time yet."""
    from tests.app_harness import running_app

    upstream.reset()
    upstream.default = Reply(queued=LONG, processing=LONG)
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path / "gradio")) as running:
        yield running


def test_the_words_go_from_queued_to_generating_against_the_usual_time(page, upstream):
    generate(page, "a fox on its way")
    page.locator("#clip-status", has_text="Queued at Segmind… 0:0").wait_for()
    upstream.advance(LONG)
    page.locator("#clip-status", has_text=re.compile(rf"Generating 0:0\d of about {FIRST_GUESS}")).wait_for()
    assert page.locator("#clip-status").get_attribute("aria-live") == "polite"


def test_the_bar_moves_with_the_page_clock_between_the_servers_updates(page):
    generate(page, "a fox in no hurry")
    page.locator("#clip-status", has_text="Queued at Segmind…").wait_for()
    sent = page.locator(".ray-wait").get_attribute("data-elapsed")
    before = bar_value(page)
    page.clock.fast_forward(20_000)
    grown = f"() => Number(document.querySelector('{BAR}').getAttribute('aria-valuenow')) >= {before + 20}"
    page.wait_for_function(grown)
    assert page.locator(BAR).get_attribute("aria-valuemax") == "60"
    assert page.locator(".ray-wait").get_attribute("data-elapsed") == sent  # the page moved it, not the server
    page.locator("#clip-status", has_text="Queued at Segmind… 0:2").wait_for()


def test_past_the_usual_time_the_bar_stays_near_full_and_says_it_is_taking_longer(page, upstream):
    upstream.default = Reply(processing=LONG)
    generate(page, "a fox that takes its time")
    page.locator("#clip-status", has_text="Generating").wait_for()
    page.clock.fast_forward(75_000)
    page.locator("#clip-status", has_text=f"(longer than the usual {FIRST_GUESS})").wait_for()
    assert page.locator(BAR).get_attribute("aria-valuenow") == page.locator(BAR).get_attribute("aria-valuemax")
    filled = page.evaluate(f"() => parseFloat(document.querySelector('{BAR}').firstElementChild.style.width)")
    assert filled == 97  # percent: near full, not done


def test_a_failure_takes_the_placeholders_place_with_its_line(page, upstream):
    upstream.default = Reply(queued=LONG, failed="the model could not make this")
    generate(page, "a fox that will fail")
    page.locator(".ray-wait").wait_for()
    upstream.advance(LONG)
    page.locator(".ray-wait").wait_for(state="detached")
    assert "⚠️" in page.locator("#clip-status").inner_text()
    assert page.locator(".ray-wait").count() == 0  # no box of the failed clip's shape is left


def test_stop_waiting_takes_the_placeholder_away(page):
    generate(page, "a fox nobody waits for")
    page.locator(".ray-wait").wait_for()
    page.locator("#cancel").click()
    page.locator("#clip-status", has_text="Stopped waiting").wait_for()
    assert page.locator(".ray-wait").count() == 0


@pytest.mark.parametrize("width,height", SCREENS)
def test_the_first_clip_waits_in_a_box_of_its_shape_in_the_players_place(
    chromium, fresh_studio, upstream, width, height
):
    context, page = open_with_clock(chromium, fresh_studio.url, width, height)
    try:
        generate(page, "a barista pouring latte art in slow motion", "9:16")
        page.locator("#clip-status", has_text="Queued at Segmind…").wait_for()
        upstream.advance(LONG)
        page.locator("#clip-status", has_text="Generating").wait_for()
        page.clock.fast_forward(25_000)
        page.locator("#clip-status", has_text="0:2").wait_for()
        box = page.locator("#clip-status .wait-shape").bounding_box()
        assert box["height"] > box["width"] and box["width"] / box["height"] == pytest.approx(9 / 16, abs=0.01)
        assert box["height"] <= 440.5  # no taller than the player
        assert page.locator("#video").is_hidden()
        page.screenshot(path=str(ARTIFACTS / f"waiting-{width}x{height}.png"))
        upstream.advance(LONG)
        wait_until_playing(page)
        assert page.locator(".ray-wait").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("width,height", SCREENS)
def test_while_the_next_clip_is_made_the_last_one_keeps_playing_under_a_strip(
    chromium, fresh_studio, upstream, width, height
):
    context, page = open_with_clock(chromium, fresh_studio.url, width, height)
    try:
        upstream.default = Reply()
        generate(page, "a first fox")
        first = wait_until_playing(page)["src"]
        upstream.default = Reply(processing=LONG)
        generate(page, "a second fox, standing tall", "9:16", "9 s")
        page.locator("#clip-status", has_text="Generating").wait_for()
        page.clock.fast_forward(30_000)
        page.locator("#clip-status", has_text="of about 1:30").wait_for()
        assert page.evaluate(f"() => document.querySelector('{VIDEO}').src") == first
        assert page.locator(VIDEO).is_visible()
        shape = page.locator("#clip-status .wait-shape").bounding_box()
        assert shape["height"] > shape["width"] and shape["height"] <= 48  # a small 9:16, not a box
        strip, player = page.locator(".ray-wait").bounding_box(), page.locator("#video").bounding_box()
        assert strip["y"] + strip["height"] <= player["y"]
        page.locator(".ray-wait").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"waiting-strip-{width}x{height}.png"))
        upstream.advance(LONG)
        page.wait_for_function(f"() => document.querySelector('{VIDEO}')?.src !== '{first}'")
    finally:
        context.close()
