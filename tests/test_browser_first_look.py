"""A newcomer's first look: before any clip the result area shows the showcase or the examples (no
empty player, nothing that acts on a clip), a shared link opens on its clip even on a phone, a reload
keeps what was typed, the limits are said once, and a keyframe's picture is shown once."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client
from PIL import Image

import app
from tests.app_harness import running_app
from tests.browser import make_clip, open_page, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import Reply
from tests.test_share import SHOWN, fill_showcase, link_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARDS = "#history .history-card"
PROMPT = "#prompt textarea"
START_URL = "#start-image-url textarea, #start-image-url input"
LOOP_EXAMPLE = "an endless train of paper boats drifting down a rainy street gutter"
KEYFRAME_EXAMPLE = "the camera slowly circles the tower as clouds race past at sunset"


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()


@pytest.fixture
def page(chromium, studio):
    context, page = open_page(chromium, studio.url, width=1366, height=900)
    yield page
    context.close()


@pytest.fixture
def phone(chromium, studio):
    context, page = open_page(chromium, studio.url, width=390, height=844)
    yield page
    context.close()


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def wait_for_a_job(page, upstream) -> None:
    """Until Segmind's stand-in holds the clip's job (``advance`` moves only the jobs it has)."""
    for _ in range(600):
        if upstream.jobs:
            return
        page.wait_for_timeout(50)
    pytest.fail("the clip never reached the stand-in")


def shared_link(studio, prompt: str) -> str:
    _, summary = Client(studio.url, verbose=False).predict(prompt=prompt, aspect_ratio="16:9", api_name="/generate")
    return link_of(summary)


# --------------------------------------------------------------------------- before any clip


def test_an_example_card_in_the_result_area_fills_the_form_and_sends_nothing(page, upstream):
    page.route("**/upload.wikimedia.org/**", lambda route: route.abort())  # the example's keyframe: no network
    card = page.locator("#result .example-card", has_text=KEYFRAME_EXAMPLE)
    assert "3:4 · 9 s · start keyframe" in card.inner_text()
    card.click()
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value === {json.dumps(KEYFRAME_EXAMPLE)}")
    assert page.get_by_label("3:4", exact=True).is_checked() and page.get_by_label("9 s").is_checked()
    page.get_by_text("Keyframes: start and end images").click()
    start_url = page.locator(START_URL).first
    page.wait_for_function(f"() => document.querySelector('{START_URL}')?.value.includes('Eiffel')")
    page.locator("#result .example-card", has_text=LOOP_EXAMPLE).click()
    page.locator(".ratio-shape", has_text="1:1").wait_for()
    page.wait_for_function("() => document.querySelector('#loop input').checked")
    assert start_url.input_value() == "" and page.get_by_label("5 s").is_checked()
    page.locator("#price", has_text="$0.375").wait_for()  # the form heard the change
    assert upstream.received == []


def test_before_a_clip_there_is_no_empty_player_nor_what_acts_on_a_clip_and_after_there_is(page, upstream):
    page.locator("#result .example-card").first.wait_for()
    for selector in ("#video", "#extend", "#lead-in", "#bridge-box"):
        assert page.locator(selector).is_hidden(), selector
    make_clip(page, "a heron lands on a misty lake")
    wait_until_playing(page)
    for selector in ("#video", "#extend", "#lead-in"):
        assert page.locator(selector).is_visible(), selector
    assert page.locator("#bridge-box").is_hidden()  # a bridge joins two clips
    assert page.locator("#examples").bounding_box()["y"] > page.locator("#video").bounding_box()["y"]
    make_clip(page, "the heron takes off again")
    page.locator("#bridge-box").wait_for()
    page.screenshot(path=str(ARTIFACTS / "result-1366x900.png"))


def test_a_clip_shown_on_a_phone_is_scrolled_into_view_when_it_starts_and_when_it_arrives(phone, upstream):
    upstream.default = Reply(processing=600)
    phone.locator(PROMPT).fill("a kingfisher dives into a stream")
    phone.locator("#generate").click()
    phone.wait_for_function(
        "() => { const t = document.getElementById('result').getBoundingClientRect().top; return t >= 0 && t < 200; }"
    )
    phone.evaluate("() => window.scrollTo(0, 0)")  # the visitor scrolls back up to the form
    wait_for_a_job(phone, upstream)
    upstream.advance(600)
    phone.locator("#video video").wait_for(state="attached", timeout=30_000)
    phone.wait_for_function(
        "() => { const t = document.getElementById('result').getBoundingClientRect().top; return t >= 0 && t < 200; }"
    )
    wait_until_playing(phone)
    phone.screenshot(path=str(ARTIFACTS / "result-390x844.png"))


@pytest.fixture
def showcase_app(upstream, tmp_path):
    """For one test: while an app runs, Gradio's cache folder is its own (app_harness.gradio_temp_dir)."""
    root = tmp_path
    settings = app.AppSettings(showcase_dir=fill_showcase(root / "showcase"))
    with running_app(upstream.base_url, OWNER_KEY, settings=settings, temp_dir=str(root / "gradio")) as running:
        yield running


def test_with_a_showcase_it_comes_first_in_the_result_area(chromium, showcase_app):
    context, page = open_page(chromium, showcase_app.url, width=1366, height=900)
    try:
        page.locator("#result #showcase figcaption", has_text=SHOWN[0][0]).wait_for()
        showcase, examples = (page.locator(s).bounding_box() for s in ("#showcase", "#examples"))
        assert showcase["y"] < examples["y"] and showcase["y"] < 300
        assert page.locator("#video").is_hidden()
    finally:
        context.close()


# --------------------------------------------------------------------------- links, reloads, limits


def test_a_shared_link_opens_with_its_clip_at_the_top_on_a_phone(chromium, studio, upstream):
    link = shared_link(studio, "an otter floats on its back")
    context, page = open_page(chromium, link, width=390, height=844)
    try:
        wait_until_playing(page)
        page.locator("#clip-info", has_text="an otter floats on its back").wait_for()
        assert in_view(page, "#video")
        assert page.locator("#video").bounding_box()["y"] < page.locator("#prompt").bounding_box()["y"]
        page.screenshot(path=str(ARTIFACTS / "share-link-opened-390x844.png"))
    finally:
        context.close()


def test_a_reload_keeps_the_typed_prompt_and_settings_and_never_the_key(page, upstream):
    visitor_key = "sg_visitor_key_typed_but_not_remembered_42"
    page.get_by_text("Your Segmind API key").click()
    page.locator("#api-key input").fill(visitor_key)
    page.locator(PROMPT).fill("a lantern festival over a river, slow crane up")
    page.get_by_label("9:16", exact=True).check()
    page.get_by_label("9 s").check()
    page.get_by_label("Loop (last frame matches the first)").check()
    page.reload()
    page.wait_for_selector("#generate")
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value.startsWith('a lantern festival')")
    assert page.get_by_label("9:16", exact=True).is_checked() and page.get_by_label("9 s").is_checked()
    assert page.get_by_label("Loop (last frame matches the first)").is_checked()
    page.locator("#price", has_text="$0.675").wait_for()
    page.get_by_text("Your Segmind API key").click()
    assert page.locator("#api-key input").input_value() == ""
    stored = page.evaluate("() => Object.values(localStorage).join(' ')")
    assert "a lantern festival" in stored and visitor_key not in stored
    assert upstream.received == []


def test_a_shared_links_page_leaves_the_draft_out_of_the_form_and_kept(chromium, studio, page):
    page.locator(PROMPT).fill("my own idea, half written")
    link = shared_link(studio, "a shared fox")
    page.goto(link)
    wait_until_playing(page)
    page.locator("#allowance", has_text="limit").wait_for()  # the page's load events have run
    assert page.locator(PROMPT).input_value() == ""
    page.goto(studio.url)
    page.wait_for_selector(PROMPT)
    page.wait_for_function(f"() => document.querySelector('{PROMPT}').value === 'my own idea, half written'")


def test_the_limits_are_said_in_one_line(page):
    page.locator("#allowance", has_text="No limit per visitor on this page's key").wait_for()
    assert page.locator("#limits").count() == 0
    assert page.locator("body").inner_text().count("limit per visitor") == 1


# --------------------------------------------------------------------------- keyframes


def test_an_uploaded_keyframe_is_shown_once_with_its_note(page, upstream, tmp_path):
    photo = tmp_path / "beach.png"
    Image.new("RGB", (640, 360), (30, 120, 200)).save(photo)
    page.get_by_text("Keyframes: start and end images").click()
    page.locator("#start-image input[type=file]").set_input_files(str(photo))
    page.locator("#start-note", has_text="Ready").wait_for(timeout=20_000)
    page.locator("#start-image-url").wait_for(state="hidden")
    shown = page.locator("#start-slot img:visible")
    assert shown.count() == 1 and "gradio_api/file=" in shown.get_attribute("src")
    assert page.locator("#start-preview").is_hidden()
    assert len(upstream.uploads) == 1


def test_after_continue_the_start_slot_shows_the_last_frame_as_its_picture(page, upstream):
    make_clip(page, "a paper plane crosses the room")
    page.locator("#extend").click()
    page.locator("#clip-status", has_text="last frame is the start image").wait_for(timeout=20_000)
    page.locator("#start-image img").wait_for()
    assert "last frame" in page.locator("#start-note").inner_text()
    assert page.locator("#start-image-url").is_hidden()
    url = page.locator(START_URL).first.input_value()  # what is sent: the picture shown
    assert url.startswith(upstream.root_url + "/assets/")
    page.locator(PROMPT).fill("the paper plane lands")
    page.locator("#generate").click()
    page.locator(CARDS, has_text="the paper plane lands").locator("video").wait_for(timeout=30_000)
    assert upstream.submissions[-1].body["start_image_url"] == url
