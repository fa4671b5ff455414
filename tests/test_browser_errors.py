"""What a visitor sees when a clip is refused or fails: the failure once, above the player, in words
for them; the last clip still playing; cards that say what really happened, also after a reload."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ray_studio.client.errors import PAGE_CANNOT, PASTE_YOUR_OWN
from ray_studio.web.policy import SpendPolicy
from tests.browser import VIDEO, open_page, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import ERROR_MESSAGES, Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARDS = "#history .history-card"
ERROR = "#clip-status .clip-error"
TOASTS = ".toast-wrap, .toast-body"
LONG = 600.0  # seconds a job takes at the stand-in until the test lets them pass (upstream.advance)


def generate(page, prompt: str) -> None:
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate").click()


def refused(page) -> str:
    """The failure's text, once the run is over (Generate can be pressed again)."""
    page.locator(ERROR).wait_for(timeout=30_000)
    page.locator("#generate:not([disabled])").wait_for()
    return page.locator(ERROR).inner_text()


def visible_toasts(page) -> int:
    return sum(1 for toast in page.locator(TOASTS).all() if toast.is_visible())


def test_a_refused_clip_is_told_once_above_the_player_and_no_toast(page, upstream):
    upstream.fail(400, "Invalid request parameters")
    generate(page, "a fox refused once")
    text = refused(page)
    assert text.startswith("⚠️ Segmind rejected the request. Segmind said:")
    page.wait_for_timeout(500)  # a toast would be drawn by now
    assert visible_toasts(page) == 0
    assert page.evaluate("() => document.body.innerText.split('Segmind rejected the request').length - 1") == 1
    assert page.locator("span.error:visible").count() == 0  # Gradio's own "Error" badges
    status = page.locator("#clip-status").bounding_box()
    assert 0 <= status["y"] < 900 - status["height"]  # in view, where the clip would be
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "error-1366x900.png"))


def test_on_the_pages_key_an_account_out_of_credits_reads_as_what_it_means_for_the_visitor(page, upstream):
    upstream.fail(406)
    generate(page, "a fox on the page's key")
    text = refused(page)
    assert f"{PAGE_CANNOT}. {PASTE_YOUR_OWN}" in text
    assert "recharge" not in page.locator("body").inner_text().lower()


def test_on_their_own_key_a_visitor_reads_their_accounts_own_words(page, upstream):
    page.get_by_text("Your Segmind API key").click()
    page.locator("#api-key input").fill("visitor-own-key-123")
    upstream.fail(406)
    generate(page, "a fox on my own key")
    text = refused(page)
    assert "Not enough credits" in text and ERROR_MESSAGES[406] in text
    assert PAGE_CANNOT not in text


def test_a_refused_clip_leaves_the_last_clip_playing(page, upstream):
    page.get_by_label("Loop (last frame matches the first)").check()  # the sample clip lasts a second
    generate(page, "a fox that stays on screen")
    playing = wait_until_playing(page)
    assert playing["loop"] is True
    upstream.fail(500)
    generate(page, "a fox refused by Segmind")
    refused(page)
    assert wait_until_playing(page)["src"] == playing["src"]
    assert page.evaluate(f"() => document.querySelector('{VIDEO}').paused") is False


@pytest.mark.parametrize("status", [500, 401, 406])
def test_a_clip_refused_at_submit_leaves_no_card_saying_it_is_being_made(page, upstream, status):
    upstream.fail(status)
    generate(page, f"a fox refused with {status}")
    refused(page)
    page.wait_for_timeout(1000)  # the history's last change drawn
    assert page.locator(CARDS, has_text="Being made").count() == 0
    page.reload()
    page.wait_for_selector("#generate")
    page.wait_for_timeout(1500)  # the history drawn from this browser's storage, and picked up
    assert page.locator(CARDS, has_text="Being made").count() == 0
    if status < 500:  # refused before Segmind began: nothing was charged, so nothing is kept
        assert page.locator(CARDS).count() == 0


def test_a_failed_card_after_a_reload_shows_no_error_at_the_top(page, upstream):
    upstream.default = Reply(failed="The content could not be generated")
    generate(page, "a fox Segmind could not make")
    refused(page)
    page.reload()
    page.wait_for_selector("#generate")
    card = page.locator(CARDS, has_text="a fox Segmind could not make")
    card.locator(".card-failed", has_text="Segmind could not make this clip").wait_for(timeout=10_000)
    page.wait_for_timeout(1500)  # pick-up done
    assert page.locator(ERROR).count() == 0 and visible_toasts(page) == 0
    assert len(upstream.submissions) == 1


def test_make_again_is_offered_only_once_a_clip_has_ended(page, upstream):
    upstream.default = Reply(processing=LONG, failed="The content could not be generated")
    generate(page, "a fox that fails late")
    page.locator("#clip-status", has_text="Generating").wait_for(timeout=10_000)
    card = page.locator(CARDS, has_text="a fox that fails late")
    assert card.locator(".card-rerun").count() == 0
    upstream.advance(LONG)
    card.locator(".card-failed").wait_for(timeout=20_000)
    assert card.locator(".card-rerun").inner_text().startswith("Make again")


def test_on_a_phone_a_failure_out_of_sight_is_pointed_at_and_brought_into_view(chromium, studio, upstream):
    upstream.reset()
    upstream.default = Reply(processing=LONG, failed="The content could not be generated")
    context, page = open_page(chromium, studio.url, width=390, height=844)
    try:
        generate(page, "a fox that fails while I write the next")
        page.locator("#clip-status", has_text="Generating").wait_for(timeout=10_000)
        page.evaluate("() => window.scrollTo(0, 0)")  # back at the prompt
        upstream.advance(LONG)
        notice = page.locator("#error-notice button", has_text="See why")
        notice.wait_for(timeout=20_000)
        assert "Segmind could not make this clip" in notice.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "error-notice-390x844.png"))
        notice.click()
        page.wait_for_function(
            f"() => {{ const b = document.querySelector('{ERROR}').getBoundingClientRect();"
            " return b.top >= 0 && b.bottom <= window.innerHeight; }"
        )
        assert not page.locator("#error-notice").is_visible()
        assert visible_toasts(page) == 0
        page.screenshot(path=str(ARTIFACTS / "error-390x844.png"))
    finally:
        context.close()


# --------------------------------------------------------------------------- a time to come back


@pytest.fixture(scope="module")
def limited(upstream, tmp_path_factory):
    """The page with one clip per visitor per 10 minutes on its key."""
    from tests.app_harness import running_app

    policy = SpendPolicy(visitor_limits="1 per 10 minutes", daily_budget=None, in_flight_per_visitor=1000)
    temp = str(tmp_path_factory.mktemp("gradio-limited"))
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=temp, policy=policy) as running:
        yield running


def test_a_time_to_come_back_is_shown_in_the_visitors_own_zone_as_well_as_utc(chromium, limited, upstream):
    upstream.reset()
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, timezone_id="Asia/Tokyo", locale="en-GB")
    try:
        page = context.new_page()
        page.goto(limited.url)
        page.wait_for_selector("#generate")
        generate(page, "the one fox allowed")
        wait_until_playing(page)
        generate(page, "one fox too many")
        text = refused(page)
        at = datetime.fromisoformat(page.locator(f"{ERROR} time").get_attribute("datetime"))
        tokyo, utc = at.astimezone(ZoneInfo("Asia/Tokyo")), f"{at:%H:%M} UTC"
        assert f"at {tokyo:%H:%M} your time ({utc}" in text, text
        page.screenshot(path=str(ARTIFACTS / "error-time-1366x900.png"))
        assert len(upstream.submissions) == 1
    finally:
        context.close()
