"""The command line: ``python ray_client.py "PROMPT" [options]``.

Prints each saved path on stdout and everything else on stderr: the price before anything is sent,
each job id as soon as Segmind has queued it, the jobs' states, and on Ctrl-C or a failure after
submission how to fetch each clip later (``--resume ID``) without paying again.

Keyframes may be local images (checked here, then uploaded to Segmind's storage, which is free) or
URLs; ``--extend`` starts a clip on the last frame of another, ``--lead-in`` ends one on the first frame
of another, ``--bridge A B`` does both. ``--camera`` adds a camera move to the prompt and ``--enhance``
has a language model rewrite it first (one small paid call). Several prompts (``--prompts-file``),
aspect ratios (``--aspect-ratio`` repeated) and camera moves (``--camera`` repeated) make every
combination at once, one job each, up to RAY_MAX_VARIANTS. ``--join`` joins clips into one, without a
key or a generation.

Exits 0 all saved, 1 Segmind or the network failed (for any clip), 2 bad input or settings (nothing
sent), 130 Ctrl-C.

The parser, its checks and the entry are here; what a run makes is checked in ``cli_plan``, made in
``cli_run``, and shown on stderr by ``cli_progress``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ray_studio.client import media
from ray_studio.client.camera import CAMERA_MOVES
from ray_studio.client.cli_progress import Ticker
from ray_studio.client.cli_run import (
    NOT_AT_SEGMIND,
    SidecarNotWrittenError,
    resume_hint,
    run,
    summary,
    write_clip_sidecar,
)
from ray_studio.client.client import RayClient
from ray_studio.client.clip_files import free_path
from ray_studio.client.errors import InvalidRequestError, MissingAPIKeyError, RayError
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, DURATIONS
from ray_studio.client.settings import EnvReader, Settings
from ray_studio.client.variants import DEFAULT_MAX_VARIANTS

# --------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python ray_client.py",
        description="Make videos with Luma Ray Flash 2 (720p) on Segmind. "
        "Needs SEGMIND_API_KEY (environment or .env), except --join.",
        epilog="Fetch a clip again by its job id, without paying again: python ray_client.py --resume ID -o clip.mp4",
    )
    add_generation_options(parser.add_argument_group("generation"))
    add_keyframe_options(
        parser.add_argument_group(
            "keyframes", "A local image, or a frame of a clip, is checked here (and scaled, stripped of metadata) "
            "before it is uploaded to Segmind's storage, which is free; nothing is sent when it cannot be used."
        )
    )  # fmt: skip

    variants = parser.add_argument_group(
        "variants", "Every prompt × every --aspect-ratio × every --camera move is made at once, each its own job, "
        f"up to RAY_MAX_VARIANTS (default {DEFAULT_MAX_VARIANTS}); the total price is shown before anything is sent."
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


def add_generation_options(generation: argparse._ArgumentGroup) -> None:
    generation.add_argument("prompt", nargs="?", help="what the video should show")
    generation.add_argument(
        "--aspect-ratio",
        action="append",
        choices=ASPECT_RATIOS,
        help=f"shape of the video (default {DEFAULT_ASPECT_RATIO}, or the shape of the clip a keyframe comes from); "
        "repeat it to make one clip per ratio",
    )
    generation.add_argument("--duration", type=int, choices=DURATIONS, help=f"seconds (default {DEFAULT_DURATION})")
    generation.add_argument("--loop", action="store_true", help="last frame matches the first")
    generation.add_argument(
        "--camera",
        action="append",
        metavar="MOVE",
        help="a camera move, added to the prompt as words Ray follows; repeat it to make one clip per move. "
        f"Moves: {', '.join(CAMERA_MOVES)}",
    )
    generation.add_argument(
        "--enhance",
        action="store_true",
        help="first have a language model on Segmind (SEGMIND_ENHANCE_MODEL) rewrite the prompt as Ray likes it: "
        "one small paid call per prompt (RAY_ENHANCE_PRICE); the clip's prompt is its text",
    )


def add_keyframe_options(keyframes: argparse._ArgumentGroup) -> None:
    keyframes.add_argument("--start-image", metavar="SRC", help="first frame: a local image or an http(s) URL")
    keyframes.add_argument("--end-image", metavar="SRC", help="last frame: a local image or an http(s) URL")
    keyframes.add_argument("--start-image-url", metavar="URL", help="first frame: an http(s) URL, sent as it is")
    keyframes.add_argument("--end-image-url", metavar="URL", help="last frame: an http(s) URL, sent as it is")
    keyframes.add_argument(
        "--extend", metavar="CLIP", help="start on the last frame of this clip (an MP4); the prompt says what follows"
    )
    keyframes.add_argument(
        "--lead-in", metavar="CLIP", help="end on the first frame of this clip: the new clip leads into it"
    )
    keyframes.add_argument(
        "--bridge",
        nargs=2,
        metavar=("A", "B"),
        help="start on A's last frame and end on B's first: a clip that joins the two",
    )


GENERATION_ONLY = (
    ("prompts_file", "--prompts-file"),
    ("start_image", "--start-image"),
    ("end_image", "--end-image"),
    ("start_image_url", "--start-image-url"),
    ("end_image_url", "--end-image-url"),
    ("extend", "--extend"),
    ("lead_in", "--lead-in"),
    ("bridge", "--bridge"),
    ("camera", "--camera"),
    ("enhance", "--enhance"),
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
    for end, from_clips in (("start", ("--extend", "--bridge")), ("end", ("--lead-in", "--bridge"))):
        flags = (f"--{end}-image", f"--{end}-image-url", *from_clips)
        sources = [flag for flag in flags if getattr(args, flag[2:].replace("-", "_"))]
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
