"""The figures of the performance issue, each measured as a ratio or a difference within one run.

Each function takes ``smoke``: tiny sizes and few repeats, so the code path runs in CI in seconds
(``tests/test_bench_smoke.py``) without claiming anything about speed. Each returns its table rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))

from ray_client import RayClient, Settings, VideoRequest  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.segmind_standin import TEST_API_KEY, Reply, SegmindStandIn  # noqa: E402

MiB = 1 << 20
PAYLOAD = {"prompt": "bench", "aspect_ratio": "16:9", "duration": 5, "loop": False}
# /generate: prompt, aspect ratio, duration, loop, start and end image URLs, key.
GENERATE_INPUTS = ["bench", "16:9", 5, False, "", "", ""]
# /variants: wordings (one per line), aspect ratios, duration, loop, start and end image URLs, key, camera moves.
VARIANTS_INPUTS = ["bench, first wording\nbench, second wording", ["16:9", "9:16"], 5, False, "", "", "", []]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class Row:
    figure: str
    goal: str
    value: str
    passed: bool | None  # None: reported only, no goal
    detail: str = ""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_", "GRADIO_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", **extra)
    return env


# --------------------------------------------------------------------------- the stand-in and the app


class StandInProcess:
    """The stand-in in its own process (``bench/standin_probe.py``), so its work never shares a GIL
    with what is measured; its clocks are read over a pipe, in ``time.time()`` seconds."""

    def __init__(self, proc: subprocess.Popen, base_url: str) -> None:
        self._proc = proc
        self._lock = threading.Lock()
        self.base_url = base_url

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(command) + "\n")
            self._proc.stdin.flush()
            return json.loads(self._proc.stdout.readline())

    def reply(self, **fields: Any) -> None:
        """Answer submissions with ``Reply(**fields)`` from now on."""
        self.ask({"reply": fields})

    def then(self, *replies: dict[str, Any]) -> None:
        """Answer the next submissions with these, in turn."""
        self.ask({"then": list(replies)})

    def submissions(self) -> int:
        return self.ask({"counts": True})["submissions"]

    def report(self) -> dict[str, Any]:
        """``submissions`` (arrival times), ``jobs`` (id → submitted, finished), ``polls``, ``last_video_sent_at``."""
        return self.ask({"report": True})


@contextlib.contextmanager
def standin_process(latency: float = 0.0, processing: float = 0.0, size: int | None = None) -> Iterator[StandInProcess]:
    """``latency``: the v1 generation time (and a wait before a v2 submission is answered);
    ``processing``: the v2 generation time."""
    args = [sys.executable, "-m", "bench.standin_probe", "--latency", str(latency), "--processing", str(processing)]
    if size:
        args += ["--size", str(size)]
    proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        yield StandInProcess(proc, proc.stdout.readline().strip())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class LaunchedApp:
    url: str
    pid: int
    seconds_to_first_200: float  # from just before the process was started


def _wait_for_200(url: str, proc: subprocess.Popen, started: float, limit: float = 120.0) -> float:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before answering")
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"{url} did not answer within {limit} s")
        time.sleep(0.02)


# The bench's visitors all come from 127.0.0.1: one visitor to the spending gate, so it is opened wide.
UNLIMITED_SPENDING = {"RAY_VISITOR_LIMITS": "off", "RAY_DAILY_BUDGET": "off", "RAY_VISITOR_IN_FLIGHT": "100000"}


@contextlib.contextmanager
def app_process(base_url: str, script: Path = ROOT / "app.py", **settings: str) -> Iterator[LaunchedApp]:
    """``python app.py`` (or ``script``) against ``base_url``. Its log is kept in ``bench/.work/app-PORT.log``
    when the body fails, else deleted."""
    port = free_port()
    WORK.mkdir(parents=True, exist_ok=True)
    env = _env(
        SEGMIND_BASE_URL=base_url,
        SEGMIND_API_KEY=TEST_API_KEY,
        GRADIO_TEMP_DIR=str(WORK / "gradio"),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        **UNLIMITED_SPENDING,
        **settings,
    )
    url = f"http://127.0.0.1:{port}/"
    log_path = WORK / f"app-{port}.log"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script)], cwd=WORK, env=env, stdout=log, stderr=log)
        try:
            yield LaunchedApp(url, proc.pid, _wait_for_200(url, proc, started))
        except BaseException:
            print(f"(the app's log: {log_path})", file=sys.stderr)
            raise
        else:
            log_path.unlink(missing_ok=True)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _call(url: str, endpoint: str, inputs: list[Any]) -> float:
    """One call over Gradio's documented HTTP API: submit, then read the event stream to its end.
    Lighter than gradio_client, whose per-job threads would load these 2 cores as much as the app.
    Returns ``time.time()`` just before the submission was sent."""
    with requests.Session() as s:
        sent = time.time()
        submitted = s.post(f"{url}gradio_api/call/{endpoint}", json={"data": inputs}, timeout=60)
        submitted.raise_for_status()
        event_id = submitted.json()["event_id"]
        with s.get(f"{url}gradio_api/call/{endpoint}/{event_id}", stream=True, timeout=300) as events:
            lines = [line for line in events.iter_lines() if line]
    events_seen = [line for line in lines if line.startswith(b"event: ")]
    if not events_seen or events_seen[-1] != b"event: complete":
        raise RuntimeError(f"/{endpoint} failed: {lines[-2:]}")
    return sent


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _alternating(ours: Callable[[], float], bare: Callable[[], float], runs: int) -> tuple[list[float], list[float]]:
    """Each measurement's seconds, taken in turns with who goes first swapped, so drift hits both alike."""
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for i in range(runs):
        order = [("ours", ours), ("bare", bare)]
        for name, measure in order if i % 2 == 0 else order[::-1]:
            times[name].append(measure())
    return times["ours"], times["bare"]


def spread(values: list[float], unit: str = " s", digits: int = 3) -> str:
    """Best (lowest), median and worst of ``values``: every figure shows how far its runs strayed."""
    ordered = sorted(values)
    best, median, worst = (f"{v:.{digits}f}{unit}" for v in (ordered[0], statistics.median(ordered), ordered[-1]))
    return f"best {best}, median {median}, worst {worst}"


def _ratios(ours: list[float], bare: list[float]) -> list[float]:
    """Each pair's ratio, ours over bare."""
    return [a / b for a, b in zip(ours, bare, strict=True)]


def _client(base_url: str, **env: str) -> RayClient:
    """The client library as a script would set it up, from these settings (SEGMIND_...)."""
    return RayClient(Settings.from_env({"SEGMIND_API_KEY": TEST_API_KEY, "SEGMIND_BASE_URL": base_url, **env}))


# --------------------------------------------------------------------------- client overhead


def client_overhead(smoke: bool = False) -> list[Row]:
    size, latency, pairs = (200_000, 0.05, 2) if smoke else (20_000_000, 1.0, 9)
    WORK.mkdir(parents=True, exist_ok=True)
    with standin_process(latency=latency, size=size) as upstream:
        url = f"{upstream.base_url}/ray-flash-2-720p"
        client = _client(upstream.base_url, SEGMIND_API_MODE="sync")
        target = WORK / "overhead.mp4"

        def ours() -> None:
            client.generate(VideoRequest("bench"), target)

        def bare() -> None:
            body = requests.post(url, headers={"x-api-key": TEST_API_KEY}, json=PAYLOAD, timeout=60).content
            assert len(body) == size

        ours(), bare()  # warm both: imports, page cache, first connection
        ours_times, bare_times = _alternating(lambda: _timed(ours), lambda: _timed(bare), pairs)
        client.close()
        target.unlink(missing_ok=True)
    ours_s, bare_s = statistics.median(ours_times), statistics.median(bare_times)
    ratio = ours_s / bare_s
    return [
        Row(
            "client overhead",
            "≤ 1.02×",
            f"{ratio:.3f}×",
            ratio <= 1.02,
            f"v1 (`SEGMIND_API_MODE=sync`, the call a bare POST makes); median of {pairs}: ours {ours_s:.3f} s "
            f"(saved to disk), bare {bare_s:.3f} s (in memory); {size / 1e6:.0f} MB, {latency:g} s latency; each "
            f"pair's ratio: {spread(_ratios(ours_times, bare_times), '×')}",
        )
    ]


# --------------------------------------------------------------------------- memory


# VmHWM is the peak RSS of this process image alone; ru_maxrss from wait4 would also count the
# pages of the (large) bench process that forked the child, since Linux keeps it across exec.
REPORT_PEAK = """
import atexit, sys
def _report():
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    sys.stderr.write("\\nPEAK " + hwm.split()[1] + "\\n")
atexit.register(_report)
"""


def _peak_rss_mib(code: str, env: dict[str, str]) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", f"{REPORT_PEAK}\n{code}"], cwd=WORK, env=env, capture_output=True, text=True
    )
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK ")]
    if proc.returncode != 0 or not peak:
        raise RuntimeError(f"memory probe failed: {proc.stderr[-500:]}")
    return int(peak[-1].split()[1]) / 1024  # kB → MiB


def memory(smoke: bool = False) -> list[Row]:
    big = 4 * MiB if smoke else 400 * MiB
    WORK.mkdir(parents=True, exist_ok=True)
    bare_code = (
        "import os, requests\n"
        "url = os.environ['SEGMIND_BASE_URL'] + '/ray-flash-2-720p'\n"
        "headers = {'x-api-key': os.environ['SEGMIND_API_KEY']}\n"
        f"assert len(requests.post(url, headers=headers, json={PAYLOAD!r}).content) > 0"
    )
    peaks: dict[tuple[str, str], float] = {}
    for label, size in (("tiny", None), ("big", big)):
        with standin_process(size=size) as upstream:
            for mode in ("async", "sync"):
                env = _env(SEGMIND_BASE_URL=upstream.base_url, SEGMIND_API_KEY=TEST_API_KEY, SEGMIND_API_MODE=mode)
                out = WORK / f"memory-{label}.mp4"
                cli = (
                    f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
                    f"sys.argv = ['ray_client.py', 'bench', '-o', {str(out)!r}]; "
                    f"runpy.run_path({str(ROOT / 'ray_client.py')!r}, run_name='__main__')"
                )
                peaks[(mode, label)] = _peak_rss_mib(cli, env)
                out.unlink(missing_ok=True)
            env = _env(SEGMIND_BASE_URL=upstream.base_url, SEGMIND_API_KEY=TEST_API_KEY)
            peaks[("bare", label)] = _peak_rss_mib(bare_code, env)
    growth = {who: peaks[(who, "big")] - peaks[(who, "tiny")] for who in ("async", "sync", "bare")}
    return [
        Row(
            "memory (peak RSS growth)",
            "ours ≤ 32 MiB",
            f"ours {growth['async']:.1f} MiB (v2), {growth['sync']:.1f} MiB (v1); bare {growth['bare']:.0f} MiB",
            max(growth["async"], growth["sync"]) <= 32,
            f"`python ray_client.py`, {big / MiB:.0f} MiB clip vs a 12 kB one; CLI peaks (v2, the default) "
            f"{peaks['async', 'tiny']:.0f} → {peaks['async', 'big']:.0f} MiB, (v1, `SEGMIND_API_MODE=sync`) "
            f"{peaks['sync', 'tiny']:.0f} → {peaks['sync', 'big']:.0f} MiB; bare `requests.post(...).content` "
            f"{peaks['bare', 'tiny']:.0f} → {peaks['bare', 'big']:.0f} MiB; one run each (a peak, not a timing)",
        )
    ]


# --------------------------------------------------------------------------- queue path


@dataclass
class Gap:
    """Seconds from the clip being ready upstream to the clip renamed into place; for v2, split at the
    status check that first found the job done."""

    total: float
    to_poll: float = 0.0  # finished → the next status check arrived
    after_poll: float = 0.0  # that check → saved (status, result, download, rename)


def _saved_after_done(client: RayClient, upstream: StandInProcess, target: Path) -> Gap:
    """v2: from the job's ``finished_at``; v1: from the moment the video's last byte left the stand-in."""
    result = client.generate(VideoRequest("bench"), target)
    saved = time.time()
    if result.job_id is None:
        return Gap(saved - upstream.report()["last_video_sent_at"])
    job = upstream.ask({"job": result.job_id})
    found = min(at for at in job["polls"] if at >= job["finished"])
    return Gap(saved - job["finished"], found - job["finished"], saved - found)


def _spread(start: float, width: float, count: int) -> list[float]:
    """``count`` times evenly over [start, start + width): spread over one poll interval, the finish
    lands anywhere between two status checks, not always at the same phase."""
    return [start + width * (k + 0.5) / count for k in range(count)]


def queue_path(smoke: bool = False) -> list[Row]:
    """v2 (submit, poll, fetch) against v1 (one long call): how long after the clip is ready upstream
    it is on disk. Generation times are spread over one poll interval; v1 and v2 of a pair get the same."""
    poll, generation, pairs, size = (0.1, 0.2, 2, 200_000) if smoke else (1.0, 2.0, 9, 3_000_000)
    long_generation, long_jobs = (0.5, 2) if smoke else (60.0, 24)
    WORK.mkdir(parents=True, exist_ok=True)
    with standin_process(size=size) as upstream:
        v2 = _client(upstream.base_url, SEGMIND_API_MODE="async", SEGMIND_POLL_INTERVAL=str(poll))
        v1 = _client(upstream.base_url, SEGMIND_API_MODE="sync", SEGMIND_POLL_INTERVAL=str(poll))
        target = WORK / "queue.mp4"

        def one(client: RayClient, seconds: float) -> Callable[[], Gap]:
            def run() -> Gap:
                upstream.then({"latency": 0.0 if client is v2 else seconds, "processing": seconds, "size": size})
                return _saved_after_done(client, upstream, target)

            return run

        one(v2, 0.0)(), one(v1, 0.0)()  # warm both
        gaps: dict[str, list[Gap]] = {"v2": [], "v1": []}
        times = _spread(generation, poll, pairs)
        random.Random(2).shuffle(times)  # so that drift in the machine's load follows no phase
        for i, seconds in enumerate(times):
            order = [("v2", one(v2, seconds)), ("v1", one(v1, seconds))]
            for name, run in order if i % 2 == 0 else order[::-1]:
                gaps[name].append(run())
        long_gaps, long_delay = _long_jobs(upstream, v2, poll, long_generation, long_jobs, size)
        v1.close(), v2.close()
        target.unlink(missing_ok=True)
    v1_median = statistics.median(g.total for g in gaps["v1"])
    goal = f"≤ {poll + 0.2:g} s (one poll interval + 0.2 s)"
    rows = []
    for label, v2_gaps, how in (
        (
            "queue path: upstream done → clip saved, v2 − v1",
            gaps["v2"],
            f"`RayClient.generate`, `SEGMIND_POLL_INTERVAL={poll:g}`; {pairs} alternating pairs, generation "
            f"{generation:g}–{generation + poll:g} s, {size / 1e6:g} MB",
        ),
        (
            f"queue path at a {long_generation:g} s generation, v2 − v1",
            long_gaps,
            f"the same, {long_jobs} v2 jobs at once, generation {long_generation:g}–{long_generation + long_delay:g} "
            f"s (spread over the {long_delay:g} s PollPlan would wait there if it expected nothing; it expects a 5 s "
            "clip after 60 s and checks every interval from 48 to 120 s); less the v1 median above",
        ),
    ):
        v2_median = statistics.median(g.total for g in v2_gaps)
        added = v2_median - v1_median
        rows.append(
            Row(
                label,
                goal,
                f"{added:.3f} s",
                added <= poll + 0.2,
                f"{how}: v2 {spread([g.total for g in v2_gaps])} (from the job's "
                f"`finished_at` to the next status check {statistics.median(g.to_poll for g in v2_gaps):.3f} s, "
                f"from there to saved {statistics.median(g.after_poll for g in v2_gaps):.3f} s, medians), v1 "
                f"{spread([g.total for g in gaps['v1']])} (from the last byte sent)",
            )
        )
    return rows


def _long_jobs(
    upstream: StandInProcess, client: RayClient, poll: float, generation: float, jobs: int, size: int
) -> tuple[list[Gap], float]:
    """v2 gaps of ``jobs`` generations of about ``generation`` seconds, run at once (a v1 gap does not
    depend on the generation time, and v1 runs at once would share ``last_video_sent_at``)."""
    delay = poll * min(5.0, 1.0 + generation / 30.0)  # PollPlan's eased interval that far into a job
    upstream.then(*({"processing": seconds, "size": size} for seconds in _spread(generation, delay, jobs)))
    targets = [WORK / f"queue-long-{i}.mp4" for i in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:
        gaps = list(pool.map(lambda target: _saved_after_done(client, upstream, target), targets))
    for target in targets:
        target.unlink(missing_ok=True)
    return gaps, delay


# --------------------------------------------------------------------------- many visitors


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Burst:
    wall: float  # from the release of the calls to the last one's end
    sent_within: float  # the spread of the calls' submissions at the client
    arrived: tuple[float, float] | None  # first and last arrival at the stand-in, s after the release
    ended_within: float  # the spread of their ends at the client
    cpu_per_call: float  # the app's CPU seconds during the burst, over the calls

    @property
    def arrivals(self) -> str:
        return f"{self.arrived[0]:.2f}–{self.arrived[1]:.2f} s" if self.arrived else "(no stand-in)"


async def _http(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: its status and its body (by Content-Length, or chunked)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    if "content-length" in headers:
        return int(head[0].split()[1]), await reader.readexactly(int(headers["content-length"]))
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return int(head[0].split()[1]), body


def _request(host: str, method: str, path: str, body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _calls_at_once(url: str, n: int, ready: Callable[[], None]) -> list[tuple[float, float]]:
    """``n`` ``/generate`` calls over Gradio's HTTP API from one asyncio loop, in plain HTTP/1.1 over
    connections opened beforehand: the client's own work must not spread them (requests in threads
    or httpx took 1–3 s to send 128 on these 2 cores). Returns when each was sent and when its answer
    ended (``time.time()``); ``ready()`` is called just before the first is sent."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    connections = await asyncio.gather(*(asyncio.open_connection(parts.hostname, parts.port) for _ in range(n)))
    submit = _request(host, "POST", "/gradio_api/call/generate", json.dumps({"data": GENERATE_INPUTS}).encode())
    ready()
    sent = []
    for _, writer in connections:
        writer.write(submit)
        sent.append(time.time())

    async def outcome(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
        status, body = await _http(reader)
        if status != 200:
            raise RuntimeError(f"/generate answered {status}: {body[:200]!r}")
        writer.write(_request(host, "GET", f"/gradio_api/call/generate/{json.loads(body)['event_id']}"))
        _, stream = await _http(reader)
        events = [line for line in stream.decode().splitlines() if line.startswith("event: ")]
        writer.close()
        if not events or events[-1] != "event: complete":
            raise RuntimeError(f"/generate failed: {stream.decode()[-300:]}")
        return time.time()

    ended = await asyncio.gather(*(outcome(reader, writer) for reader, writer in connections))
    return list(zip(sent, ended, strict=True))


def _burst(
    app: LaunchedApp, n: int, upstream: StandInProcess | None = None, meanwhile: Callable[[], None] | None = None
) -> Burst:
    """``n`` simultaneous ``/generate`` calls; ``meanwhile`` runs in a thread as they start."""
    before = upstream.submissions() if upstream else 0
    clock: dict[str, float] = {}
    helper = threading.Thread(target=meanwhile or (lambda: None), daemon=True)

    def ready() -> None:
        clock.update(cpu=_cpu_seconds(app.pid), started=time.perf_counter(), released=time.time())
        helper.start()

    sent, ended = zip(*asyncio.run(_calls_at_once(app.url, n, ready)), strict=True)
    wall, cpu = time.perf_counter() - clock["started"], _cpu_seconds(app.pid) - clock["cpu"]
    helper.join(timeout=30)
    arrived = None
    if upstream:
        arrivals = upstream.report()["submissions"][before:]
        arrived = (min(arrivals) - clock["released"], max(arrivals) - clock["released"])
    return Burst(wall, max(sent) - min(sent), arrived, max(ended) - min(ended), cpu / n)


def _rss_when_waiting(pid: int, upstream: StandInProcess, first: int, n: int, hold: float) -> tuple[int, int]:
    """The app's RSS (KiB) once all ``n`` submissions after the ``first`` have reached the stand-in, or
    just before the first of them is done (``hold`` s after it came: the app held the rest back);
    and how many had come."""
    first_seen, deadline = None, time.monotonic() + 120
    while True:
        count = upstream.submissions() - first
        first_seen = first_seen or (time.monotonic() if count else None)
        if count >= n or (first_seen and time.monotonic() > first_seen + hold - 0.5):
            return _rss_kib(pid), count
        if time.monotonic() > deadline:
            raise RuntimeError(f"no submission reached the stand-in within 120 s ({count} of {n})")
        time.sleep(0.02)


@dataclass
class Memory:
    idle: int  # KiB, just before
    waiting: int  # KiB, with the calls waiting
    at_standin: int  # how many of them were at the stand-in then (the rest in Gradio's queue)
    after: int  # KiB, a second after the last call ended


def _memory_burst(app: LaunchedApp, upstream: StandInProcess, n: int, hold: float) -> Memory:
    """The app's RSS around ``n`` simultaneous calls that each wait ``hold`` seconds at the stand-in."""
    upstream.reply(processing=hold)
    idle, first = _rss_kib(app.pid), upstream.submissions()
    waiting: list[tuple[int, int]] = []
    _burst(app, n, upstream, lambda: waiting.append(_rss_when_waiting(app.pid, upstream, first, n, hold)))
    time.sleep(1.0)
    return Memory(idle, *waiting[0], _rss_kib(app.pid))


def _rounds(app: LaunchedApp, top: int, rounds: int, upstream: StandInProcess | None = None) -> list[Burst]:
    """``rounds`` pairs of bursts, 1 call then ``top`` at once: the list alternates one, top, one, top…"""
    return [_burst(app, n, upstream) for _ in range(rounds) for n in (1, top)]


def _top_ratios(bursts: list[Burst]) -> list[float]:
    """Each round's wall of ``top`` calls over its wall of one (``_rounds``' order)."""
    return [top.wall / one.wall for one, top in zip(bursts[::2], bursts[1::2], strict=True)]


def many_visitors(smoke: bool = False) -> list[Row]:
    processing, poll, counts, hold = (0.3, 0.1, (1, 4), 1.0) if smoke else (4.0, 1.0, (1, 4, 32, 128), 10.0)
    rounds = 1 if smoke else 3
    top = max(counts)
    settings = {"RAY_CONCURRENCY": "128", "SEGMIND_POLL_INTERVAL": str(poll)}
    with standin_process(processing=processing) as upstream, app_process(upstream.base_url, **settings) as app:
        _call(app.url, "generate", GENERATE_INPUTS)  # warm
        first_idle = _rss_kib(app.pid)
        bursts = {n: _burst(app, n, upstream) for n in counts}
        more = _rounds(app, top, rounds - 1, upstream)
        memory = _memory_burst(app, upstream, top, hold)
    bare_env = {"BARE_SECONDS": str(processing), "BARE_THREADS": str(128 + 8)}
    with app_process("http://127.0.0.1:9/v1", ROOT / "bench" / "bare_api_app.py", **bare_env) as bare_app:
        _call(bare_app.url, "generate", GENERATE_INPUTS)  # warm
        bare = _rounds(bare_app, top, rounds)
    ratios = {n: bursts[n].wall / bursts[1].wall for n in counts}
    top_ratios = _top_ratios([bursts[1], bursts[top], *more])
    bare_ratios = _top_ratios(bare)
    ratio, bare_ratio = statistics.median(top_ratios), statistics.median(bare_ratios)
    at_top = bursts[top]
    cpu_ms = [1000 * b.cpu_per_call for b in (at_top, *more[1::2])]
    return [
        Row(
            "many visitors (wall / one call)",
            f"≤ 1.25× at {top}, and ≤ 1.15× the bare endpoint's",
            f"{', '.join(f'{n}: {ratios[n]:.2f}' for n in counts[:-1])}, {top}: {ratio:.2f} "
            f"({ratio / bare_ratio:.2f}× the bare endpoint's)",
            ratio <= 1.25 and ratio <= 1.15 * bare_ratio,
            f"`python app.py`, `RAY_CONCURRENCY=128`, `SEGMIND_POLL_INTERVAL={poll:g}` (v2, the default), "
            f"{processing:g} s generation at the stand-in; N `/generate` calls at once over Gradio's HTTP API "
            f"(plain HTTP/1.1 from one asyncio loop, connections opened first); one call {bursts[1].wall:.2f} s. "
            f"{top} at once / one, {rounds} rounds: {spread(top_ratios, '×', 2)}. The first {top}: sent within "
            f"{at_top.sent_within:.3f} s, reached the stand-in {at_top.arrivals} after, ended "
            f"within {at_top.ended_within:.2f} s; the app's CPU per call at {top}: {spread(cpu_ms, ' ms', 0)}",
        ),
        Row(
            "many visitors, bare Gradio endpoint (baseline)",
            "— (reported)",
            f"1: 1.00, {top}: {bare_ratio:.2f}",
            None,
            f"`bench/bare_api_app.py`: an async `/generate` that only sleeps {processing:g} s, Gradio's "
            f"`max_threads` {128 + 8}, the same client, in the same run; {top} at once / one, {rounds} rounds: "
            f"{spread(bare_ratios, '×', 2)}; one call {statistics.median(b.wall for b in bare[::2]):.2f} s; CPU "
            f"per call at {top}: {spread([1000 * b.cpu_per_call for b in bare[1::2]], ' ms', 0)}",
        ),
        Row(
            "app RSS per waiting visitor",
            "— (reported)",
            f"{(memory.waiting - memory.idle) / top:.0f} KiB",
            None,
            f"VmRSS of `python app.py` with {top} `/generate` calls waiting ({memory.at_standin} of them at the "
            f"stand-in, {hold:g} s generation; the rest in Gradio's queue), {memory.waiting / 1024:.0f} MiB, minus "
            f"idle just before, {memory.idle / 1024:.0f} MiB, / {top}. Still held 1 s after they ended: "
            f"{(memory.after - memory.idle) / top:.0f} KiB per call (idle after the warm-up call: "
            f"{first_idle / 1024:.0f} MiB); one run",
        ),
    ]


# --------------------------------------------------------------------------- variants


def variants(smoke: bool = False) -> list[Row]:
    processing, poll, pairs = (0.3, 0.1, 1) if smoke else (4.0, 1.0, 7)
    settings = {"SEGMIND_POLL_INTERVAL": str(poll)}
    with standin_process(processing=processing) as upstream, app_process(upstream.base_url, **settings) as app:

        def four() -> float:
            return _timed(lambda: _call(app.url, "variants", VARIANTS_INPUTS))

        def one() -> float:
            return _timed(lambda: _call(app.url, "generate", GENERATE_INPUTS))

        four(), one()  # warm both
        fours, ones = _alternating(four, one, pairs)
    four_s, one_s = statistics.median(fours), statistics.median(ones)
    ratio = four_s / one_s
    return [
        Row(
            "4 variants wall / 1 clip wall",
            "≤ 1.25×",
            f"{ratio:.3f}×",
            ratio <= 1.25,
            f"`python app.py`, `SEGMIND_POLL_INTERVAL={poll:g}` (v2, the default), {processing:g} s generation; "
            f"`/variants` (2 wordings × 2 aspect ratios) vs `/generate` over Gradio's HTTP API, median of "
            f"{pairs} alternating: 4 variants {four_s:.2f} s, one clip {one_s:.2f} s; each pair's ratio: "
            f"{spread(_ratios(fours, ones), '×')}",
        )
    ]


# --------------------------------------------------------------------------- to the screen

JS_WATCH_READY = """() => {
  window.__readyAt = null;
  document.addEventListener('canplay', (e) => {
    if (e.target.closest && e.target.closest('#video') && window.__readyAt === null) window.__readyAt = Date.now();
  }, true);
}"""


def to_the_screen(smoke: bool = False) -> list[Row]:
    from playwright.sync_api import sync_playwright

    size, runs = (200_000, 1) if smoke else (20_000_000, 5)
    gaps: list[float] = []
    with SegmindStandIn() as upstream, app_process(upstream.base_url) as launched, sync_playwright() as p:
        upstream.default = Reply(size=size, processing=0.3)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(launched.url)
        page.locator("#prompt textarea").fill("bench")
        for i in range(runs + 1):  # the first is a warm-up
            page.evaluate(JS_WATCH_READY)
            page.locator("#generate").click()
            page.wait_for_function("() => window.__readyAt !== null", timeout=60_000)
            gap = page.evaluate("() => window.__readyAt") / 1000 - (upstream.last_video_sent_at or 0)
            if i:
                gaps.append(gap)
            page.locator("#generate:not([disabled])").wait_for()
        browser.close()
    median = statistics.median(gaps)
    return [
        Row(
            "to the screen (last upstream byte → video can play)",
            "≤ 0.2 s (median)",
            f"{median:.3f} s",
            median <= 0.2,
            f"{runs} runs: {spread(gaps)}; {size / 1e6:.0f} MB clip, headless Chromium; v2 (the default): "
            "from the last byte of the finished job's download",
        )
    ]


# --------------------------------------------------------------------------- start-up


def start_up(smoke: bool = False) -> list[Row]:
    runs = 1 if smoke else 5
    bare_script = ROOT / "bench" / "bare_app.py"
    with SegmindStandIn() as upstream:

        def start(script: Path) -> Callable[[], float]:
            def seconds_to_first_200() -> float:  # the shutdown that follows is not counted
                with app_process(upstream.base_url, script) as launched:
                    return launched.seconds_to_first_200

            return seconds_to_first_200

        ours, bare = _alternating(start(ROOT / "app.py"), start(bare_script), runs)
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    ratio = ours_s / bare_s
    return [
        Row(
            "start-up (`python app.py` → first 200)",
            "≤ 1.05×",
            f"{ratio:.3f}×",
            ratio <= 1.05,
            f"ratio of the medians of {runs} alternating runs: ours {spread(ours, digits=2)}; bare Blocks with one "
            f"button {spread(bare, digits=2)}; each pair's ratio: {spread(_ratios(ours, bare), '×')}",
        )
    ]


def history_cards(smoke: bool = False) -> list[Row]:
    from bench.cards import history_cards as measure  # it imports this module

    return measure(smoke)


FIGURES: dict[str, Callable[[bool], list[Row]]] = {
    "overhead": client_overhead,
    "memory": memory,
    "queue": queue_path,
    "visitors": many_visitors,
    "variants": variants,
    "screen": to_the_screen,
    "cards": history_cards,
    "startup": start_up,
}
