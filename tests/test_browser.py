"""One real visitor in headless Chromium: type, generate, watch it play, meet an error, carry on."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import Reply

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
VIDEO = "#video video"


@pytest.fixture(scope="module")
def chromium():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(studio.url)
    page.wait_for_selector("#generate")
    yield page
    context.close()


def wait_until_playing(page) -> dict:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{VIDEO}'); return v && v.readyState >= 3 && !v.paused; }}",
        timeout=30_000,
    )
    return page.evaluate(
        f"() => {{ const v = document.querySelector('{VIDEO}'); return {{loop: v.loop, src: v.src}}; }}"
    )


def test_a_visitor_generates_a_clip_sees_it_play_then_meets_an_error_and_carries_on(page, upstream):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#prompt textarea").fill("a fox running through fresh snow")
    page.get_by_text("32 / 2000 characters").wait_for()
    page.get_by_label("9:16").check()
    page.locator(".ratio-shape", has_text="9:16").wait_for()
    page.get_by_label("Loop (last frame matches the first)").check()

    page.locator("#generate").click()
    playing = wait_until_playing(page)
    page.locator("#clip-info", has_text="9:16 · 5 s · loop").wait_for()
    page.wait_for_function(f"() => document.querySelector('{VIDEO}').loop === true")
    page.screenshot(path=str(ARTIFACTS / "browser-generated.png"), full_page=True)
    assert upstream.received[-1].body["aspect_ratio"] == "9:16"
    assert playing["src"].endswith(".mp4")

    upstream.fail(406)
    page.locator("#generate").click()
    toast = page.locator(".toast-body", has_text="Not enough credits (HTTP 406)")
    toast.wait_for(timeout=30_000)
    assert "Add credits at https://cloud.segmind.com/console/billing" in toast.inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-error.png"), full_page=True)

    page.locator("#generate:not([disabled])").wait_for()
    page.locator("#prompt textarea").fill("a second fox")
    page.locator("#generate").click()
    page.wait_for_function(f"() => document.querySelector('{VIDEO}')?.src !== '{playing['src']}'", timeout=30_000)
    wait_until_playing(page)
    assert upstream.received[-1].body["prompt"] == "a second fox"
    assert OWNER_KEY not in page.content()


def test_an_example_fills_the_form_and_spends_nothing(page, upstream):
    page.get_by_text("a slow dolly across a foggy pine forest").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value.includes('foggy pine forest')")
    page.locator(".ratio-shape", has_text="21:9").wait_for()
    assert upstream.received == []


def test_a_keyframe_url_shows_a_preview(page):
    page.get_by_text("Keyframes (optional)").click()
    page.get_by_label("Start image URL").fill("https://img.test/first.png")
    page.locator("img.keyframe-preview[src='https://img.test/first.png']").wait_for()
    page.get_by_label("End image URL").fill("first.png")
    page.get_by_text("Not an http(s) image URL yet.").wait_for()


def test_a_visitor_key_is_remembered_only_in_their_browser_when_asked(page, upstream):
    page.get_by_text("Your Segmind API key").click()
    page.get_by_label("Remember in this browser").check()
    page.get_by_label("API key").fill("visitor-key-123")
    page.wait_for_function("() => localStorage.getItem('ray-studio-segmind-key') === 'visitor-key-123'")
    page.reload()
    page.wait_for_selector("#generate")
    page.get_by_text("Your Segmind API key").click()
    page.wait_for_function("() => document.querySelector('#api-key input')?.value === 'visitor-key-123'")
    page.get_by_label("Remember in this browser").uncheck()
    page.wait_for_function("() => localStorage.getItem('ray-studio-segmind-key') === null")
    assert upstream.received == []


def test_cancel_stops_waiting_says_what_it_means_and_frees_the_button(page, upstream):
    upstream.default = Reply(latency=3.0)
    page.locator("#prompt textarea").fill("a fox")
    page.locator("#generate").click()
    page.get_by_text("processing").wait_for()  # Gradio's working indicator with elapsed seconds
    page.locator("#cancel").click()
    page.locator(".toast-body", has_text="may still be billed").wait_for()
    page.locator("#generate:not([disabled])", has_text="Generate").wait_for()
    assert not page.locator("#cancel").is_visible()
    assert page.evaluate(f"() => document.querySelector('{VIDEO}')") is None


def history_cell(page, text: str):
    # Gradio's table also keeps a hidden copy of its rows for sizing: only the cells count.
    return page.locator("#history [data-testid^='cell-']", has_text=text).first


def test_a_clip_in_the_session_history_brings_back_its_settings(page, upstream):
    for prompt, ratio in (("a fox", "1:1"), ("a red kite over dunes", "21:9")):
        page.locator("#prompt textarea").fill(prompt)
        page.get_by_label(ratio).check()
        page.locator("#generate").click()
        history_cell(page, prompt).wait_for()
        page.locator("#generate:not([disabled])").wait_for()
    history_cell(page, "a fox").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a fox'")
    page.locator(".ratio-shape", has_text="1:1").wait_for()
    page.locator("#clip-info", has_text="1:1 · 5 s").wait_for()
    assert len(upstream.received) == 2
