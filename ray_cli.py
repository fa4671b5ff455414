"""The command line: ``python ray_client.py "PROMPT" [options]`` (or ``python ray_cli.py``).

Prints the saved path on stdout and everything else on stderr: the price before anything is sent,
the job id as soon as Segmind has queued it, the job's states, and on Ctrl-C or a failure after
submission how to fetch the clip later (``--resume ID``) without paying again.
Exits 0 saved, 1 Segmind or the network failed, 2 bad input or settings (nothing sent), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from ray_client import (
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_DURATION,
    DURATIONS,
    InvalidRequestError,
    Job,
    JobFailedError,
    JobNotFoundError,
    MissingAPIKeyError,
    RayClient,
    RayError,
    Settings,
    Update,
    VideoRequest,
    VideoResult,
    format_usd,
)


def default_output(prompt: str) -> Path:
    slug = "-".join("".join(ch if ch.isalnum() else " " for ch in prompt.lower()).split()[:6]) or "video"
    return Path(f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}.mp4")


def clock(seconds: float) -> str:
    """``0:42``, ``12:05``."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python ray_client.py",
        description="Make a video with Luma Ray Flash 2 (720p) on Segmind. "
        "Needs SEGMIND_API_KEY (environment or .env).",
        epilog="Fetch a clip again by its job id, without paying again: python ray_client.py --resume ID -o clip.mp4",
    )
    parser.add_argument("prompt", nargs="?", help="what the video should show")
    parser.add_argument("--aspect-ratio", default=DEFAULT_ASPECT_RATIO, choices=ASPECT_RATIOS)
    parser.add_argument("--duration", type=int, default=DEFAULT_DURATION, choices=DURATIONS, help="seconds")
    parser.add_argument("--loop", action="store_true", help="last frame matches the first")
    parser.add_argument("--start-image-url", help="http(s) URL of the first frame")
    parser.add_argument("--end-image-url", help="http(s) URL of the last frame")
    parser.add_argument("--output", "-o", type=Path, help="where to save the MP4 (default: from the prompt)")
    parser.add_argument(
        "--resume", metavar="JOB_ID", help="fetch the clip of a job Segmind already has (no new charge)"
    )
    return parser


def _after_submission_hint(job: Job, output: Path) -> str:
    return f"fetch it later without paying again: python ray_client.py --resume {job.id} -o {output}"


def run(args: argparse.Namespace, settings: Settings, err: TextIO) -> int:
    jobs: list[Job] = []
    output: Path | None = args.output
    with RayClient(settings) as client:
        try:
            if args.resume:
                job = client.job(args.resume)
                output = output or Path(f"{job.id}.mp4")
                client.key_for(None)
                jobs.append(job)
                with Ticker(err) as ticker:
                    ticker.say(f"fetching job {job.id} → {output} (no new submission)")
                    result = client.fetch(job, output, progress=ticker.update)
            else:
                request = VideoRequest(
                    prompt=args.prompt,
                    aspect_ratio=args.aspect_ratio,
                    duration=args.duration,
                    loop=args.loop,
                    start_image_url=args.start_image_url,
                    end_image_url=args.end_image_url,
                )
                output = output or default_output(request.prompt)
                client.key_for(None)
                client.check_request(request)
                client.check_output(output)
                with Ticker(err) as ticker:
                    price = request.price(settings.price_per_second)
                    ticker.say(f"{request.describe()} costs {format_usd(price)} at Segmind's listed price → {output}")

                    def on_job(job: Job) -> None:
                        jobs.append(job)
                        ticker.say(
                            f"job {job.id} queued at Segmind (billed from now; {_after_submission_hint(job, output)})"
                        )

                    result = client.generate(request, output, progress=ticker.update, on_job=on_job)
        except InvalidRequestError as error:
            print(f"error: {error}", file=err)
            return 2
        except RayError as error:
            print(f"error: {error}", file=err)
            if jobs and not isinstance(error, (JobFailedError, JobNotFoundError)):
                print(f"the clip may still be made at Segmind; {_after_submission_hint(jobs[-1], output)}", file=err)
            return 1
        except KeyboardInterrupt:
            if jobs:
                print(
                    f"stopped waiting; Segmind goes on with job {jobs[-1].id} (it is billed); "
                    f"{_after_submission_hint(jobs[-1], output)}",
                    file=err,
                )
            else:
                print("cancelled; nothing was sent and no video was saved", file=err)
            return 130
    print(f"saved: {summary(result)}", file=err)
    print(result.path)
    return 0


def summary(result: VideoResult) -> str:
    return result.summary() + (f" · job {result.job_id}" if result.job_id else "")


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 saved, 1 the API or network failed, 2 bad input (nothing sent), 130 interrupted."""
    from dotenv import load_dotenv

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.resume and not args.prompt:
        parser.error("give a PROMPT (or --resume JOB_ID)")
    load_dotenv()
    try:
        settings = Settings.from_env()
        if not settings.api_key:
            raise MissingAPIKeyError()
    except InvalidRequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return run(args, settings, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
