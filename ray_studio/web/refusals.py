"""Why a visitor may not spend the page owner's key now: one ``SpendRefusedError`` class per rule, each
with a message written for the visitor (when they can go again, or what else they can do).

Several refusals. The visitor wants to know when they can actually go, so the rule that frees up
LAST is reported (a refusal that waiting cannot cure, such as more clips at once than a limit
allows, beats all; a busy slot is reported only when no rule has a date).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from limits import RateLimitItem

from ray_studio.client.errors import API_KEYS_PAGE, RayError
from ray_studio.web.identity import Visitor
from ray_studio.web.policy import OWN_KEY_FIELD, dollars, limit_phrase

NOTHING_SENT = "Nothing was sent."

UTC = timezone.utc


# --------------------------------------------------------------------------- time for people


def next_utc_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)


def countdown(seconds: float) -> str:
    """``in 6 min``, ``in 2 h 5 min``, ``in under a minute``: never shorter than the real wait."""
    if seconds < 60:
        return "in under a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"in {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"


def rounded_up(at: datetime) -> datetime:
    """``at`` rounded up to the minute, so that a time to come back is never too early."""
    rounded = at.replace(second=0, microsecond=0)
    return rounded + timedelta(minutes=1) if rounded < at else rounded


def utc_clock(at: datetime, now: float) -> str:
    """``14:32 UTC``, ``00:00 UTC tomorrow``, ``09:15 UTC on 16 Mar``: ``at``, rounded up to the minute."""
    rounded = rounded_up(at)
    day = ""
    today = datetime.fromtimestamp(now, UTC).date()
    if rounded.date() == today + timedelta(days=1):
        day = " tomorrow"
    elif rounded.date() != today:
        day = f" on {rounded.day} {rounded:%b}"
    return f"{rounded:%H:%M} UTC{day}"


def when(at: datetime, now: float) -> str:
    """``in 6 min, at 14:32 UTC``: how long, then the clock time (a page shows it in the visitor's zone too)."""
    return f"{countdown(at.timestamp() - now)}, at {utc_clock(at, now)}"


# --------------------------------------------------------------------------- refusals


class SpendRefusedError(RayError):
    """The owner's key may not be spent on this visitor now. Nothing was sent; the message is for the visitor.

    ``retry_at`` is when trying again can succeed (a UTC datetime), or None when no date applies.
    ``visitor`` is who was refused (for the operator's log, not shown to them).
    """

    title = "Not now"
    rule = "refused"  # which rule refused, as the owner's record names it
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
        self.clock: tuple[str, datetime] | None = None  # the time to come back as the message names it, and when
        self.also: tuple[SpendRefusedError, ...] = ()  # the other rules that refused the same call
        super().__init__(detail, action=action)


def _go_on_now(verb: str = "go on") -> str:
    return f"paste your own Segmind key under {OWN_KEY_FIELD} to {verb} now. {NOTHING_SENT}"


class OwnKeyRequiredError(SpendRefusedError):
    title = "Your own key needed"
    rule = "own-key-only"

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
    rule = "in-flight"

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
    rule = "visitor-limit"
    whom = "each visitor"
    nouns = ("clip", "clips")  # what the limit counts

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
        allowed = f"this page's key allows {self.whom} {limit_phrase([limit], self.nouns)}"
        if retry_at is None:
            self.waiting_cannot_help = True
            detail = f"{allowed}, fewer than the {clips} clips asked for at once"
            action = f"Ask for fewer clips at once, or {_go_on_now()}"
        else:
            detail = f"{allowed}, and this would go past it"
            action = f"You can try again {when(retry_at, now)}, or {_go_on_now()}"
        super().__init__(detail, action=action, retry_at=retry_at, visitor=visitor)
        if retry_at is not None:
            self.clock = (utc_clock(retry_at, now), rounded_up(retry_at))


class NetworkLimitError(VisitorLimitError):
    """The visitor's whole IPv6 block (their provider's customer, RAY_NETWORK_LIMITS) reached its limit."""

    rule = "network-limit"
    whom = "each network (all the addresses of one internet connection together)"


class DailyBudgetError(SpendRefusedError):
    title = "Daily budget spent"
    rule = "budget"

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
            action=f"It resets {when(midnight, now)}; {_go_on_now('carry on')}",
            retry_at=midnight,
            visitor=visitor,
        )
        self.clock = (utc_clock(midnight, now), midnight)


class LimitsUnavailableError(SpendRefusedError):
    title = "Limits unavailable"
    rule = "limits-unavailable"

    def __init__(self, visitor: Visitor | None = None) -> None:
        super().__init__(
            "this page could not check its spending limits just now",
            action=f"Try again in a minute, or {_go_on_now()}",
            visitor=visitor,
        )


class EnhanceLimitError(VisitorLimitError):
    """The visitor (or their IPv6 network) rewrote prompts as often as RAY_ENHANCE_LIMITS allows."""

    title = "Prompt rewrite limit reached"
    nouns = ("prompt rewrite", "prompt rewrites")


class NetworkEnhanceLimitError(EnhanceLimitError):
    whom = NetworkLimitError.whom


class PausedError(SpendRefusedError):
    """The owner paused the page (the owner's page, POST /owner/pause): nothing goes out on its key."""

    title = "Paused"
    rule = "paused"
    waiting_cannot_help = True  # nobody can say when the owner resumes

    def __init__(self, visitor: Visitor | None = None) -> None:
        super().__init__(None, action=f"{PAUSED_LINE} {NOTHING_SENT}", visitor=visitor)


PAUSED_LINE = "This page is paused by its owner; paste your own Segmind key to go on."


def the_refusal_to_report(refusals: list[SpendRefusedError]) -> SpendRefusedError:
    """Of several refusals, the one that tells the visitor when they can really go (see the module notes)."""
    for refusal in refusals:
        if refusal.waiting_cannot_help:
            return refusal
    dated = [r for r in refusals if r.retry_at is not None]
    return max(dated, key=lambda r: r.retry_at) if dated else refusals[0]
