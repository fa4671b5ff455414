"""The history stays light: a new clip adds one card and leaves the others (and their players) alone;
cards load their clips only when played; Delete can be undone; Restore shows what it changed."""

from __future__ import annotations

import pytest

from tests.browser import keep_history, make_clip, open_page, past_clips, settled, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY

pytestmark = pytest.mark.browser

CARDS = "#history .history-card"


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context, page = open_page(chromium, studio.url)
    yield page
    context.close()


def test_a_new_clip_adds_one_card_and_leaves_the_others_nodes_and_players_as_they_were(page, studio):
    keep_history(page, past_clips(OWNER_KEY, 50, studio.clips))
    settled(page)  # the change's own work (the bridge lists) is done
    page.evaluate(
        "() => document.querySelectorAll('#history .history-card').forEach((c, i) => {"
        " c.dataset.mark = 'old-' + i; c.querySelector('video').dataset.mark = 'player-' + i; })"
    )
    make_clip(page, "a fifty-first fox")
    wait_until_playing(page)
    page.wait_for_function("() => document.querySelector('#history .history-card').dataset.state === 'done'")
    marks = page.evaluate(
        "() => [...document.querySelectorAll('#history .history-card')]"
        ".map(c => [c.dataset.mark || '', c.querySelector('video').dataset.mark || ''])"
    )
    assert marks == [["", ""], *([f"old-{i}", f"player-{i}"] for i in range(49))]  # the oldest dropped off


def test_cards_out_of_view_load_nothing_and_a_card_plays_when_asked(page):
    make_clip(page, "a lazy fox")
    settled(page)  # the page's own last drawing of the clip would replace the 50 cards drawn below
    page.evaluate(
        "() => { const e = [...rayStudio.cards.entries.values()][0];"
        " rayStudio.cards.render(Array.from({length: 50}, (_, i) =>"
        " ({...e, id: e.id + '-' + i, file: e.file + '?copy=' + i}))); }"
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    fetched = page.evaluate(
        "() => performance.getEntriesByType('resource').map(r => r.name).filter(n => n.includes('?copy='))"
    )
    last = page.locator(CARDS).nth(49).locator("video")
    assert last.evaluate("v => v.preload") == "none"
    assert not any("copy=49" in url for url in fetched)
    last.scroll_into_view_if_needed()
    last.evaluate("v => { v.muted = true; return v.play(); }")
    wait_until_playing(page, "#history .history-card:nth-child(50) video")


def test_a_card_shows_when_it_was_made_and_re_run_names_its_price(page):
    make_clip(page, "a dated fox")
    card = page.locator(CARDS).first
    meta = card.locator(".card-meta").inner_text()
    assert ":" in meta.split("·")[0]  # a time of day, in the visitor's own time zone
    assert card.locator(".card-rerun").inner_text().strip() == "Re-run · $0.375"


def test_a_deleted_card_comes_back_with_undo_and_stays_after_a_reload(page, upstream):
    make_clip(page, "a fox to delete and undo")
    make_clip(page, "a fox that stays")
    page.locator(CARDS, has_text="a fox to delete and undo").locator(".card-delete").click()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card').length === 1")
    page.locator("#undo-bar button", has_text="Undo").click()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card').length === 2")
    assert "a fox that stays" in page.locator(CARDS).nth(0).inner_text()  # back in its own place
    page.reload()
    page.wait_for_selector("#generate")
    page.locator(CARDS, has_text="a fox to delete and undo").wait_for()
    assert len(upstream.submissions) == 2


def test_restore_brings_the_form_into_view_and_marks_what_it_changed(page):
    make_clip(page, "a restored fox", "1:1")
    page.locator("#prompt textarea").fill("something else")
    page.get_by_label("21:9", exact=True).check()
    page.locator(CARDS).first.scroll_into_view_if_needed()
    page.locator(CARDS).first.locator(".card-restore").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a restored fox'")
    page.locator("#prompt.just-restored").wait_for()
    page.locator("#aspect-ratio.just-restored").wait_for()
    assert page.locator("#duration.just-restored").count() == 0  # 5 s before and after


def test_fifty_cards_fill_the_width_on_a_desktop_and_one_column_on_a_phone(page, studio):
    keep_history(page, past_clips(OWNER_KEY, 50, studio.clips))
    page.set_viewport_size({"width": 390, "height": 844})
    xs = page.evaluate("() => [...document.querySelectorAll('#history .history-card')].slice(0, 3)"
                       ".map(c => Math.round(c.getBoundingClientRect().x))")  # fmt: skip
    assert len(set(xs)) == 1
    page.set_viewport_size({"width": 1366, "height": 900})
    xs = page.evaluate("() => [...document.querySelectorAll('#history .history-card')].slice(0, 4)"
                       ".map(c => Math.round(c.getBoundingClientRect().x))")  # fmt: skip
    assert len(set(xs)) >= 3
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.locator("#history").evaluate("h => h.scrollIntoView()")  # its heading at the top
        page.wait_for_timeout(500)  # the stills of the cards now in view
        page.screenshot(path=str(ARTIFACTS / f"history-50-{width}x{height}.png"))
