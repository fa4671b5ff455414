"""The owner's money, as visitors reach the launched app: every way in is held to the same limits.

The page is shared with its owner's Segmind key behind it, and every clip costs real money ($0.375
for 5 s, $0.675 for 9 s). Each test launches the app (in this process, or ``python app.py``) against
the Segmind stand-in, calls it over real sockets from chosen loopback addresses (127.0.0.2, … are
distinct visitors; see tests/visitor_http.py), and counts what reached the stand-in: a refused call
must send NOTHING, and its message must say why, when to come back, and that an own key goes on now.
Tests of one policy share one launched app (``shared_app``), each test at addresses of its own
(``visitor``), so no test meets another's limits; a test whose state is the whole app's (the day's
budget, a full queue) or that calls from 127.0.0.1 (gradio_client, which cannot pick its address)
launches its own (``launch``).
The rules themselves (windows, clocks, Redis scripts) are tested on their own in tests/test_visitors.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from ray_studio.client.errors import API_KEYS_PAGE
from ray_studio.web.policy import SpendPolicy
from tests.app_harness import RunningApp, running_app
from tests.conftest import OWNER_KEY
from tests.redis_server import running_redis
from tests.segmind_standin import Reply, SegmindStandIn
from tests.spend_attack import (
    ATTACKER,
    BUDGET,
    BYSTANDERS,
    PER_VISITOR_LIMIT,
    attack_launched_app,
    launched_apps,
    most_at_once,
    spend_by_utc_day,
)
from tests.visitor_http import Caller, Outcome, generate_data, new_session

VISITOR_KEY = "sg_visitor_own_key_0123456789"  # a visitor's own key, accepted by ``visitor_upstream`` only
PAGE_KEY_FIELD = "paste your own Segmind key"  # every refusal on the owner's key offers this way on

LONG = 60.0  # seconds a clip "runs" at the stand-in until a test ends it with finish_jobs()

TWO_PER_MINUTE = SpendPolicy(visitor_limits="2 per minute", daily_budget=None)
ONE_AT_A_TIME = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=1)


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: SegmindStandIn) -> Iterator[None]:
    upstream.reset()
    yield


@pytest.fixture(scope="module")
def visitor_upstream() -> Iterator[SegmindStandIn]:
    """A stand-in that accepts the visitor's own key (and not the owner's)."""
    with SegmindStandIn(api_key=VISITOR_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def gradio_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One cache folder for every app of the module: Gradio checks some files against the folder
    # GRADIO_TEMP_DIR names now, so apps running side by side must agree on it.
    return str(tmp_path_factory.mktemp("gradio"))


@pytest.fixture(scope="module")
def shared_app(upstream: SegmindStandIn, gradio_dir: str) -> Iterator[Callable[..., RunningApp]]:
    """``shared_app(policy, settings=, owner_key=, against=)``: app.py's page in this process, launched
    for the first test that asks for it and kept for the module's other tests of the same policy."""
    with contextlib.ExitStack() as stack:
        running: dict[tuple, RunningApp] = {}

        def get(
            policy: SpendPolicy,
            settings: app.AppSettings | None = None,
            owner_key: str | None = OWNER_KEY,
            against: SegmindStandIn = upstream,
        ) -> RunningApp:
            key = (repr(policy), repr(settings), owner_key, against.base_url)
            if key not in running:
                launched = running_app(against.base_url, owner_key, settings, gradio_dir, policy=policy)
                running[key] = stack.enter_context(launched)
            return running[key]

        yield get


@pytest.fixture
def launch(upstream: SegmindStandIn, gradio_dir: str) -> Iterator[Callable[..., RunningApp]]:
    """``launch(policy, settings=, owner_key=, against=)``: app.py's page in this process, until the test ends."""
    with contextlib.ExitStack() as stack:

        def start(
            policy: SpendPolicy,
            settings: app.AppSettings | None = None,
            owner_key: str | None = OWNER_KEY,
            against: SegmindStandIn = upstream,
        ) -> RunningApp:
            return stack.enter_context(running_app(against.base_url, owner_key, settings, gradio_dir, policy=policy))

        yield start


_address_blocks = itertools.count(10)  # 127.0.<block>.x: one block per test (127.0.1 and 127.0.2 are taken below)


class Visitors:
    """This test's own visitors: 127.0.B.n for its own B, and forwarded-for addresses of its own."""

    def __init__(self) -> None:
        self.block = next(_address_blocks)

    def __call__(self, running: RunningApp, n: int, forwarded_for: str | list[str] | None = None) -> Caller:
        """The visitor at 127.0.B.``n`` (optionally sending X-Forwarded-For)."""
        return Caller(running.url, source=self.address(n), forwarded_for=forwarded_for)

    def address(self, n: int) -> str:
        return f"127.0.{self.block}.{n}"

    def public(self, n: int) -> str:
        """An address behind a proxy: 203.0.113.B (n=1) or 198.51.100.B (n=2), documentation ranges."""
        return f"{('203.0.113', '198.51.100')[n - 1]}.{self.block}"


@pytest.fixture
def visitor() -> Visitors:
    return Visitors()


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """``check()`` once it is truthy; a generous deadline for liveness, not a speed check."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"still waiting for {what} after {timeout:.0f} s"
        time.sleep(0.02)
    return result


def submitted(upstream: SegmindStandIn, count: int = 1) -> None:
    eventually(lambda: len(upstream.submissions) >= count, f"{count} submission(s) at the stand-in")


def finish_jobs(upstream: SegmindStandIn) -> None:
    """Every job at the stand-in reaches its end now (its timeline moved back), as if the wait were over."""
    for job in list(upstream.jobs.values()):
        job.submitted_at -= job.queued + job.processing


def refused(outcome: Outcome, title: str, *fragments: str) -> None:
    """The call was refused with this title, and its message says each fragment."""
    assert not outcome.ok, f"expected a refusal ({title}), the call went through"
    assert outcome.title == title, outcome.text
    for fragment in fragments:
        assert fragment in outcome.message, f"{fragment!r} not in {outcome.message!r}"


def as_limit_refusal(outcome: Outcome) -> None:
    refused(outcome, "Limit reached", "2 clips per minute", "try again in ", " UTC, or ", PAGE_KEY_FIELD)


def until_admitted(
    call: Callable[[], Outcome],
    busy: tuple[str, ...] = ("One clip at a time",),
    timeout: float = 30.0,
    what: str | None = None,
) -> Outcome:
    """Call again while the answer is a refusal titled one of ``busy`` (each sends nothing); the first other answer."""
    return eventually(lambda: (o := call()).title not in busy and o, what or f"a call not refused as {busy}", timeout)


# --------------------------------------------------------------------------- per-visitor limits


def test_a_visitor_makes_clips_up_to_the_limit_then_is_told_when_to_come_back(shared_app, visitor, upstream):
    alice = visitor(shared_app(TWO_PER_MINUTE), 2)
    assert alice.generate().ok and alice.generate().ok
    third = alice.generate()
    as_limit_refusal(third)
    assert "Nothing was sent" in third.message
    assert len(upstream.submissions) == 2


def test_the_refusal_reaches_a_gradio_client_caller_as_an_app_error(launch, upstream):
    api = Client(launch(TWO_PER_MINUTE).url, verbose=False)
    for _ in range(2):
        api.predict("a fox", api_name="/generate")
    with pytest.raises(AppError) as err:
        api.predict("a fox", api_name="/generate")
    assert err.value.title == "Limit reached"
    assert "try again in " in err.value.message and PAGE_KEY_FIELD in err.value.message
    assert len(upstream.submissions) == 2


def test_one_visitors_limit_does_not_touch_another_address(shared_app, visitor, upstream):
    running = shared_app(TWO_PER_MINUTE)
    alice, bob = visitor(running, 2), visitor(running, 3)
    for _ in range(2):
        assert alice.generate().ok
    as_limit_refusal(alice.generate())
    assert bob.generate().ok and bob.generate().ok
    assert len(upstream.submissions) == 4


def test_a_visitor_with_their_own_key_is_not_held_to_the_limits(shared_app, visitor, upstream):
    alice = visitor(shared_app(TWO_PER_MINUTE), 2)
    for _ in range(2):
        assert alice.generate().ok
    as_limit_refusal(alice.generate())
    own = alice.generate(api_key=VISITOR_KEY)
    # Not refused here: it went to Segmind with the visitor's key (which this stand-in does not know).
    assert own.title == "API key rejected" and "Check the key you pasted" in own.message
    assert len(upstream.submissions) == 3
    assert upstream.submissions[-1].headers["x-api-key"] == VISITOR_KEY


def test_every_way_in_counts_against_one_limit(shared_app, visitor, upstream):
    alice = visitor(shared_app(TWO_PER_MINUTE), 2)
    assert alice.join_and_wait(alice.page_fn, alice.page_data()).ok  # the page's own Generate
    direct = alice.post("gradio_api/run/generate", json={"data": generate_data()})  # the queue-less route
    assert direct.status_code == 200, direct.text
    as_limit_refusal(alice.generate())  # /gradio_api/call/generate
    as_limit_refusal(alice.join_and_wait(alice.fn_index("generate"), generate_data()))  # queue/join
    as_limit_refusal(alice.join_and_wait(alice.page_fn, alice.page_data()))
    refused_direct = alice.post("gradio_api/run/generate", json={"data": generate_data()})
    assert refused_direct.status_code != 200 and "Limit reached" in refused_direct.text
    assert len(upstream.submissions) == 2


def test_a_set_of_variants_larger_than_the_limit_is_refused_whole(shared_app, visitor, upstream):
    alice = visitor(shared_app(TWO_PER_MINUTE), 2)
    event_id = alice.call("variants", ["a fox\na kite\na boat", ["16:9"], 5, False, "", "", "", []])
    refused(alice.result("variants", event_id), "Limit reached", "fewer than the 3 clips", PAGE_KEY_FIELD)
    assert upstream.submissions == []


# --------------------------------------------------------------------------- the day's budget


def test_the_day_budget_is_shared_by_all_visitors(launch, visitor, upstream):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=1.0))
    assert visitor(running, 2).generate().ok and visitor(running, 3).generate().ok  # $0.75 of $1.00
    late = visitor(running, 4).generate()
    refused(late, "Daily budget spent", ", at 00:00 UTC tomorrow", PAGE_KEY_FIELD)
    assert len(upstream.submissions) == 2


def test_a_9_s_clip_is_refused_when_less_than_its_price_is_left_while_a_5_s_clip_fits(launch, visitor, upstream):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=1.0))
    assert visitor(running, 2).generate().ok  # $0.625 left
    refused(visitor(running, 3).generate(duration=9), "Daily budget spent", PAGE_KEY_FIELD)  # $0.675
    assert visitor(running, 3).generate(duration=5).ok  # $0.25 left
    refused(visitor(running, 4).generate(duration=5), "Daily budget spent")
    assert [s.body["duration"] for s in upstream.submissions] == [5, 5]


def test_a_cancelled_clip_that_reached_segmind_still_counts_against_the_budget(launch, visitor, upstream):
    upstream.default = Reply(processing=1)
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=0.375))  # one 5 s clip
    alice = visitor(running, 2)
    first = alice.call("generate", generate_data("a fox"))
    submitted(upstream)
    alice.cancel(first, first, alice.fn_index("generate"))
    refused(visitor(running, 3).generate(), "Daily budget spent", PAGE_KEY_FIELD)
    assert len(upstream.submissions) == 1


@pytest.mark.parametrize("status", [400, 406])
def test_a_clip_refused_upstream_before_billing_gives_its_share_back(launch, visitor, upstream, status):
    running = launch(SpendPolicy(visitor_limits="off", daily_budget=0.75))  # two 5 s clips
    upstream.fail(status)
    assert not visitor(running, 2).generate().ok
    assert visitor(running, 3).generate().ok and visitor(running, 4).generate().ok
    refused(visitor(running, 5).generate(), "Daily budget spent")
    assert len(upstream.submissions) == 3


# --------------------------------------------------------------------------- one paid call in flight


def test_while_a_clip_runs_a_second_from_the_same_gradio_client_is_refused(launch, upstream):
    upstream.default = Reply(processing=LONG)
    api = Client(launch(ONE_AT_A_TIME).url, verbose=False)
    first = api.submit("a fox", api_name="/generate")
    submitted(upstream)
    with pytest.raises(AppError) as err:
        api.predict("a kite", api_name="/generate")
    assert err.value.title == "One clip at a time"
    assert "still being made" in err.value.message and PAGE_KEY_FIELD in err.value.message
    finish_jobs(upstream)
    first.result(timeout=60)
    assert len(upstream.submissions) == 1


def test_while_a_clip_runs_a_second_through_the_call_route_is_refused(shared_app, visitor, upstream):
    upstream.default = Reply(processing=LONG)
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    first = alice.call("generate", generate_data("a fox"))
    submitted(upstream)
    refused(alice.generate("a kite"), "One clip at a time", "Wait until it is done", PAGE_KEY_FIELD)
    finish_jobs(upstream)
    assert alice.result("generate", first).ok
    assert len(upstream.submissions) == 1


def test_simultaneous_queue_joins_from_one_visitor_start_one_paid_call(shared_app, visitor, upstream):
    upstream.default = Reply(processing=LONG)
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    fn, joins = alice.fn_index("generate"), 6
    barrier = threading.Barrier(joins)

    def join(i: int) -> Outcome:
        barrier.wait()
        return alice.join_and_wait(fn, generate_data(f"a fox {i}"))

    with ThreadPoolExecutor(joins) as pool:
        calls = [pool.submit(join, i) for i in range(joins)]
        eventually(lambda: sum(c.done() for c in calls) == joins - 1, "all joins but one to be answered")
        finish_jobs(upstream)
        outcomes = [c.result() for c in calls]
    assert sum(o.ok for o in outcomes) == 1
    assert {o.title for o in outcomes if not o.ok} == {"One clip at a time"}
    assert len(upstream.submissions) == 1


def test_while_a_clip_runs_the_page_event_from_the_same_visitor_is_refused(shared_app, visitor, upstream):
    upstream.default = Reply(processing=LONG)
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    first = alice.call("generate", generate_data("a fox"))
    submitted(upstream)
    refused(alice.join_and_wait(alice.page_fn, alice.page_data("a kite")), "One clip at a time")
    finish_jobs(upstream)
    assert alice.result("generate", first).ok
    assert len(upstream.submissions) == 1


def test_after_the_clip_ends_the_visitor_can_go_again(shared_app, visitor, upstream):
    upstream.then(Reply(processing=LONG))
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    first = alice.call("generate", generate_data("a fox"))
    submitted(upstream)
    refused(alice.generate("a kite"), "One clip at a time")
    finish_jobs(upstream)
    assert until_admitted(lambda: alice.generate("a kite")).ok
    assert alice.result("generate", first).ok
    (job, _) = sorted(upstream.jobs.values(), key=lambda j: j.submitted_at)
    assert upstream.submissions[1].at >= job.finished_at  # never two of hers upstream at once


def test_someone_elses_running_clip_does_not_hold_a_visitor(shared_app, visitor, upstream):
    upstream.then(Reply(processing=LONG))
    running = shared_app(ONE_AT_A_TIME)
    first = visitor(running, 2).call("generate", generate_data("a fox"))
    submitted(upstream)
    assert visitor(running, 3).generate("a kite").ok
    finish_jobs(upstream)
    assert visitor(running, 2).result("generate", first).ok


# --------------------------------------------------------------------------- MCP


async def mcp_generate(url: str, source: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """One MCP ``generate`` call by an agent connecting from ``source``: (is it an error, its text)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with (
        httpx.AsyncClient(transport=transport, timeout=60, trust_env=False) as http,
        streamable_http_client(url + "gradio_api/mcp/", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("generate", arguments)
        return result.isError, " ".join(getattr(c, "text", "") for c in result.content)


def mcp_pair(url: str, first: str, second: str, upstream: SegmindStandIn) -> tuple[tuple[bool, str], ...]:
    """An agent at ``first`` starts a clip; once it is at Segmind, an agent at ``second`` asks for one."""

    async def both():
        running = asyncio.create_task(mcp_generate(url, first, {"prompt": "a fox"}))
        while not upstream.submissions:
            await asyncio.sleep(0.02)
        during = await mcp_generate(url, second, {"prompt": "a kite"})
        finish_jobs(upstream)
        return await running, during

    return asyncio.run(both())


@pytest.fixture
def mcp_app(shared_app, upstream) -> RunningApp:
    pytest.importorskip("mcp", reason="pip install -r requirements-test.txt")
    upstream.then(Reply(processing=LONG))  # the first clip runs until the test ends it; later ones are quick
    return shared_app(ONE_AT_A_TIME, app.AppSettings(mcp=True))


def test_while_an_agents_clip_runs_its_second_mcp_call_is_refused(mcp_app, visitor, upstream):
    first, second = mcp_pair(mcp_app.url, visitor.address(2), visitor.address(2), upstream)
    assert not first[0]
    assert second[0] and "One clip at a time" in second[1] and PAGE_KEY_FIELD in second[1]
    assert len(upstream.submissions) == 1


def test_two_mcp_agents_at_different_addresses_are_two_visitors(mcp_app, visitor, upstream):
    # Gradio answers a tool call by calling its own API over loopback: unless the app tells it who
    # the agent is, every agent is this server's own address, and one agent's clip holds them all.
    first, second = mcp_pair(mcp_app.url, visitor.address(2), visitor.address(3), upstream)
    assert not first[0]
    assert not second[0], second[1]
    assert len(upstream.submissions) == 2


# --------------------------------------------------------------------------- cancelling


def test_a_cancelled_call_keeps_its_slot_until_its_job_has_ended_upstream(shared_app, visitor, upstream):
    upstream.then(Reply(processing=LONG))
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    fn = alice.fn_index("generate")
    first = alice.call("generate", generate_data("a fox"))
    submitted(upstream)
    assert alice.cancel(first, first, fn).json() == {"success": True}
    refused(alice.generate("a kite"), "One clip at a time", PAGE_KEY_FIELD)
    assert len(upstream.submissions) == 1
    finish_jobs(upstream)
    assert until_admitted(lambda: alice.generate("a boat")).ok
    (job, _) = sorted(upstream.jobs.values(), key=lambda j: j.submitted_at)
    assert upstream.submissions[1].at >= job.finished_at


def test_a_gradio_client_job_cancel_opens_no_room_for_another_paid_call(launch, upstream):
    upstream.default = Reply(processing=LONG)
    api = Client(launch(ONE_AT_A_TIME).url, verbose=False)
    job = api.submit("a fox", api_name="/generate")
    submitted(upstream)
    job.cancel()
    with pytest.raises(AppError) as err:
        api.predict("a kite", api_name="/generate")
    finish_jobs(upstream)
    assert err.value.title == "One clip at a time"
    assert len(upstream.submissions) == 1


def test_starting_and_cancelling_in_a_loop_never_has_two_paid_jobs_upstream(shared_app, visitor, upstream):
    upstream.default = Reply(processing=0.5)
    alice = visitor(shared_app(ONE_AT_A_TIME), 2)
    fn = alice.fn_index("generate")
    for n in range(25):
        session = new_session()
        answer = alice.join(fn, generate_data(f"a fox {n}"), session)
        alice.cancel(session, answer.json()["event_id"], fn)
    eventually(lambda: all(j.state == "COMPLETED" for j in upstream.jobs.values()), "the jobs to end")
    assert 1 <= len(upstream.jobs) < 25
    assert most_at_once([(j.submitted_at, j.finished_at) for j in upstream.jobs.values()]) == 1


class SlowRelay:
    """A TCP relay to 127.0.0.1:``port`` (here: Redis) that, while ``delay`` is set, holds each
    request chunk that long, so a test can act while the app waits for the answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.delay = 0.0
        self.holding = threading.Event()  # a request is being held
        self.passed = threading.Event()  # a held request has gone on
        self._server = socket.create_server(("127.0.0.1", 0))
        host, relay_port = self._server.getsockname()[:2]
        self.uri = f"redis://{host}:{relay_port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.port))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                held = requests and self.delay
                if held:
                    self.holding.set()
                    time.sleep(self.delay)
                target.sendall(data)
                if held:
                    self.passed.set()
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()


def test_a_call_cancelled_while_its_limits_are_checked_leaves_no_slot_or_spending_behind(launch, visitor, upstream):
    # Studio.start asks the gate in a worker thread; a cancel while it waits abandons the thread, and
    # the admission it then takes (slot, window, money) is returned to nobody, so nothing gives it back.
    with running_redis() as uri:
        relay = SlowRelay(int(uri.rsplit(":", 1)[1]))
        running = launch(SpendPolicy(visitor_limits="off", daily_budget=0.75, storage_uri=relay.uri))
        assert visitor(running, 9).generate("warm up").ok  # $0.375 of $0.75; the gate's script is in Redis
        alice = visitor(running, 2)
        relay.delay = 1.0
        first = alice.call("generate", generate_data("a fox"))
        assert relay.holding.wait(30)  # the gate is asking Redis for her admission now
        alice.cancel(first, first, alice.fn_index("generate"))
        relay.delay = 0
        alice.result("generate", first)
        assert relay.passed.wait(30)  # Redis has taken the admission nobody waits for any more
        # Nothing of it may stay: neither her slot nor its $0.375 (else only 'until 30 min later').
        again = until_admitted(
            lambda: alice.generate("a kite"),
            ("One clip at a time", "Daily budget spent"),
            timeout=15,
            what="her slot and $0.375 back (the admission nobody waited for holds them for 30 minutes)",
        )
        relay.close()
    assert again.ok, again.message
    assert len(upstream.submissions) == 2, "the cancelled call sent nothing: only the warm-up and the retry"


# --------------------------------------------------------------------------- who a visitor is


@pytest.mark.parametrize("source", [1, 2])  # 127.0.0.1 is the address uvicorn trusts by default
def test_without_proxy_hops_a_forwarded_for_header_changes_nothing(shared_app, launch, visitor, upstream, source):
    # 127.0.0.1 is one address for every test: that visitor gets an app of their own.
    running = launch(TWO_PER_MINUTE) if source == 1 else shared_app(TWO_PER_MINUTE)
    address = "127.0.0.1" if source == 1 else visitor.address(source)
    forged = [f"203.0.113.{random.randint(1, 254)}, 198.51.100.{n}" for n in range(3)]
    assert Caller(running.url, source=address, forwarded_for=forged[0]).generate().ok
    assert Caller(running.url, source=address, forwarded_for=forged[1]).generate().ok
    as_limit_refusal(Caller(running.url, source=address, forwarded_for=forged[2]).generate())
    assert len(upstream.submissions) == 2


BEHIND_ONE_PROXY = SpendPolicy(visitor_limits="1 per minute", daily_budget=None, proxy_hops=1)


def test_behind_one_proxy_each_address_it_forwards_for_is_a_visitor(shared_app, visitor, upstream):
    running = shared_app(BEHIND_ONE_PROXY)
    proxy = visitor.address(2)
    first = Caller(running.url, source=proxy, forwarded_for=visitor.public(1))
    second = Caller(running.url, source=proxy, forwarded_for=visitor.public(2))
    assert first.generate().ok and second.generate().ok
    refused(first.generate(), "Limit reached", "1 clip per minute")
    assert len(upstream.submissions) == 2


@pytest.mark.parametrize("fake", ["198.51.100.7", "10.1.2.3, 198.51.100.7", "junk"])  # left of what the proxy saw
def test_a_client_faking_a_longer_chain_still_counts_as_the_address_the_proxy_saw(shared_app, visitor, upstream, fake):
    running = shared_app(BEHIND_ONE_PROXY)
    seen = visitor.public(1)  # the address the proxy saw
    assert Caller(running.url, source=visitor.address(2), forwarded_for=seen).generate().ok
    # The client wrote everything left of the last entry; the proxy appended the address it saw.
    refused(Caller(running.url, source=visitor.address(2), forwarded_for=f"{fake}, {seen}").generate(), "Limit reached")
    assert len(upstream.submissions) == 1


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("api_key", [None, "", "   "], ids=["no key", "empty", "spaces"])
def test_on_visitors_own_keys_only_a_call_without_a_key_is_told_how_to_get_one(shared_app, visitor, upstream, api_key):
    alice = visitor(shared_app(SpendPolicy(own_key_only=True)), 2)
    refused(alice.generate(api_key=api_key), "Your own key needed", "paste your Segmind key", API_KEYS_PAGE)
    assert upstream.received == []


def test_on_visitors_own_keys_only_a_visitor_key_goes_through(launch, visitor, visitor_upstream):
    visitor_upstream.reset()
    alice = visitor(launch(SpendPolicy(own_key_only=True), against=visitor_upstream), 2)
    assert alice.generate(api_key=VISITOR_KEY).ok
    assert [s.headers["x-api-key"] for s in visitor_upstream.submissions] == [VISITOR_KEY]


@pytest.mark.parametrize("api_key", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab and newline"])
def test_a_blank_key_is_the_owners_key_and_the_limits_apply(shared_app, visitor, upstream, api_key):
    alice = visitor(shared_app(TWO_PER_MINUTE), 2)
    assert alice.generate(api_key=api_key).ok and alice.generate(api_key=api_key).ok
    as_limit_refusal(alice.generate(api_key=api_key))
    assert [s.headers["x-api-key"] for s in upstream.submissions] == [OWNER_KEY, OWNER_KEY]


def test_a_visitor_on_the_owners_key_never_sees_the_owners_balance(shared_app, visitor, upstream):
    running = shared_app(TWO_PER_MINUTE)
    alice = visitor(running, 2)
    made = [alice.generate(), alice.generate()]
    refusal = alice.generate()
    page = alice.get("config").text
    assert all(o.ok for o in made) and not refusal.ok
    for shown in [*(o.text for o in made), refusal.text, page]:
        assert "credits" not in shown.lower()
    assert "billed to this page's key" in made[0].text


def test_a_visitor_on_their_own_key_sees_their_balance(launch, visitor, visitor_upstream):
    visitor_upstream.reset()
    alice = visitor(launch(TWO_PER_MINUTE, owner_key=None, against=visitor_upstream), 2)
    made = alice.generate(api_key=VISITOR_KEY)
    assert made.ok and "42.5 credits left" in made.text and "billed to your key" in made.text


# --------------------------------------------------------------------------- two processes, one Redis


@pytest.fixture(scope="module")
def redis_pair(upstream, tmp_path_factory):
    """Two ``python app.py`` processes sharing one redis-server, with a $1.50 day budget (four 5 s clips)."""
    import redis

    with running_redis() as uri:
        settings = {"RAY_LIMITS_STORAGE": uri, "RAY_DAILY_BUDGET": "1.5", "RAY_VISITOR_LIMITS": "off"}
        with launched_apps(upstream, tmp_path_factory.mktemp("redis-pair"), settings, count=2) as apps:
            yield apps, redis.Redis.from_url(uri)


@pytest.fixture
def pair(redis_pair):
    apps, store = redis_pair
    store.flushdb()
    return apps


@pytest.mark.slow
def test_two_app_processes_on_one_redis_spend_one_budget(pair, upstream):
    upstream.default = Reply(processing=0.5)
    addresses, per_address = 8, 4
    barrier = threading.Barrier(addresses * per_address)

    def attack(n: int) -> Outcome:
        running = pair[n % 2]
        caller = Caller(running.url, source=f"127.0.1.{n // per_address + 1}")
        barrier.wait()
        return caller.generate(f"a fox {n}")

    with ThreadPoolExecutor(addresses * per_address) as pool:
        outcomes = list(pool.map(attack, range(addresses * per_address)))
    later = [Caller(pair[n % 2].url, source=f"127.0.2.{n}").generate() for n in range(4)]
    spent = spend_by_utc_day(upstream)
    assert max(spent.values()) <= 1.5
    if len(spent) > 1:
        pytest.skip("the run crossed 00:00 UTC, when the budget starts again: within it, it held")
    assert sum(o.ok for o in outcomes) == len(upstream.submissions) == 4
    assert {o.title for o in [*outcomes, *later] if not o.ok} <= {"Daily budget spent", "One clip at a time"}
    assert all(o.title == "Daily budget spent" for o in later)


@pytest.mark.slow
def test_two_app_processes_on_one_redis_hold_one_slot_per_visitor(pair, upstream):
    upstream.default = Reply(processing=LONG)
    on_first, on_second = Caller(pair[0].url, source="127.0.0.2"), Caller(pair[1].url, source="127.0.0.2")
    running = on_first.call("generate", generate_data("a fox"))
    submitted(upstream)
    refused(on_second.generate("a kite"), "One clip at a time", PAGE_KEY_FIELD)
    finish_jobs(upstream)
    assert on_first.result("generate", running).ok
    assert len(upstream.submissions) == 1


# --------------------------------------------------------------------------- the rest of the surface


def test_an_upload_above_the_size_limit_is_refused_and_not_kept(shared_app, visitor):
    running = shared_app(TWO_PER_MINUTE)
    answer = visitor(running, 2).upload("big.bin", bytes(25 * 1024 * 1024))
    assert answer.status_code == 413, answer.text
    assert not list(running.cache_dir.rglob("big.bin"))


@pytest.mark.slow
def test_a_flood_of_refused_calls_from_one_address_does_not_keep_another_visitor_out(launch, visitor, upstream):
    upstream.default = Reply(processing=0.3)
    running = launch(ONE_AT_A_TIME, app.AppSettings(queue_size=10))
    flooder, bob = visitor(running, 2), visitor(running, 3)
    fn, stop = flooder.fn_index("generate"), threading.Event()

    def flood() -> None:
        while not stop.is_set():
            flooder.join(fn, generate_data("flood"), new_session())

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(flood)
        time.sleep(0.5)
        # A person would press Generate again after "queue full"; up to three tries, while the flood goes on.
        outcomes = [retried_after_queue_full(lambda: bob.generate("a kite"), tries=3) for _ in range(3)]
        stop.set()
    assert all(o.ok for o in outcomes), [o.text for o in outcomes]


def retried_after_queue_full(call: Callable[[], Outcome], tries: int) -> Outcome:
    for _ in range(tries - 1):
        outcome = call()
        if outcome.kind != "refused":
            return outcome
    return call()


def running_entry(found: Any) -> dict | None:
    """The first history entry in a page update that names a running clip (as the browser keeps it;
    the page writes it before Segmind has the job, and Gradio sends later changes as diffs)."""
    if isinstance(found, dict):
        if found.get("state") == "running" and found.get("id") and found.get("sig"):
            return found
        found = list(found.values())
    if isinstance(found, list):
        return next((e for e in map(running_entry, found) if e is not None), None)
    return None


@pytest.mark.slow
def test_following_ones_own_clip_many_times_cannot_fill_the_queue_for_everyone(launch, visitor, upstream):
    # Following a running clip again (after a reload) costs nothing and lasts as long as the clip: one
    # clip, followed a few dozen times through queue/join, would hold every worker and fill the queue.
    running = launch(ONE_AT_A_TIME, app.AppSettings(queue_size=5))
    upstream.then(Reply(processing=LONG))
    mallory, bob = visitor(running, 2), visitor(running, 3)
    session = new_session()
    assert mallory.join(mallory.page_fn, mallory.page_data("a slow fox"), session).status_code == 200
    # Her own clip's entry, as the page hands it to her browser (signed by the server).
    entry = next(e for m in mallory.messages(session) if (e := running_entry(m.get("output"))) is not None)
    follow = mallory.fn_index("pick_up")
    for _ in range(60):
        if mallory.join(follow, [[entry], ""], new_session()).status_code != 200:
            break  # the queue is full
    made = bob.generate("a kite")
    finish_jobs(upstream)
    assert made.ok, made.text


# --------------------------------------------------------------------------- the attack from the issue


@pytest.mark.slow
def test_the_attack_from_the_issue_costs_no_more_than_the_limits_allow(tmp_path):
    report = attack_launched_app(tmp_path, attacker_calls=200)
    addresses = 1 + len(BYSTANDERS)
    assert report.tried[ATTACKER] >= 200
    assert 1 <= report.paid[ATTACKER] <= PER_VISITOR_LIMIT
    assert all(n <= PER_VISITOR_LIMIT for n in report.paid.values())
    assert report.clips <= PER_VISITOR_LIMIT * addresses
    assert max(report.spent_by_day.values()) <= BUDGET  # per UTC day: a run across midnight has two
    assert report.max_in_flight_per_visitor == 1
    assert report.max_in_flight <= addresses
    # Every call was made, cancelled, or refused saying why (HTTP 503: refused at the queue, nothing sent).
    expected = {"made", "cancelled", "Limit reached", "Daily budget spent", "One clip at a time", "HTTP 503",
                "Too many requests at once"}  # fmt: skip
    assert set(report.outcomes) <= expected, report.outcomes
