"""Whether a visitor may spend the page owner's Segmind money now.

A hosted page makes clips on its owner's key, and every clip costs real money (RAY_PRICE_PER_SECOND
for each second of video). ``SpendGate.admit`` is asked BEFORE anything is sent to Segmind; it either returns an
``Admission`` (hold it while the request runs, ``release()`` it when the request has really ended,
``refund()`` it if Segmind failed before billing) or raises a ``SpendRefusedError`` whose message is
written for the visitor. This module does no HTTP and never imports gradio: the page passes plain
values (the TCP peer, the X-Forwarded-For values, the logged-in names).

Decisions, so nobody has to rediscover them:

* Identity is identity.py's: a login, else the client address (an IPv6 client by its /64).
* One clock. Everything (windows, in-flight slots, the UTC day) reads the clock given to
  ``SpendGate``, so tests move time instead of sleeping. limits' own strategies read ``time.time()``
  themselves and take one limit at a time, so the gate does not call them: it parses
  RAY_VISITOR_LIMITS with ``limits.parse_many`` and checks and takes every rule in ONE atomic step
  (in memory under one lock; on Redis in one Lua script). The Redis windows are limits' own moving
  windows (same keys as ``MovingWindowRateLimiter``, a list of timestamps newest first), so limits'
  tools read them too.
* One customer, many visitors. An IPv6 visitor is a /64, and one customer often holds a /56 (256 of
  them): RAY_NETWORK_LIMITS (unset: NETWORK_FACTOR times each visitor limit) counts the clips of a
  whole /56 in windows of its own, checked and taken in the same atomic step as the visitor's.
  IPv4 visitors and logins have no wider network (identity.py says why).
* All or nothing. ``admit`` checks the in-flight slot, every window and the day budget, and takes
  them only if all pass, so a refusal never consumes anything and there is nothing to give back.
* Several refusals. The visitor wants to know when they can actually go, so the rule that frees up
  LAST is reported (a refusal that waiting cannot cure, such as more clips at once than a limit
  allows, beats all; a busy slot is reported only when no rule has a date).
* In-flight slots are per admission, not counters: a slot is a token that ``release()`` removes
  (idempotent, can never go negative). It is a lease renewed while its admission is held (the
  job runs), so it ends with the job whatever Redis did; one whose holder crashed, or whose
  release was lost, frees itself SLOT_LEASE (2 min) after its last renewal (see ledger.py).
* Money is counted in whole micro-dollars, per UTC date (the key is the date, so the budget resets
  at 00:00 UTC). ``refund()`` gives the money back to the day it was spent on; the visitor's window
  still counts the attempt, so failing requests cannot be used to hammer Segmind on the owner's key.
* Storage. ``memory://`` keeps the counts in this process; ``redis://`` (also ``rediss://``,
  ``redis+unix://``) shares them between processes. Other limits storages are refused: they cannot
  run the atomic check-and-take. If Redis cannot be reached, ``admit`` refuses (fails closed). A
  Redis that keeps nothing across a restart forgets the day's spending with it: the gate warns once,
  when it starts, if the server says so (or would not say).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import limits
from limits import RateLimitItem

from ray_studio.client.errors import API_KEYS_PAGE, InvalidRequestError, RayError
from ray_studio.client.settings import EnvReader
from ray_studio.client.wording import format_usd
from ray_studio.web.identity import DEFAULT_TRUSTED_PROXIES, TRUSTED_PROXIES_EXPECTED, Proxies, Visitor, parse_networks
from ray_studio.web.ledger import (
    RENEW_EVERY,
    SLOT_LEASE,
    Attempt,
    HeldSlot,
    Ledger,
    Refusal,
    SlotKeeper,
    Window,
    open_ledger,
    redact_uri,
)

log = logging.getLogger("ray_studio.visitors")

MICROS_PER_DOLLAR = 1_000_000
DEFAULT_VISITOR_LIMITS = "4 per 10 minutes; 12 per day"
NETWORK_FACTOR = 3  # unset RAY_NETWORK_LIMITS: one IPv6 customer's block may make 3 visitors' clips
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
OWN_KEY_FIELD = "'Your Segmind API key'"
NOTHING_SENT = "Nothing was sent."

UTC = timezone.utc


# --------------------------------------------------------------------------- settings


class SettingError(InvalidRequestError):
    """A RAY_* spending setting has a value we cannot use; the page should not start with it."""

    title = "Invalid setting"
    action = "Fix it in the environment or .env and start the app again."
    visitor_action = "This page is not set up right; its owner needs to fix that. Nothing was sent."
    detail_for_visitors = False  # it names the server's variables


@dataclass(frozen=True)
class SpendPolicy:
    """How the owner's key may be spent; ``from_env`` documents the variable behind each field."""

    visitor_limits: str = DEFAULT_VISITOR_LIMITS  # RAY_VISITOR_LIMITS, limits notation; "off" disables
    daily_budget: float | None = 10.0  # RAY_DAILY_BUDGET, US dollars per UTC day, all visitors; "off" → None
    in_flight_per_visitor: int = 1  # RAY_VISITOR_IN_FLIGHT, paid calls one visitor may have running at once
    storage_uri: str = "memory://"  # RAY_LIMITS_STORAGE, "redis://host:port" to share between processes
    own_key_only: bool = False  # RAY_OWN_KEY_ONLY, the owner's key serves no visitor
    proxy_hops: int = 0  # RAY_PROXY_HOPS, trusted proxies in front; default 1 on a Hugging Face Space
    network_limits: str | None = None  # RAY_NETWORK_LIMITS, per IPv6 /56; None: NETWORK_FACTOR × visitor_limits
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES  # RAY_TRUSTED_PROXIES, peers whose X-Forwarded-For is read

    @cached_property
    def proxies(self) -> Proxies:
        """Whose X-Forwarded-For names the visitor (RAY_PROXY_HOPS, RAY_TRUSTED_PROXIES)."""
        return Proxies(self.proxy_hops, parse_networks(self.trusted_proxies))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, reader: EnvReader | None = None) -> SpendPolicy:
        """The policy from the environment (load .env into it first, as app.py does with load_dotenv).

        Every bad value is reported at once as a ``SettingError`` naming the variable and the value
        (left in a shared ``reader`` for its owner to raise with the other settings' problems).
        """
        read = reader or EnvReader(env)

        def value(name: str, parse: Callable[[str], Any], expected: str, default: Any) -> Any:
            return read.value(name, parse, expected, default, shown=_shown(name, read.raw(name)))

        policy = cls(
            visitor_limits=value("RAY_VISITOR_LIMITS", _parse_limits_setting, LIMITS_EXPECTED, cls.visitor_limits),
            daily_budget=value("RAY_DAILY_BUDGET", _parse_budget, BUDGET_EXPECTED, cls.daily_budget),
            in_flight_per_visitor=value(
                "RAY_VISITOR_IN_FLIGHT", _parse_in_flight, IN_FLIGHT_EXPECTED, cls.in_flight_per_visitor
            ),
            storage_uri=value("RAY_LIMITS_STORAGE", _parse_storage_uri, STORAGE_EXPECTED, cls.storage_uri),
            own_key_only=read.flag("RAY_OWN_KEY_ONLY", cls.own_key_only),
            proxy_hops=value("RAY_PROXY_HOPS", _parse_hops, HOPS_EXPECTED, 1 if read.raw("SPACE_ID") else 0),
            network_limits=value("RAY_NETWORK_LIMITS", _parse_limits_setting, NETWORK_EXPECTED, cls.network_limits),
            trusted_proxies=value("RAY_TRUSTED_PROXIES", _parse_proxies, TRUSTED_PROXIES_EXPECTED, cls.trusted_proxies),
        )
        if reader is None:
            read.check(SettingError)
        return policy


LIMITS_EXPECTED = f"like {DEFAULT_VISITOR_LIMITS!r}, or off"
BUDGET_EXPECTED = "US dollars a day like 10 or 2.50, or off"
IN_FLIGHT_EXPECTED = "a whole number of at least 1 (RAY_OWN_KEY_ONLY=true serves no visitor)"
STORAGE_EXPECTED = "memory:// or redis://host:port (also rediss://, redis+unix://)"
HOPS_EXPECTED = "a whole number: 0 when visitors reach the app directly, 1 behind one proxy"
NETWORK_EXPECTED = f"like {DEFAULT_VISITOR_LIMITS!r} (per IPv6 /56), or off"

_ASCII_WHOLE = re.compile(r"[0-9]{1,9}", re.ASCII)
_ASCII_DOLLARS = re.compile(r"\$?([0-9]{1,9}(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_ZERO_WINDOW = re.compile(r"(?:/|per)\s*0+\s*[a-z]", re.IGNORECASE | re.ASCII)


def visitor_windows(visitor_limits: str) -> list[RateLimitItem]:
    """The limits in RAY_VISITOR_LIMITS notation, duplicates dropped; [] for "off". Raises ValueError."""
    text = visitor_limits.strip()
    if text.lower() == "off":
        return []
    if not text.isascii() or _ZERO_WINDOW.search(text):
        raise ValueError(text)
    items = limits.parse_many(text)
    if any(item.amount < 1 for item in items):
        raise ValueError(text)
    return list(dict.fromkeys(items))


def network_windows(network_limits: str | None, visitor_items: list[RateLimitItem]) -> list[RateLimitItem]:
    """RAY_NETWORK_LIMITS as limits; unset (None): each visitor limit NETWORK_FACTOR times. Raises ValueError."""
    if network_limits is None:
        return [type(item)(item.amount * NETWORK_FACTOR, item.multiples) for item in visitor_items]
    return visitor_windows(network_limits)


def _parse_limits_setting(raw: str) -> str:
    visitor_windows(raw)
    return "off" if raw.lower() == "off" else raw


def _parse_budget(raw: str) -> float | None:
    if raw.lower() == "off":
        return None
    match = _ASCII_DOLLARS.fullmatch(raw)
    if not match:
        raise ValueError(raw)
    return float(match.group(1))


def _parse_in_flight(raw: str) -> int:
    if not _ASCII_WHOLE.fullmatch(raw) or int(raw) < 1:
        raise ValueError(raw)
    return int(raw)


def _parse_hops(raw: str) -> int:
    if not _ASCII_WHOLE.fullmatch(raw):
        raise ValueError(raw)
    return int(raw)


def _parse_storage_uri(raw: str) -> str:
    if urllib.parse.urlsplit(raw).scheme not in STORAGE_SCHEMES or "://" not in raw:
        raise ValueError(raw)
    return raw


def _parse_proxies(raw: str) -> str:
    parse_networks(raw)
    return raw


def _shown(name: str, raw: str) -> str:
    """A setting's value as it may appear in an error: a storage URI loses its password."""
    return redact_uri(raw) if name == "RAY_LIMITS_STORAGE" else raw


def _check_policy(policy: SpendPolicy) -> list[RateLimitItem]:
    """The policy's windows; a SettingError naming every field that cannot work."""
    problems = []
    windows: list[RateLimitItem] = []
    try:
        windows = visitor_windows(policy.visitor_limits)
    except ValueError:
        problems.append(f"RAY_VISITOR_LIMITS must be {LIMITS_EXPECTED} (got {policy.visitor_limits!r})")
    budget = policy.daily_budget
    if budget is not None and not (isinstance(budget, int | float) and math.isfinite(budget) and budget >= 0):
        problems.append(f"RAY_DAILY_BUDGET must be {BUDGET_EXPECTED} (got {budget!r})")
    if not (type(policy.in_flight_per_visitor) is int and policy.in_flight_per_visitor >= 1):
        problems.append(f"RAY_VISITOR_IN_FLIGHT must be {IN_FLIGHT_EXPECTED} (got {policy.in_flight_per_visitor!r})")
    try:
        _parse_storage_uri(policy.storage_uri)
    except ValueError:
        problems.append(f"RAY_LIMITS_STORAGE must be {STORAGE_EXPECTED} (got {redact_uri(policy.storage_uri)!r})")
    try:
        network_windows(policy.network_limits, windows)
    except ValueError:
        problems.append(f"RAY_NETWORK_LIMITS must be {NETWORK_EXPECTED} (got {policy.network_limits!r})")
    try:
        parse_networks(policy.trusted_proxies)
    except (ValueError, AttributeError):
        problems.append(f"RAY_TRUSTED_PROXIES must be {TRUSTED_PROXIES_EXPECTED} (got {policy.trusted_proxies!r})")
    if problems:
        raise SettingError(problems)
    return windows


# --------------------------------------------------------------------------- money and time for people


def to_micros(dollars: float) -> int:
    return round(dollars * MICROS_PER_DOLLAR)


def dollars(micros: int) -> str:
    return format_usd(micros / MICROS_PER_DOLLAR)


def next_utc_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


def countdown(seconds: float) -> str:
    """``in 6 min``, ``in 2 h 5 min``, ``in under a minute``: never shorter than the real wait."""
    if seconds < 60:
        return "in under a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"in {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"


def when(at: datetime, now: float) -> str:
    """``14:32 UTC (in 6 min)``: the clock time rounded up to the minute, so it is never too early."""
    rounded = at.replace(second=0, microsecond=0)
    if rounded < at:
        rounded += timedelta(minutes=1)
    day = ""
    today = datetime.fromtimestamp(now, UTC).date()
    if rounded.date() == today + timedelta(days=1):
        day = " tomorrow"
    elif rounded.date() != today:
        day = f" on {rounded.day} {rounded:%b}"
    return f"{rounded:%H:%M} UTC{day} ({countdown(at.timestamp() - now)})"


def limit_phrase(items: Iterable[RateLimitItem]) -> str:
    """``4 clips per 10 minutes and 12 per day``."""
    phrases = []
    for item in items:
        unit = item.GRANULARITY.name
        span = f"{item.multiples} {unit}s" if item.multiples > 1 else unit
        noun = (" clip" if item.amount == 1 else " clips") if not phrases else ""
        phrases.append(f"{item.amount}{noun} per {span}")
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe_limits(policy: SpendPolicy, budget_left: float | None = None) -> str:
    """One sentence for the page: what a visitor may make on the page's key.

    ``budget_left`` (``SpendGate.budget_left()``) adds what is left today; ``SpendGate.describe()`` passes it.
    """
    if policy.own_key_only:
        return f"This page runs on visitors' own keys: paste your Segmind key under {OWN_KEY_FIELD} to make clips."
    windows = _check_policy(policy)
    allowance = limit_phrase(windows) if windows else "clips without a limit per visitor"
    sentence = f"On this page's key you can make {allowance}"
    if policy.in_flight_per_visitor == 1:
        sentence += ", one at a time"
    if policy.daily_budget is not None:
        if budget_left is not None:
            sentence += f"; today's budget left: {dollars(to_micros(budget_left))}"
        else:
            sentence += f"; the page's budget is {dollars(to_micros(policy.daily_budget))} a day for all visitors"
    return sentence


# --------------------------------------------------------------------------- refusals


class SpendRefusedError(RayError):
    """The owner's key may not be spent on this visitor now. Nothing was sent; the message is for the visitor.

    ``retry_at`` is when trying again can succeed (a UTC datetime), or None when no date applies.
    ``visitor`` is who was refused (for the operator's log, not shown to them).
    """

    title = "Not now"
    waiting_cannot_help = False  # True when only fewer clips or an own key can get past this rule

    def __init__(
        self,
        detail: str | None,
        *,
        action: str,
        retry_at: datetime | None = None,
        visitor: Visitor | None = None,
    ) -> None:
        self.retry_at = retry_at
        self.visitor = visitor
        self.also: tuple[SpendRefusedError, ...] = ()  # the other rules that refused the same call
        super().__init__(detail, action=action)


def _go_on_now(verb: str = "go on") -> str:
    return f"paste your own Segmind key under {OWN_KEY_FIELD} to {verb} now. {NOTHING_SENT}"


class OwnKeyRequiredError(SpendRefusedError):
    title = "Your own key needed"

    def __init__(self, visitor: Visitor | None = None) -> None:
        super().__init__(
            None,
            action=(
                f"This page runs on visitors' own keys: paste your Segmind key under {OWN_KEY_FIELD} "
                f"(get one at {API_KEYS_PAGE}). {NOTHING_SENT}"
            ),
            visitor=visitor,
        )


class InFlightLimitError(SpendRefusedError):
    title = "One clip at a time"

    def __init__(self, limit: int, visitor: Visitor | None = None) -> None:
        if limit == 1:
            detail, wait = "your last clip is still being made on this page's key", "Wait until it is done"
        else:
            self.title = f"{limit} clips at a time"
            detail = f"you already have {limit} clips being made on this page's key"
            wait = "Wait until one is done"
        super().__init__(detail, action=f"{wait}, or {_go_on_now()}", visitor=visitor)


class VisitorLimitError(SpendRefusedError):
    title = "Limit reached"
    whom = "each visitor"

    def __init__(
        self,
        limit: RateLimitItem,
        *,
        clips: int,
        now: float,
        retry_at: datetime | None,
        visitor: Visitor | None = None,
    ) -> None:
        self.limit = limit
        allowed = f"this page's key allows {self.whom} {limit_phrase([limit])}"
        if retry_at is None:
            self.waiting_cannot_help = True
            detail = f"{allowed}, fewer than the {clips} clips asked for at once"
            action = f"Ask for fewer clips at once, or {_go_on_now()}"
        else:
            detail = f"{allowed}, and this would go past it"
            action = f"You can try again at {when(retry_at, now)}, or {_go_on_now()}"
        super().__init__(detail, action=action, retry_at=retry_at, visitor=visitor)


class NetworkLimitError(VisitorLimitError):
    """The visitor's whole IPv6 block (their provider's customer, RAY_NETWORK_LIMITS) reached its limit."""

    whom = "each network (all the addresses of one internet connection together)"


class DailyBudgetError(SpendRefusedError):
    title = "Daily budget spent"

    def __init__(self, *, cost_micros: int, cap_micros: int, now: float, visitor: Visitor | None = None) -> None:
        if cost_micros > cap_micros:
            self.waiting_cannot_help = True
            super().__init__(
                f"this would cost {dollars(cost_micros)}, more than this page's whole daily budget",
                action=f"Choose a shorter clip or fewer clips, or {_go_on_now()}",
                visitor=visitor,
            )
            return
        midnight = next_utc_midnight(now)
        super().__init__(
            "today's budget for this page's key is spent",
            action=f"It resets at 00:00 UTC ({countdown(midnight.timestamp() - now)}); {_go_on_now('carry on')}",
            retry_at=midnight,
            visitor=visitor,
        )


class LimitsUnavailableError(SpendRefusedError):
    title = "Limits unavailable"

    def __init__(self, visitor: Visitor | None = None) -> None:
        super().__init__(
            "this page could not check its spending limits just now",
            action=f"Try again in a minute, or {_go_on_now()}",
            visitor=visitor,
        )


def the_refusal_to_report(refusals: list[SpendRefusedError]) -> SpendRefusedError:
    """Of several refusals, the one that tells the visitor when they can really go (see the module notes)."""
    for refusal in refusals:
        if refusal.waiting_cannot_help:
            return refusal
    dated = [r for r in refusals if r.retry_at is not None]
    return max(dated, key=lambda r: r.retry_at) if dated else refusals[0]


# --------------------------------------------------------------------------- the gate


class Admission:
    """Leave to spend on the owner's key: hold it while the request runs.

    ``release()`` when the upstream request has really ended (the context manager does that on exit);
    ``refund()`` as well when Segmind failed before it billed. Both are idempotent and thread-safe.
    While it is held its in-flight slot is renewed (ledger.SlotKeeper); dropped without ``release()``,
    it stops being renewed and its slot frees itself SLOT_LEASE later.
    """

    def __init__(self, ledger: Ledger, keeper: SlotKeeper, visitor: Visitor, attempt: Attempt) -> None:
        self.visitor = visitor
        self.clips = attempt.clips
        self.cost = attempt.cost / MICROS_PER_DOLLAR
        self._ledger = ledger
        self._keeper = keeper
        self._attempt = attempt
        self._slot = HeldSlot(attempt.slot_key, attempt.token, attempt.slot_until)
        self._lock = threading.Lock()
        self.released = False
        self.refunded = False
        self._refunded_micros = 0
        keeper.hold(self, self._slot)

    def release(self) -> None:
        """Free the visitor's in-flight slot."""
        with self._lock:
            if self.released:
                return
            self.released = True
        if not self._keeper.release(self._slot):
            log.warning(
                "could not release %s's slot now; trying again, and it frees itself within %d s anyway",
                self.visitor.label,
                self._keeper.lease,
            )

    def refund(self, share: float | None = None) -> None:
        """Give money back to the day it was counted on (not the visitor's window): all of it, or
        ``share`` dollars of it (one clip of several that could not be billed). Never more than was
        taken, however often it is called."""
        with self._lock:
            left = self._attempt.cost - self._refunded_micros
            amount = left if share is None else min(left, to_micros(share))
            if amount <= 0:
                return
            self._refunded_micros += amount
            self.refunded = self._refunded_micros >= self._attempt.cost
        try:
            self._ledger.refund(self._attempt.spent_key, amount)
        except self._ledger.errors:
            log.warning("could not refund %s to today's budget; it stays counted", dollars(amount))

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Admission(visitor={self.visitor.label!r}, clips={self.clips}, cost={self.cost!r})"


class SpendGate:
    """Decides whether a visitor may spend the owner's key now. One per app process; thread-safe."""

    def __init__(
        self,
        policy: SpendPolicy,
        clock: Callable[[], float] = time.time,
        *,
        slot_lease: float = SLOT_LEASE,
        renew_every: float | None = RENEW_EVERY,
        ledger: Ledger | None = None,
    ) -> None:
        """``renew_every`` None: nothing renews the slots on its own (tests call ``renew_slots``);
        ``ledger`` instead of the one RAY_LIMITS_STORAGE names."""
        self.policy = policy
        self._windows = _check_policy(policy)
        self._network_windows = network_windows(policy.network_limits, self._windows)
        self._cap = None if policy.daily_budget is None else to_micros(policy.daily_budget)
        self._clock = clock
        try:
            self._ledger = ledger if ledger is not None else open_ledger(policy.storage_uri)
        except ValueError as err:
            shown = redact_uri(policy.storage_uri)
            raise SettingError([f"RAY_LIMITS_STORAGE {shown!r} cannot be used: {err}"]) from None
        self._keeper = SlotKeeper(self._ledger, clock, slot_lease, renew_every)

    def admit(self, visitor: Visitor, clips: int, cost: float) -> Admission:
        """Leave to make ``clips`` clips costing ``cost`` dollars in all, or a SpendRefusedError (nothing taken)."""
        if self.policy.own_key_only:
            raise OwnKeyRequiredError(visitor)
        _check_order(clips, cost)
        attempt = self._attempt(visitor, clips, to_micros(cost))
        try:
            refusals = self._ledger.try_admit(attempt)
        except self._ledger.errors as err:
            log.warning("spending limits unavailable, refusing %s: %s", visitor.label, type(err).__name__)
            raise LimitsUnavailableError(visitor) from err
        if refusals:
            raise self._refusal(visitor, attempt, refusals)
        return Admission(self._ledger, self._keeper, visitor, attempt)

    def renew_slots(self) -> None:
        """Renew the in-flight slots of the admissions held now (done every RENEW_EVERY seconds anyway)."""
        self._keeper.renew_all()

    def spent_today(self) -> float:
        """Dollars admitted on the owner's key today (UTC), all visitors, refunds deducted."""
        return self._spent_micros() / MICROS_PER_DOLLAR

    def budget_left(self) -> float | None:
        """Dollars left in today's budget, or None without a budget."""
        if self._cap is None:
            return None
        return max(0, self._cap - self._spent_micros()) / MICROS_PER_DOLLAR

    def describe(self) -> str:
        """``describe_limits`` with today's budget left."""
        return describe_limits(self.policy, None if self.policy.own_key_only else self.budget_left())

    def _spent_micros(self) -> int:
        try:
            return self._ledger.spent(_spent_key(self._clock()))
        except self._ledger.errors as err:
            raise LimitsUnavailableError() from err

    def _attempt(self, visitor: Visitor, clips: int, cost: int) -> Attempt:
        now = self._clock()
        return Attempt(
            now=now,
            token=uuid.uuid4().hex,
            slot_key=f"ray/in-flight/{visitor.id}",
            slot_limit=self.policy.in_flight_per_visitor,
            slot_until=now + self._keeper.lease,
            windows=tuple(
                Window(item.key_for(holder), item.amount, item.get_expiry()) for holder, item in self._rules(visitor)
            ),
            clips=clips,
            spent_key=_spent_key(now),
            cap=self._cap,
            cost=cost,
        )

    def _refusal(self, visitor: Visitor, attempt: Attempt, refusals: list[Refusal]) -> SpendRefusedError:
        errors = [self._error(visitor, attempt, refusal) for refusal in refusals]
        chosen = the_refusal_to_report(errors)
        chosen.also = tuple(e for e in errors if e is not chosen)
        return chosen

    def _error(self, visitor: Visitor, attempt: Attempt, refusal: Refusal) -> SpendRefusedError:
        if refusal.rule == "in-flight":
            return InFlightLimitError(attempt.slot_limit, visitor)
        if refusal.rule == "budget":
            assert attempt.cap is not None
            return DailyBudgetError(cost_micros=attempt.cost, cap_micros=attempt.cap, now=attempt.now, visitor=visitor)
        window = attempt.windows[refusal.window]
        retry_at = None
        if refusal.blocking_stamp is not None:
            retry_at = datetime.fromtimestamp(refusal.blocking_stamp + window.seconds, UTC)
        holder, item = self._rules(visitor)[refusal.window]
        kind = VisitorLimitError if holder == visitor.id else NetworkLimitError
        return kind(item, clips=attempt.clips, now=attempt.now, retry_at=retry_at, visitor=visitor)

    def _rules(self, visitor: Visitor) -> list[tuple[str, RateLimitItem]]:
        """Each window an admission of ``visitor`` counts in, with whom it counts: the visitor, then
        their IPv6 network."""
        rules = [(visitor.id, item) for item in self._windows]
        if visitor.network:
            rules += [(visitor.network, item) for item in self._network_windows]
        return rules


def _spent_key(now: float) -> str:
    return f"ray/spent/{utc_day(now)}"


def _check_order(clips: int, cost: float) -> None:
    if type(clips) is not int or clips < 1:
        raise ValueError(f"clips must be a whole number of at least 1 (got {clips!r})")
    if not (isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost must be a finite number of dollars, 0 or more (got {cost!r})")
