"""The Segmind stand-in in its own process, with its clocks readable by the bench.

``python -m bench.standin_probe [--latency S] [--processing S] [--size B]`` prints the stand-in's v1 base
URL, then answers one line of JSON for each line it reads on stdin:

- ``{"reply": {...}}``: answer submissions with ``Reply(**...)`` from now on (the stand-in's ``default``);
- ``{"then": [{...}, ...]}``: answer the next submissions with these, in turn (``standin.then``);
- ``{"counts": true}``: how many submissions and polls so far;
- ``{"job": ID}``: that v2 job's ``submitted`` and ``finished`` times and when each of its polls arrived;
- ``{"report": true}``: what the stand-in saw, with every time in ``time.time()`` seconds:
  ``submissions`` (arrival of each v1/v2 POST), ``jobs`` (id → ``submitted`` and ``finished``),
  ``polls`` (how many status and result GETs) and ``last_video_sent_at``.

Its own process, so its work never shares a GIL with what is measured; the stand-in keeps v2 jobs on
``time.monotonic()``, which this converts at the moment of the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.segmind_standin import Reply, SegmindStandIn


def report(standin: SegmindStandIn) -> dict[str, Any]:
    """The stand-in's clocks as wall-clock times (list() copies in one step: handler threads go on)."""
    to_wall = time.time() - time.monotonic()
    jobs = list(standin.jobs.values())
    return {
        "submissions": [r.at + to_wall for r in list(standin.submissions)],
        "jobs": {
            j.request_id: {"submitted": j.submitted_at + to_wall, "finished": j.finished_at + to_wall} for j in jobs
        },
        "polls": len(standin.polls),
        "last_video_sent_at": standin.last_video_sent_at,
    }


def job_report(standin: SegmindStandIn, job_id: str) -> dict[str, Any]:
    to_wall = time.time() - time.monotonic()
    job = standin.jobs[job_id]
    polls = [r.at + to_wall for r in list(standin.polls) if f"/requests/{job_id}" in r.path]
    return {"submitted": job.submitted_at + to_wall, "finished": job.finished_at + to_wall, "polls": polls}


def answer(standin: SegmindStandIn, command: dict[str, Any]) -> dict[str, Any]:
    if "reply" in command:
        standin.default = Reply(**command["reply"])
        return {"ok": True}
    if "then" in command:
        standin.then(*(Reply(**fields) for fields in command["then"]))
        return {"ok": True}
    if command.get("counts"):
        return {"submissions": len(standin.submissions), "polls": len(standin.polls)}
    if command.get("report"):
        return report(standin)
    if "job" in command:
        return job_report(standin, command["job"])
    return {"error": f"unknown command {sorted(command)}"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer (v1 generation time)")
    parser.add_argument("--processing", type=float, default=0.0, help="seconds each v2 job stays PROCESSING")
    parser.add_argument("--size", type=int, default=None, help="pad each video to this many bytes")
    args = parser.parse_args(argv)
    # socketserver listens with a backlog of 5: 128 submissions at once would overflow it and be dropped
    # by the kernel, which Segmind's servers would not do. This process's class only.
    ThreadingHTTPServer.request_queue_size = 1024
    with SegmindStandIn() as standin:
        standin.default = Reply(latency=args.latency, processing=args.processing, size=args.size)
        print(standin.base_url, flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(answer(standin, json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
