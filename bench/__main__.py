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


def table(rows: list[Row]) -> str:
    lines = ["| figure | goal | measured | result | how |", "|---|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.goal} | {r.value} | {'pass' if r.passed else 'FAIL'} | {r.detail} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("figures", nargs="*", choices=[*FIGURES, []], help="which (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: checks the code runs")
    args = parser.parse_args(argv)
    rows = []
    for name in args.figures or FIGURES:
        started = time.perf_counter()
        print(f"measuring {name}…", file=sys.stderr, flush=True)
        rows.append(FIGURES[name](args.smoke))
        print(f"  {rows[-1].value} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print(
        f"{'Smoke run (numbers mean nothing)' if args.smoke else 'Measured'} on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}\n"
    )
    print(table(rows))
    return 0 if args.smoke or all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
