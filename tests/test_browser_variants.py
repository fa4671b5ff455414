"""A set of variants in headless Chromium: a tile per clip where the result appears, each clip in its
tile as soon as it is made, Use this one and Continue on each, and what the set made and cost."""

from __future__ import annotations

import itertools

import pytest

from ray_studio.client import media
from tests.browser import wait_until_playing
from tests.conftest import ARTIFACTS
from tests.segmind_standin import Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TILES = "#variant-tiles .variant-tile"
START_URL = "#start-image-url textarea, #start-image-url input"


def open_variants(page) -> None:
    if not page.locator("#variant-prompts textarea").is_visible():
        page.get_by_text("Variants: several wordings and shapes at once").click()


def run_variants(page, wordings: str, ratios: tuple[str, ...] = ("16:9", "9:16")) -> None:
    """Runs the variants form with these wordings (one per line) in these shapes."""
    open_variants(page)
    page.locator("#variant-prompts textarea").fill(wordings)
    shapes = page.locator("#variant-ratios")
    for ratio in ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"):
        box = shapes.get_by_label(ratio, exact=True)
        box.check() if ratio in ratios else box.uncheck()
    page.locator("#run-variants").click()


def tile(page, text: str):
    return page.locator(TILES, has_text=text)


def wait_for_clips(page, count: int) -> None:
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{TILES} video')].filter(v => v.readyState >= 2).length === {count}",
        timeout=30_000,
    )


def test_the_tiles_show_where_the_eye_is_on_a_laptop_with_the_cost_first(page, upstream):
    open_variants(page)
    page.locator("#variant-prompts textarea").fill("a lighthouse at dusk\na lighthouse in a storm")
    page.locator("#variants-cost", has_text="These 4 clips cost $1.50").wait_for()
    assert upstream.received == []
    run_variants(page, "a lighthouse at dusk\na lighthouse in a storm")
    for i in range(4):
        wait_until_playing(page, f"{TILES}:nth-child({i + 1}) video")
    form_right = page.locator("#prompt").bounding_box()
    for box in (page.locator(TILES).nth(i).bounding_box() for i in range(4)):
        assert box["x"] > form_right["x"] + form_right["width"]  # in the result column
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900  # in sight, no scrolling
    assert not page.locator("#video").is_visible()  # the empty main player gives them its place
    assert tile(page, "in a storm").filter(has_text="9:16").count() == 1  # named by what differs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "variants-1366x900.png"))


def test_on_a_phone_the_tiles_stand_in_one_column(page, upstream):
    page.set_viewport_size({"width": 390, "height": 844})
    run_variants(page, "a kite over dunes\na kite over the sea")
    wait_for_clips(page, 4)
    boxes = [page.locator(TILES).nth(i).bounding_box() for i in range(4)]
    assert len({round(b["x"]) for b in boxes}) == 1
    assert all(a["y"] + a["height"] <= b["y"] for a, b in itertools.pairwise(boxes))
    assert all(b["x"] + b["width"] <= 390 for b in boxes)
    page.locator(TILES).first.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, document.querySelector('#clip-status').getBoundingClientRect().top - 8)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "variants-390x844.png"))


def test_each_finished_tile_offers_use_this_one_and_continue(page, upstream):
    run_variants(page, "a paper boat", ("16:9", "1:1"))
    wait_for_clips(page, 2)
    for ratio in ("16:9", "1:1"):
        buttons = tile(page, ratio).locator("button")
        assert buttons.all_inner_texts() == ["Use this one", "Continue"]


def test_use_this_one_puts_the_clip_in_the_main_player_and_its_settings_in_the_form(page, upstream):
    page.locator("#prompt textarea").fill("something else")
    page.get_by_label("21:9", exact=True).first.check()
    run_variants(page, "a fox in the snow\na hare in the snow", ("4:3",))
    wait_for_clips(page, 2)
    src = tile(page, "hare").locator("video").get_attribute("src")
    tile(page, "hare").get_by_role("button", name="Use this one").click()
    playing = wait_until_playing(page)
    assert playing["src"].rsplit("/", 1)[-1] == src.rsplit("/", 1)[-1]
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a hare in the snow'")
    assert page.locator("#aspect-ratio input[value='4:3']").is_checked()
    assert "4:3 · 5 s" in page.locator("#clip-info").inner_text()
    page.locator("#extend:not([disabled])").wait_for()  # the player's buttons act on it
    assert len(upstream.submissions) == 2


def test_continue_on_a_tile_starts_the_next_clip_from_its_last_frame(page, studio, upstream):
    run_variants(page, "a fox starts running\na hare starts running", ("16:9",))
    wait_for_clips(page, 2)
    tile(page, "fox").get_by_role("button", name="Continue").click()
    page.locator("#clip-status", has_text="last frame is the start image").wait_for(timeout=20_000)
    url = page.locator(START_URL).first.input_value()
    assert url.startswith(upstream.root_url + "/assets/")
    uploaded, _ = upstream.uploads[-1]
    sample = studio.clips.parent / "sample.mp4"
    sample.write_bytes(upstream.video)
    assert uploaded == media.last_frame(sample).data
    assert page.locator("#prompt textarea").input_value() == "a fox starts running"


def test_when_the_set_ends_a_line_says_what_was_made_and_charged_nothing_for_a_refused_one(page, upstream):
    upstream.fail(400, "Invalid request parameters")  # the first clip sent is refused before Segmind takes it
    run_variants(page, "a red kite\na blue kite")
    page.locator("#clip-status", has_text="3 of 4 made · $1.125 charged").wait_for(timeout=30_000)
    wait_for_clips(page, 3)
    failed = page.locator(f"{TILES}.tile-failed")
    assert failed.count() == 1
    assert "Segmind rejected the request" in failed.inner_text()
    assert failed.locator("button").count() == 0


def test_each_clip_shows_in_its_tile_as_soon_as_it_is_made(page, upstream):
    upstream.then(Reply(processing=600))  # the first clip sent takes ten minutes; the other none
    run_variants(page, "a slow clip and a quick one", ("16:9", "9:16"))
    wait_for_clips(page, 1)
    waiting = page.locator(f"{TILES}.tile-running")
    assert waiting.count() == 1 and "Being made" in waiting.inner_text()
    assert waiting.locator("button").count() == 0
    upstream.advance(600)
    wait_for_clips(page, 2)
    page.locator("#clip-status", has_text="2 of 2 made · $0.75 charged").wait_for()


def test_a_new_clip_takes_the_result_area_back_from_the_tiles(page, upstream):
    run_variants(page, "a lantern at night", ("16:9", "1:1"))
    wait_for_clips(page, 2)
    page.locator("#prompt textarea").fill("a lantern in the rain")
    page.locator("#generate").click()
    wait_until_playing(page)
    assert page.locator(TILES).count() == 0
    assert page.locator("#video").is_visible()
