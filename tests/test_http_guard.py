"""The server's front door: body sizes, the upload quota, MCP callers told apart, no key oracle."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from ray_studio.web.http_guard import trusted_visitor, visitor_header
from ray_studio.web.spending import SpendPolicy
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY

VISITOR_KEY = "sg_visitorOwnKey_0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()


def caller(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30)


def call_generate(url: str, source: str, data: list) -> str:
    with caller(source) as http:
        event_id = http.post(f"{url}gradio_api/call/generate", json={"data": data}).json()["event_id"]
        with http.stream("GET", f"{url}gradio_api/call/generate/{event_id}") as events:
            return "\n".join(events.iter_lines())


def test_a_request_body_larger_than_the_cap_is_refused_before_gradio_reads_it(studio, upstream):
    with caller("127.0.0.2") as http:
        big = http.post(f"{studio.url}gradio_api/queue/join", content=b"[" + b"0," * 1_500_000 + b"0]",
                        headers={"content-type": "application/json"})  # fmt: skip
        assert big.status_code == 413
        assert http.get(f"{studio.url}config").status_code == 200
    assert upstream.received == []


def test_uploads_from_one_address_are_capped_and_others_are_not_held(studio):
    def upload(http: httpx.Client) -> int:
        return http.post(f"{studio.url}gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)}).status_code

    with caller("127.0.0.4") as mallory, caller("127.0.0.5") as alice:
        statuses = [upload(mallory) for _ in range(31)]
        assert statuses[:30] == [200] * 30 and statuses[30] == 429
        assert upload(alice) == 200


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
