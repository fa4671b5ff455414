"""Progress on stderr for the command line: ``Ticker`` for one clip (a line redrawn each second on a
terminal, a line per change of state in a log), ``Lines`` for several at once (a line per change, each
starting with its clip's name)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from ray_studio.client.job import Update
from ray_studio.client.wording import clock


class Ticker:
    """Shows on stderr where a generation is. On a terminal one line is redrawn every second with
    the time elapsed; otherwise (a log, a pipe) a line per change of state."""

    def __init__(self, stream: TextIO, started: float | None = None) -> None:
        self.stream = stream
        self.started = time.monotonic() if started is None else started
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.state: str | None = None
        self.text = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _line(self) -> str:
        if self.state in ("QUEUED", "PROCESSING", "sending", "downloading"):
            return f"{self.text} {clock(time.monotonic() - self.started)}"
        return self.text

    def say(self, text: str) -> None:
        """A line that stays (above the redrawn one on a terminal)."""
        with self._lock:
            if self.tty:
                print(f"\r\033[K{text}", file=self.stream, flush=True)
            else:
                print(text, file=self.stream, flush=True)

    def update(self, update: Update) -> None:
        with self._lock:
            changed = (update.state, update.text) != (self.state, self.text)
            self.state, self.text = update.state, update.text
            if self.tty:
                print(f"\r\033[K{self._line()}", end="", file=self.stream, flush=True)
            elif changed:
                print(self._line(), file=self.stream, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            if self.tty and self.state:
                with self._lock:
                    print(f"\r\033[K{self._line()}", end="", file=self.stream, flush=True)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty:
            print("\r\033[K", end="", file=self.stream, flush=True)


class Lines:
    """Progress of several clips at once: a line per change of state, each starting with its clip's name."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str]] = {}

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.stream, flush=True)

    def updater(self, label: str) -> Callable[[Update], None]:
        def update(update: Update) -> None:
            with self._lock:
                if self._last.get(label) != (update.state, update.text):
                    self._last[label] = (update.state, update.text)
                    print(f"[{label}] {update.text}", file=self.stream, flush=True)

        return update

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
