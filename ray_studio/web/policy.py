"""How the page owner's key may be spent: ``SpendPolicy`` (the RAY_* spending settings, each checked),
the limits it sets in ``limits`` notation, and the sentence that tells visitors about them.

Money is counted in whole micro-dollars (``to_micros``) and shown in dollars (``dollars``).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import limits
from limits import RateLimitItem

from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.settings import EnvReader
from ray_studio.client.wording import format_usd
from ray_studio.web.identity import DEFAULT_TRUSTED_PROXIES, TRUSTED_PROXIES_EXPECTED, Proxies, parse_networks
from ray_studio.web.ledger import redact_uri

MICROS_PER_DOLLAR = 1_000_000
DEFAULT_VISITOR_LIMITS = "4 per 10 minutes; 12 per day"
DEFAULT_ENHANCE_LIMITS = "20 per 10 minutes"  # prompt rewrites (enhance) per visitor on the page's key
NETWORK_FACTOR = 3  # unset RAY_NETWORK_LIMITS: one IPv6 customer's block may make 3 visitors' clips
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
OWN_KEY_FIELD = "'Your Segmind API key'"

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
    enhance_limits: str = DEFAULT_ENHANCE_LIMITS  # RAY_ENHANCE_LIMITS, prompt rewrites per visitor; "off" disables

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
            enhance_limits=value("RAY_ENHANCE_LIMITS", _parse_limits_setting, ENHANCE_EXPECTED, cls.enhance_limits),
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
ENHANCE_EXPECTED = f"like {DEFAULT_ENHANCE_LIMITS!r}, or off"

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


def check_policy(policy: SpendPolicy) -> list[RateLimitItem]:
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
        visitor_windows(policy.enhance_limits)
    except ValueError:
        problems.append(f"RAY_ENHANCE_LIMITS must be {ENHANCE_EXPECTED} (got {policy.enhance_limits!r})")
    try:
        parse_networks(policy.trusted_proxies)
    except (ValueError, AttributeError):
        problems.append(f"RAY_TRUSTED_PROXIES must be {TRUSTED_PROXIES_EXPECTED} (got {policy.trusted_proxies!r})")
    if problems:
        raise SettingError(problems)
    return windows


# --------------------------------------------------------------------------- for people


def to_micros(dollars: float) -> int:
    return round(dollars * MICROS_PER_DOLLAR)


def dollars(micros: int) -> str:
    return format_usd(micros / MICROS_PER_DOLLAR)


def limit_phrase(items: Iterable[RateLimitItem], nouns: tuple[str, str] = ("clip", "clips")) -> str:
    """``4 clips per 10 minutes and 12 per day`` (``nouns``: what is counted, one and many)."""
    phrases = []
    for item in items:
        unit = item.GRANULARITY.name
        span = f"{item.multiples} {unit}s" if item.multiples > 1 else unit
        noun = f" {nouns[item.amount != 1]}" if not phrases else ""
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
    windows = check_policy(policy)
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
