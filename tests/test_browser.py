"""A real visitor in headless Chromium: type, generate, watch it play, meet an error, cancel, reload."""

from __future__ import annotations

import pytest

from tests.browser import VIDEO, open_page, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = 600.0  # seconds a step takes at the stand-in until the test lets them pass (upstream.advance)


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context, page = open_page(chromium, studio.url)
    yield page
    context.close()


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
    assert upstream.submissions[-1].body["aspect_ratio"] == "9:16"
    assert playing["src"].endswith(".mp4")
    assert "$0.375" in page.locator("#clip-info").inner_text()
    assert "credits" not in page.locator("#clip-info").inner_text()

    upstream.fail(406)
    page.locator("#generate").click()
    error = page.locator("#clip-status .clip-error", has_text="This page cannot make clips right now")
    error.wait_for(timeout=30_000)
    assert "Paste your own Segmind key to go on." in error.inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-error.png"), full_page=True)

    page.locator("#generate:not([disabled])").wait_for()
    page.locator("#prompt textarea").fill("a second fox")
    page.locator("#generate").click()
    page.wait_for_function(f"() => document.querySelector('{VIDEO}')?.src !== '{playing['src']}'", timeout=30_000)
    wait_until_playing(page)
    assert upstream.submissions[-1].body["prompt"] == "a second fox"
    assert OWNER_KEY not in page.content()


def test_the_page_says_what_a_clip_costs_before_generate_and_follows_the_duration(page, upstream):
    page.locator("#price", has_text="$0.375").wait_for()
    page.get_by_label("9 s").check()
    page.locator("#price", has_text="$0.675").wait_for()
    assert upstream.received == []


def test_the_status_shows_queued_then_generating_with_a_clock(page, upstream):
    upstream.default = Reply(queued=LONG, processing=LONG)
    page.locator("#prompt textarea").fill("a fox")
    page.locator("#generate").click()
    page.locator("#clip-status", has_text="Queued at Segmind…").wait_for(timeout=10_000)
    upstream.advance(LONG)
    page.locator("#clip-status", has_text="Generating 0:0").wait_for(timeout=10_000)
    upstream.advance(LONG)
    wait_until_playing(page)
    assert len(upstream.submissions) == 1


def test_an_example_fills_the_form_and_spends_nothing(page, upstream):
    page.get_by_text("a slow dolly across a foggy pine forest").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value.includes('foggy pine forest')")
    page.locator(".ratio-shape", has_text="21:9").wait_for()
    assert upstream.received == []


def test_examples_say_loop_as_a_word(page):
    label = page.get_by_text("an endless train of paper boats").inner_text()
    assert "loop" in label and "true" not in label.lower() and "false" not in label.lower()


def test_a_keyframe_url_shows_a_preview_and_one_that_does_not_load_is_flagged(page, upstream):
    page.get_by_text("Keyframes: start and end images").click()
    page.locator("#start-image-url input, #start-image-url textarea").fill(f"{upstream.root_url}/files/clip.mp4")
    page.locator("#start-preview .keyframe-bad", has_text="did not load as an image").wait_for(timeout=10_000)
    page.locator("#end-image-url input, #end-image-url textarea").fill("first.png")
    page.get_by_text("Not an http(s) image URL yet.").wait_for()
    assert upstream.submissions == []


def test_a_visitor_key_is_remembered_only_in_their_browser_when_asked(page, upstream):
    page.get_by_text("Your Segmind API key").click()
    page.get_by_label("Remember in this browser").check()
    page.locator("#api-key input").fill("visitor-key-123")
    page.wait_for_function("() => localStorage.getItem('ray-studio-segmind-key') === 'visitor-key-123'")
    page.reload()
    page.wait_for_selector("#generate")
    page.get_by_text("Your Segmind API key").click()
    page.wait_for_function("() => document.querySelector('#api-key input')?.value === 'visitor-key-123'")
    page.get_by_label("Remember in this browser").uncheck()
    page.wait_for_function("() => localStorage.getItem('ray-studio-segmind-key') === null")
    assert upstream.received == []


def test_cancel_stops_waiting_keeps_the_billed_clip_and_frees_the_button(page, upstream):
    upstream.default = Reply(processing=LONG)
    page.locator("#prompt textarea").fill("a fox that was cancelled")
    page.locator("#generate").click()
    page.locator("#clip-status", has_text="Generating").wait_for(timeout=10_000)
    page.locator("#cancel").click()
    page.locator(".toast-body", has_text="Stopped waiting").wait_for()
    page.locator("#generate:not([disabled])", has_text="Generate").wait_for()
    assert not page.locator("#cancel").is_visible()
    assert page.evaluate(f"() => document.querySelector('{VIDEO}')") is None
    # Segmind had started it, so it is billed: it is not thrown away but lands in the history.
    upstream.advance(LONG)
    page.locator("#history .history-card video").first.wait_for(timeout=20_000)
    assert "a fox that was cancelled" in page.locator("#history .history-card").first.inner_text()
    assert len(upstream.submissions) == 1


def test_a_reload_while_a_clip_is_made_still_ends_in_the_clip_without_paying_again(page, upstream):
    upstream.default = Reply(processing=LONG)
    page.locator("#prompt textarea").fill("a fox across a reload")
    page.locator("#generate").click()
    page.locator("#clip-status", has_text="Generating").wait_for(timeout=10_000)
    page.reload()
    page.wait_for_selector("#generate")
    page.locator("#clip-status", has_text="no new charge").wait_for(timeout=10_000)
    upstream.advance(LONG)
    wait_until_playing(page)
    page.locator("#history .history-card", has_text="a fox across a reload").locator("video").wait_for()
    assert len(upstream.submissions) == 1


def test_a_reload_while_the_clip_is_still_being_sent_ends_in_the_clip_without_paying_again(page, upstream):
    upstream.default = Reply(latency=LONG, processing=1.0)  # Segmind answers the submission when the test says
    page.locator("#prompt textarea").fill("a fox reloaded while sent")
    page.locator("#generate").click()
    page.locator("#history .history-card", has_text="a fox reloaded while sent").wait_for(timeout=10_000)
    assert upstream.jobs == {}  # still being sent
    page.reload()
    page.wait_for_selector("#generate")
    upstream.advance(LONG)
    page.locator("#history .history-card", has_text="a fox reloaded while sent").locator("video").wait_for()
    assert len(upstream.submissions) == 1


@pytest.fixture(scope="module")
def sync_studio(upstream, tmp_path_factory):
    """The app on Segmind's single v1 call (SEGMIND_API_MODE=sync)."""
    from tests.app_harness import running_app

    with running_app(
        upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path_factory.mktemp("gradio-sync")), api_mode="sync"
    ) as running:
        yield running


def test_in_sync_mode_cancel_really_ends_the_upstream_request_and_saves_no_clip(chromium, sync_studio, upstream):
    upstream.reset()
    upstream.default = Reply(latency=15)
    context, page = open_page(chromium, sync_studio.url)
    try:
        page.locator("#prompt textarea").fill("a fox")
        page.locator("#generate").click()
        page.wait_for_function("() => true")
        page.locator("#cancel").wait_for()
        page.wait_for_timeout(500)
        assert len(upstream.submissions) == 1
        page.locator("#cancel").click()
        page.locator("#generate:not([disabled])", has_text="Generate").wait_for()
        page.wait_for_function("() => true")
        for _ in range(100):
            if upstream.abandoned:
                break
            page.wait_for_timeout(100)
        assert upstream.abandoned == 1
        assert list(sync_studio.clips.rglob("*.mp4")) == []
    finally:
        context.close()
