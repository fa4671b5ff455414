"""Keys kept out of the log: the page's own, and each visitor's for as long as it is in use.

A visitor's key is registered in ``LIVE_KEYS`` while a request or a job runs on it (``LIVE_KEYS.held``)
and dropped when the last of them ends, so the server holds no visitor key longer than it uses it.
``RedactKeys`` hides every piece of any of them in every log record, whoever logs it and whichever
handler writes it (one added after start-up too): it works where records are made.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from ray_studio.client.errors import redact


class LiveKeys:
    """The keys in use now, each counted by its uses: a key stays until its last use ends."""

    def __init__(self) -> None:
        self._uses: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()  # read by log records made in any thread

    @contextlib.contextmanager
    def held(self, key: str | None) -> Iterator[None]:
        if not key:
            yield
            return
        with self._lock:
            self._uses[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._uses[key] -= 1
                if self._uses[key] <= 0:
                    del self._uses[key]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._uses))


LIVE_KEYS = LiveKeys()


class RedactKeys(logging.Filter):
    """Hides every piece of the page's key (``secrets``) and of every key in use (``LIVE_KEYS``) in a
    log record: its message and its traceback."""

    _installed: RedactKeys | None = None
    _make_record: Callable[..., logging.LogRecord] | None = None  # the factory before ours

    def __init__(self, secrets: Callable[[], Iterable[str | None]]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [s for s in (*self.secrets(), *LIVE_KEYS) if s]
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the handler's to report, as usual
            return True
        hidden = redact(message, secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True

    @classmethod
    def install(cls, secrets: Callable[[], Iterable[str | None]]) -> RedactKeys:
        """Hide ``secrets`` (asked anew for each record) and the live keys in every record made from now
        on; replaces an earlier install."""
        keep = cls(secrets)
        if cls._make_record is None:
            cls._make_record = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacted_record)
        RedactKeys._installed = keep
        return keep

    @classmethod
    def uninstall(cls) -> None:
        if cls._make_record is not None:
            logging.setLogRecordFactory(cls._make_record)
        RedactKeys._make_record, RedactKeys._installed = None, None


def _redacted_record(*args: object, **kwargs: object) -> logging.LogRecord:
    make = RedactKeys._make_record or logging.LogRecord
    record = make(*args, **kwargs)
    if RedactKeys._installed is not None:
        RedactKeys._installed.filter(record)
    return record
