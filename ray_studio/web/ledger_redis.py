"""The spending counters in Redis (``RedisLedger``), shared by every app process on it: each admit is one
Lua script, so several processes enforce one budget and one in-flight slot per visitor. Windows use the
``limits`` library's own moving-window layout. ``open_ledger`` picks the ledger a storage URI names, and
warns when a Redis would forget the day's spending on a restart.
"""

from __future__ import annotations

import logging
import math
import urllib.parse
from typing import Any

from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from ray_studio.web.ledger import SPENT_KEY_TTL, Attempt, Ledger, MemoryLedger, Refusal, Window, redact_uri

log = logging.getLogger("ray_studio.ledger")


# KEYS: in-flight zset, day's spending, then one moving window (limits' layout) per limit.
# ARGV: now, token, slot limit, slot held until, slot key ttl, cap (-1: none), cost, spent ttl, clips,
#       then (limit, seconds) per window. Returns the refusals; takes everything only when there are none.
_ADMIT_LUA = """
local now = tonumber(ARGV[1])
local slot_limit = tonumber(ARGV[3])
local cap = tonumber(ARGV[6])
local cost = tonumber(ARGV[7])
local clips = tonumber(ARGV[9])
local refusals = {}

redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) >= slot_limit then
  refusals[#refusals + 1] = {'in-flight', '-1', ''}
end
for i = 3, #KEYS do
  local limit = tonumber(ARGV[10 + (i - 3) * 2])
  local seconds = tonumber(ARGV[11 + (i - 3) * 2])
  if clips > limit then
    refusals[#refusals + 1] = {'window', tostring(i - 3), ''}
  else
    local stamp = redis.call('lindex', KEYS[i], limit - clips)
    if stamp and tonumber(stamp) > now - seconds then
      refusals[#refusals + 1] = {'window', tostring(i - 3), stamp}
    end
  end
end
local spent = tonumber(redis.call('get', KEYS[2]) or '0')
if cap >= 0 and spent + cost > cap then
  refusals[#refusals + 1] = {'budget', '-1', ''}
end
if #refusals > 0 then
  return refusals
end

redis.call('zadd', KEYS[1], ARGV[4], ARGV[2])
redis.call('expire', KEYS[1], ARGV[5])
for i = 3, #KEYS do
  local limit = tonumber(ARGV[10 + (i - 3) * 2])
  for _ = 1, clips do
    redis.call('lpush', KEYS[i], ARGV[1])
  end
  redis.call('ltrim', KEYS[i], 0, limit - 1)
  redis.call('expire', KEYS[i], ARGV[11 + (i - 3) * 2])
end
redis.call('incrby', KEYS[2], cost)
redis.call('expire', KEYS[2], ARGV[8])
return {}
"""

# KEYS: in-flight zset. ARGV: held until, token, key ttl. The slot is added back if the zset lost it.
_RENEW_LUA = """
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
if redis.call('ttl', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('expire', KEYS[1], ARGV[3])
end
"""

_REFUND_LUA = """
if redis.call('exists', KEYS[1]) == 0 then
  return 0
end
local left = redis.call('decrby', KEYS[1], ARGV[1])
if left < 0 then
  redis.call('set', KEYS[1], 0, 'KEEPTTL')
end
return left
"""


class RedisLedger:
    """Counts in Redis, shared by every process on it; each admit is one Lua script (atomic)."""

    def __init__(self, uri: str) -> None:
        # URL options (?socket_timeout=...) override these: a dead Redis should refuse fast, not hang the page.
        self._storage: Any = storage_from_string(uri, socket_connect_timeout=3, socket_timeout=5)
        self.errors = self._storage.base_exceptions
        connection = self._storage.get_connection()
        self._redis = connection
        self._admit = connection.register_script(_ADMIT_LUA)
        self._renew = connection.register_script(_RENEW_LUA)
        self._refund = connection.register_script(_REFUND_LUA)

    def _key(self, key: str) -> str:
        return self._storage.prefixed_key(key)  # "LIMITS:…", as limits' own RedisStorage does

    def try_admit(self, a: Attempt) -> list[Refusal]:
        keys = [self._key(a.slot_key), self._key(a.spent_key)] + [self._key(w.key) for w in a.windows]
        args: list[Any] = [
            repr(a.now),
            a.token,
            a.slot_limit,
            repr(a.slot_until),
            max(1, math.ceil(a.slot_until - a.now)),
            -1 if a.cap is None else a.cap,
            a.cost,
            SPENT_KEY_TTL,
            a.clips,
        ]
        for window in a.windows:
            args += [window.limit, window.seconds]
        rows = self._admit(keys=keys, args=args)
        return [_redis_refusal(row) for row in rows]

    def renew(self, slot_key: str, token: str, until: float, lease: float) -> None:
        self._renew(keys=[self._key(slot_key)], args=[repr(until), token, max(1, math.ceil(lease))])

    def release(self, slot_key: str, token: str) -> None:
        self._redis.zrem(self._key(slot_key), token)

    def forgets_on_restart(self) -> bool | None:
        """True when the server keeps nothing across a restart (no save points, no append-only file);
        None when it cannot tell (CONFIG refused, renamed away, or not answered)."""
        try:
            settings = {**self._redis.config_get("save"), **self._redis.config_get("appendonly")}
        except self.errors:
            return None
        values = {_text(name): _text(value) for name, value in settings.items()}
        if "save" not in values or "appendonly" not in values:
            return None
        return not values["save"].strip() and values["appendonly"] == "no"

    def refund(self, spent_key: str, cost: int) -> None:
        self._refund(keys=[self._key(spent_key)], args=[cost])

    def spent(self, spent_key: str) -> int:
        return int(self._redis.get(self._key(spent_key)) or 0)

    def used(self, windows: list[Window], now: float) -> list[int]:
        """Clips counted in each window now (nothing taken)."""
        pipe = self._redis.pipeline(transaction=False)
        for window in windows:
            pipe.lrange(self._key(window.key), 0, window.limit - 1)
        rows = pipe.execute()
        return [sum(1 for s in row if float(s) > now - w.seconds) for w, row in zip(windows, rows, strict=True)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _redis_refusal(row: list[bytes]) -> Refusal:
    rule, window, stamp = (value.decode() for value in row)
    return Refusal(rule, int(window), float(stamp) if stamp else None)


def open_ledger(storage_uri: str) -> Ledger:
    """The ledger a ``limits`` storage URI names; ValueError (its password hidden) when it cannot be used.

    A Redis that keeps nothing across a restart, or that would not say, is named in a warning."""
    scheme = urllib.parse.urlsplit(storage_uri).scheme
    if scheme == "memory":
        return MemoryLedger()
    try:
        ledger = RedisLedger(storage_uri)
    except (ConfigurationError, ValueError) as err:
        reason = str(err)
        if password := urllib.parse.urlsplit(storage_uri).password:
            reason = reason.replace(password, "***")
        raise ValueError(reason) from None
    _warn_if_forgetful(ledger, redact_uri(storage_uri))
    return ledger


def _warn_if_forgetful(ledger: RedisLedger, shown_uri: str) -> None:
    forgets = ledger.forgets_on_restart()
    if forgets:
        log.warning(
            "Redis at %s keeps nothing across a restart (no save points, appendonly no): a restart forgets "
            "today's spending and every visitor's windows, so the day budget and the limits start again from "
            "zero. Turn on appendonly (or save points) on that server.",
            shown_uri,
        )
    elif forgets is None:
        log.warning(
            "could not check whether Redis at %s keeps its counts across a restart (CONFIG GET save and "
            "appendonly were refused or not answered). If it keeps nothing, a restart forgets today's "
            "spending and every visitor's windows.",
            shown_uri,
        )
