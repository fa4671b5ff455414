"""The experiment bench in headless Chromium: history that stays, variants through a reload, keyframes
from the visitor's own files, continuing a clip, and the small things a person notices."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from PIL import Image

from ray_studio.client import media
from tests.browser import make_clip, open_page, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.segmind_standin import Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARDS = "#history .history-card"


@pytest.fixture
def page(chromium, studio, upstream):
    upstream.reset()
    context, page = open_page(chromium, studio.url)
    yield page
    context.close()


# --------------------------------------------------------------------------- history


def test_the_history_survives_a_reload_and_no_other_browser_sees_it(chromium, studio, page, upstream):
    make_clip(page, "a lighthouse at dusk", "9:16")
    make_clip(page, "a red kite over dunes", "21:9")
    page.reload()
    page.wait_for_selector("#generate")
    page.locator(CARDS, has_text="a red kite over dunes").locator("video").wait_for()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card video').length === 2")
    cards = page.locator(CARDS)
    assert "a red kite over dunes" in cards.nth(0).inner_text()  # newest first
    assert "9:16 · 5 s" in cards.nth(1).inner_text() and "$0.375" in cards.nth(1).inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history-after-reload-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#history").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "history-after-reload-mobile.png"), full_page=True)

    other, stranger = open_page(chromium, studio.url)
    try:
        stranger.locator("#history", has_text="nobody else sees them").wait_for()
        stranger.wait_for_timeout(1500)
        assert stranger.locator(CARDS).count() == 0
    finally:
        other.close()
    assert len(upstream.submissions) == 2


def test_a_history_card_restores_its_settings(page, upstream):
    make_clip(page, "a fox in the snow", "1:1")
    page.locator("#prompt textarea").fill("something else")
    page.get_by_label("21:9", exact=True).check()
    page.locator(CARDS, has_text="a fox in the snow").locator(".card-restore").click()
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a fox in the snow'")
    page.locator(".ratio-shape", has_text="1:1").wait_for()
    assert len(upstream.submissions) == 1


def test_a_history_card_runs_its_clip_again(page, upstream):
    make_clip(page, "a paper boat", "4:3")
    page.locator("#prompt textarea").fill("something else")
    page.locator(CARDS, has_text="a paper boat").locator(".card-rerun").click()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card').length === 2", timeout=30_000)
    assert [s.body["prompt"] for s in upstream.submissions] == ["a paper boat", "a paper boat"]
    assert upstream.submissions[-1].body["aspect_ratio"] == "4:3"


def test_a_history_card_is_deleted_from_this_browser(page, upstream):
    make_clip(page, "a clip to delete")
    make_clip(page, "a clip to keep")
    page.locator(CARDS, has_text="a clip to delete").locator(".card-delete").click()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card').length === 1")
    page.reload()
    page.wait_for_selector("#generate")
    page.locator(CARDS, has_text="a clip to keep").wait_for()
    assert page.locator(CARDS, has_text="a clip to delete").count() == 0


def test_a_clip_the_server_no_longer_has_says_so_and_can_be_made_again(page, studio, upstream):
    make_clip(page, "a clip that will be gone")
    for folder in studio.clips.iterdir():
        shutil.rmtree(folder)
    page.reload()
    page.wait_for_selector("#generate")
    card = page.locator(CARDS, has_text="a clip that will be gone")
    card.get_by_text("no longer has this clip").wait_for()
    card.locator(".card-rerun", has_text="Make again").click()
    page.locator(CARDS).nth(0).locator("video").wait_for(timeout=30_000)
    assert [s.body["prompt"] for s in upstream.submissions] == ["a clip that will be gone"] * 2


# --------------------------------------------------------------------------- variants


def test_variants_reloaded_while_they_are_still_being_sent_all_end_in_the_history(page, upstream):
    page.get_by_text("Variants: several wordings and shapes at once").click()
    page.locator("#variant-prompts textarea").fill("a kite sent slowly\na boat sent slowly")
    upstream.default = Reply(latency=600, processing=1.0)  # Segmind answers each submission when the test says
    page.locator("#run-variants").click()
    page.wait_for_function("() => document.querySelectorAll('#history .history-card').length === 4")
    assert upstream.jobs == {}  # none sent yet
    page.reload()
    page.wait_for_selector("#generate")
    upstream.advance(600)
    page.wait_for_function(
        "() => document.querySelectorAll('#history .history-card video').length === 4", timeout=30_000
    )
    assert len(upstream.submissions) == 4


def test_too_many_variants_are_refused_naming_both_numbers_before_anything_is_sent(page, upstream):
    page.get_by_text("Variants: several wordings and shapes at once").click()
    page.locator("#variant-prompts textarea").fill("one\ntwo\nthree")
    page.locator("#variants-cost", has_text="6 variants (3 wordings × 2 shapes): the limit is 4").wait_for()
    page.locator("#run-variants").click()
    page.locator("#clip-status .clip-error", has_text="6 variants asked for").wait_for()
    assert "the limit is 4" in page.locator("#clip-status").inner_text()
    assert upstream.received == []


# --------------------------------------------------------------------------- keyframes and continuing


def pick_start_image(page, tmp_path, colour: tuple[int, int, int]) -> None:
    """A 640×360 PNG of one colour, picked as the start image, and checked by the server."""
    photo = tmp_path / "holiday.png"
    Image.new("RGB", (640, 360), colour).save(photo)
    page.get_by_text("Keyframes: start and end images").click()
    page.locator("#start-image input[type=file]").set_input_files(str(photo))
    page.locator("#start-note", has_text="Ready").wait_for(timeout=20_000)


def test_a_picked_start_image_is_uploaded_once_and_the_clip_is_made_from_it(page, upstream, tmp_path):
    pick_start_image(page, tmp_path, (200, 30, 30))
    (uploaded, mime) = upstream.uploads[0]
    assert mime == "image/png" and Image.open(io.BytesIO(uploaded)).getpixel((5, 5)) == (200, 30, 30)
    url = page.locator("#start-image-url textarea, #start-image-url input").first.input_value()
    assert url.startswith(upstream.root_url + "/assets/")
    page.locator("#prompt textarea").fill("the holiday photo comes alive")
    page.locator("#generate").click()
    wait_until_playing(page)
    assert upstream.submissions[-1].body["start_image_url"] == url
    assert len(upstream.uploads) == 1


def test_a_file_that_is_not_an_image_is_refused_naming_it_with_nothing_sent(page, upstream, tmp_path):
    fake = tmp_path / "cat.png"
    fake.write_text("I am not a picture")
    page.get_by_text("Keyframes: start and end images").click()
    page.locator("#start-image input[type=file]").set_input_files(str(fake))
    # The reason is said under the image box (no toast), and no picture is left to suggest it will be sent.
    note = page.locator("#start-note .clip-error", has_text="cat.png")
    note.wait_for(timeout=20_000)
    assert "/tmp" not in note.inner_text()
    page.wait_for_function("() => !document.querySelector('#start-image img')")
    assert page.locator(".toast-body").count() == 0
    assert upstream.received == []


def test_a_picture_and_the_url_sent_never_disagree(page, upstream, tmp_path):
    pick_start_image(page, tmp_path, (30, 30, 200))
    page.get_by_text("a slow dolly across a foggy pine forest").click()  # an example: no start image
    page.wait_for_function("() => !document.querySelector('#start-image img')")
    assert page.locator("#start-note").inner_text().strip() == ""
    assert page.locator("#start-image-url textarea, #start-image-url input").first.input_value() == ""


def test_continuing_a_clip_starts_the_next_from_its_last_frame_and_the_chain_joins(page, studio, upstream):
    make_clip(page, "a fox starts running")
    page.locator("#extend").click()
    page.locator("#clip-status", has_text="last frame is the start image").wait_for(timeout=20_000)
    url = page.locator("#start-image-url textarea, #start-image-url input").first.input_value()
    assert url.startswith(upstream.root_url + "/assets/")
    uploaded, _ = upstream.uploads[-1]
    sample = studio.clips.parent / "sample.mp4"
    sample.write_bytes(upstream.video)
    assert uploaded == media.last_frame(sample).data
    page.locator("#prompt textarea").fill("the fox keeps running")
    page.locator("#generate").click()
    page.locator(CARDS, has_text="the fox keeps running").locator("video").wait_for(timeout=30_000)
    assert upstream.submissions[-1].body["start_image_url"] == url
    page.locator("#join", has_text="chain of 2 clips").click()
    link = page.locator("#chain-file a").first
    link.wait_for(timeout=20_000)
    joined = next(studio.clips.rglob("*_chain-of-2.mp4"))
    single = media.clip_info(sample).duration
    assert abs(media.clip_info(joined).duration - 2 * single) < 0.1


# --------------------------------------------------------------------------- small things a person notices


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(css: str) -> tuple[int, int, int]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])  # type: ignore[return-value]


def test_generates_text_meets_wcag_aa_contrast(page):
    colours = page.evaluate(
        "() => { const s = getComputedStyle(document.querySelector('#generate'));"
        " return [s.color, s.backgroundColor]; }"
    )
    text, back = (_luminance(_rgb(c)) for c in colours)
    ratio = (max(text, back) + 0.05) / (min(text, back) + 0.05)
    assert ratio >= 4.5, (colours, ratio)


def test_focus_is_visible_on_every_control_reached_by_tab(page):
    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                "() => { const e = document.activeElement; const s = getComputedStyle(e);"
                " return [e.tagName, e.id || e.className || '', s.outlineStyle, s.outlineWidth,"
                " s.boxShadow]; }"
            )
        )
    controls = [s for s in seen if s[0] in ("BUTTON", "INPUT", "TEXTAREA", "A", "SELECT")]
    assert len(controls) >= 10
    invisible = [s for s in controls if s[2] == "none" and s[4] == "none"]
    assert not invisible, invisible


def test_after_generate_focus_lands_where_the_result_appears(page):
    page.locator("#prompt textarea").fill("a fox")
    page.locator("#generate").click()
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'clip-status'")
    wait_until_playing(page)


@pytest.fixture(scope="module")
def keyless(upstream, tmp_path_factory):
    from tests.app_harness import running_app

    with running_app(upstream.base_url, None, temp_dir=str(tmp_path_factory.mktemp("gradio-keyless-b"))) as running:
        yield running


def test_without_a_page_key_generate_is_above_the_fold_on_a_laptop_screen(chromium, keyless):
    context, page = open_page(chromium, keyless.url, width=1366, height=900)
    try:
        page.locator("#no-key-notice").wait_for()
        box = page.locator("#generate").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900
        assert page.locator("#api-key input").is_visible()
    finally:
        context.close()


def test_the_owner_key_is_nowhere_in_the_page(page):
    assert OWNER_KEY not in page.content()


def test_a_phrase_chip_adds_its_words_to_the_prompt_and_sends_nothing(page, upstream):
    page.locator("#prompt textarea").fill("a red kite over dunes")
    page.get_by_text("Camera moves and phrases Ray responds to").click()
    page.locator("button[data-phrase='orbit shot']").click()
    page.locator("button[data-phrase='golden hour']").click()
    page.wait_for_function(
        "() => document.querySelector('#prompt textarea').value === 'a red kite over dunes, orbit shot, golden hour'"
    )
    page.get_by_text("46 / 2000 characters").wait_for()  # Gradio heard the change
    assert upstream.received == []


def test_phrase_chips_work_from_the_keyboard_and_keep_the_focus_on_the_chips(page, upstream):
    page.locator("#prompt textarea").fill("a red kite")
    page.get_by_text("Camera moves and phrases Ray responds to").click()
    chip = page.locator("button[data-phrase='orbit shot']")
    chip.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    prompt_is = "() => document.querySelector('#prompt textarea').value.startsWith('a red kite, orbit shot, ')"
    page.wait_for_function(prompt_is)
    assert page.evaluate("() => document.activeElement.dataset.phrase") not in (None, "orbit shot")
    assert upstream.received == []
