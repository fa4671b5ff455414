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
* Several refusals: refusals.py says which one the visitor is told about.
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
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from limits import RateLimitItem

from ray_studio.web.identity import Visitor
from ray_studio.web.ledger import (
    RENEW_EVERY,
    SLOT_LEASE,
    Attempt,
    HeldSlot,
    Ledger,
    Refusal,
    SlotKeeper,
    Window,
    redact_uri,
)
from ray_studio.web.ledger_redis import open_ledger
from ray_studio.web.policy import (
    MICROS_PER_DOLLAR,
    SettingError,
    SpendPolicy,
    check_policy,
    describe_limits,
    dollars,
    network_windows,
    to_micros,
    visitor_windows,
)
from ray_studio.web.refusals import (
    PAUSED_LINE,
    DailyBudgetError,
    EnhanceLimitError,
    InFlightLimitError,
    LimitsUnavailableError,
    NetworkEnhanceLimitError,
    NetworkLimitError,
    OwnKeyRequiredError,
    PausedError,
    SpendRefusedError,
    VisitorLimitError,
    the_refusal_to_report,
)

log = logging.getLogger("ray_studio.spending")

UTC = timezone.utc
# What an admission pays for. Each kind counts in windows (and an in-flight slot) of its own, all
# against the one day budget: a clip in RAY_VISITOR_LIMITS, a prompt rewrite in RAY_ENHANCE_LIMITS.
KINDS = ("clip", "enhance")


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


# --------------------------------------------------------------------------- the gate


class PauseSwitch(Protocol):
    """Where the owner's pause is kept (record.py's store: beside the counts, lasting across restarts)."""

    errors: type[Exception] | tuple[type[Exception], ...]

    def paused(self) -> bool: ...
    def set_paused(self, paused: bool) -> None: ...


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
        pause: PauseSwitch | None = None,
    ) -> None:
        """``renew_every`` None: nothing renews the slots on its own (tests call ``renew_slots``);
        ``ledger`` instead of the one RAY_LIMITS_STORAGE names; ``pause``: the owner's switch (none: never paused)."""
        self.policy = policy
        self._pause = pause
        self._windows = check_policy(policy)
        self._network_windows = network_windows(policy.network_limits, self._windows)
        self._enhance_windows = visitor_windows(policy.enhance_limits)
        self._cap = None if policy.daily_budget is None else to_micros(policy.daily_budget)
        self._clock = clock
        try:
            self._ledger = ledger if ledger is not None else open_ledger(policy.storage_uri)
        except ValueError as err:
            shown = redact_uri(policy.storage_uri)
            raise SettingError([f"RAY_LIMITS_STORAGE {shown!r} cannot be used: {err}"]) from None
        self._keeper = SlotKeeper(self._ledger, clock, slot_lease, renew_every)

    def admit(self, visitor: Visitor, clips: int, cost: float, kind: str = "clip") -> Admission:
        """Leave to make ``clips`` clips (``kind`` "enhance": prompt rewrites) costing ``cost`` dollars in
        all, or a SpendRefusedError (nothing taken)."""
        if self.policy.own_key_only:
            raise OwnKeyRequiredError(visitor)
        if self.paused():
            raise PausedError(visitor)
        _check_order(clips, cost)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
        attempt = self._attempt(visitor, clips, to_micros(cost), kind)
        try:
            refusals = self._ledger.try_admit(attempt)
        except self._ledger.errors as err:
            log.warning("spending limits unavailable, refusing %s: %s", visitor.label, type(err).__name__)
            raise LimitsUnavailableError(visitor) from err
        if refusals:
            raise self._refusal(visitor, attempt, refusals, kind)
        return Admission(self._ledger, self._keeper, visitor, attempt)

    def paused(self) -> bool:
        """Whether the owner paused the page; a switch that cannot be read counts as paused (fails closed)."""
        if self._pause is None:
            return False
        try:
            return self._pause.paused()
        except self._pause.errors as err:
            raise LimitsUnavailableError() from err

    def set_paused(self, paused: bool) -> None:
        """The owner's switch: while paused every admission is refused at once (PausedError)."""
        if self._pause is None:
            raise LimitsUnavailableError()
        self._pause.set_paused(paused)
        log.warning("the owner %s the page", "paused" if paused else "resumed")

    def allowance(self, visitor: Visitor, clip_cost: float) -> Allowance:
        """What ``visitor`` may still make on the page's key now (nothing taken); ``clip_cost``: one usual clip."""
        paused = self.paused()
        now = self._clock()
        rules = self._rules(visitor)
        windows = [Window(item.key_for(holder), item.amount, item.get_expiry()) for holder, item in rules]
        try:
            used = self._ledger.used(windows, now)
        except self._ledger.errors as err:
            raise LimitsUnavailableError(visitor) from err
        left = [(item, holder, max(0, item.amount - n)) for (holder, item), n in zip(rules, used, strict=True)]
        mine = []
        for item, holder, clips_left in left:
            if holder == visitor.id:
                wider = [n for other, h, n in left if h != visitor.id and other.get_expiry() == item.get_expiry()]
                mine.append((item, min([clips_left, *wider])))
        budget = self.budget_left()
        in_budget = None if budget is None or clip_cost <= 0 else int(budget // clip_cost)
        return Allowance(tuple(mine), in_budget, paused)

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

    def _attempt(self, visitor: Visitor, clips: int, cost: int, kind: str = "clip") -> Attempt:
        now = self._clock()
        return Attempt(
            now=now,
            token=uuid.uuid4().hex,
            slot_key=f"ray/in-flight/{visitor.id}" if kind == "clip" else f"ray/in-flight/{kind}/{visitor.id}",
            slot_limit=self.policy.in_flight_per_visitor,
            slot_until=now + self._keeper.lease,
            windows=tuple(
                Window(item.key_for(holder), item.amount, item.get_expiry())
                for holder, item in self._rules(visitor, kind)
            ),
            clips=clips,
            spent_key=_spent_key(now),
            cap=self._cap,
            cost=cost,
        )

    def _refusal(self, visitor: Visitor, attempt: Attempt, refusals: list[Refusal], kind: str) -> SpendRefusedError:
        errors = [self._error(visitor, attempt, refusal, kind) for refusal in refusals]
        chosen = the_refusal_to_report(errors)
        chosen.also = tuple(e for e in errors if e is not chosen)
        return chosen

    def _error(self, visitor: Visitor, attempt: Attempt, refusal: Refusal, kind: str) -> SpendRefusedError:
        if refusal.rule == "in-flight":
            return InFlightLimitError(attempt.slot_limit, visitor)
        if refusal.rule == "budget":
            assert attempt.cap is not None
            return DailyBudgetError(cost_micros=attempt.cost, cap_micros=attempt.cap, now=attempt.now, visitor=visitor)
        window = attempt.windows[refusal.window]
        retry_at = None
        if refusal.blocking_stamp is not None:
            retry_at = datetime.fromtimestamp(refusal.blocking_stamp + window.seconds, UTC)
        holder, item = self._rules(visitor, kind)[refusal.window]
        mine = holder == _holder(visitor.id, kind)
        if kind == "clip":
            error = VisitorLimitError if mine else NetworkLimitError
        else:
            error = EnhanceLimitError if mine else NetworkEnhanceLimitError
        return error(item, clips=attempt.clips, now=attempt.now, retry_at=retry_at, visitor=visitor)

    def _rules(self, visitor: Visitor, kind: str = "clip") -> list[tuple[str, RateLimitItem]]:
        """Each window an admission of ``visitor`` counts in, with whom it counts: the visitor, then
        their IPv6 network (a prompt rewrite's network windows: NETWORK_FACTOR times the visitor's)."""
        own = self._windows if kind == "clip" else self._enhance_windows
        wide = self._network_windows if kind == "clip" else network_windows(None, own)
        rules = [(_holder(visitor.id, kind), item) for item in own]
        if visitor.network:
            rules += [(_holder(visitor.network, kind), item) for item in wide]
        return rules


def _holder(who: str, kind: str) -> str:
    """Whose window it is: a clip's windows keep the names they always had; another kind's are apart."""
    return who if kind == "clip" else f"{kind}/{who}"


@dataclass(frozen=True)
class Allowance:
    """What a visitor may still make on the page's key: clips left in each of their limits, whole clips
    today's budget still pays for (never the dollars: they are the owner's business), and the pause."""

    windows: tuple[tuple[RateLimitItem, int], ...]
    clips_in_budget: int | None
    paused: bool = False

    @property
    def clips_now(self) -> int | None:
        """Clips the next call may make at most; None: no limit counts them."""
        counts = [left for _, left in self.windows]
        counts += [] if self.clips_in_budget is None else [self.clips_in_budget]
        return min(counts) if counts else None

    def line(self) -> str:
        """``3 of 4 clips left in the next 10 minutes · 11 today``."""
        if self.paused:
            return PAUSED_LINE
        parts = []
        for item, left in self.windows:
            span = _span(item)
            when = "today" if span == "day" else f"in the next {span}"
            parts.append(f"{left} {when}" if parts else f"{left} of {item.amount} clips left {when}")
        parts = parts or ["No limit per visitor on this page's key"]
        if self.clips_in_budget == 0:
            parts.append("today's budget for this page is spent (it resets at 00:00 UTC)")
        elif self.clips_in_budget is not None and self.clips_in_budget < 2:
            parts.append("today's budget for this page is nearly spent")
        return " · ".join(parts)


OWN_KEY_ALLOWANCE = "Your own key is used: this page's limits do not apply."


def _span(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.multiples} {unit}s" if item.multiples > 1 else unit


def _spent_key(now: float) -> str:
    return f"ray/spent/{utc_day(now)}"


def _check_order(clips: int, cost: float) -> None:
    if type(clips) is not int or clips < 1:
        raise ValueError(f"clips must be a whole number of at least 1 (got {clips!r})")
    if not (isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost must be a finite number of dollars, 0 or more (got {cost!r})")
