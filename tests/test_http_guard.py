"""The server's front door: body sizes, the upload quota, MCP callers told apart, no key oracle,
unknown API names, and who may name the visitor in X-Forwarded-For."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from ray_studio.web.http_guard import trusted_visitor, visitor_header
from ray_studio.web.policy import SpendPolicy
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY

VISITOR_KEY = "sg_visitorOwnKey_0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()


def caller(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30)


def call_generate(url: str, source: str, data: list, forwarded_for: str | None = None) -> str:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    with caller(source) as http:
        event_id = http.post(f"{url}gradio_api/call/generate", json={"data": data}, headers=headers).json()["event_id"]
        with http.stream("GET", f"{url}gradio_api/call/generate/{event_id}", headers=headers) as events:
            return "\n".join(events.iter_lines())


A_FOX = ["a fox", "16:9", 5, False, "", "", ""]
PROXY = "127.0.0.2"  # the one peer the app behind a proxy trusts to name visitors
AROUND_THE_PROXY = "127.0.0.3"


@pytest.fixture(scope="module")
def behind_proxy(upstream, tmp_path_factory):
    """The app behind one proxy at 127.0.0.2, one clip a minute per visitor (three per IPv6 /56)."""
    policy = SpendPolicy(visitor_limits="1 per minute", daily_budget=None, proxy_hops=1, trusted_proxies=PROXY)
    with running_app(
        upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path_factory.mktemp("proxied")), policy=policy
    ) as running:
        yield running


def upload(http: httpx.Client, url: str, forwarded_for: str | None = None) -> int:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return http.post(f"{url}gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)}, headers=headers).status_code


@pytest.fixture
def server_log():
    """Every record the server logs (uvicorn's own logger does not propagate) while the test runs."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error"), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_request_body_larger_than_the_cap_is_refused_before_gradio_reads_it(studio, upstream):
    with caller("127.0.0.2") as http:
        big = http.post(f"{studio.url}gradio_api/queue/join", content=b"[" + b"0," * 1_500_000 + b"0]",
                        headers={"content-type": "application/json"})  # fmt: skip
        assert big.status_code == 413
        assert http.get(f"{studio.url}config").status_code == 200
    assert upstream.received == []


def test_uploads_from_one_address_are_capped_and_others_are_not_held(studio):
    with caller("127.0.0.4") as mallory, caller("127.0.0.5") as alice:
        statuses = [upload(mallory, studio.url) for _ in range(31)]
        assert statuses[:30] == [200] * 30 and statuses[30] == 429
        assert upload(alice, studio.url) == 200


def test_uploads_from_the_addresses_of_one_ipv6_64_are_counted_together(behind_proxy):
    with caller(PROXY) as proxy:
        statuses = [upload(proxy, behind_proxy.url, f"2001:db8:1:2::{n:x}") for n in range(1, 41)]
        assert statuses[:30] == [200] * 30 and statuses[30:] == [429] * 10
        assert upload(proxy, behind_proxy.url, "2001:db8:1:3::1") == 200  # the next /64 is someone else


def test_uploads_from_a_peer_around_the_proxy_count_as_that_peer_whatever_it_forwards(behind_proxy):
    with caller(AROUND_THE_PROXY) as mallory:
        statuses = [upload(mallory, behind_proxy.url, f"198.51.100.{n}") for n in range(1, 32)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_a_peer_around_the_proxy_cannot_be_a_new_visitor_by_writing_x_forwarded_for(behind_proxy, upstream):
    first = call_generate(behind_proxy.url, AROUND_THE_PROXY, A_FOX, forwarded_for="198.51.100.1")
    second = call_generate(behind_proxy.url, AROUND_THE_PROXY, A_FOX, forwarded_for="198.51.100.2")
    assert "event: complete" in first and "Limit reached" in second
    assert len(upstream.submissions) == 1


def test_the_proxy_names_visitors_and_one_ipv6_customer_is_held_to_three_visitors_clips(behind_proxy, upstream):
    answers = [call_generate(behind_proxy.url, PROXY, A_FOX, f"2001:db8:5:{n}::1") for n in range(4)]
    assert all("event: complete" in a for a in answers[:3])
    assert "Limit reached" in answers[3] and "each network" in answers[3]
    assert "event: complete" in call_generate(behind_proxy.url, PROXY, A_FOX, "2001:db8:6::1")
    assert len(upstream.submissions) == 4


@pytest.mark.parametrize(
    "path, body",
    [
        ("gradio_api/call/no_such_name", {"data": []}),
        ("gradio_api/call/no_such_name/", {"data": []}),
        ("gradio_api/call/v2/no_such_name", {}),
        ("gradio_api/run/no_such_name", {"data": []}),
        ("gradio_api/queue/join", {"data": [], "fn_index": 9999, "session_hash": "abcdefgh"}),
        ("gradio_api/queue/join", {"data": [], "fn_index": -1, "session_hash": "abcdefgh"}),
    ],
)
def test_a_call_to_an_unknown_api_name_or_function_is_a_short_404_and_no_traceback(studio, server_log, path, body):
    with caller("127.0.0.2") as http:
        answer = http.post(f"{studio.url}{path}", json=body)
        assert http.get(f"{studio.url}config").status_code == 200
    assert answer.status_code == 404
    assert len(answer.content) < 200 and "Traceback" not in answer.text
    assert [r.getMessage() for r in server_log if r.exc_info or r.levelno >= logging.ERROR] == []


def test_typing_a_piece_of_the_pages_key_confirms_nothing(studio, upstream):
    guess, other = OWNER_KEY[3:11], "zzzzqqqq"
    answers = [call_generate(studio.url, "127.0.0.6", ["a fox", g, 5, False, "", "", ""]) for g in (guess, other)]
    assert all("event: error" in a for a in answers)
    assert "[key hidden]" not in answers[0]
    assert answers[0].replace(guess, "GUESS") == answers[1].replace(other, "GUESS")
    assert upstream.received == []


def test_only_a_header_this_server_signed_names_an_mcp_caller():
    assert trusted_visitor(visitor_header("203.0.113.9")) == "203.0.113.9"
    assert trusted_visitor("203.0.113.9;" + "0" * 32) is None
    assert trusted_visitor("203.0.113.9") is None and trusted_visitor(None) is None


def test_a_forged_visitor_header_on_a_plain_call_changes_nothing(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="1 per minute", daily_budget=None)
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        answers = []
        for forged in ("198.51.100.1;" + "0" * 32, "198.51.100.2;" + "1" * 32):
            with caller("127.0.0.7") as http:
                event_id = http.post(f"{running.url}gradio_api/call/generate",
                                     json={"data": ["a fox", "16:9", 5, False, "", "", ""]},
                                     headers={"x-ray-visitor": forged}).json()["event_id"]  # fmt: skip
                with http.stream("GET", f"{running.url}gradio_api/call/generate/{event_id}") as events:
                    answers.append("\n".join(events.iter_lines()))
    assert "event: complete" in answers[0] and "Limit reached" in answers[1]
    assert len(upstream.submissions) == 1


def test_mcp_callers_at_different_addresses_are_different_visitors(upstream, tmp_path):
    pytest.importorskip("mcp", reason="pip install -r requirements-test.txt")
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call_as(url: str, source: str):
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with (
            httpx.AsyncClient(transport=transport, timeout=60) as http,
            streamable_http_client(url + "gradio_api/mcp/", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("generate", {"prompt": f"a fox for {source}"})

    policy = SpendPolicy(visitor_limits="1 per minute", daily_budget=None)
    settings = app.AppSettings(mcp=True)
    with running_app(upstream.base_url, OWNER_KEY, settings, temp_dir=str(tmp_path), policy=policy) as running:
        alice = asyncio.run(call_as(running.url, "127.0.0.8"))
        bob = asyncio.run(call_as(running.url, "127.0.0.9"))
        alice_again = asyncio.run(call_as(running.url, "127.0.0.8"))
    assert not alice.isError and not bob.isError
    assert alice_again.isError and "Limit reached" in alice_again.content[0].text
    assert len(upstream.submissions) == 2


@pytest.mark.parametrize("path", ["gradio_api/deep_link", "gradio_api/deep_link/", "/gradio_api//deep_link"])
def test_gradios_deep_links_are_refused_so_no_visitors_inputs_are_saved_or_served(studio, upstream, path):
    visitor = Client(studio.url, verbose=False)
    with contextlib.suppress(AppError):  # refused by the stand-in: the inputs were taken all the same
        visitor.predict("a fox", "16:9", 5, False, "", "", VISITOR_KEY, api_name="/generate")
    with caller("127.0.0.2") as http:
        answer = http.get(f"{studio.url}{path}", params={"session_hash": visitor.session_hash})
    assert answer.status_code == 404
    assert not list(studio.cache_dir.rglob("deep_links"))
