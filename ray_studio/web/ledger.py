"""The spending counters behind spending.SpendGate: one atomic check-and-take per admission.

``MemoryLedger`` keeps them in this process under one lock; ``RedisLedger`` (ledger_redis.py) in Redis,
in one Lua script, so several app processes enforce one budget and one in-flight slot per visitor.
Money is in whole micro-dollars.

An in-flight slot is a lease: taken for ``SLOT_LEASE`` seconds, and renewed by a ``SlotKeeper`` for
as long as its holder (the admission of a job that is running) lives. So the slot ends with its job
whatever the storage did: a Redis restarted empty gets the slot back at the next renewal; a Redis
restored from an older snapshot, a release that could not reach Redis, a crashed process all leave
a slot that frees itself at most ``SLOT_LEASE`` after its holder last renewed it (a failed release
is also tried again at each renewal).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("ray_studio.ledger")

SPENT_KEY_TTL = 2 * 24 * 3600  # a day's spending is kept a day longer, for late refunds
SLOT_LEASE = 120.0  # seconds an in-flight slot outlives its holder's last renewal
RENEW_EVERY = 30.0  # seconds between renewals of the slots a process holds


@dataclass(frozen=True)
class Window:
    key: str
    limit: int
    seconds: int


@dataclass(frozen=True)
class Attempt:
    """Everything one admit checks and takes, as plain values for a ledger."""

    now: float
    token: str
    slot_key: str
    slot_limit: int
    slot_until: float
    windows: tuple[Window, ...]
    clips: int
    spent_key: str
    cap: int | None
    cost: int


@dataclass(frozen=True)
class Refusal:
    rule: str  # "in-flight", "window" or "budget"
    window: int = -1  # index into Attempt.windows
    blocking_stamp: float | None = None  # window: the entry that has to leave first; None: it never can


class Ledger(Protocol):
    errors: type[Exception] | tuple[type[Exception], ...]

    def try_admit(self, attempt: Attempt) -> list[Refusal]: ...
    def renew(self, slot_key: str, token: str, until: float, lease: float) -> None: ...
    def release(self, slot_key: str, token: str) -> None: ...
    def refund(self, spent_key: str, cost: int) -> None: ...
    def spent(self, spent_key: str) -> int: ...
    def used(self, windows: list[Window], now: float) -> list[int]: ...


class MemoryLedger:
    """Counts in this process, every admit under one lock."""

    errors: tuple[type[Exception], ...] = ()
    SWEEP_EVERY = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, dict[str, float]] = {}  # slot key → token → held until
        self._stamps: dict[str, tuple[int, list[float]]] = {}  # window key → (seconds, stamps newest first)
        self._spent: dict[str, list[float]] = {}  # day key → [micros, kept until]
        self._next_sweep = 0.0

    def try_admit(self, attempt: Attempt) -> list[Refusal]:
        with self._lock:
            self._sweep(attempt.now)
            refusals = self._refusals(attempt)
            if not refusals:
                self._take(attempt)
            return refusals

    def _refusals(self, a: Attempt) -> list[Refusal]:
        refusals = []
        slots = self._slots.setdefault(a.slot_key, {})
        for token in [t for t, until in slots.items() if until <= a.now]:
            del slots[token]
        if len(slots) >= a.slot_limit:
            refusals.append(Refusal("in-flight"))
        for index, window in enumerate(a.windows):
            if a.clips > window.limit:
                refusals.append(Refusal("window", index))
                continue
            stamps = self._stamps.get(window.key, (0, []))[1]
            position = window.limit - a.clips
            if position < len(stamps) and stamps[position] > a.now - window.seconds:
                refusals.append(Refusal("window", index, stamps[position]))
        if a.cap is not None and self.spent(a.spent_key) + a.cost > a.cap:
            refusals.append(Refusal("budget"))
        return refusals

    def _take(self, a: Attempt) -> None:
        self._slots[a.slot_key][a.token] = a.slot_until
        for window in a.windows:
            stamps = self._stamps.setdefault(window.key, (window.seconds, []))[1]
            stamps[:0] = [a.now] * a.clips
            del stamps[window.limit :]
        entry = self._spent.setdefault(a.spent_key, [0, 0.0])
        entry[0] += a.cost
        entry[1] = a.now + SPENT_KEY_TTL

    def _sweep(self, now: float) -> None:
        """Forget visitors with nothing left to count, at most once a minute."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_EVERY
        for key in [k for k, slots in self._slots.items() if all(until <= now for until in slots.values())]:
            del self._slots[key]
        for key in [k for k, (seconds, stamps) in self._stamps.items() if not stamps or stamps[0] <= now - seconds]:
            del self._stamps[key]
        for key in [k for k, (_, kept_until) in self._spent.items() if kept_until <= now]:
            del self._spent[key]

    def renew(self, slot_key: str, token: str, until: float, lease: float) -> None:
        with self._lock:
            self._slots.setdefault(slot_key, {})[token] = until

    def release(self, slot_key: str, token: str) -> None:
        with self._lock:
            self._slots.get(slot_key, {}).pop(token, None)

    def refund(self, spent_key: str, cost: int) -> None:
        with self._lock:
            if entry := self._spent.get(spent_key):
                entry[0] = max(0, entry[0] - cost)

    def spent(self, spent_key: str) -> int:
        entry = self._spent.get(spent_key)
        return int(entry[0]) if entry else 0

    def used(self, windows: list[Window], now: float) -> list[int]:
        """Clips counted in each window now (nothing taken)."""
        with self._lock:
            stamps = [self._stamps.get(w.key, (0, []))[1] for w in windows]
            return [sum(1 for s in kept if s > now - w.seconds) for w, kept in zip(windows, stamps, strict=True)]


@dataclass(eq=False)
class HeldSlot:
    """One admission's in-flight slot, as its ``SlotKeeper`` keeps it."""

    slot_key: str
    token: str
    until: float  # when it frees itself unless renewed
    released: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class SlotKeeper:
    """Renews the slots of live holders every ``every`` seconds to ``lease`` ahead, and tries a failed
    release again at each renewal (see the module notes). A holder that is dropped without releasing
    stops being renewed: its slot frees itself a lease later. Thread-safe; its thread runs only while
    it keeps a slot."""

    def __init__(
        self, ledger: Ledger, clock: Callable[[], float], lease: float = SLOT_LEASE, every: float | None = RENEW_EVERY
    ) -> None:
        self.lease = lease
        self._ledger = ledger
        self._clock = clock
        self._every = every  # None: no thread; the owner calls renew_all()
        self._held: dict[HeldSlot, weakref.ref[Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, holder: object, slot: HeldSlot) -> None:
        """Keep ``slot`` for as long as ``holder`` lives and has not released it."""
        with self._lock:
            self._held[slot] = weakref.ref(holder)
            if self._thread is None and self._every is not None:
                self._thread = threading.Thread(target=self._run, name="ray-slot-keeper", daemon=True)
                self._thread.start()

    def release(self, slot: HeldSlot) -> bool:
        """Free the slot now. False if the storage could not be reached: it is tried again at each renewal."""
        with slot.lock:
            slot.released = True
            freed = self._try_release(slot)
        if freed:
            with self._lock:
                self._held.pop(slot, None)
        return freed

    def renew_all(self) -> None:
        """One round: renew every live holder's slot, retry failed releases, forget the rest."""
        now = self._clock()
        with self._lock:
            held = list(self._held.items())
        for slot, holder in held:
            with slot.lock:  # a release cannot slip between the check and the renewal and be undone by it
                if slot.released:
                    done = self._try_release(slot) or slot.until <= now
                elif holder() is None:
                    done = True
                else:
                    done = False
                    self._renew(slot, now)
            if done:
                with self._lock:
                    self._held.pop(slot, None)

    def _renew(self, slot: HeldSlot, now: float) -> None:
        try:
            self._ledger.renew(slot.slot_key, slot.token, now + self.lease, self.lease)
        except self._ledger.errors as err:
            log.warning("could not renew an in-flight slot (%s); trying again in %s s", type(err).__name__, self._every)
            return
        slot.until = now + self.lease

    def _try_release(self, slot: HeldSlot) -> bool:
        try:
            self._ledger.release(slot.slot_key, slot.token)
        except self._ledger.errors:
            return False
        return True

    def _run(self) -> None:
        assert self._every is not None
        while True:
            time.sleep(self._every)
            self.renew_all()
            with self._lock:
                if not self._held:
                    self._thread = None
                    return


def redact_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***``."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    credentials, _, host = parts.netloc.rpartition("@")
    user = credentials.partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
