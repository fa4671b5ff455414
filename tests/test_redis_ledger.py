"""The spending counts on a real redis-server that restarts: what is kept, what is lost, what is said.

A restart of a Redis without persistence forgets the day's spending; the gate says so in the log
when it starts. Whatever Redis did, an in-flight slot ends with its job: one a restart lost is taken
again at the next renewal, one a restart brought back from an old snapshot frees itself a lease
after its job ended, and a release Redis missed is done when Redis is back.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import redis

from ray_studio.web.identity import Visitor
from ray_studio.web.ledger import SLOT_LEASE, SPENT_KEY_TTL
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.refusals import DailyBudgetError, InFlightLimitError, SpendRefusedError
from ray_studio.web.spending import SpendGate
from tests.conftest import free_port
from tests.redis_server import answers_ping, redis_server_binary

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)
FIVE_S = 0.375
NINE_S = 0.675
ALICE = Visitor("ip:203.0.113.9", "203.0.113.9")
BOB = Visitor("ip:198.51.100.7", "198.51.100.7")
START_TIMEOUT = 20.0


class Clock:
    def __init__(self) -> None:
        self.now = NOON.timestamp()

    def __call__(self) -> float:
        return self.now


class RestartableRedis:
    """A redis-server on one free 127.0.0.1 port and one folder, stopped and started again by the test.
    Started with ``--appendonly yes`` it replays its log on a restart; otherwise it loads the last
    snapshot a ``SAVE`` wrote, if any, as any redis-server does."""

    def __init__(self, workdir: str, *options: str) -> None:
        self.port = free_port()
        self.uri = f"redis://127.0.0.1:{self.port}"
        self._command = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", workdir]
        self._command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", *options]
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._server = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not answers_ping(self.port):
            assert self._server.poll() is None, "redis-server stopped while starting"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()  # a clean shutdown: an append-only log is flushed, no snapshot is taken
            try:
                self._server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
        self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def connection(self) -> redis.Redis:
        return redis.Redis.from_url(self.uri)


@contextlib.contextmanager
def restartable_redis(*options: str) -> Iterator[RestartableRedis]:
    with tempfile.TemporaryDirectory(prefix="redis-restart-") as workdir:
        server = RestartableRedis(workdir, *options)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def server() -> Iterator[RestartableRedis]:
    """A redis-server without persistence, as tests/redis_server.py starts them."""
    with restartable_redis() as running:
        yield running


def gate_on(uri: str, clock: Clock | None = None, **fields) -> SpendGate:
    fields.setdefault("visitor_limits", "off")
    fields.setdefault("daily_budget", None)
    return SpendGate(SpendPolicy(storage_uri=uri, **fields), clock=clock or Clock(), renew_every=None)


def refusal(gate: SpendGate, visitor: Visitor = ALICE, cost: float = FIVE_S) -> SpendRefusedError:
    with pytest.raises(SpendRefusedError) as refused:
        gate.admit(visitor, 1, cost)
    return refused.value


def ledger_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ray_studio.ledger" and r.levelno == logging.WARNING]


# --------------------------------------------------------------------------- persistence, said once at start


def test_a_redis_that_keeps_nothing_across_a_restart_is_named_in_one_warning_at_start(server, caplog):
    with server.connection() as connection:
        connection.acl_setuser("app", enabled=True, passwords=["+hunter2"], keys=["*"], commands=["+@all"])
    caplog.set_level(logging.WARNING, "ray_studio.ledger")
    gate = gate_on(f"redis://app:hunter2@127.0.0.1:{server.port}")
    gate.admit(ALICE, 1, FIVE_S).release()
    [warning] = ledger_warnings(caplog)
    assert f"Redis at redis://app:***@127.0.0.1:{server.port} keeps nothing across a restart" in warning
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize("setting", [("appendonly", "yes"), ("save", "3600 1")])
def test_a_redis_that_keeps_its_data_across_a_restart_gives_no_warning(server, caplog, setting):
    with server.connection() as connection:
        connection.config_set(*setting)
        caplog.set_level(logging.WARNING, "ray_studio.ledger")
        gate_on(server.uri)
        connection.config_set(setting[0], {"appendonly": "no", "save": ""}[setting[0]])
    assert ledger_warnings(caplog) == []


def test_a_redis_that_will_not_say_whether_it_keeps_anything_is_named_as_unchecked(server, caplog):
    with server.connection() as connection:
        connection.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"])
    caplog.set_level(logging.WARNING, "ray_studio.ledger")
    gate = gate_on(f"redis://app:pw@127.0.0.1:{server.port}")
    gate.admit(ALICE, 1, FIVE_S).release()  # CONFIG is refused to it; the counting works all the same
    [warning] = ledger_warnings(caplog)
    assert "could not check whether Redis at" in warning


def test_a_redis_that_cannot_be_reached_at_start_is_named_as_unchecked(caplog):
    caplog.set_level(logging.WARNING, "ray_studio.ledger")
    gate_on(f"redis://127.0.0.1:{free_port()}")
    [warning] = ledger_warnings(caplog)
    assert "could not check whether Redis at" in warning


def test_without_persistence_a_restart_forgets_the_days_spending(server):
    gate = gate_on(server.uri, daily_budget=FIVE_S)
    gate.admit(ALICE, 1, FIVE_S).release()
    server.restart()
    assert gate.spent_today() == 0  # what the warning is about
    gate.admit(BOB, 1, FIVE_S).release()


def test_with_an_append_only_file_a_restart_keeps_the_days_spending():
    with restartable_redis("--appendonly", "yes", "--appendfsync", "always") as server:
        gate = gate_on(server.uri, daily_budget=FIVE_S)
        gate.admit(ALICE, 1, FIVE_S).release()
        server.restart()
        assert gate.spent_today() == FIVE_S
        assert isinstance(refusal(gate, BOB), DailyBudgetError)


# --------------------------------------------------------------------------- in-flight slots across restarts


def test_a_slot_a_restart_lost_is_taken_again_at_the_next_renewal(server):
    clock = Clock()
    gate = gate_on(server.uri, clock, in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)  # the job runs on
    server.restart()
    gate.renew_slots()
    assert isinstance(refusal(gate), InFlightLimitError)
    admission.release()
    gate.admit(ALICE, 1, FIVE_S).release()


def test_a_slot_a_restart_brought_back_from_a_snapshot_frees_itself_a_lease_after_its_job_ended(server):
    clock = Clock()
    gate = gate_on(server.uri, clock, in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    with server.connection() as connection:
        connection.save()  # the snapshot holds Alice's slot
    admission.release()  # her clip is done
    server.restart()  # and Redis comes back with the slot from the snapshot
    refused = refusal(gate)
    assert isinstance(refused, InFlightLimitError)
    clock.now += SLOT_LEASE
    gate.admit(ALICE, 1, FIVE_S).release()


def test_a_release_redis_missed_is_done_when_redis_is_back(server, caplog):
    clock = Clock()
    gate = gate_on(server.uri, clock, in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    with server.connection() as connection:
        connection.save()
    server.stop()
    admission.release()  # her clip is done, but Redis is down
    assert "could not release" in caplog.text
    server.start()  # with the slot from the snapshot
    gate.renew_slots()  # the next round of renewals tries the release again
    gate.admit(ALICE, 1, FIVE_S).release()


def test_a_slot_in_redis_expires_on_its_own_a_lease_after_it_was_renewed(server):
    gate = gate_on(server.uri, in_flight_per_visitor=1)
    gate.admit(ALICE, 1, FIVE_S)
    with server.connection() as connection:
        [slot_key] = connection.keys("*in-flight*")
        assert 0 < connection.ttl(slot_key) <= SLOT_LEASE
        connection.expire(slot_key, 10_000)
        gate.renew_slots()
        assert connection.ttl(slot_key) == 10_000  # a renewal never shortens what another slot needs


# --------------------------------------------------------------------------- how long a day is remembered


def test_a_days_spending_is_kept_in_redis_for_two_days(server):
    gate = gate_on(server.uri, daily_budget=10.0)
    gate.admit(ALICE, 1, FIVE_S).release()
    with server.connection() as connection:
        [spent_key] = connection.keys("*spent*")
        assert spent_key.endswith(b"ray/spent/2025-03-14")
        assert SPENT_KEY_TTL - 5 <= connection.ttl(spent_key) <= SPENT_KEY_TTL == 2 * 24 * 3600


def test_a_refund_of_money_a_restart_forgot_stops_at_zero_and_keeps_the_days_expiry(server):
    gate = gate_on(server.uri, daily_budget=10.0)
    forgotten = gate.admit(ALICE, 1, NINE_S)
    server.restart()
    gate.admit(BOB, 1, FIVE_S).release()
    forgotten.refund()  # $0.675 back on a day that now counts $0.375
    assert gate.spent_today() == 0
    with server.connection() as connection:
        [spent_key] = connection.keys("*spent*")
        assert SPENT_KEY_TTL - 5 <= connection.ttl(spent_key) <= SPENT_KEY_TTL
