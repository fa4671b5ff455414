"""The showcase (RAY_SHOWCASE_DIR) and clip links (/?clip=<token>): a launched page, over HTTP and in Chromium."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

import app
from ray_studio.client.clip_files import write_sidecar
from ray_studio.web.share import InvalidLinkError, links_of
from ray_studio.web.showcase import load_showcase
from tests.app_harness import running_app
from tests.browser import open_page, wait_until_playing
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.media_samples import BLUE, GREEN, RED, write_clip

SHOWN = [
    ("a red kite over white dunes, slow aerial orbit", "21:9", 5, False, RED),
    ("a green tea field in morning fog, dolly in", "16:9", 9, True, GREEN),
    ("a blue paper boat drifting down a rainy gutter", "9:16", 5, False, BLUE),
]


def fill_showcase(folder: Path) -> Path:
    """Three clips with sidecars as RAY_SAVE_DIR writes them, plus one without a sidecar and one whose
    sidecar names no valid request: those two are left out."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (prompt, ratio, duration, loop, colour) in enumerate(SHOWN):
        clip = write_clip(folder / f"{i}-clip.mp4", [colour, RED], frames_each=12)
        write_sidecar(clip, {"file": clip.name, "prompt": prompt, "aspect_ratio": ratio, "duration": duration,
                             "loop": loop, "start_image_url": None, "end_image_url": None})  # fmt: skip
    write_clip(folder / "8-no-sidecar.mp4", [RED])
    bad = write_clip(folder / "9-bad-sidecar.mp4", [RED])
    write_sidecar(bad, {"prompt": "x", "aspect_ratio": "5:7", "duration": 5})
    return folder


@pytest.fixture(scope="module")
def shared_app(upstream, tmp_path_factory):
    root = tmp_path_factory.mktemp("share")
    settings = app.AppSettings(showcase_dir=fill_showcase(root / "showcase"), save_dir=root / "saved")
    with running_app(upstream.base_url, OWNER_KEY, settings=settings, temp_dir=str(root / "gradio")) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()
    yield


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def og(page: str) -> dict[str, str]:
    return dict(re.findall(r'<meta property="([^"]+)" content="([^"]*)">', page))


def link_of(summary: str) -> str:
    return re.search(r"link: (\S+)", summary).group(1)


# --------------------------------------------------------------------------- the showcase


def test_the_showcase_takes_clips_with_sidecars_and_logs_each_broken_one_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, "ray_studio")
    clips = load_showcase(fill_showcase(tmp_path / "showcase"), tmp_path / "posters")
    assert [c.request.prompt for c in clips] == [s[0] for s in SHOWN]
    assert all(c.poster.read_bytes()[:3] == b"\xff\xd8\xff" for c in clips)  # JPEG posters, made at start
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(left_out) == 2
    assert "8-no-sidecar.mp4" in left_out[0] and "9-bad-sidecar.mp4" in left_out[1]


def test_the_showcase_is_served_as_it_is_and_asks_nothing_upstream(shared_app, upstream):
    status, page = fetch(shared_app.url)
    assert status == 200
    assert "Made with Ray Studio" in page
    clip = links_of(shared_app.demo).showcase.clips[0].path
    with urllib.request.urlopen(shared_app.url + "gradio_api/file=" + str(clip.resolve()), timeout=10) as response:
        assert response.read() == clip.read_bytes()  # no copy, no re-encode
    assert upstream.received == []


# --------------------------------------------------------------------------- links


def test_generate_summary_carries_a_link_that_unfurls_with_the_prompt_poster_and_video(shared_app, upstream):
    api = Client(shared_app.url, verbose=False)
    _, summary = api.predict(prompt="a fox in fresh snow", aspect_ratio="9:16", api_name="/generate")
    link = link_of(summary)
    assert link.startswith(shared_app.url + "?clip=")
    assert "this link works as long as this server keeps the clip" in summary  # RAY_SAVE_DIR is set
    status, page = fetch(link)
    tags = og(page)
    assert status == 200 and tags["og:title"] == "a fox in fresh snow"
    assert tags["og:video:type"] == "video/mp4" and tags["og:description"].startswith("9:16 · 5 s")
    with urllib.request.urlopen(tags["og:image"].replace("&amp;", "&"), timeout=10) as poster:
        assert poster.read()[:3] == b"\xff\xd8\xff"
    assert OWNER_KEY not in page and len(upstream.submissions) == 1


def test_an_edited_token_is_not_valid_and_names_no_path(shared_app):
    api = Client(shared_app.url, verbose=False)
    _, summary = api.predict(prompt="a fox", api_name="/generate")
    token = link_of(summary).split("?clip=")[1]
    edited = ("B" if token[0] != "B" else "C") + token[1:]
    status, page = fetch(shared_app.url + "?clip=" + edited)
    assert status == 200 and og(page) == {}
    with pytest.raises(InvalidLinkError) as refused:
        links_of(shared_app.demo).open(edited)
    message = refused.value.visitor_message()
    assert message.startswith("This link is not valid. ") and "/" not in message.split(". ", 1)[1]


def test_a_link_outlives_the_cache_when_the_clip_was_kept(shared_app):
    api = Client(shared_app.url, verbose=False)
    video, summary = api.predict(prompt="a heron taking off", api_name="/generate")
    token = link_of(summary).split("?clip=")[1]
    links = links_of(shared_app.demo)
    made = links.open(token).path
    for leftover in made.parent.iterdir():  # the day-long cache has dropped it
        leftover.unlink()
    shared = links.open(token)
    assert shared.request.prompt == "a heron taking off"
    assert shared.path.read_bytes() == Path(video).read_bytes()


def test_a_showcase_link_says_it_lasts_while_the_clip_is_shown(shared_app):
    links = links_of(shared_app.demo)
    clip = links.showcase.clips[1]
    shared = links.open(links.token("s", clip.name))
    assert shared.request.loop is True and "showcase" in shared.lasts
    assert json.loads(clip.path.with_suffix(".json").read_text())["prompt"] == SHOWN[1][0]


# --------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_a_fresh_visitor_sees_the_showcase_play_on_hover_and_uses_its_settings(chromium, shared_app, upstream):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1366, 900), (390, 844)):
        context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=width < 800)
        page = context.new_page()
        page.goto(shared_app.url)
        items = page.locator("#showcase .showcase-clip")
        items.first.wait_for()
        assert items.count() == 3
        for prompt, *_ in SHOWN:
            page.locator("#showcase figcaption", has_text=prompt).wait_for()
        posters = page.eval_on_selector_all("#showcase video", "vs => vs.map(v => v.poster)")
        assert all("gradio_api/file=" in p and p.endswith(".jpg") for p in posters)
        page.locator("#showcase").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"share-showcase-{width}.png"), full_page=True)
        if width == 1366:
            page.locator("#showcase video").nth(1).hover()
        else:  # a tap (a phone has no hover)
            page.locator("#showcase video").nth(1).tap()
        page.wait_for_function("() => !document.querySelectorAll('#showcase video')[1].paused")
        page.locator("#showcase .use-settings").nth(1).click()
        page.wait_for_function(f"() => document.querySelector('#prompt textarea').value === {json.dumps(SHOWN[1][0])}")
        assert page.get_by_label("16:9").is_checked() and page.get_by_label("9 s").is_checked()
        assert page.get_by_label("Loop (last frame matches the first)").is_checked()
        context.close()
    assert upstream.received == []


@pytest.mark.browser
def test_a_clip_made_in_one_browser_opens_playing_from_its_link_in_another(chromium, shared_app, upstream):
    maker, page = open_page(chromium, shared_app.url, 1366, 900)
    page.locator("#prompt textarea").fill("an otter juggling pebbles on a riverbank")
    page.get_by_label("4:3").check()
    page.locator("#generate").click()
    wait_until_playing(page)
    button = page.locator("#share-link button.copy-link")
    button.wait_for()
    assert "this link works" in page.locator("#share-link").inner_text()
    button.click()
    link = page.locator("#share-link input.share-url").input_value()
    page.locator(".history-card .card-share").first.click()  # a card's Share puts its link under the player
    page.locator("#share-link button.copy-link").wait_for()
    maker.close()
    assert link.startswith(shared_app.url + "?clip=") and len(upstream.submissions) == 1

    for width, height in ((1366, 900), (390, 844)):
        visitor, page = open_page(chromium, link, width, height)  # a new context: no cookies, no storage
        wait_until_playing(page)
        page.locator("#clip-info", has_text="an otter juggling pebbles").wait_for()
        page.locator("#clip-status", has_text="A shared clip").wait_for()
        page.screenshot(path=str(ARTIFACTS / f"share-link-opened-{width}.png"), full_page=True)
        page.locator("#remix").click()
        page.wait_for_function("() => document.querySelector('#prompt textarea').value.includes('otter juggling')")
        assert page.get_by_label("4:3").is_checked()
        visitor.close()
    assert len(upstream.submissions) == 1

    token = link.split("?clip=")[1]
    visitor, page = open_page(chromium, shared_app.url + "?clip=x" + token[1:], 390, 844)
    page.locator("#clip-status", has_text="This link is not valid").wait_for()
    assert "Traceback" not in page.content() and "/tmp" not in page.locator("#clip-status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "share-link-refused-390.png"), full_page=True)
    visitor.close()


@pytest.mark.browser
def test_a_cards_share_after_a_reload_shows_that_clips_link(chromium, shared_app, upstream):
    context, page = open_page(chromium, shared_app.url, 1366, 900)
    page.locator("#prompt textarea").fill("an owl at night over the barn")
    page.locator("#generate").click()
    wait_until_playing(page)
    page.reload()
    page.locator(".history-card", has_text="an owl at night over the barn").locator(".card-share").click()
    page.locator("#share-link button.copy-link").wait_for()
    assert "this link works" in page.locator("#share-link").inner_text()
    context.close()
