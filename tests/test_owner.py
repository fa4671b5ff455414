"""The owner's view, against the launched app: the spend record (/owner/spend.csv), who may see it,
the pause switch, and each visitor's allowance (/allowance). Visitors call over real sockets from
chosen loopback addresses (tests/visitor_http.py); the stand-in counts what reached Segmind."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import app
from ray_studio.client.client import RayClient
from ray_studio.client.errors import UploadAuthenticationError
from ray_studio.client.settings import Settings
from ray_studio.web.board import JobBoard
from ray_studio.web.identity import Visitor
from ray_studio.web.key_alert import KeyAlert
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.record import Recorder, SqliteRecord, open_store
from ray_studio.web.refusals import PAUSED_LINE
from ray_studio.web.spending import OWN_KEY_ALLOWANCE, SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import RunningApp, client_settings, running_app
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.redis_server import running_redis
from tests.segmind_standin import Reply, SegmindStandIn
from tests.spend_attack import launched_apps
from tests.visitor_http import Caller

OWNER = ("boss", "correct horse battery staple")
FIVE_S = 0.375  # one 5 s clip at Segmind's listed price
TWO_PER_TEN = SpendPolicy(visitor_limits="2 per 10 minutes", daily_budget=None)
THREE_AND_FIVE = SpendPolicy(visitor_limits="3 per 10 minutes; 5 per day", daily_budget=None)
NO_LIMITS = SpendPolicy(visitor_limits="off", daily_budget=None)
OUT_OF_CREDITS = "Insufficient credits. Please recharge your account"
ENHANCE_PRICE = Settings().enhance_price


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: SegmindStandIn) -> Iterator[None]:
    upstream.reset()
    yield


@pytest.fixture
def launch(upstream: SegmindStandIn, tmp_path: Path) -> Iterator[Callable[..., RunningApp]]:
    """``launch(policy, data_dir=)``: the page with RAY_OWNER set, its record under ``data_dir``."""
    with contextlib.ExitStack() as stack:
        launched = [0]

        def start(policy: SpendPolicy = TWO_PER_TEN, data_dir: Path | None = None) -> RunningApp:
            launched[0] += 1
            settings = app.AppSettings(owner=OWNER, data_dir=data_dir or tmp_path / "data")
            temp_dir = str(tmp_path / f"gradio-{launched[0]}")
            return stack.enter_context(running_app(upstream.base_url, OWNER_KEY, settings, temp_dir, policy=policy))

        yield start


def owner_get(url: str, path: str, auth: tuple[str, str] | None = OWNER) -> httpx.Response:
    return httpx.get(url.rstrip("/") + path, auth=auth, trust_env=False, timeout=30)


def owner_post(url: str, path: str, auth: tuple[str, str] | None = OWNER) -> httpx.Response:
    return httpx.post(url.rstrip("/") + path, auth=auth, trust_env=False, timeout=30)


def spend_rows(url: str, days: int = 1) -> list[dict]:
    answer = owner_get(url, f"/owner/spend.csv?days={days}")
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


def enhance(caller: Caller, prompt: str = "a fox in the snow", api_key: str = ""):
    return caller.result("enhance", caller.call("enhance", [prompt, api_key]))


def key_alert(url: str) -> str | None:
    """The owner's alert about the page's key, as the owner's page shows it (None: there is none)."""
    found = re.search(r'<p class="alert" role="alert" id="key-alert"><b>(.*?)</b></p>', owner_get(url, "/owner").text)
    return html.unescape(re.sub(r"<[^>]+>", "", found[1])) if found else None


def allowance(caller: Caller, api_key: str = "") -> str:
    outcome = caller.result("allowance", caller.call("allowance", [api_key]))
    assert outcome.ok, outcome.message
    return outcome.data[0]


# --------------------------------------------------------------------------- the record


def test_two_clips_and_a_refusal_are_three_events_whose_costs_sum_to_the_prices(launch, upstream):
    running = launch()
    alice = Caller(running.url, source="127.0.0.2")
    assert alice.generate("a fox").ok and alice.generate("a kite").ok
    assert not alice.generate("a boat").ok
    answer = owner_get(running.url, "/owner/spend.csv?days=1")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["outcome"] for r in rows] == ["made", "made", "refused"]
    assert rows[2]["rule"] == "visitor-limit"
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(2 * FIVE_S)
    assert {r["job_id"] for r in rows[:2]} == {job.request_id for job in upstream.jobs.values()}
    assert len({r["visitor"] for r in rows}) == 1
    assert "127.0.0" not in answer.text and OWNER_KEY not in answer.text
    assert "a fox" not in answer.text  # prompts only with RAY_OWNER_SEES_PROMPTS


def test_the_owner_routes_answer_401_without_auth_or_with_a_wrong_password(launch):
    running = launch()
    assert Caller(running.url, source="127.0.0.2").generate("a fox").ok
    wrong = (OWNER[0], "wrong password")
    for auth in (None, wrong, ("someone", OWNER[1])):
        for path in ("/owner", "/owner/spend.csv?days=1"):
            answer = owner_get(running.url, path, auth)
            assert answer.status_code == 401 and "made" not in answer.text, (path, auth)
        assert owner_post(running.url, "/owner/pause", auth).status_code == 401
    assert Caller(running.url, source="127.0.0.3").generate("a kite").ok  # the wrong POSTs paused nothing


def test_past_ten_wrong_passwords_the_owner_is_told_how_long_the_lockout_lasts(launch):
    running = launch()
    for _ in range(10):
        assert owner_get(running.url, "/owner", (OWNER[0], "guess")).status_code == 401
    locked = owner_get(running.url, "/owner")  # the right password, from there, for now
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 600
    assert re.search(r"try again in (\d+ min|under a minute), at \d\d:\d\d UTC", locked.text), locked.text


def test_during_a_lockout_the_right_password_is_answered_as_a_wrong_one_is(launch):
    running = launch()
    for _ in range(10):
        owner_get(running.url, "/owner", (OWNER[0], "guess"))
    right, wrong = owner_get(running.url, "/owner"), owner_get(running.url, "/owner", (OWNER[0], "guess 11"))
    assert right.status_code == wrong.status_code == 429
    assert re.sub(r"\d+", "N", right.text) == re.sub(r"\d+", "N", wrong.text)
    assert right.headers.keys() - {"date"} == wrong.headers.keys() - {"date"}


def test_the_record_is_still_there_after_a_restart(launch, tmp_path):
    data = tmp_path / "kept"
    first = launch(data_dir=data)
    assert Caller(first.url, source="127.0.0.2").generate("a fox").ok
    assert [r["outcome"] for r in spend_rows(first.url)] == ["made"]
    first.demo.close()
    second = launch(data_dir=data)
    assert [r["outcome"] for r in spend_rows(second.url)] == ["made"]
    assert (data / "spend-record.sqlite3").exists()


def test_the_owner_page_shows_today_and_a_failed_billed_clip_with_its_resume_command(launch, upstream):
    running = launch()
    assert Caller(running.url, source="127.0.0.2").generate("a fox").ok
    page = owner_get(running.url, "/owner")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "$0.375" in page.text and "made" in page.text and "Pause spending now" in page.text
    assert OWNER_KEY not in page.text and "127.0.0" not in page.text


# --------------------------------------------------------------------------- pause


def test_paused_the_api_the_variants_and_the_page_are_refused_and_nothing_is_sent(launch, upstream):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=None))
    alice = Caller(running.url, source="127.0.0.2")
    assert owner_post(running.url, "/owner/pause").status_code == 200
    refusals = [
        alice.generate("a fox"),
        alice.result("variants", alice.call("variants", ["a fox\na kite", ["16:9"], 5, False, "", "", "", []])),
        alice.join_and_wait(alice.page_fn, alice.page_data("a fox")),
    ]
    for refusal in refusals:
        assert not refusal.ok and PAUSED_LINE in refusal.message, refusal.text
    assert upstream.submissions == []
    assert allowance(alice) == PAUSED_LINE
    assert {r["rule"] for r in spend_rows(running.url)} == {"paused"}
    assert owner_post(running.url, "/owner/resume").status_code == 200
    assert alice.generate("a fox").ok and len(upstream.submissions) == 1


def test_a_pause_from_another_site_is_refused(launch):
    running = launch()
    answer = httpx.post(running.url + "owner/pause", auth=OWNER, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert Caller(running.url, source="127.0.0.2").generate("a fox").ok


# --------------------------------------------------------------------------- the allowance


def test_the_allowance_counts_down_with_each_clip_and_matches_what_the_limits_allow(launch):
    running = launch(THREE_AND_FIVE)
    alice = Caller(running.url, source="127.0.0.2")
    lines = [allowance(alice)]
    while alice.generate(f"a fox {len(lines)}").ok:
        lines.append(allowance(alice))
    assert lines == [
        "3 of 3 clips left in the next 10 minutes · 5 today",
        "2 of 3 clips left in the next 10 minutes · 4 today",
        "1 of 3 clips left in the next 10 minutes · 3 today",
        "0 of 3 clips left in the next 10 minutes · 2 today",
    ]
    assert allowance(Caller(running.url, source="127.0.0.3")).startswith("3 of 3")  # another visitor's own


def test_with_their_own_key_a_visitor_is_told_no_page_limits_apply(launch):
    running = launch(THREE_AND_FIVE)
    assert allowance(Caller(running.url, source="127.0.0.2"), "sg_visitor_own_key_0123456789") == OWN_KEY_ALLOWANCE


def test_on_a_page_of_visitors_own_keys_the_allowance_says_to_paste_one(launch):
    running = launch(SpendPolicy(own_key_only=True))
    line = allowance(Caller(running.url, source="127.0.0.2"))
    assert line.startswith("This page runs on visitors' own keys: paste your Segmind key")


def test_the_allowance_says_when_the_day_budget_is_nearly_spent_never_its_dollars(launch):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=1.0))  # two 5 s clips, and a bit
    alice = Caller(running.url, source="127.0.0.2")
    assert "nearly spent" not in allowance(alice)
    assert alice.generate("a fox").ok
    line = allowance(alice)
    assert "nearly spent" in line and "$" not in line


# --------------------------------------------------------------------------- two processes, one Redis


def test_two_app_processes_on_one_redis_share_one_record_and_one_pause(upstream, tmp_path):
    with running_redis() as uri:
        settings = {"RAY_LIMITS_STORAGE": uri, "RAY_OWNER": ":".join(OWNER), "RAY_VISITOR_LIMITS": "off"}
        with launched_apps(upstream, tmp_path, settings, count=2) as (first, second):
            assert Caller(first.url, source="127.0.0.2").generate("a fox").ok
            assert [r["outcome"] for r in spend_rows(second.url)] == ["made"]
            assert owner_post(first.url, "/owner/pause").status_code == 200
            refused = Caller(second.url, source="127.0.0.3").generate("a kite")
            assert not refused.ok and PAUSED_LINE in refused.message
            assert len(upstream.submissions) == 1


# --------------------------------------------------------------------------- Enhance in the record


def test_an_enhance_on_the_pages_key_is_recorded_apart_from_clips_and_counted_in_the_day(launch, upstream):
    running = launch()
    alice = Caller(running.url, source="127.0.0.2")
    assert enhance(alice).ok and alice.generate("a fox").ok
    rows = spend_rows(running.url)
    assert [(r["kind"], r["outcome"], float(r["cost_usd"])) for r in rows] == [
        ("enhance", "made", ENHANCE_PRICE),
        ("clip", "made", FIVE_S),
    ]
    tiles = owner_get(running.url, "/owner").text
    assert f"Spent today (UTC)<b>${FIVE_S + ENHANCE_PRICE:.3f}" in tiles
    assert "Enhance calls · spent<b>1 · $0.01</b>" in tiles and "Spent on clips<b>$0.375</b>" in tiles


def test_an_enhance_refused_by_its_limit_is_recorded_with_the_rule(launch, upstream):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=None, enhance_limits="1 per hour"))
    alice = Caller(running.url, source="127.0.0.2")
    assert enhance(alice).ok and not enhance(alice).ok
    rows = spend_rows(running.url)
    assert [(r["kind"], r["outcome"], r["rule"]) for r in rows] == [
        ("enhance", "made", ""),
        ("enhance", "refused", "visitor-limit"),
    ]
    assert len(upstream.chats) == 1


def test_an_enhance_on_a_visitors_own_key_is_not_in_the_owners_record(launch, upstream):
    running = launch()
    enhance(Caller(running.url, source="127.0.0.2"), api_key="sg_visitor_own_key_0123456789")
    assert len(upstream.chats) == 1
    assert spend_rows(running.url) == []


# --------------------------------------------------------------------------- Segmind refuses the page's key


def test_out_of_credits_on_the_pages_key_puts_an_alert_first_on_the_owner_page(launch, upstream):
    running = launch()
    upstream.fail(406, OUT_OF_CREDITS)
    refused = Caller(running.url, source="127.0.0.2").generate("a fox")
    assert refused.message.startswith("This page cannot make clips right now")
    alert = key_alert(running.url)
    assert alert is not None and re.fullmatch(
        r"Segmind refused the page's key: out of credits \(HTTP 406\) at \d\d:\d\d UTC — visitors are told the "
        r"page cannot make clips; recharge at https://cloud\.segmind\.com/console/billing\.",
        alert,
    ), alert
    page = owner_get(running.url, "/owner").text
    assert page.index('id="key-alert"') < page.index("<h2>Today")
    assert [r["rule"] for r in spend_rows(running.url)] == ["out-of-credits"]


def test_a_rejected_page_key_is_the_alert_too(launch, upstream):
    running = launch()
    upstream.fail(401)
    assert not Caller(running.url, source="127.0.0.2").generate("a fox").ok
    assert "the key was rejected (HTTP 401)" in (key_alert(running.url) or "")


def test_the_alert_survives_a_restart(launch, upstream, tmp_path):
    data = tmp_path / "kept"
    first = launch(data_dir=data)
    upstream.fail(402, OUT_OF_CREDITS)
    assert not Caller(first.url, source="127.0.0.2").generate("a fox").ok
    assert key_alert(first.url) is not None
    first.demo.close()
    assert "out of credits (HTTP 402)" in (key_alert(launch(data_dir=data).url) or "")


def test_a_later_clip_made_on_the_pages_key_clears_the_alert(launch, upstream):
    running = launch(NO_LIMITS)
    alice = Caller(running.url, source="127.0.0.2")
    upstream.fail(406, OUT_OF_CREDITS)
    assert not alice.generate("a fox").ok and key_alert(running.url) is not None
    assert alice.generate("a fox").ok
    assert key_alert(running.url) is None


def test_a_visitors_own_key_out_of_credits_raises_no_alert(launch, upstream):
    running = launch()
    upstream.fail(406, OUT_OF_CREDITS)
    assert not Caller(running.url, source="127.0.0.2").generate("a fox", api_key="sg_visitor_own_key_0123456789").ok
    assert len(upstream.submissions) == 1
    assert key_alert(running.url) is None


def test_the_owner_is_warned_in_the_log_once_per_occurrence_without_the_key(launch, upstream, caplog):
    running = launch(NO_LIMITS)
    alice = Caller(running.url, source="127.0.0.2")
    caplog.set_level(logging.WARNING, logger="ray_studio.record")
    for status in (406, 406, None, 406):  # out, still out, recharged, out again
        if status:
            upstream.fail(status, OUT_OF_CREDITS)
        alice.generate("a fox")
        key_alert(running.url)  # reading the page waits until the record is written
    warnings = [r.getMessage() for r in caplog.records if "refused the page's key" in r.getMessage()]
    assert len(warnings) == 2 and all("out of credits" in w for w in warnings)
    assert not any(OWNER_KEY in r.getMessage() or OWNER_KEY[:8] in r.getMessage() for r in caplog.records)


def test_a_keyframe_upload_refused_on_the_pages_key_raises_the_alert(upstream, tmp_path):
    from PIL import Image

    upstream.then_upload(Reply(status=401))
    client = RayClient(client_settings(upstream.base_url, OWNER_KEY))
    recorder = Recorder(SqliteRecord(":memory:"))
    studio = Studio(client, JobBoard(client, concurrency=1, threads=1), SpendGate(NO_LIMITS), tmp_path / "clips",
                    recorder=recorder)  # fmt: skip
    (tmp_path / "uploads").mkdir()
    Image.new("RGB", (200, 200), (10, 200, 30)).save(tmp_path / "uploads" / "a.png")
    visitor = Visitor("ip:127.0.0.2", "127.0.0.2")
    with pytest.raises(UploadAuthenticationError), client:
        keyframe = studio.keyframe(str(tmp_path / "uploads" / "a.png"), "a.png", "", visitor, tmp_path / "uploads")
        # A loop of its own in a thread: this file runs after browser tests, whose Playwright holds this thread's loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, keyframe).result()
    alert = recorder.key_alert()
    assert alert is not None and (alert.reason, alert.status) == ("key-refused", 401)


@pytest.mark.parametrize("where", ["sqlite", "redis"])
def test_an_alert_is_kept_once_and_cleared_only_by_a_success_that_started_after_it(where, tmp_path):
    with contextlib.ExitStack() as stack:
        uri = stack.enter_context(running_redis()) if where == "redis" else "memory://"
        store = open_store(uri, tmp_path)
        first, second = KeyAlert(1000.0, "out-of-credits", 406), KeyAlert(2000.0, "key-refused", 401)
        assert store.raise_key_alert(first) and not store.raise_key_alert(second)
        assert not store.clear_key_alert(before=999.0)  # a call that started before it ran out
        assert store.key_alert() == first
        assert store.clear_key_alert(before=1000.5)
        assert store.key_alert() is None


# --------------------------------------------------------------------------- the page, in a browser


@pytest.mark.browser
def test_the_owner_page_in_a_browser_at_laptop_and_phone_widths(launch, chromium):
    running = launch()
    alice = Caller(running.url, source="127.0.0.2")
    assert alice.generate("a fox").ok and alice.generate("a kite").ok and not alice.generate("a boat").ok
    ARTIFACTS.mkdir(exist_ok=True)
    for width, name in ((1366, "owner-1366.png"), (390, "owner-390.png")):
        context = chromium.new_context(viewport={"width": width, "height": 900}, http_credentials=dict(
            username=OWNER[0], password=OWNER[1]))  # fmt: skip
        page = context.new_page()
        page.goto(running.url + "owner")
        assert page.locator("#events tr").count() == 4  # a header and three events
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        context.close()
    context = chromium.new_context(http_credentials=dict(username=OWNER[0], password=OWNER[1]))
    page = context.new_page()
    page.goto(running.url + "owner")
    page.click("#pause")
    page.wait_for_selector("#resume")
    assert PAUSED_LINE in alice.generate("a fox").message
    page.click("#resume")
    page.wait_for_selector("#pause")
    context.close()
