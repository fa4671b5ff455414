"""python -m bench [--smoke] [FIGURE ...]: measure, then print a table with figure, goal, pass/fail."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench.figures import FIGURES, Row


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def result(row: Row) -> str:
    return "—" if row.passed is None else "pass" if row.passed else "FAIL"


def missed(rows: list[Row]) -> list[Row]:
    """The rows that missed their goal (a row without a goal never does)."""
    return [r for r in rows if r.passed is False]


def table(rows: list[Row]) -> str:
    lines = ["| figure | goal | measured | result | how |", "|---|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.goal} | {r.value} | {result(r)} | {r.detail} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("figures", nargs="*", choices=[*FIGURES, []], help="which (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: checks the code runs")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    run_started, load_before = time.perf_counter(), os.getloadavg()[0]
    for name in args.figures or FIGURES:
        started = time.perf_counter()
        print(f"measuring {name}…", file=sys.stderr, flush=True)
        measured = FIGURES[name](args.smoke)
        rows += measured
        values = "; ".join(r.value for r in measured)
        print(f"  {values} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print(
        f"{'Smoke run (numbers mean nothing)' if args.smoke else 'Measured'} on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}, in {time.perf_counter() - run_started:.0f} s; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(table(rows))
    return 0 if args.smoke or not missed(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
