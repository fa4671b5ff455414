"""The spend record: one event per paid or refused attempt on the page's key, kept RAY_RECORD_DAYS days.

An event holds the UTC time, what was asked (a clip, a variant, or a prompt rewrite: "enhance"), how it
ended (made, failed-billed, failed-refunded, refused and by which rule), what it cost, Segmind's job id,
the clip's length and shape, and the visitor as a salted hash: never an address, never a key; the prompt
only with RAY_OWNER_SEES_PROMPTS. The salt is made once and kept with the record, so one visitor hashes alike
across restarts and replicas, and a hash cannot be turned back into an address without it.

Where it lives: SQLite under RAY_DATA_DIR by default (``SqliteRecord``, lasting across restarts), or the
Redis of RAY_LIMITS_STORAGE (``RedisRecord``: a stream, so replicas share one record). The owner's pause
switch and the alert when Segmind refuses the page's key (key_alert.py) are kept in the same place, beside
the counts, for the same reasons.

Writing never holds up a visitor: ``Recorder`` queues events for a writer thread; reading flushes first.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from ray_studio.client.errors import RayError
from ray_studio.client.request import VideoRequest
from ray_studio.web.key_alert import CLEAR_IF_OLDER, KeyAlert, alert_for, alert_reason

log = logging.getLogger("ray_studio.record")

OUTCOMES = ("made", "failed-billed", "failed-refunded", "refused")
RECORD_FILE = "spend-record.sqlite3"
STREAM_KEY = "ray/record"
PAUSE_KEY = "ray/paused"
SALT_KEY = "ray/record-salt"
ALERT_KEY = "ray/key-alert"
PRUNE_EVERY = 3600.0  # seconds between deletions of events older than RAY_RECORD_DAYS


@dataclass(frozen=True)
class SpendEvent:
    at: float  # UTC epoch seconds
    kind: str  # "clip", "variant" or "enhance"
    outcome: str  # one of OUTCOMES
    cost: float  # dollars counted against the page's key (0 when refused or refunded)
    visitor: str  # salted hash
    rule: str = ""  # the refusal's rule (refusals.py) when refused; a failure's key_alert reason
    job_id: str = ""
    seconds: int = 0  # the clip's length
    shape: str = ""  # aspect ratio, and "loop" when it loops
    prompt: str = ""  # only with RAY_OWNER_SEES_PROMPTS

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SpendEvent:
        names = {f.name: f.type for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in names}
        return cls(
            **{**kept, "at": float(kept["at"]), "cost": float(kept["cost"]), "seconds": int(kept.get("seconds") or 0)}
        )


class Store(Protocol):
    errors: type[Exception] | tuple[type[Exception], ...]

    def add(self, events: list[SpendEvent]) -> None: ...
    def since(self, at: float) -> list[SpendEvent]: ...
    def prune(self, before: float) -> None: ...
    def salt(self) -> bytes: ...
    def paused(self) -> bool: ...
    def set_paused(self, paused: bool) -> None: ...
    def key_alert(self) -> KeyAlert | None: ...
    def raise_key_alert(self, alert: KeyAlert) -> bool: ...
    def clear_key_alert(self, before: float) -> bool: ...


# --------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  at REAL NOT NULL, kind TEXT NOT NULL, outcome TEXT NOT NULL, cost REAL NOT NULL, visitor TEXT NOT NULL,
  rule TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL DEFAULT '', seconds INTEGER NOT NULL DEFAULT 0,
  shape TEXT NOT NULL DEFAULT '', prompt TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = [f.name for f in fields(SpendEvent)]


class SqliteRecord:
    """The record in one SQLite file (``:memory:`` for none); several processes may share the file."""

    errors = (sqlite3.Error,)

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            if str(path) != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO state VALUES ('salt', ?)", (os.urandom(16).hex(),))

    def add(self, events: list[SpendEvent]) -> None:
        marks = ", ".join("?" for _ in _COLUMNS)
        rows = [tuple(asdict(e)[c] for c in _COLUMNS) for e in events]
        with self._lock:
            self._db.executemany(f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)

    def since(self, at: float) -> list[SpendEvent]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM events WHERE at >= ? ORDER BY at", (at,))
            return [SpendEvent(*row) for row in rows.fetchall()]

    def prune(self, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM events WHERE at < ?", (before,))

    def salt(self) -> bytes:
        return bytes.fromhex(self._state("salt") or "")

    def paused(self) -> bool:
        return self._state("paused") == "1"

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO state VALUES ('paused', ?)", ("1" if paused else "0",))

    def key_alert(self) -> KeyAlert | None:
        return KeyAlert.from_json(self._state("key_alert"))

    def raise_key_alert(self, alert: KeyAlert) -> bool:
        """Kept unless one is already there (the first failure's time stays); True when it is new."""
        with self._lock:
            added = self._db.execute("INSERT OR IGNORE INTO state VALUES ('key_alert', ?)", (alert.to_json(),))
        return added.rowcount == 1

    def clear_key_alert(self, before: float) -> bool:
        """Cleared if it was raised before ``before``; True when one was."""
        with self._lock:
            gone = self._db.execute(
                "DELETE FROM state WHERE name = 'key_alert' AND json_extract(value, '$.at') < ?", (before,)
            )
        return gone.rowcount == 1

    def _state(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --------------------------------------------------------------------------- Redis


class RedisRecord:
    """The record as a Redis stream beside the spending counts, shared by every replica on that Redis."""

    def __init__(self, uri: str) -> None:
        from limits.storage import storage_from_string  # the ledger's own connection settings

        self._storage: Any = storage_from_string(uri, socket_connect_timeout=3, socket_timeout=5)
        self.errors = self._storage.base_exceptions
        self._redis = self._storage.get_connection()
        self._stream = self._storage.prefixed_key(STREAM_KEY)
        self._pause = self._storage.prefixed_key(PAUSE_KEY)
        self._alert = self._storage.prefixed_key(ALERT_KEY)
        self._redis.set(self._storage.prefixed_key(SALT_KEY), os.urandom(16).hex(), nx=True)

    def add(self, events: list[SpendEvent]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self._stream, {"event": json.dumps(asdict(event))})
        pipe.execute()

    def since(self, at: float) -> list[SpendEvent]:
        # Stream ids are the Redis server's clock; a minute's slack covers a server a little behind ours.
        start = max(0, int((at - 60) * 1000))
        rows = self._redis.xrange(self._stream, min=f"{start}-0", max="+")
        events = [SpendEvent.from_mapping(json.loads(values[b"event"])) for _, values in rows]
        return sorted((e for e in events if e.at >= at), key=lambda e: e.at)

    def prune(self, before: float) -> None:
        self._redis.xtrim(self._stream, minid=f"{int(before * 1000)}-0")

    def salt(self) -> bytes:
        return bytes.fromhex((self._redis.get(self._storage.prefixed_key(SALT_KEY)) or b"").decode())

    def paused(self) -> bool:
        return self._redis.get(self._pause) == b"1"

    def set_paused(self, paused: bool) -> None:
        self._redis.set(self._pause, "1" if paused else "0")

    def key_alert(self) -> KeyAlert | None:
        return KeyAlert.from_json(self._redis.get(self._alert))

    def raise_key_alert(self, alert: KeyAlert) -> bool:
        return bool(self._redis.set(self._alert, alert.to_json(), nx=True))

    def clear_key_alert(self, before: float) -> bool:
        return bool(self._redis.eval(CLEAR_IF_OLDER, 1, self._alert, repr(before)))

    def close(self) -> None:
        self._redis.close()


def data_dir(configured: str | None) -> Path:
    """RAY_DATA_DIR; unset: /data when it is there and writable (a Space's persistent storage), else ./ray-data."""
    if configured:
        return Path(configured).expanduser()
    persistent = Path("/data")
    if persistent.is_dir() and os.access(persistent, os.W_OK):
        return persistent / "ray-studio"
    return Path("ray-data")


def open_store(storage_uri: str, folder: Path | None) -> Store:
    """Redis when the counts are there (RAY_LIMITS_STORAGE=redis://…), else SQLite in ``folder``
    (None: in this process only)."""
    if urllib.parse.urlsplit(storage_uri).scheme != "memory":
        return RedisRecord(storage_uri)
    return SqliteRecord(folder / RECORD_FILE if folder is not None else ":memory:")


# --------------------------------------------------------------------------- what the page writes


class Recorder:
    """The one object the page writes its events through (studio.py), and the owner's page reads."""

    def __init__(
        self, store: Store, *, days: int = 30, sees_prompts: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.days = days
        self.sees_prompts = sees_prompts
        self.clock = clock
        self._salt = store.salt()
        self._queue: queue.Queue[SpendEvent | Callable[[], None]] = queue.Queue()
        self._pruned_at = 0.0
        self._writer = threading.Thread(target=self._write, name="ray-spend-record", daemon=True)
        self._writer.start()

    def visitor_hash(self, visitor_id: str) -> str:
        return hashlib.sha256(self._salt + visitor_id.encode()).hexdigest()[:12]

    def add(self, visitor_id: str, request: VideoRequest | None, kind: str, outcome: str, **details: Any) -> None:
        """Queue one event (never blocks on the store)."""
        shape = ""
        if request is not None:
            shape = request.aspect_ratio + (" loop" if request.loop else "")
            details.setdefault("seconds", request.duration)
            if self.sees_prompts:
                details.setdefault("prompt", request.prompt)
        details.setdefault("cost", 0.0)
        event = SpendEvent(at=self.clock(), kind=kind, outcome=outcome, visitor=self.visitor_hash(visitor_id),
                           shape=shape, **details)  # fmt: skip
        self._queue.put(event)

    def flush(self) -> None:
        """Wait until every queued event is stored."""
        self._queue.join()

    def events(self, days: float) -> list[SpendEvent]:
        """The events of the last ``days`` days, oldest first (raises the store's errors)."""
        self.flush()
        return self.store.since(self.clock() - days * 86_400)

    def events_from(self, at: float) -> list[SpendEvent]:
        self.flush()
        return self.store.since(at)

    # -- the owner's alert when Segmind refuses the page's key (key_alert.py)

    def key_refused(self, err: RayError) -> None:
        """A call on the page's key failed: an account failure raises the owner's alert (queued)."""
        alert = alert_for(err, self.clock())
        if alert is not None:
            self._queue.put(functools.partial(self._raise_alert, alert))

    def key_worked(self, since: float) -> None:
        """A paid call on the page's key that started at ``since`` succeeded: an older alert is cleared (queued)."""
        self._queue.put(functools.partial(self._clear_alert, since))

    def key_alert(self) -> KeyAlert | None:
        """The alert now, if any (raises the store's errors)."""
        self.flush()
        return self.store.key_alert()

    def _raise_alert(self, alert: KeyAlert) -> None:
        if self.store.raise_key_alert(alert):  # once per occurrence, whichever replica saw it first
            log.warning("%s", alert.line(alert.at))

    def _clear_alert(self, since: float) -> None:
        if self.store.clear_key_alert(since):
            log.info("Segmind accepts the page's key again: the owner's alert is cleared")

    # -- the writer thread

    def _write(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            events = [item for item in batch if isinstance(item, SpendEvent)]
            writes = [functools.partial(self._store, events)] if events else []
            writes += [item for item in batch if not isinstance(item, SpendEvent)]  # the alert's changes
            for write in writes:
                try:
                    write()
                except Exception as err:  # the record must never take the page down with it
                    log.warning("could not write to the spend record: %s", type(err).__name__)
            for _ in batch:
                self._queue.task_done()

    def _store(self, batch: Iterable[SpendEvent]) -> None:
        self.store.add(list(batch))
        now = self.clock()
        if now - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = now
            self.store.prune(now - self.days * 86_400)


class ClipOutcome:
    """One clip's event, written when its admission settles: made, failed-billed (with the job id to
    fetch it by), or failed-refunded. ``tracked`` (the board's job) is set once the job is started."""

    def __init__(self, recorder: Recorder, visitor_id: str, request: VideoRequest, kind: str, price: float) -> None:
        self.tracked: Any = None
        self.refunded = False
        self.since = recorder.clock()  # when it was admitted: its success clears only an older alert
        self._recorder, self._visitor_id, self._request, self._kind, self._price = (
            recorder, visitor_id, request, kind, price,
        )  # fmt: skip

    def refund(self, give_back: Callable[[], None]) -> None:
        self.refunded = True
        give_back()

    def settled(self) -> None:
        tracked = self.tracked
        job_id = (getattr(tracked, "job_id", None) or "") if tracked is not None else ""
        error = getattr(tracked, "error", None)
        if self.refunded:
            outcome, cost = "failed-refunded", 0.0
        elif tracked is not None and tracked.result is not None:
            outcome, cost = "made", self._price
            self._recorder.key_worked(self.since)
        else:
            outcome, cost = "failed-billed", self._price
        if isinstance(error, RayError):
            self._recorder.key_refused(error)
        rule = (alert_reason(error) or "") if error is not None else ""
        self._recorder.add(self._visitor_id, self._request, self._kind, outcome, cost=cost, job_id=job_id, rule=rule)

    def refused(self, rule: str) -> None:
        self._recorder.add(self._visitor_id, self._request, self._kind, "refused", rule=rule)
