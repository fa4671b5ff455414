"""The owner's view, against the launched app: the spend record (/owner/spend.csv), who may see it,
the pause switch, and each visitor's allowance (/allowance). Visitors call over real sockets from
chosen loopback addresses (tests/visitor_http.py); the stand-in counts what reached Segmind."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import app
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.refusals import PAUSED_LINE
from ray_studio.web.spending import OWN_KEY_ALLOWANCE
from tests.app_harness import RunningApp, running_app
from tests.conftest import ARTIFACTS, OWNER_KEY
from tests.redis_server import running_redis
from tests.segmind_standin import SegmindStandIn
from tests.spend_attack import launched_apps
from tests.visitor_http import Caller

OWNER = ("boss", "correct horse battery staple")
FIVE_S = 0.375  # one 5 s clip at Segmind's listed price
TWO_PER_TEN = SpendPolicy(visitor_limits="2 per 10 minutes", daily_budget=None)
THREE_AND_FIVE = SpendPolicy(visitor_limits="3 per 10 minutes; 5 per day", daily_budget=None)


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


def test_wrong_owner_passwords_are_limited_per_address(launch):
    running = launch()
    for _ in range(10):
        assert owner_get(running.url, "/owner", (OWNER[0], "guess")).status_code == 401
    assert owner_get(running.url, "/owner", (OWNER[0], "guess")).status_code == 429
    assert owner_get(running.url, "/owner").status_code == 429  # not even the right one, from there, for now


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
        alice.result("variants", alice.call("variants", ["a fox\na kite", ["16:9"], 5, False, "", "", ""])),
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
