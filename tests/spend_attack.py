"""Replay the spending attack from the issue against a launched Ray Studio, and count what it cost.

Before the spending limits, one anonymous address started 250 paid clips in 17 s through
``/gradio_api/call/generate``; cancels and simultaneous ``queue/join`` calls made more paid calls
than any limit. This driver does the same through every way in (the simple API, the raw queue, the
page's own Generate event), with cancels and bursts of simultaneous joins, plus calls from a few
other addresses, against ``python app.py`` in a subprocess talking to the Segmind stand-in. The
stand-in counts what was really submitted (paid) and when each job ran.

    python -m tests.spend_attack     # prints calls tried, calls paid, dollars vs budget, max in flight

``tests/test_spending.py`` runs the same attack and checks the numbers against the settings.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.conftest import OWNER_KEY, ROOT, free_port
from tests.segmind_standin import Reply, SegmindStandIn
from tests.visitor_http import Caller, Outcome, generate_data

PRICE_PER_SECOND = 0.075  # Ray Flash 2 (720p) on Segmind, US dollars per second of video
START_TIMEOUT = 180.0  # seconds for ``python app.py`` to answer; generous for a loaded machine
START_ATTEMPTS = 3
ATTACKER = "127.0.0.2"
BYSTANDERS = ("127.0.0.3", "127.0.0.4", "127.0.0.5")

# What the "Done means" asks for: default-ish limits, a $2 day budget.
ATTACK_SETTINGS = {
    "RAY_VISITOR_LIMITS": "4 per 10 minutes; 12 per day",
    "RAY_DAILY_BUDGET": "2",
    "RAY_VISITOR_IN_FLIGHT": "1",
}
PER_VISITOR_LIMIT = 4  # the shortest window of ATTACK_SETTINGS
BUDGET = 2.0


# --------------------------------------------------------------------------- the app, as a process


def app_environment(upstream: SegmindStandIn, port: int, temp_dir: Path, settings: Mapping[str, str]) -> dict:
    """``python app.py``'s environment: this machine's, without any Segmind or RAY_ setting it may
    carry, pointed at the stand-in, with ``settings`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_", "GRADIO_"))}
    env.update(
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(temp_dir),
        SEGMIND_API_KEY=OWNER_KEY,
        SEGMIND_BASE_URL=upstream.base_url,
        SEGMIND_UPLOAD_URL=upstream.root_url,
        SEGMIND_POLL_INTERVAL="0.05",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@dataclass
class LaunchedApp:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_app(upstream: SegmindStandIn, workdir: Path, settings: Mapping[str, str]) -> LaunchedApp:
    """``python app.py`` on a free port against ``upstream`` (not yet serving). Its output goes to a
    file: a pipe nobody reads would stall it once full."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"app-{port}.log"
    env = app_environment(upstream, port, workdir / f"gradio-{port}", settings)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return LaunchedApp(f"http://127.0.0.1:{port}/", process, log_path)


def stop_app(running: LaunchedApp) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@contextlib.contextmanager
def launched_apps(
    upstream: SegmindStandIn, workdir: Path, settings: Mapping[str, str], count: int = 1
) -> Iterator[list[LaunchedApp]]:
    """``count`` app processes with the same settings (started together, so they start up in parallel)."""
    apps = [start_app(upstream, workdir, settings) for _ in range(count)]
    try:
        for i in range(count):
            apps[i] = serving(apps[i], upstream, workdir, settings)
        yield apps
    finally:
        for running in apps:
            stop_app(running)


def serving(running: LaunchedApp, upstream: SegmindStandIn, workdir: Path, settings: Mapping[str, str]) -> LaunchedApp:
    """``running`` once it serves; started again (on a new port) if it gave up while starting. On a
    loaded machine Gradio's own start-up check (a HEAD to itself within 3 s) can fail and end it."""
    for _ in range(START_ATTEMPTS - 1):
        try:
            wait_until_serving(running)
            return running
        except AppStartError:
            stop_app(running)
            running = start_app(upstream, workdir, settings)
    wait_until_serving(running)
    return running


@contextlib.contextmanager
def launched_app(upstream: SegmindStandIn, workdir: Path, settings: Mapping[str, str]) -> Iterator[LaunchedApp]:
    """``python app.py`` against ``upstream``, serving until the block ends."""
    with launched_apps(upstream, workdir, settings) as (running,):
        yield running


class AppStartError(RuntimeError):
    """``python app.py`` ended or did not answer while starting; the message has its last output."""


SERVING = "To create a public link"  # Gradio prints this once its own start-up check has passed


def wait_until_serving(running: LaunchedApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while SERVING not in running.output:
        if running.process.poll() is not None:
            raise AppStartError(f"app.py exited with {running.process.returncode}:\n{running.output[-2000:]}")
        if time.monotonic() > deadline:
            raise AppStartError(f"app.py did not start within {START_TIMEOUT:.0f} s:\n{running.output[-2000:]}")
        time.sleep(0.2)
    httpx.get(running.url + "config", timeout=30, trust_env=False).raise_for_status()


# --------------------------------------------------------------------------- what it cost


@dataclass
class AttackReport:
    """What the attack tried, and what the owner paid for (as the stand-in saw it)."""

    tried: collections.Counter = field(default_factory=collections.Counter)  # address → calls started
    outcomes: collections.Counter = field(default_factory=collections.Counter)  # "made", "cancelled", error title
    paid: collections.Counter = field(default_factory=collections.Counter)  # address → clips submitted upstream
    spent: float = 0.0  # dollars, from the durations of the clips Segmind took (its jobs)
    spent_by_day: dict[str, float] = field(default_factory=dict)  # UTC date → dollars: the budget is per UTC day
    max_in_flight: int = 0  # upstream jobs running at once, all visitors
    max_in_flight_per_visitor: int = 0
    budget: float = BUDGET
    per_visitor_limit: int = PER_VISITOR_LIMIT
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return sum(self.tried.values())

    @property
    def clips(self) -> int:
        return sum(self.paid.values())

    def lines(self) -> list[str]:
        others = {a: n for a, n in self.tried.items() if a != ATTACKER}
        return [
            f"calls tried:   {self.calls} ({self.tried[ATTACKER]} from {ATTACKER}, "
            f"{sum(others.values())} from {len(others)} other addresses) in {self.seconds:.0f} s",
            f"calls paid:    {self.clips} ({self.paid[ATTACKER]} from {ATTACKER}, "
            f"{sum(n for a, n in self.paid.items() if a != ATTACKER)} from the others; "
            f"limit {self.per_visitor_limit} per visitor per 10 minutes)",
            f"spent:         ${self.spent:.3f} of the ${self.budget:.2f} daily budget"
            + (f" (by UTC day: {self.spent_by_day})" if len(self.spent_by_day) > 1 else ""),
            f"max in flight: {self.max_in_flight} upstream jobs at once, "
            f"{self.max_in_flight_per_visitor} per visitor (allowed: 1 per visitor)",
            "outcomes:      " + ", ".join(f"{name}: {n}" for name, n in self.outcomes.most_common()),
        ]


def tag(source: str, n: int) -> str:
    """The prompt of attack call ``n`` from ``source``: the stand-in sees who a paid job was for."""
    return f"attack from {source} call {n}"


def source_of(prompt: str) -> str:
    return prompt.split()[2] if prompt.startswith("attack from ") else "?"


def outcome_name(outcome: Outcome) -> str:
    """``made``, ``cancelled``, the refusal's title ("Limit reached"…), or "HTTP 503" for a refused join."""
    if outcome.kind == "refused":
        return f"HTTP {outcome.data.get('status')}"
    if not outcome.ok:
        return outcome.title or "error"
    data = outcome.data.get("data") if isinstance(outcome.data, dict) else outcome.data
    return "made" if data else "cancelled"


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) intervals that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, step in edges:  # at a tie an end (-1) sorts first: back to back is not at once
        running += step
        peak = max(peak, running)
    return peak


def spend_by_utc_day(upstream: SegmindStandIn) -> dict[str, float]:
    """Dollars of the clips the stand-in took, by the UTC date they were submitted on (the budget
    starts again at 00:00 UTC, so a run across midnight may spend a budget on each side of it)."""
    wall_offset = time.time() - time.monotonic()
    days: dict[str, float] = collections.defaultdict(float)
    for job in upstream.jobs.values():
        day = datetime.fromtimestamp(job.submitted_at + wall_offset, timezone.utc).date().isoformat()
        days[day] += PRICE_PER_SECOND * int((job.body or {}).get("duration", 5))
    return {day: round(dollars, 6) for day, dollars in sorted(days.items())}


def tally(report: AttackReport, upstream: SegmindStandIn) -> AttackReport:
    """Fill in what the stand-in was asked to make, and when its jobs ran."""
    jobs = list(upstream.jobs.values())
    report.paid = collections.Counter(source_of(job.body.get("prompt", "")) for job in jobs)
    report.spent_by_day = spend_by_utc_day(upstream)
    report.spent = round(sum(report.spent_by_day.values()), 6)
    report.max_in_flight = most_at_once([(j.submitted_at, j.finished_at) for j in jobs])
    per_visitor = collections.defaultdict(list)
    for job in jobs:
        per_visitor[source_of(job.body.get("prompt", ""))].append((job.submitted_at, job.finished_at))
    report.max_in_flight_per_visitor = max((most_at_once(v) for v in per_visitor.values()), default=0)
    return report


# --------------------------------------------------------------------------- the attack


class Attack:
    """Calls from several addresses against one app, every outcome counted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.report = AttackReport()
        self._lock = threading.Lock()
        self._numbers = collections.Counter()
        self._callers: dict[str, Caller] = {}

    def caller(self, source: str) -> Caller:
        """The visitor at ``source`` (one per address, so the app's config is read once)."""
        with self._lock:
            return self._callers.setdefault(source, Caller(self.url, source=source))

    def _next(self, source: str) -> str:
        with self._lock:
            self._numbers[source] += 1
            self.report.tried[source] += 1
            return tag(source, self._numbers[source])

    def _count(self, outcome: Outcome) -> Outcome:
        with self._lock:
            self.report.outcomes[outcome_name(outcome)] += 1
        return outcome

    # -- one call, each way in

    def by_call_route(self, source: str) -> Outcome:
        """``POST /gradio_api/call/generate`` and its event stream."""
        return self._count(self.caller(source).generate(self._next(source)))

    def by_queue_join(self, source: str) -> Outcome:
        """``POST /gradio_api/queue/join`` for ``/generate``, as gradio_client does."""
        caller = self.caller(source)
        return self._count(caller.join_and_wait(caller.fn_index("generate"), generate_data(self._next(source))))

    def by_page_event(self, source: str) -> Outcome:
        """``queue/join`` for the page's own Generate event (private, but it is a way in)."""
        caller = self.caller(source)
        return self._count(caller.join_and_wait(caller.page_fn, caller.page_data(self._next(source))))

    def start_then_cancel(self, source: str) -> Outcome:
        """Start a call, cancel it at once through Gradio's cancel route, and start another."""
        caller = self.caller(source)
        fn = caller.fn_index("generate")
        try:
            event_id = caller.call("generate", generate_data(self._next(source)))
        except httpx.HTTPStatusError as err:
            return self._count(Outcome("refused", {"status": err.response.status_code}))
        caller.cancel(event_id, event_id, fn)
        self._count(caller.result("generate", event_id))
        return self.by_call_route(source)

    WAYS: tuple[str, ...] = ("by_call_route", "by_queue_join", "by_page_event")

    # -- many at once

    def burst(self, source: str, size: int, pool: ThreadPoolExecutor) -> None:
        """``size`` calls from one address released at the same instant (a Barrier), all ways in."""
        barrier = threading.Barrier(size)

        def one(i: int) -> None:
            way: Callable[[str], Outcome] = getattr(self, self.WAYS[i % len(self.WAYS)])
            barrier.wait()
            way(source)

        list(pool.map(one, range(size)))

    def run(self, attacker_calls: int = 200, burst_size: int = 20, bystander_calls: int = 6) -> AttackReport:
        """The attacker's bursts and cancels; from halfway on, a few other addresses make ordinary calls."""
        started = time.monotonic()
        halfway = threading.Event()
        with ThreadPoolExecutor(len(BYSTANDERS)) as pool:
            bystanders = [pool.submit(self._bystander, source, bystander_calls, halfway) for source in BYSTANDERS]
            with ThreadPoolExecutor(burst_size) as burst_pool:
                while self.report.tried[ATTACKER] < attacker_calls:
                    self.burst(ATTACKER, burst_size, burst_pool)
                    self.start_then_cancel(ATTACKER)
                    if self.report.tried[ATTACKER] >= attacker_calls / 2:
                        halfway.set()
            halfway.set()
            for done in bystanders:
                done.result()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _bystander(self, source: str, calls: int, start: threading.Event) -> None:
        start.wait()
        for n in range(calls):
            getattr(self, self.WAYS[n % len(self.WAYS)])(source)
            if n == calls // 2:  # and two at once, as an impatient double click would
                self.double_click(source)

    def double_click(self, source: str) -> None:
        barrier = threading.Barrier(2)

        def join() -> None:
            barrier.wait()
            self.by_queue_join(source)

        threads = [threading.Thread(target=join) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def attack_launched_app(workdir: Path, attacker_calls: int = 200, processing: float = 1.0) -> AttackReport:
    """The whole exercise: a stand-in whose clips take ``processing`` seconds, ``python app.py`` with
    ATTACK_SETTINGS, the attack, and the tally."""
    with SegmindStandIn(api_key=OWNER_KEY) as upstream:
        upstream.default = Reply(processing=processing)
        with launched_app(upstream, workdir, ATTACK_SETTINGS) as running:
            report = Attack(running.url).run(attacker_calls)
            for _ in range(int(30 / 0.1)):  # let the last admitted clips end upstream before counting
                if all(job.state in ("COMPLETED", "FAILED") for job in upstream.jobs.values()):
                    break
                time.sleep(0.1)
        return tally(report, upstream)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Attack a launched Ray Studio on a Segmind stand-in; print the cost.")
    parser.add_argument("--calls", type=int, default=200, help="calls from the attacking address (default 200)")
    args = parser.parse_args(argv)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    with tempfile.TemporaryDirectory(prefix="spend-attack-") as workdir:
        report = attack_launched_app(Path(workdir), args.calls)
    settings = "; ".join(f"{k}={v}" for k, v in ATTACK_SETTINGS.items())
    print(f"python app.py with {settings}")
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
