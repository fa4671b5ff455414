"""The command line: ``python ray_client.py "PROMPT" [options]``.

Prints each saved path on stdout and everything else on stderr: the price before anything is sent,
each job id as soon as Segmind has queued it, the jobs' states, and on Ctrl-C or a failure after
submission how to fetch each clip later (``--resume ID``) without paying again.

Keyframes may be local images (checked here, then uploaded to Segmind's storage, which is free) or
URLs; ``--extend`` starts a clip on the last frame of another. Several prompts (``--prompts-file``) and
aspect ratios (``--aspect-ratio`` repeated) make every combination at once, one job each, up to
RAY_MAX_VARIANTS. ``--join`` joins clips into one, without a key or a generation.

Exits 0 all saved, 1 Segmind or the network failed (for any clip), 2 bad input or settings (nothing
sent), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ray_studio.client import media
from ray_studio.client.client import RayClient, surely_not_billed
from ray_studio.client.clip_files import clip_name, free_path, sidecar, write_sidecar
from ray_studio.client.errors import (
    InvalidRequestError,
    JobFailedError,
    JobNotFoundError,
    MissingAPIKeyError,
    RayError,
    redact,
)
from ray_studio.client.job import Job, Update, VideoResult
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, DURATIONS, VideoRequest
from ray_studio.client.settings import EnvReader, Settings
from ray_studio.client.variants import DEFAULT_MAX_VARIANTS, Variants, plan_variants
from ray_studio.client.wording import clock, format_usd

MAX_PROMPTS_FILE_BYTES = 1 << 20
CANCEL_GRACE_SECONDS = 5.0  # after Ctrl-C, how long clips being made get to stop and say where they are
ASPECT_TOLERANCE = 0.02  # a clip's shape within 2% of a ratio counts as that ratio (848×480 is 16:9)


class PromptsFileError(InvalidRequestError):
    action = "Fix the file (one prompt per line, UTF-8) and try again; nothing was sent."


class SidecarNotWrittenError(RayError):
    title = "Sidecar not written"
    action = "The clip itself was saved; check the folder's permissions and free space."


class UnexpectedFailureError(RayError):
    """A failure the client does not know (a bug): reported as one line per clip, not a traceback."""

    title = "Unexpected failure"
    action = "No clip was saved here; please report this line."


NOT_AT_SEGMIND = (JobFailedError, JobNotFoundError)  # failures after which there is no clip to fetch


# --------------------------------------------------------------------------- progress on stderr


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


# --------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python ray_client.py",
        description="Make videos with Luma Ray Flash 2 (720p) on Segmind. "
        "Needs SEGMIND_API_KEY (environment or .env), except --join.",
        epilog="Fetch a clip again by its job id, without paying again: python ray_client.py --resume ID -o clip.mp4",
    )
    generation = parser.add_argument_group("generation")
    generation.add_argument("prompt", nargs="?", help="what the video should show")
    generation.add_argument(
        "--aspect-ratio",
        action="append",
        choices=ASPECT_RATIOS,
        help=f"shape of the video (default {DEFAULT_ASPECT_RATIO}, or the shape of the --extend clip); "
        "repeat it to make one clip per ratio",
    )
    generation.add_argument("--duration", type=int, choices=DURATIONS, help=f"seconds (default {DEFAULT_DURATION})")
    generation.add_argument("--loop", action="store_true", help="last frame matches the first")

    keyframes = parser.add_argument_group(
        "keyframes", "A local image is checked here (and scaled, stripped of metadata) before it is uploaded to "
        "Segmind's storage, which is free; nothing is sent when it cannot be used."
    )  # fmt: skip
    keyframes.add_argument("--start-image", metavar="SRC", help="first frame: a local image or an http(s) URL")
    keyframes.add_argument("--end-image", metavar="SRC", help="last frame: a local image or an http(s) URL")
    keyframes.add_argument("--start-image-url", metavar="URL", help="first frame: an http(s) URL, sent as it is")
    keyframes.add_argument("--end-image-url", metavar="URL", help="last frame: an http(s) URL, sent as it is")
    keyframes.add_argument(
        "--extend", metavar="CLIP", help="start on the last frame of this clip (an MP4); the prompt says what follows"
    )

    variants = parser.add_argument_group(
        "variants", "Every prompt × every --aspect-ratio is made at once, each its own job, up to "
        f"RAY_MAX_VARIANTS (default {DEFAULT_MAX_VARIANTS}); the total price is shown before anything is sent."
    )  # fmt: skip
    variants.add_argument("--prompts-file", metavar="FILE", help="one prompt per line (blank lines are skipped)")

    again = parser.add_argument_group("resume and join")
    again.add_argument("--resume", metavar="JOB_ID", help="fetch the clip of a job Segmind already has (no new charge)")
    again.add_argument(
        "--join", nargs="+", metavar="CLIP", help="join these clips into one (-o), without re-encoding; no key needed"
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="PATH",
        help="where to save: a file for one clip, a folder (made if missing) for several "
        "(default: named after the prompt, in the current folder)",
    )
    output.add_argument(
        "--sidecar", action="store_true", help="also write NAME.json beside each clip: how to make it again"
    )
    return parser


GENERATION_ONLY = (
    ("prompts_file", "--prompts-file"),
    ("start_image", "--start-image"),
    ("end_image", "--end-image"),
    ("start_image_url", "--start-image-url"),
    ("end_image_url", "--end-image-url"),
    ("extend", "--extend"),
    ("aspect_ratio", "--aspect-ratio"),
    ("duration", "--duration"),
    ("loop", "--loop"),
)


def options_problem(args: argparse.Namespace) -> str | None:
    """Why these options cannot be used together, or None."""
    given = [flag for attr, flag in GENERATION_ONLY if getattr(args, attr)]
    if args.join is not None:
        extra = [*given, *(["a PROMPT"] if args.prompt else []), *(["--resume"] if args.resume else [])]
        extra += ["--sidecar"] if args.sidecar else []
        return f"--join makes no new clip; drop {', '.join(extra)}" if extra else None
    if args.resume:
        extra = [*given, *(["a PROMPT"] if args.prompt else [])]
        return f"--resume fetches a clip already made; drop {', '.join(extra)}" if extra else None
    if not args.prompt and not args.prompts_file:
        return "give a PROMPT (or --prompts-file FILE, --resume JOB_ID or --join CLIP ...)"
    if args.prompt and args.prompts_file:
        return "give a PROMPT or --prompts-file, not both"
    for end in ("start", "end"):
        sources = [
            flag for flag in (f"--{end}-image", f"--{end}-image-url") if getattr(args, flag[2:].replace("-", "_"))
        ]
        if end == "start" and args.extend:
            sources.append("--extend")
        if len(sources) > 1:
            return f"{' and '.join(sources)} both set the {end} frame; give one"
    return None


# --------------------------------------------------------------------------- entry


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 saved, 1 the API or network failed, 2 bad input (nothing sent), 130 interrupted."""
    from dotenv import load_dotenv

    parser = build_parser()
    args = parser.parse_args(argv)
    if problem := options_problem(args):
        parser.error(problem)
    if args.join is not None:
        return run_join(args.join, args.output, sys.stdout, sys.stderr)
    load_dotenv()
    try:
        reader = EnvReader()
        settings = Settings.from_env(reader=reader)
        max_variants = reader.whole("RAY_MAX_VARIANTS", DEFAULT_MAX_VARIANTS, minimum=1)
        reader.check()
        if not settings.api_key:
            raise MissingAPIKeyError()
    except InvalidRequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.resume:
        return run_resume(args, settings, sys.stdout, sys.stderr)
    return run(args, settings, sys.stdout, sys.stderr, max_variants)


# --------------------------------------------------------------------------- --join


def run_join(clips: list[str], output: Path | None, out: TextIO, err: TextIO) -> int:
    target = output or free_path(Path("."), "joined.mp4")
    if any(Path(c).resolve() == target.resolve() for c in clips):
        print(f"error: Invalid request: {target} is one of the clips to join; give another -o. Nothing was written.",
              file=err)  # fmt: skip
        return 2
    try:
        info = media.join_clips(clips, target)
    except InvalidRequestError as error:
        print(f"error: {error}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"cancelled; {target} was not written", file=err)
        return 130
    print(f"joined {len(clips)} clips: {info.duration:.2f} s, {info.width}×{info.height}", file=err)
    print(target, file=out)
    return 0


# --------------------------------------------------------------------------- --resume


def resume_hint(job: Job, output: Path) -> str:
    return f"fetch it later without paying again: python ray_client.py --resume {job.id} -o {shlex.quote(str(output))}"


def run_resume(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    with RayClient(settings) as client:
        try:
            job = client.job(args.resume)
            output = args.output or Path(f"{job.id}.mp4")
            with Ticker(err) as ticker:
                ticker.say(f"fetching job {job.id} → {output} (no new submission)")
                result = client.fetch(job, output, progress=ticker.update)
            if args.sidecar:
                write_clip_sidecar(result, settings, {})
        except InvalidRequestError as error:
            print(f"error: {error}", file=err)
            return 2
        except RayError as error:
            print(f"error: {error}", file=err)
            if not isinstance(error, (*NOT_AT_SEGMIND, SidecarNotWrittenError)):
                print(f"the clip may still be at Segmind; {resume_hint(job, output)}", file=err)
            return 1
        except KeyboardInterrupt:
            print(f"stopped waiting; {resume_hint(job, output)}", file=err)
            return 130
    print(f"saved: {summary(result)}", file=err)
    print(result.path, file=out)
    return 0


def summary(result: VideoResult) -> str:
    return result.summary() + (f" · job {result.job_id}" if result.job_id else "")


# --------------------------------------------------------------------------- a generation: what to make


@dataclass
class Frame:
    """One keyframe as asked for: a URL to send as it is, or a local image to upload."""

    field: str  # "start_image_url" or "end_image_url"
    url: str | None = None
    image: media.Keyframe | None = None
    source: str | None = None  # the local file it came from, for the sidecar


@dataclass
class Variant:
    """One clip of the run, and what became of it."""

    request: VideoRequest
    output: Path
    job: Job | None = None
    result: VideoResult | None = None
    error: RayError | None = None

    @property
    def label(self) -> str:
        return self.output.name


def read_prompts(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(prompt, where it came from) for each prompt asked for."""
    if not args.prompts_file:
        return [(args.prompt, "the prompt")]
    name = args.prompts_file
    try:
        with open(name, "rb") as f:
            raw = f.read(MAX_PROMPTS_FILE_BYTES + 1)
    except OSError as error:
        raise PromptsFileError([f"prompts file {name} cannot be read: {(error.strerror or 'error').lower()}"]) from None
    if len(raw) > MAX_PROMPTS_FILE_BYTES:
        raise PromptsFileError(
            [f"prompts file {name} is over {MAX_PROMPTS_FILE_BYTES // 1024} kB; is it the right file?"]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PromptsFileError([f"prompts file {name} is not UTF-8 text"]) from None
    prompts = [(line.strip(), f"{name} line {n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not prompts:
        raise PromptsFileError([f"prompts file {name} has no prompts (one per line)"])
    return prompts


def looks_like_url(source: str) -> bool:
    """As RayClient.keyframe_url tells a URL from a path: a scheme of two letters or more, then "://"."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", source.strip()) is not None


def ratio_of(width: int, height: int) -> str | None:
    """The model's aspect ratio for a picture of this shape (1280×720 → 16:9), or None."""
    for ratio in ASPECT_RATIOS:
        w, h = (int(part) for part in ratio.split(":"))
        if abs(width * h - height * w) <= ASPECT_TOLERANCE * height * w:
            return ratio
    return None


def extend_frame(args: argparse.Namespace, say: Callable[[str], None]) -> Frame | None:
    """The --extend clip's last frame (decoded here; MediaError when the clip cannot be)."""
    if not args.extend:
        return None
    keyframe = media.last_frame(args.extend)
    say(f"start image: {keyframe.name} ({'; '.join(keyframe.notes)}), {keyframe.width}×{keyframe.height}")
    return Frame("start_image_url", image=keyframe, source=args.extend)


def aspect_ratios(args: argparse.Namespace, extended: Frame | None, say: Callable[[str], None]) -> list[str]:
    if args.aspect_ratio:
        return list(dict.fromkeys(args.aspect_ratio))
    if extended is not None and extended.image is not None:
        width, height = extended.image.width, extended.image.height
        ratio = ratio_of(width, height)
        if ratio:
            say(f"aspect ratio {ratio}, as {args.extend} ({width}×{height})")
            return [ratio]
        say(f"{args.extend} is {width}×{height}, none of the model's shapes; using {DEFAULT_ASPECT_RATIO}")
    return [DEFAULT_ASPECT_RATIO]


def frame_from(client: RayClient, field: str, source: str | None, say: Callable[[str], None]) -> Frame | None:
    """--start-image/--end-image: a URL checked as it is (nothing sent), or a local image checked and
    prepared here (a MediaError names the file; nothing sent). The upload comes later."""
    if not source:
        return None
    option = "--" + field.removesuffix("_url").replace("_", "-")
    if looks_like_url(source):
        return Frame(field, url=client.keyframe_url(source, name=option))
    keyframe = media.load_keyframe(source)
    done = "; ".join(keyframe.notes) or "sent as it is"
    say(f"{option.removeprefix('--').replace('-', ' ')} {source}: {keyframe.width}×{keyframe.height}, {done}")
    return Frame(field, image=keyframe, source=source)


def build_requests(args: argparse.Namespace, plan: Variants, where: dict[str, str]) -> list[VideoRequest]:
    """The run's clips; a bad prompt from a file is named by its line (``where``: prompt → its place)."""
    requests = []
    for prompt, ratio, loop in plan.combinations():
        try:
            requests.append(
                VideoRequest(prompt, ratio, args.duration or DEFAULT_DURATION, loop, args.start_image_url,
                             args.end_image_url)
            )  # fmt: skip
        except InvalidRequestError as error:
            if not args.prompts_file:
                raise
            place = where.get(prompt, args.prompts_file)
            raise InvalidRequestError([f"{place}: {problem}" for problem in error.problems]) from None
    return requests


def outputs_for(requests: list[VideoRequest], output: Path | None) -> list[Path]:
    """One clip: ``-o`` as given (a folder: the clip named inside it). Several: ``-o`` is a folder
    (default: here) and each clip is named by ``clip_name``, never over an existing file."""
    is_folder = output is None or output.is_dir()
    if len(requests) == 1 and not is_folder:
        return [output]
    if not is_folder and (output.exists() or output.suffix.lower() == ".mp4"):
        raise InvalidRequestError([f"with {len(requests)} clips, -o names a folder for them, not a file ({output})"])
    folder = output or Path(".")
    paths: list[Path] = []
    for request in requests:
        paths.append(free_path(folder, clip_name(request), taken=paths))
    return paths


# --------------------------------------------------------------------------- a generation: making it


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, max_variants: int) -> int:
    """Checks everything here first (exit 2, nothing sent), uploads local keyframes, then makes every
    clip at once."""

    def say(text: str) -> None:
        print(text, file=err, flush=True)

    with RayClient(settings) as client:
        try:
            prompts = read_prompts(args)
            if args.aspect_ratio:  # the count is known before --extend's frame is decoded
                plan_variants([p for p, _ in prompts], args.aspect_ratio, (args.loop,)).check(max_variants)
            extended = extend_frame(args, say)
            plan = plan_variants([p for p, _ in prompts], aspect_ratios(args, extended, say), (args.loop,))
            plan.check(max_variants)
            requests = build_requests(args, plan, dict(reversed(prompts)))
            for request in requests:
                client.check_request(request)
            frames = [
                extended or frame_from(client, "start_image_url", args.start_image, say),
                frame_from(client, "end_image_url", args.end_image, say),
            ]
            frames = [frame for frame in frames if frame is not None]
            outputs = outputs_for(requests, args.output)
            for output in outputs:
                client.check_output(output)
        except InvalidRequestError as error:
            print(f"error: {error}", file=err)
            return 2
        except KeyboardInterrupt:
            print("cancelled; nothing was sent and no video was saved", file=err)
            return 130
        try:
            uploaded = upload_frames(client, frames, say)  # free: before the price, which is for the clips
        except RayError as error:
            print(f"error: {error}", file=err)
            return 2 if isinstance(error, InvalidRequestError) else 1
        except KeyboardInterrupt:
            print("cancelled; no video was asked for and none was saved", file=err)
            return 130
        variants = [
            Variant(dataclasses.replace(request, **uploaded), output)
            for request, output in zip(requests, outputs, strict=True)
        ]
        say_price(variants, settings, say)
        sources = {frame.field: frame.source for frame in frames if frame.source}
        return make_all(client, variants, settings, out, err, sidecar_sources=sources if args.sidecar else None)


def say_price(variants: list[Variant], settings: Settings, say: Callable[[str], None]) -> None:
    prices = [variant.request.price(settings.price_per_second) for variant in variants]
    if len(variants) == 1:
        request, output = variants[0].request, variants[0].output
        say(f"{request.describe()} costs {format_usd(prices[0])} at Segmind's listed price → {output}")
        return
    say(f"{len(variants)} clips cost {format_usd(sum(prices))} at Segmind's listed price, made at once:")
    for variant, price in zip(variants, prices, strict=True):
        say(f"  {variant.output}  {variant.request.describe()} · {format_usd(price)} · {variant.request.prompt[:60]!r}")


def upload_frames(client: RayClient, frames: list[Frame], say: Callable[[str], None]) -> dict[str, str]:
    """The keyframe URL of each frame: local images uploaded once each (free), URLs as they are."""
    urls: dict[str, str] = {}
    for frame in frames:
        if frame.image is None:
            assert frame.url is not None
            urls[frame.field] = frame.url
            continue
        say(f"uploading {frame.image.name} to Segmind's storage (free)")
        url = client.keyframe_url(frame.image)
        assert url is not None
        urls[frame.field] = url
    return urls


def make_all(
    client: RayClient,
    variants: list[Variant],
    settings: Settings,
    out: TextIO,
    err: TextIO,
    *,
    sidecar_sources: dict[str, str] | None,
) -> int:
    """Every clip at once, each in its own thread (each is a long wait on Segmind, not work here).
    Ctrl-C stops the waiting and says how to fetch each clip that Segmind goes on making."""
    cancel = threading.Event()
    display = Ticker(err) if len(variants) == 1 else Lines(err)
    lock = threading.Lock()

    def make(variant: Variant) -> None:
        prefix = "" if len(variants) == 1 else f"[{variant.label}] "
        show = display.update if isinstance(display, Ticker) else display.updater(variant.label)

        def progress(update: Update) -> None:
            if not (variant.job and update.state == "QUEUED" and update.text.startswith(f"job {variant.job.id}")):
                show(update)  # that news was just given, with how to fetch the clip later

        def on_job(job: Job) -> None:
            variant.job = job
            display.say(f"{prefix}job {job.id} queued at Segmind (billed from now; {resume_hint(job, variant.output)})")

        try:
            variant.result = client.generate(
                variant.request, variant.output, progress=progress, cancel=cancel, on_job=on_job
            )
            if sidecar_sources is not None:
                write_clip_sidecar(variant.result, settings, sidecar_sources)
        except RayError as error:  # reported by the main thread, one line per clip
            variant.error = error
        except Exception as error:
            detail = redact(f"{type(error).__name__}: {error}", (settings.api_key,))
            variant.error = UnexpectedFailureError(detail)
        if variant.result is not None:
            with lock:
                display.say(f"{prefix}saved: {summary(variant.result)}")
                print(variant.result.path, file=out, flush=True)

    threads = [threading.Thread(target=make, args=(variant,), daemon=True) for variant in variants]
    with display:
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            cancel.set()
            _wait_briefly(threads)
            report_interrupted(variants, threads, err)
            return 130
    return report_failures(variants, err)


def write_clip_sidecar(result: VideoResult, settings: Settings, sources: dict[str, str]) -> None:
    api_mode = "async" if result.job_id else "sync"
    data = sidecar(result, model=settings.model, api_mode=api_mode, sources=sources)
    try:
        write_sidecar(result.path, data)
    except OSError as error:
        detail = f"{result.path.with_suffix('.json')} could not be written ({(error.strerror or 'error').lower()})"
        raise SidecarNotWrittenError(detail) from None


def _wait_briefly(threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + CANCEL_GRACE_SECONDS
    try:
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: say what is known now


def report_interrupted(variants: list[Variant], threads: list[threading.Thread], err: TextIO) -> None:
    if all(v.job is None and v.result is None and _nothing_sent(v, t) for v, t in zip(variants, threads, strict=True)):
        print("cancelled; nothing was sent and no video was saved", file=err)
        return
    several = len(variants) > 1
    for variant, thread in zip(variants, threads, strict=True):
        prefix = f"[{variant.label}] " if several else ""
        if variant.result is not None:
            continue
        if variant.job is not None:
            print(f"{prefix}stopped waiting; Segmind goes on with job {variant.job.id} (it is billed); "
                  f"{resume_hint(variant.job, variant.output)}", file=err)  # fmt: skip
        elif _nothing_sent(variant, thread):
            print(f"{prefix}cancelled before it was sent; nothing charged", file=err)
        else:
            print(f"{prefix}stopped; it may have reached Segmind and be billed, but no job id came back to fetch it "
                  "by: check your Segmind console", file=err)  # fmt: skip


def _nothing_sent(variant: Variant, thread: threading.Thread) -> bool:
    error = variant.error
    return not thread.is_alive() and isinstance(error, RayError) and surely_not_billed(error)


def report_failures(variants: list[Variant], err: TextIO) -> int:
    """One ``error:`` line per clip that failed (and how to fetch it when Segmind may still make it);
    the exit status: 0 all saved, 2 none sent for bad input, 1 otherwise."""
    failed = [variant for variant in variants if variant.error is not None]
    several = len(variants) > 1
    for variant in failed:
        prefix = f"[{variant.label}] " if several else ""
        error = variant.error
        print(f"error: {prefix}{error}", file=err)
        if variant.result is None and variant.job is not None and not isinstance(error, NOT_AT_SEGMIND):
            print(
                f"{prefix}the clip may still be made at Segmind; {resume_hint(variant.job, variant.output)}", file=err
            )
    if several and failed:
        saved = sum(variant.result is not None for variant in variants)
        print(f"saved {saved} of {len(variants)} clips", file=err)
    if not failed:
        return 0
    if len(failed) == len(variants) and all(isinstance(v.error, InvalidRequestError) for v in failed):
        return 2
    return 1
