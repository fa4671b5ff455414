"""identity.py and spending.py: who a visitor is, and whether they may spend the page owner's key now.

The gate's rules run against both storages: this process's memory and a real redis-server. Time is
a fake clock moved by the tests, never slept through.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ray_studio.web.identity import DEFAULT_TRUSTED_PROXIES, Visitor, identify
from ray_studio.web.ledger import RENEW_EVERY, SLOT_LEASE, Attempt, MemoryLedger
from ray_studio.web.policy import SettingError, SpendPolicy, describe_limits
from ray_studio.web.refusals import (
    DailyBudgetError,
    InFlightLimitError,
    LimitsUnavailableError,
    NetworkLimitError,
    OwnKeyRequiredError,
    SpendRefusedError,
    VisitorLimitError,
)
from ray_studio.web.spending import SpendGate
from tests.conftest import ROOT, free_port
from tests.redis_server import running_redis

UTC = timezone.utc
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
FIVE_S = 0.375  # one 5 s clip
NINE_S = 0.675  # one 9 s clip
ALICE = Visitor("ip:203.0.113.9", "203.0.113.9")
BOB = Visitor("ip:198.51.100.7", "198.51.100.7")
MINUTE = 60


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = NOON) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


@pytest.fixture(scope="module")
def redis_uri():
    with running_redis() as uri:
        yield uri


@pytest.fixture
def fresh_redis(redis_uri) -> str:
    """The module's redis-server, emptied for this test."""
    with redis.Redis.from_url(redis_uri) as connection:
        connection.flushall()
    return redis_uri


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request) -> str:
    return "memory://" if request.param == "memory" else request.getfixturevalue("fresh_redis")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate_for(storage_uri, clock):
    """A gate on the test's storage and clock; each test turns on only the rules it is about."""

    def make(**fields) -> SpendGate:
        fields.setdefault("visitor_limits", "off")
        fields.setdefault("daily_budget", None)
        fields.setdefault("in_flight_per_visitor", 100)
        return SpendGate(SpendPolicy(storage_uri=storage_uri, **fields), clock=clock, renew_every=None)

    return make


def admit_and_release(gate: SpendGate, visitor: Visitor = ALICE, clips: int = 1, cost: float = FIVE_S):
    admission = gate.admit(visitor, clips, cost)
    admission.release()
    return admission


def refusal(gate: SpendGate, visitor: Visitor = ALICE, clips: int = 1, cost: float = FIVE_S) -> SpendRefusedError:
    with pytest.raises(SpendRefusedError) as refused:
        gate.admit(visitor, clips, cost)
    return refused.value


# --------------------------------------------------------------------------- settings


def test_the_documented_defaults_apply_when_nothing_is_set():
    assert SpendPolicy.from_env({}) == SpendPolicy(
        visitor_limits="4 per 10 minutes; 12 per day",
        daily_budget=10.0,
        in_flight_per_visitor=1,
        storage_uri="memory://",
        own_key_only=False,
        proxy_hops=0,
        network_limits=None,
        trusted_proxies="10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8, ::1, fc00::/7",
    )


def test_on_a_hugging_face_space_one_proxy_hop_is_trusted_unless_set_otherwise():
    assert SpendPolicy.from_env({"SPACE_ID": "owner/ray-studio"}).proxy_hops == 1
    assert SpendPolicy.from_env({"SPACE_ID": "owner/ray-studio", "RAY_PROXY_HOPS": "0"}).proxy_hops == 0


def test_every_setting_is_read_from_the_environment():
    env = {
        "RAY_VISITOR_LIMITS": "2 per hour",
        "RAY_DAILY_BUDGET": "2.50",
        "RAY_VISITOR_IN_FLIGHT": "3",
        "RAY_LIMITS_STORAGE": "redis://127.0.0.1:6379/2",
        "RAY_OWN_KEY_ONLY": "yes",
        "RAY_PROXY_HOPS": "2",
        "RAY_NETWORK_LIMITS": "5 per hour",
        "RAY_TRUSTED_PROXIES": "10.16.0.0/12, fd00::/8",
    }
    expected = ("2 per hour", 2.5, 3, "redis://127.0.0.1:6379/2", True, 2, "5 per hour", "10.16.0.0/12, fd00::/8")
    assert SpendPolicy.from_env(env) == SpendPolicy(*expected)


def test_off_turns_off_the_visitor_limits_and_the_budget():
    policy = SpendPolicy.from_env({"RAY_VISITOR_LIMITS": "OFF", "RAY_DAILY_BUDGET": "off"})
    assert (policy.visitor_limits, policy.daily_budget) == ("off", None)


def test_off_turns_off_the_network_limits():
    assert SpendPolicy.from_env({"RAY_NETWORK_LIMITS": "Off"}).network_limits == "off"


def test_the_trusted_proxies_are_read_as_networks_for_the_proxy_hops():
    proxies = SpendPolicy.from_env({"RAY_PROXY_HOPS": "1", "RAY_TRUSTED_PROXIES": "198.51.100.0/24"}).proxies
    assert (proxies.hops, [str(n) for n in proxies.trusted]) == (1, ["198.51.100.0/24"])
    assert SpendPolicy().proxies.trusted == SpendPolicy(trusted_proxies=DEFAULT_TRUSTED_PROXIES).proxies.trusted


@pytest.mark.parametrize(
    "name, value",
    [
        ("RAY_VISITOR_LIMITS", "lots"),
        ("RAY_VISITOR_LIMITS", "4 per fortnight"),
        ("RAY_VISITOR_LIMITS", "0 per minute"),
        ("RAY_VISITOR_LIMITS", "4 per 0 minutes"),
        ("RAY_VISITOR_LIMITS", "４ per minute"),
        ("RAY_DAILY_BUDGET", "nan"),
        ("RAY_DAILY_BUDGET", "inf"),
        ("RAY_DAILY_BUDGET", "-1"),
        ("RAY_DAILY_BUDGET", "²"),
        ("RAY_DAILY_BUDGET", "١٠"),
        ("RAY_DAILY_BUDGET", "1e3"),
        ("RAY_VISITOR_IN_FLIGHT", "0"),
        ("RAY_VISITOR_IN_FLIGHT", "two"),
        ("RAY_VISITOR_IN_FLIGHT", "²"),
        ("RAY_LIMITS_STORAGE", "memcached://127.0.0.1:11211"),
        ("RAY_LIMITS_STORAGE", "127.0.0.1:6379"),
        ("RAY_OWN_KEY_ONLY", "maybe"),
        ("RAY_PROXY_HOPS", "-1"),
        ("RAY_PROXY_HOPS", "1.5"),
        ("RAY_NETWORK_LIMITS", "lots"),
        ("RAY_NETWORK_LIMITS", "0 per hour"),
        ("RAY_TRUSTED_PROXIES", "proxy.hf.space"),
        ("RAY_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("RAY_TRUSTED_PROXIES", "10.0.0.0/8,,"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable_and_the_value(name, value):
    with pytest.raises(SettingError) as err:
        SpendPolicy.from_env({name: value})
    assert f"{name} must be" in str(err.value)
    assert repr(value) in str(err.value)


def test_the_limits_setting_error_shows_the_expected_notation():
    with pytest.raises(SettingError, match=r"RAY_VISITOR_LIMITS must be like '4 per 10 minutes; 12 per day'"):
        SpendPolicy.from_env({"RAY_VISITOR_LIMITS": "lots"})


def test_all_bad_settings_are_reported_at_once():
    with pytest.raises(SettingError) as err:
        SpendPolicy.from_env({"RAY_DAILY_BUDGET": "-1", "RAY_PROXY_HOPS": "x", "RAY_OWN_KEY_ONLY": "?"})
    assert len(err.value.problems) == 3


def test_a_storage_password_never_appears_in_a_setting_error():
    with pytest.raises(SettingError) as err:
        SpendPolicy.from_env({"RAY_LIMITS_STORAGE": "memcached://admin:hunter2@cache:11211"})
    assert "hunter2" not in str(err.value)
    assert "cache:11211" in str(err.value)


def test_a_policy_built_in_code_is_checked_by_the_gate():
    with pytest.raises(SettingError, match="RAY_DAILY_BUDGET"):
        SpendGate(SpendPolicy(daily_budget=float("nan")))


@pytest.mark.parametrize("field, value", [("network_limits", "lots"), ("trusted_proxies", "everyone")])
def test_new_policy_fields_built_in_code_are_checked_by_the_gate(field, value):
    with pytest.raises(SettingError, match=f"RAY_{field.upper()} must be"):
        SpendGate(SpendPolicy(**{field: value}))


# --------------------------------------------------------------------------- own key only


def test_own_key_only_refuses_every_visitor_and_says_how_to_go_on(gate_for):
    refused = refusal(gate_for(own_key_only=True))
    assert isinstance(refused, OwnKeyRequiredError)
    assert refused.title == "Your own key needed"
    assert str(refused).endswith(
        "This page runs on visitors' own keys: paste your Segmind key under 'Your Segmind API key' "
        "(get one at https://cloud.segmind.com/console/api-keys). Nothing was sent."
    )


# --------------------------------------------------------------------------- per-visitor windows


def test_a_visitor_may_make_clips_up_to_the_window_limit(gate_for):
    gate = gate_for(visitor_limits="4 per 10 minutes")
    for _ in range(4):
        admit_and_release(gate)


def test_past_the_window_limit_the_visitor_is_told_when_to_come_back(gate_for, clock):
    gate = gate_for(visitor_limits="4 per 10 minutes")
    for _ in range(4):
        admit_and_release(gate)
        clock.advance(MINUTE)
    refused = refusal(gate)  # at 12:04; the first clip (12:00) leaves the window at 12:10
    assert isinstance(refused, VisitorLimitError)
    assert refused.title == "Limit reached"
    assert refused.retry_at == NOON + timedelta(minutes=10)
    assert "4 clips per 10 minutes" in str(refused)
    assert "in 6 min, at 12:10 UTC" in str(refused)


def test_the_window_lets_the_visitor_go_again_at_the_announced_time(gate_for, clock):
    gate = gate_for(visitor_limits="4 per 10 minutes")
    for _ in range(4):
        admit_and_release(gate)
        clock.advance(MINUTE)
    clock.set(refusal(gate).retry_at)
    admit_and_release(gate)
    assert refusal(gate).retry_at == NOON + timedelta(minutes=11)


def test_a_set_of_variants_counts_each_clip(gate_for):
    gate = gate_for(visitor_limits="4 per 10 minutes")
    admit_and_release(gate, clips=2, cost=2 * FIVE_S)
    assert isinstance(refusal(gate, clips=3, cost=3 * FIVE_S), VisitorLimitError)
    admit_and_release(gate, clips=2, cost=2 * FIVE_S)
    assert isinstance(refusal(gate, clips=1), VisitorLimitError)


def test_more_clips_at_once_than_a_limit_allows_is_refused_without_a_date(gate_for):
    refused = refusal(gate_for(visitor_limits="4 per 10 minutes"), clips=5, cost=5 * FIVE_S)
    assert isinstance(refused, VisitorLimitError)
    assert refused.retry_at is None
    assert "fewer than the 5 clips asked for at once" in str(refused)


def test_the_daily_limit_holds_when_the_short_window_is_free(gate_for, clock):
    gate = gate_for(visitor_limits="4 per 10 minutes; 12 per day")
    for _ in range(3):
        admit_and_release(gate, clips=4, cost=4 * FIVE_S)
        clock.advance(10 * MINUTE)
    refused = refusal(gate)  # 12:30: the ten-minute window is free, the day is not
    assert refused.retry_at == NOON + timedelta(days=1)
    assert "12 clips per day" in str(refused)
    assert "in 23 h 30 min, at 12:00 UTC tomorrow" in str(refused)


def test_windows_are_counted_per_visitor(gate_for):
    gate = gate_for(visitor_limits="1 per hour")
    admit_and_release(gate, ALICE)
    admit_and_release(gate, BOB)
    assert isinstance(refusal(gate, ALICE), VisitorLimitError)


# --------------------------------------------------------------------------- one IPv6 customer's network


def in_one_56(n: int, block: str = "2001:db8:aa") -> Visitor:
    """The visitor at the ``n``-th /64 of the /56 ``block``::/56."""
    return identify(f"{block}:{n:02x}::1", None, 0)


def test_the_64s_of_one_56_may_make_three_visitors_clips_by_default(gate_for):
    gate = gate_for(visitor_limits="2 per hour")  # the network: 6 per hour
    for n in range(3):
        admit_and_release(gate, in_one_56(n), clips=2, cost=2 * FIVE_S)
    refused = refusal(gate, in_one_56(3))
    assert isinstance(refused, NetworkLimitError)
    assert refused.retry_at == NOON + timedelta(hours=1)
    assert "allows each network (all the addresses of one internet connection together) 6 clips per hour" in str(
        refused
    )
    admit_and_release(gate, in_one_56(0, block="2001:db8:ab"))  # another /56 is another customer


def test_six_64s_of_one_56_are_held_to_the_network_limit(gate_for):
    gate = gate_for(visitor_limits="2 per hour", network_limits="2 per hour")
    outcomes = []
    for n in range(6):
        try:
            outcomes.append(admit_and_release(gate, in_one_56(n)))
        except NetworkLimitError as refused:
            outcomes.append(refused)
    assert [isinstance(o, NetworkLimitError) for o in outcomes] == [False, False, True, True, True, True]


def test_six_6to4_addresses_of_one_ipv4_address_are_held_to_one_visitors_limit(gate_for):
    gate = gate_for(visitor_limits="2 per hour")
    visitors = [identify(f"2002:cb00:7109:{n}::1", None, 0) for n in range(6)]
    admit_and_release(gate, visitors[0])
    admit_and_release(gate, visitors[1])
    assert all(isinstance(refusal(gate, v), VisitorLimitError) for v in visitors[2:])


def test_network_limits_off_hold_only_each_visitor(gate_for):
    gate = gate_for(visitor_limits="2 per hour", network_limits="off")
    for n in range(8):
        admit_and_release(gate, in_one_56(n), clips=2, cost=2 * FIVE_S)


def test_ipv4_visitors_are_not_held_to_a_network_limit(gate_for):
    gate = gate_for(visitor_limits="2 per hour", network_limits="1 per hour")
    for visitor in (ALICE, ALICE, BOB, BOB):
        admit_and_release(gate, visitor)


def test_more_clips_at_once_than_the_network_allows_is_refused_without_a_date(gate_for):
    refused = refusal(gate_for(visitor_limits="4 per hour", network_limits="2 per hour"), in_one_56(0), clips=3)
    assert isinstance(refused, NetworkLimitError)
    assert refused.retry_at is None


def test_a_network_refusal_takes_nothing_from_the_visitors_own_window(gate_for, clock):
    gate = gate_for(visitor_limits="2 per day", network_limits="2 per hour")
    first, second = in_one_56(0), in_one_56(1)
    admit_and_release(gate, first)
    admit_and_release(gate, second)
    assert isinstance(refusal(gate, first), NetworkLimitError)
    clock.advance(60 * MINUTE)
    admit_and_release(gate, first)  # the refused call did not count in the visitor's day
    assert isinstance(refusal(gate, first), VisitorLimitError)


def test_twenty_64s_of_one_56_admitting_at_once_get_exactly_the_network_limit(gate_for):
    gate = gate_for(network_limits="3 per hour")
    start = threading.Barrier(20)
    outcomes: list[object] = []

    def visit(n: int) -> None:
        start.wait()
        try:
            outcomes.append(gate.admit(in_one_56(n), 1, FIVE_S))
        except SpendRefusedError as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=visit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 20
    assert sum(not isinstance(o, SpendRefusedError) for o in outcomes) == 3
    assert all(isinstance(o, NetworkLimitError) for o in outcomes if isinstance(o, SpendRefusedError))


# --------------------------------------------------------------------------- in-flight slots


def test_the_in_flight_slot_is_held_until_release(gate_for):
    gate = gate_for(in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    refused = refusal(gate)
    assert isinstance(refused, InFlightLimitError)
    assert refused.title == "One clip at a time"
    admission.release()
    admit_and_release(gate)


def test_a_cancelled_admission_that_was_not_released_still_holds_the_slot(gate_for):
    # The visitor stopped waiting, but Segmind may still be making (and billing) the clip.
    gate = gate_for(in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    del admission
    gc.collect()
    assert isinstance(refusal(gate), InFlightLimitError)


def test_a_slot_whose_holder_crashed_frees_itself_a_lease_after_it_was_taken(gate_for, clock):
    gate = gate_for(in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)  # its process crashed: nobody renews or releases it
    clock.advance(SLOT_LEASE - 1)
    assert isinstance(refusal(gate), InFlightLimitError)
    clock.advance(1)
    admit_and_release(gate)
    assert not admission.released


def test_a_held_slot_is_renewed_for_as_long_as_its_job_runs(gate_for, clock):
    gate = gate_for(in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    for _ in range(40):  # a 20-minute job
        clock.advance(RENEW_EVERY)
        gate.renew_slots()
    assert isinstance(refusal(gate), InFlightLimitError)
    admission.release()
    admit_and_release(gate)


def test_a_dropped_admission_is_no_longer_renewed_and_frees_its_slot_a_lease_later(gate_for, clock):
    gate = gate_for(in_flight_per_visitor=1)
    admission = gate.admit(ALICE, 1, FIVE_S)
    del admission
    gc.collect()
    clock.advance(RENEW_EVERY)
    gate.renew_slots()
    assert isinstance(refusal(gate), InFlightLimitError)
    clock.advance(SLOT_LEASE - RENEW_EVERY)
    admit_and_release(gate)


def test_the_gate_renews_held_slots_on_its_own(storage_uri):
    policy = SpendPolicy(storage_uri=storage_uri, visitor_limits="off", daily_budget=None)
    gate = SpendGate(policy, slot_lease=0.4, renew_every=0.05)  # the real clock: the keeper's own thread renews
    admission = gate.admit(ALICE, 1, FIVE_S)
    time.sleep(1.2)
    assert isinstance(refusal(gate), InFlightLimitError)
    admission.release()
    admit_and_release(gate)


class PausesBeforeTaking(MemoryLedger):
    """A ledger that waits between checking an admission and taking what it asked for: long enough
    for a second admission to be checked in that gap, were the check and the take not one step."""

    def _take(self, attempt: Attempt) -> None:
        time.sleep(0.3)
        super()._take(attempt)


@pytest.mark.parametrize(
    "rule",
    [{"in_flight_per_visitor": 1}, {"visitor_limits": "1 per hour"}, {"daily_budget": FIVE_S}],
    ids=["in-flight", "window", "budget"],
)
def test_two_admissions_at_once_cannot_both_pass_a_limit_of_one_even_with_a_pause_before_the_take(clock, rule):
    policy = SpendPolicy(**{"visitor_limits": "off", "daily_budget": None, "in_flight_per_visitor": 100, **rule})
    gate = SpendGate(policy, clock=clock, renew_every=None, ledger=PausesBeforeTaking())
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def visit() -> None:
        start.wait()
        try:
            outcomes.append(gate.admit(ALICE, 1, FIVE_S))
        except SpendRefusedError as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=visit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2
    assert sum(not isinstance(o, SpendRefusedError) for o in outcomes) == 1


def test_releasing_twice_frees_only_one_slot(gate_for):
    gate = gate_for(in_flight_per_visitor=2)
    first = gate.admit(ALICE, 1, FIVE_S)
    gate.admit(ALICE, 1, FIVE_S)
    first.release()
    first.release()
    gate.admit(ALICE, 1, FIVE_S)
    refused = refusal(gate)
    assert isinstance(refused, InFlightLimitError)
    assert refused.title == "2 clips at a time"


def test_the_context_manager_releases_on_exit_but_does_not_refund(gate_for):
    gate = gate_for(in_flight_per_visitor=1, daily_budget=10.0)
    with pytest.raises(RuntimeError), gate.admit(ALICE, 1, FIVE_S):
        raise RuntimeError("upstream failed")
    admit_and_release(gate)
    assert gate.spent_today() == 2 * FIVE_S


def test_one_visitors_slot_does_not_hold_another_visitor(gate_for):
    gate = gate_for(in_flight_per_visitor=1)
    gate.admit(ALICE, 1, FIVE_S)
    admit_and_release(gate, BOB)


@pytest.mark.parametrize("slots", [1, 3])
def test_fifty_threads_admitting_at_once_get_exactly_the_in_flight_slots(gate_for, slots):
    gate = gate_for(in_flight_per_visitor=slots)
    start = threading.Barrier(50)
    outcomes: list[object] = []

    def visit() -> None:
        start.wait()
        try:
            outcomes.append(gate.admit(ALICE, 1, FIVE_S))
        except SpendRefusedError as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=visit) for _ in range(50)]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a check-then-take gap would show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    admitted = [o for o in outcomes if not isinstance(o, SpendRefusedError)]
    assert len(outcomes) == 50
    assert len(admitted) == slots
    assert all(isinstance(o, InFlightLimitError) for o in outcomes if o not in admitted)


# --------------------------------------------------------------------------- the day budget


def test_the_budget_admits_clips_until_the_next_would_go_past_it(gate_for):
    gate = gate_for(daily_budget=1.0)
    admit_and_release(gate, ALICE)
    admit_and_release(gate, BOB)  # $0.75 spent; one more would make $1.125
    refused = refusal(gate)
    assert isinstance(refused, DailyBudgetError)
    assert refused.title == "Daily budget spent"
    assert refused.retry_at == datetime(2025, 3, 15, tzinfo=UTC)
    assert "resets in 12 h, at 00:00 UTC tomorrow" in str(refused)
    assert "paste your own Segmind key" in str(refused)
    assert gate.spent_today() == 0.75


def test_a_clip_that_exactly_uses_up_the_budget_is_admitted(gate_for):
    gate = gate_for(daily_budget=1.0)
    admit_and_release(gate, cost=0.75)
    admit_and_release(gate, cost=0.25)
    assert gate.budget_left() == 0


def test_money_is_counted_in_whole_micro_dollars_so_three_dimes_fit_thirty_cents(gate_for):
    gate = gate_for(daily_budget=0.3)
    for _ in range(3):
        admit_and_release(gate, cost=0.1)  # as floats, 0.1 + 0.1 + 0.1 > 0.3
    assert gate.spent_today() == 0.3
    assert isinstance(refusal(gate, cost=0.000001), DailyBudgetError)


def test_refund_gives_the_budget_share_back_exactly(gate_for):
    gate = gate_for(daily_budget=10.0)
    admissions = [gate.admit(ALICE, 1, NINE_S) for _ in range(7)]
    for admission in admissions[:6]:
        admission.refund()
    assert gate.spent_today() == NINE_S
    assert gate.budget_left() == 9.325


def test_refunding_one_clip_with_other_spenders_present_gives_back_exactly_its_price(gate_for, clock):
    gate = gate_for(daily_budget=10.0)
    variants = gate.admit(ALICE, 3, FIVE_S + NINE_S + FIVE_S)
    gate.admit(BOB, 1, NINE_S)
    clock.advance(MINUTE)
    gate.admit(Visitor("hf:carol", "carol"), 2, 2 * FIVE_S)
    variants.refund(NINE_S)  # the 9 s clip of Alice's set could not be billed: only its price comes back
    assert gate.spent_today() == 2.175  # Alice's two 5 s clips, Bob's 9 s, Carol's two 5 s
    assert gate.budget_left() == 7.825


def test_refund_is_idempotent(gate_for):
    gate = gate_for(daily_budget=10.0)
    gate.admit(BOB, 1, FIVE_S)
    admission = gate.admit(ALICE, 1, NINE_S)
    admission.refund()
    admission.refund()
    assert gate.spent_today() == FIVE_S


def test_a_share_of_an_admission_can_be_refunded_but_never_more_than_was_taken(gate_for):
    gate = gate_for(daily_budget=10.0)
    variants = gate.admit(ALICE, 4, 4 * FIVE_S)
    variants.refund(FIVE_S)
    assert gate.spent_today() == 3 * FIVE_S
    for _ in range(5):
        variants.refund(FIVE_S)
    variants.refund()
    assert gate.spent_today() == 0 and variants.refunded


def test_the_budget_is_shared_by_all_visitors(gate_for):
    gate = gate_for(daily_budget=2 * FIVE_S)
    admit_and_release(gate, ALICE)
    admit_and_release(gate, BOB)
    assert isinstance(refusal(gate, Visitor("hf:carol", "carol")), DailyBudgetError)


def test_the_budget_resets_at_00_00_utc(gate_for, clock):
    clock.set(datetime(2025, 3, 14, 23, 59, 30, tzinfo=UTC))
    gate = gate_for(daily_budget=FIVE_S)
    admit_and_release(gate)
    refused = refusal(gate, BOB)
    assert "in under a minute" in str(refused)
    clock.set(refused.retry_at)
    admit_and_release(gate, BOB)
    assert gate.spent_today() == FIVE_S


def test_a_refund_after_midnight_goes_back_to_the_day_it_was_spent(gate_for, clock):
    clock.set(datetime(2025, 3, 14, 23, 58, tzinfo=UTC))
    gate = gate_for(daily_budget=10.0)
    admission = gate.admit(ALICE, 1, NINE_S)
    clock.set(datetime(2025, 3, 15, 0, 1, tzinfo=UTC))
    admit_and_release(gate, BOB)
    admission.refund()
    assert gate.spent_today() == FIVE_S


def test_a_clip_dearer_than_the_whole_budget_is_refused_without_a_date(gate_for):
    refused = refusal(gate_for(daily_budget=0.5), cost=NINE_S)
    assert isinstance(refused, DailyBudgetError)
    assert refused.retry_at is None
    assert "$0.675, more than this page's whole daily budget" in str(refused)


def test_without_a_budget_spending_is_still_counted(gate_for):
    gate = gate_for(daily_budget=None)
    admit_and_release(gate, cost=NINE_S)
    assert (gate.spent_today(), gate.budget_left()) == (NINE_S, None)


# --------------------------------------------------------------------------- a refusal takes nothing


def test_a_window_refusal_takes_no_money_and_no_slot(gate_for, clock):
    gate = gate_for(visitor_limits="1 per hour", daily_budget=10.0, in_flight_per_visitor=1)
    admit_and_release(gate)
    refusal(gate)
    assert gate.spent_today() == FIVE_S
    clock.advance(60 * MINUTE)
    gate.admit(ALICE, 1, FIVE_S)  # the refused call left no slot behind


def test_a_budget_refusal_takes_nothing_from_the_visitors_window(gate_for):
    gate = gate_for(visitor_limits="2 per hour", daily_budget=FIVE_S)
    first = gate.admit(ALICE, 1, FIVE_S)
    first.release()
    assert isinstance(refusal(gate), DailyBudgetError)
    first.refund()
    second = admit_and_release(gate)  # the window still had room: the refused call was not counted in it
    second.refund()
    assert isinstance(refusal(gate), VisitorLimitError)


def test_an_in_flight_refusal_takes_nothing_from_the_window_or_the_budget(gate_for):
    gate = gate_for(visitor_limits="2 per hour", daily_budget=2 * FIVE_S, in_flight_per_visitor=1)
    first = gate.admit(ALICE, 1, FIVE_S)
    assert isinstance(refusal(gate), InFlightLimitError)
    first.release()
    admit_and_release(gate)
    assert gate.spent_today() == 2 * FIVE_S


# --------------------------------------------------------------------------- several refusals at once


def test_when_several_rules_refuse_the_one_that_frees_up_last_is_reported(gate_for, clock):
    gate = gate_for(visitor_limits="1 per hour", daily_budget=FIVE_S)
    admit_and_release(gate)  # 12:00: the window frees at 13:00, the budget at midnight
    refused = refusal(gate)
    assert isinstance(refused, DailyBudgetError)
    assert [type(other) for other in refused.also] == [VisitorLimitError]


def test_a_window_that_frees_after_midnight_is_reported_over_the_budget(gate_for, clock):
    clock.set(datetime(2025, 3, 14, 23, 30, tzinfo=UTC))
    gate = gate_for(visitor_limits="1 per hour", daily_budget=FIVE_S)
    admit_and_release(gate)
    refused = refusal(gate)
    assert isinstance(refused, VisitorLimitError)
    assert refused.retry_at == datetime(2025, 3, 15, 0, 30, tzinfo=UTC)


def test_a_busy_slot_is_reported_only_when_no_rule_has_a_date(gate_for):
    gate = gate_for(visitor_limits="1 per hour", in_flight_per_visitor=1)
    gate.admit(ALICE, 1, FIVE_S)
    assert isinstance(refusal(gate), VisitorLimitError)


# --------------------------------------------------------------------------- messages for the visitor


def every_refusal(gate_for) -> list[SpendRefusedError]:
    """One refusal of each kind, each for its own visitor."""
    gate = gate_for(visitor_limits="1 per hour", daily_budget=1.0, in_flight_per_visitor=1)
    gate.admit(ALICE, 1, FIVE_S)  # Alice's clip is running; $0.375 of $1.00 spent
    busy = gate_for(in_flight_per_visitor=1)
    busy.admit(BOB, 1, 0.0)
    unreachable = SpendGate(SpendPolicy(storage_uri=f"redis://127.0.0.1:{free_port()}"))
    refusals = [
        refusal(gate_for(own_key_only=True)),
        refusal(busy, BOB),
        refusal(gate, ALICE),
        refusal(gate, Visitor("hf:carol", "carol"), clips=2, cost=2 * FIVE_S),
        refusal(gate, Visitor("hf:dave", "dave"), cost=0.7),
        refusal(gate, Visitor("hf:erin", "erin"), cost=1.5),
        refusal(unreachable),
    ]
    kinds = [OwnKeyRequiredError, InFlightLimitError, VisitorLimitError, VisitorLimitError, DailyBudgetError]
    assert [type(r) for r in refusals] == [*kinds, DailyBudgetError, LimitsUnavailableError]
    return refusals


def test_every_refusal_speaks_to_the_visitor_not_the_owner(gate_for):
    for refused in every_refusal(gate_for):
        message = str(refused)
        assert "Nothing was sent." in message
        assert "your own Segmind key" in message or "paste your Segmind key" in message
        for owner_words in ("RAY_", "SEGMIND_", ".env", "environment", "redis", "203.0.113.9"):
            assert owner_words not in message


def test_a_refusal_names_the_visitor_for_the_operators_log(gate_for):
    assert refusal(gate_for(own_key_only=True), BOB).visitor == BOB


def test_describe_limits_says_what_a_visitor_may_make_and_what_is_left_today(gate_for):
    gate = gate_for(visitor_limits="4 per 10 minutes; 12 per day", daily_budget=10.0, in_flight_per_visitor=2)
    for visitor in (ALICE, BOB):
        admit_and_release(gate, visitor, clips=4, cost=4 * FIVE_S)
    assert gate.describe() == (
        "On this page's key you can make 4 clips per 10 minutes and 12 per day; today's budget left: $7.00"
    )


def test_describe_limits_without_a_gate_gives_the_daily_budget():
    assert describe_limits(SpendPolicy()) == (
        "On this page's key you can make 4 clips per 10 minutes and 12 per day, one at a time; "
        "the page's budget is $10.00 a day for all visitors"
    )


def test_describe_limits_with_the_limits_off_and_on_own_keys_only():
    no_limits = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=2)
    assert describe_limits(no_limits) == "On this page's key you can make clips without a limit per visitor"
    assert describe_limits(SpendPolicy(own_key_only=True)).startswith("This page runs on visitors' own keys")


@pytest.mark.parametrize("clips, cost", [(0, FIVE_S), (1.5, FIVE_S), (True, FIVE_S), (1, -0.1), (1, float("nan"))])
def test_admit_refuses_nonsense_clip_counts_and_costs(gate_for, clips, cost):
    with pytest.raises(ValueError):
        gate_for().admit(ALICE, clips, cost)


# --------------------------------------------------------------------------- Redis


def test_an_unreachable_redis_refuses_and_sends_nothing():
    gate = SpendGate(SpendPolicy(storage_uri=f"redis://:hunter2@127.0.0.1:{free_port()}"))
    with pytest.raises(LimitsUnavailableError) as refused:
        gate.admit(ALICE, 1, FIVE_S)
    assert "Nothing was sent." in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_the_in_flight_slot_in_redis_expires_on_its_own_if_never_released(fresh_redis):
    gate = SpendGate(SpendPolicy(storage_uri=fresh_redis))
    gate.admit(Visitor("ip:192.0.2.77", "192.0.2.77"), 1, FIVE_S)
    with redis.Redis.from_url(fresh_redis) as connection:
        [slot_key] = connection.keys("*in-flight*192.0.2.77*")
        assert 0 < connection.ttl(slot_key) <= SLOT_LEASE


def test_the_windows_in_redis_are_limits_own_moving_windows(fresh_redis):
    visitor = Visitor("ip:192.0.2.88", "192.0.2.88")
    gate = SpendGate(SpendPolicy(visitor_limits="4 per 10 minutes", storage_uri=fresh_redis))
    admit_and_release(gate, visitor, clips=3, cost=3 * FIVE_S)
    limiter = MovingWindowRateLimiter(storage_from_string(fresh_redis))
    assert limiter.get_window_stats(parse("4 per 10 minutes"), visitor.id).remaining == 1
    assert limiter.hit(parse("4 per 10 minutes"), visitor.id)
    assert isinstance(refusal(gate, visitor), VisitorLimitError)


WORKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ray_studio.web.identity import Visitor
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.refusals import SpendRefusedError
from ray_studio.web.spending import SpendGate

job = json.loads(sys.argv[2])
gate = SpendGate(SpendPolicy(**job["policy"]))
print("ready", flush=True)
sys.stdin.readline()
admitted = 0
for visitor_id in job["visitors"]:
    try:
        admission = gate.admit(Visitor(visitor_id, visitor_id), 1, job["cost"])
    except SpendRefusedError:
        continue
    admitted += 1
    if job["release"]:
        admission.release()
print(admitted, flush=True)
"""


def admitted_by_two_processes(policy: dict, visitors: list[list[str]], cost: float, release: bool) -> list[int]:
    """Two Python processes on one Redis, started together, each admitting its list; what each got."""
    workers = []
    for own_visitors in visitors:
        job = json.dumps({"policy": policy, "visitors": own_visitors, "cost": cost, "release": release})
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(ROOT), job],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.communicate()[1]
    for worker in workers:  # both are waiting on stdin now: go
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(int(out.strip()))
    return results


def test_two_processes_on_one_redis_share_one_day_budget(fresh_redis):
    policy = {"storage_uri": fresh_redis, "visitor_limits": "off", "daily_budget": 3.0}
    visitors = [[f"ip:10.1.{process}.{n}" for n in range(20)] for process in (1, 2)]
    assert sum(admitted_by_two_processes(policy, visitors, FIVE_S, release=False)) == 8  # $3.00 / $0.375


def test_two_processes_on_one_redis_share_one_in_flight_slot_per_visitor(fresh_redis):
    policy = {"storage_uri": fresh_redis, "visitor_limits": "off", "daily_budget": None, "in_flight_per_visitor": 1}
    visitors = [["ip:10.2.0.1"] * 20, ["ip:10.2.0.1"] * 20]
    assert sum(admitted_by_two_processes(policy, visitors, FIVE_S, release=False)) == 1


def test_two_processes_on_one_redis_share_one_window_per_visitor(fresh_redis):
    policy = {"storage_uri": fresh_redis, "visitor_limits": "4 per 10 minutes", "daily_budget": None}
    policy["in_flight_per_visitor"] = 40
    visitors = [["ip:10.3.0.1"] * 20, ["ip:10.3.0.1"] * 20]
    assert sum(admitted_by_two_processes(policy, visitors, FIVE_S, release=True)) == 4
