"""The five figures of the performance issue, each measured as a ratio or a difference in one run.

Each function takes ``smoke``: tiny sizes and few repeats, so the code path runs in CI in seconds
(``tests/test_bench_smoke.py``) without claiming anything about speed.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
sys.path.insert(0, str(ROOT))

from ray_client import RayClient, Settings, VideoRequest  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.segmind_standin import TEST_API_KEY, Reply, SegmindStandIn  # noqa: E402

MiB = 1 << 20
PAYLOAD = {"prompt": "bench", "aspect_ratio": "16:9", "duration": 5, "loop": False}
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
    passed: bool
    detail: str = ""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMIND_", "RAY_", "GRADIO_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", **extra)
    return env


@contextlib.contextmanager
def standin_process(latency: float = 0.0, size: int | None = None) -> Iterator[str]:
    """The stand-in in its own process, so its work never shares a GIL with what is measured."""
    args = [sys.executable, "-m", "tests.segmind_standin", "--latency", str(latency)]
    if size:
        args += ["--size", str(size)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class LaunchedApp:
    url: str
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
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=WORK, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield LaunchedApp(url, _wait_for_200(url, proc, started))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _alternating_medians(ours: Callable[[], float], bare: Callable[[], float], runs: int) -> tuple[float, float]:
    """Median seconds each measurement returns, taken in turns with who goes first swapped, so drift
    hits both alike."""
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for i in range(runs):
        order = [("ours", ours), ("bare", bare)]
        for name, measure in order if i % 2 == 0 else order[::-1]:
            times[name].append(measure())
    return statistics.median(times["ours"]), statistics.median(times["bare"])


# --------------------------------------------------------------------------- 1. client overhead


def client_overhead(smoke: bool = False) -> Row:
    size, latency, pairs = (200_000, 0.05, 2) if smoke else (20_000_000, 1.0, 9)
    WORK.mkdir(parents=True, exist_ok=True)
    with standin_process(latency, size) as base:
        url = f"{base}/ray-flash-2-720p"
        client = RayClient(Settings(api_key=TEST_API_KEY, base_url=base))
        target = WORK / "overhead.mp4"

        def ours() -> None:
            client.generate(VideoRequest("bench"), target)

        def bare() -> None:
            body = requests.post(url, headers={"x-api-key": TEST_API_KEY}, json=PAYLOAD, timeout=60).content
            assert len(body) == size

        ours(), bare()  # warm both: imports, page cache, first connection
        ours_s, bare_s = _alternating_medians(lambda: _timed(ours), lambda: _timed(bare), pairs)
        client.close()
        target.unlink(missing_ok=True)
    ratio = ours_s / bare_s
    return Row(
        "client overhead",
        "≤ 1.02×",
        f"{ratio:.3f}×",
        ratio <= 1.02,
        f"median of {pairs}: ours {ours_s:.3f} s (saved to disk), "
        f"bare {bare_s:.3f} s (in memory); {size / 1e6:.0f} MB, {latency:g} s latency",
    )


# --------------------------------------------------------------------------- 2. memory


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


def memory(smoke: bool = False) -> Row:
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
        with standin_process(0.0, size) as base:
            env = _env(SEGMIND_BASE_URL=base, SEGMIND_API_KEY=TEST_API_KEY)
            out = WORK / f"memory-{label}.mp4"
            cli = (
                f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
                f"sys.argv = ['ray_client.py', 'bench', '-o', {str(out)!r}]; "
                f"runpy.run_path({str(ROOT / 'ray_client.py')!r}, run_name='__main__')"
            )
            peaks[("ours", label)] = _peak_rss_mib(cli, env)
            peaks[("bare", label)] = _peak_rss_mib(bare_code, env)
            out.unlink(missing_ok=True)
    ours = peaks[("ours", "big")] - peaks[("ours", "tiny")]
    bare = peaks[("bare", "big")] - peaks[("bare", "tiny")]
    return Row(
        "memory (peak RSS growth)",
        "ours ≤ 32 MiB",
        f"ours {ours:.1f} MiB, bare {bare:.0f} MiB",
        ours <= 32,
        f"{big / MiB:.0f} MiB clip vs a 12 kB one; CLI peaks {peaks['ours', 'tiny']:.0f} → "
        f"{peaks['ours', 'big']:.0f} MiB; bare requests {peaks['bare', 'tiny']:.0f} → "
        f"{peaks['bare', 'big']:.0f} MiB",
    )


# --------------------------------------------------------------------------- 3. many visitors


def _call_generate(url: str) -> None:
    """One /generate call over Gradio's documented HTTP API: submit, then read the event stream.
    Lighter than gradio_client, whose per-job threads would load these 2 cores as much as the app."""
    with requests.Session() as s:
        submitted = s.post(f"{url}gradio_api/call/generate", json={"data": ["bench", "16:9", 5, False, "", "", ""]})
        event_id = submitted.json()["event_id"]
        with s.get(f"{url}gradio_api/call/generate/{event_id}", stream=True, timeout=120) as events:
            outcome = [line for line in events.iter_lines() if line.startswith(b"event: ")]
    if outcome[-1] != b"event: complete":
        raise RuntimeError(f"/generate failed: {outcome}")


def many_visitors(smoke: bool = False) -> Row:
    latency, counts = (0.2, (1, 4)) if smoke else (4.0, (1, 4, 12, 32))
    goals = {12: 1.25, 32: 1.5}
    with standin_process(latency) as base, app_process(base) as launched:
        url = launched.url
        _call_generate(url)  # warm
        walls: dict[int, float] = {}
        with ThreadPoolExecutor(max(counts)) as pool:
            for n in counts:
                walls[n] = _timed(lambda n=n: list(pool.map(_call_generate, [url] * n)))
    ratios = {n: walls[n] / walls[1] for n in counts}
    passed = all(ratios[n] <= goal for n, goal in goals.items() if n in ratios)
    return Row(
        "many visitors (wall / one call)",
        "≤ 1.25 at 12, ≤ 1.5 at 32",
        ", ".join(f"{n}: {ratios[n]:.2f}" for n in counts),
        passed,
        f"one call {walls[1]:.2f} s at {latency:g} s upstream latency; `python app.py`, Gradio's HTTP API",
    )


# --------------------------------------------------------------------------- 4. to the screen

JS_WATCH_READY = """() => {
  window.__readyAt = null;
  document.addEventListener('canplay', (e) => {
    if (e.target.closest && e.target.closest('#video') && window.__readyAt === null) window.__readyAt = Date.now();
  }, true);
}"""


def to_the_screen(smoke: bool = False) -> Row:
    from playwright.sync_api import sync_playwright

    size, runs = (200_000, 1) if smoke else (20_000_000, 5)
    gaps: list[float] = []
    with SegmindStandIn() as upstream, app_process(upstream.base_url) as launched, sync_playwright() as p:
        upstream.default = Reply(size=size, latency=0.3)
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
    best, median = min(gaps), statistics.median(gaps)
    return Row(
        "to the screen (last upstream byte → video can play)",
        "≤ 0.5 s",
        f"{median:.3f} s",
        median <= 0.5,
        f"median of {runs} (best {best:.3f} s), {size / 1e6:.0f} MB clip, headless Chromium",
    )


# --------------------------------------------------------------------------- 5. start-up


def start_up(smoke: bool = False) -> Row:
    runs = 1 if smoke else 5
    bare_script = ROOT / "bench" / "bare_app.py"
    with SegmindStandIn() as upstream:

        def start(script: Path) -> Callable[[], float]:
            def seconds_to_first_200() -> float:  # the shutdown that follows is not counted
                with app_process(upstream.base_url, script) as launched:
                    return launched.seconds_to_first_200

            return seconds_to_first_200

        ours_s, bare_s = _alternating_medians(start(ROOT / "app.py"), start(bare_script), runs)
    ratio = ours_s / bare_s
    return Row(
        "start-up (`python app.py` → first 200)",
        "≤ 1.15×",
        f"{ratio:.3f}×",
        ratio <= 1.15,
        f"median of {runs}: ours {ours_s:.2f} s, bare Blocks with one button {bare_s:.2f} s",
    )


FIGURES: dict[str, Callable[[bool], Row]] = {
    "overhead": client_overhead,
    "memory": memory,
    "visitors": many_visitors,
    "screen": to_the_screen,
    "startup": start_up,
}
