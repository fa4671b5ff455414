"""What a newcomer's review of the finished page found, each now a behaviour: a reload while a clip is
made keeps Generate waiting for it; a refusal in the browser goes once its field is changed; a new clip
takes away the link of a clip shared before; a long prompt stays a few lines on its card."""

from __future__ import annotations

import pytest

from tests.browser import open_page, wait_until_playing
from tests.segmind_standin import Reply

pytestmark = pytest.mark.browser

LONG = 600.0  # seconds a step takes at the stand-in until the test lets it pass (upstream.advance)
CARDS = "#history .history-card"


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context, page = open_page(chromium, studio.url, 1366, 900)
    yield page
    context.close()


def test_after_a_reload_while_a_clip_is_made_generate_waits_for_it(page, upstream):
    upstream.default = Reply(processing=LONG)
    page.locator("#prompt textarea").fill("a fox picked up after a reload")
    page.locator("#generate").click()
    page.locator(".ray-wait").wait_for()
    page.reload()
    page.locator(".ray-wait").wait_for()
    assert page.locator("#generate").is_disabled()
    upstream.advance(LONG)
    wait_until_playing(page)
    page.locator("#generate:not([disabled])").wait_for()
    assert len(upstream.submissions) == 1


def test_the_empty_prompt_refusal_goes_once_a_prompt_is_typed(page, upstream):
    page.locator("#generate").click()
    page.locator("#prompt-empty").wait_for()
    page.locator("#prompt textarea").press_sequentially("a fox")
    page.locator("#prompt-empty").wait_for(state="detached")
    assert upstream.submissions == []


def test_a_new_clip_takes_away_the_link_of_a_card_shared_before(page, upstream):
    page.locator("#prompt textarea").fill("a fox to share")
    page.locator("#generate").click()
    page.locator(CARDS, has_text="a fox to share").wait_for()
    page.locator("#generate:not([disabled])").wait_for()
    page.locator(CARDS, has_text="a fox to share").locator(".card-share").click()
    page.locator("#share-link button.copy-link").wait_for()
    upstream.default = Reply(processing=LONG)
    page.locator("#prompt textarea").fill("a second fox")
    page.locator("#generate").click()
    page.locator(".ray-wait").wait_for()
    page.locator("#share-link button.copy-link").wait_for(state="detached")
    upstream.advance(LONG)


def test_a_long_prompt_stays_a_few_lines_on_its_card(page):
    prompt = "a fox crossing a wide snowy field at dawn, " * 45
    page.locator("#prompt textarea").fill(prompt.strip())
    page.locator("#generate").click()
    card = page.locator(CARDS).first
    card.wait_for()
    box = card.locator(".card-prompt")
    line = float(box.evaluate("(p) => parseFloat(getComputedStyle(p).lineHeight) || 20"))
    assert box.bounding_box()["height"] <= 3.5 * line
    assert box.get_attribute("title").startswith("a fox crossing")
