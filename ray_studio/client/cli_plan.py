"""What a run of the command line makes, all checked here before anything is sent: the prompts (a
PROMPT, or one per line of --prompts-file), every prompt × aspect ratio × camera move as a
``VideoRequest``, the keyframes (a URL checked as it is; a local image, or a frame of a clip, prepared
for upload: --extend's last frame, --lead-in's first, --bridge's last of one and first of the other),
and where each clip is saved. A failed check is an ``InvalidRequestError`` (exit 2, nothing sent)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ray_studio.client import media
from ray_studio.client.client import RayClient
from ray_studio.client.clip_files import clip_name, free_path
from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, VideoRequest
from ray_studio.client.variants import Combination, plan_variants

MAX_PROMPTS_FILE_BYTES = 1 << 20
ASPECT_TOLERANCE = 0.02  # a clip's shape within 2% of a ratio counts as that ratio (848×480 is 16:9)


class PromptsFileError(InvalidRequestError):
    action = "Fix the file (one prompt per line, UTF-8) and try again; nothing was sent."


@dataclass
class Frame:
    """One keyframe as asked for: a URL to send as it is, or a local image to upload."""

    field: str  # "start_image_url" or "end_image_url"
    url: str | None = None
    image: media.Keyframe | None = None
    source: str | None = None  # the local file it came from, for the sidecar


@dataclass
class RunPlan:
    """Every clip of a run, checked: its request, what it was made of (its wording and camera move),
    where it is saved, and the keyframes still to upload."""

    requests: list[VideoRequest]
    combinations: list[Combination]
    outputs: list[Path]
    frames: list[Frame]


def plan_run(args: argparse.Namespace, client: RayClient, max_variants: int, say: Callable[[str], None]) -> RunPlan:
    """Every check that costs nothing, made before anything is sent: a keyframe URL is only checked, a
    local image only prepared. Raises InvalidRequestError (a MediaError among them) naming what to fix."""
    prompts = read_prompts(args)
    wordings, cameras = [p for p, _ in prompts], args.camera or ()
    if args.aspect_ratio:  # the count is known before a clip's frame is decoded
        plan_variants(wordings, args.aspect_ratio, (args.loop,), cameras).check(max_variants)
    from_clips = clip_frames(args, say)
    plan = plan_variants(wordings, aspect_ratios(args, from_clips, say), (args.loop,), cameras)
    plan.check(max_variants)
    combinations = plan.combinations()
    requests = build_requests(args, combinations, dict(reversed(prompts)))
    for request in requests:
        client.check_request(request)
    frames = [
        *from_clips,
        frame_from(client, "start_image_url", args.start_image, say),
        frame_from(client, "end_image_url", args.end_image, say),
    ]
    outputs = outputs_for(requests, combinations, args.output)
    for output in outputs:
        client.check_output(output)
    return RunPlan(requests, combinations, outputs, [frame for frame in frames if frame is not None])


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


def clip_frames(args: argparse.Namespace, say: Callable[[str], None]) -> list[Frame]:
    """Keyframes taken from clips, each decoded here (MediaError when a clip cannot be): --extend's last
    frame as the start, --lead-in's first frame as the end, --bridge A B's last of A and first of B."""
    wanted: list[tuple[str, str]] = []  # (clip, field)
    if args.extend:
        wanted.append((args.extend, "start_image_url"))
    if args.bridge:
        wanted += [(args.bridge[0], "start_image_url"), (args.bridge[1], "end_image_url")]
    if args.lead_in:
        wanted.append((args.lead_in, "end_image_url"))
    frames = []
    for clip, field in wanted:
        start = field == "start_image_url"
        keyframe = media.last_frame(clip) if start else media.first_frame(clip)
        done = f"{'; '.join(keyframe.notes)}), {keyframe.width}×{keyframe.height}"
        say(f"{'start' if start else 'end'} image: {keyframe.name} ({done}")
        frames.append(Frame(field, image=keyframe, source=clip))
    return frames


def aspect_ratios(args: argparse.Namespace, from_clips: list[Frame], say: Callable[[str], None]) -> list[str]:
    """The ratios asked for; else the shape of the first clip a frame was taken from; else the default."""
    if args.aspect_ratio:
        return list(dict.fromkeys(args.aspect_ratio))
    if from_clips and from_clips[0].image is not None:
        clip, width, height = from_clips[0].source, from_clips[0].image.width, from_clips[0].image.height
        ratio = ratio_of(width, height)
        if ratio:
            say(f"aspect ratio {ratio}, as {clip} ({width}×{height})")
            return [ratio]
        say(f"{clip} is {width}×{height}, none of the model's shapes; using {DEFAULT_ASPECT_RATIO}")
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


def build_requests(
    args: argparse.Namespace, combinations: list[Combination], where: dict[str, str]
) -> list[VideoRequest]:
    """The run's clips; a bad prompt from a file is named by its line (``where``: prompt → its place)."""
    requests = []
    for combination in combinations:
        try:
            requests.append(
                VideoRequest(combination.prompt, combination.ratio, args.duration or DEFAULT_DURATION,
                             combination.loop, args.start_image_url, args.end_image_url)
            )  # fmt: skip
        except InvalidRequestError as error:
            if not args.prompts_file:
                raise
            place = where.get(combination.wording, args.prompts_file)
            raise InvalidRequestError([f"{place}: {problem}" for problem in error.problems]) from None
    return requests


def outputs_for(requests: list[VideoRequest], combinations: list[Combination], output: Path | None) -> list[Path]:
    """One clip: ``-o`` as given (a folder: the clip named inside it). Several: ``-o`` is a folder
    (default: here) and each clip is named by ``clip_name`` after its wording (and camera move), never
    over an existing file."""
    is_folder = output is None or output.is_dir()
    if len(requests) == 1 and not is_folder:
        return [output]
    if not is_folder and (output.exists() or output.suffix.lower() == ".mp4"):
        raise InvalidRequestError([f"with {len(requests)} clips, -o names a folder for them, not a file ({output})"])
    folder = output or Path(".")
    paths: list[Path] = []
    for request, combination in zip(requests, combinations, strict=True):
        named = dataclasses.replace(request, prompt=combination.wording)
        paths.append(free_path(folder, clip_name(named, tag=combination.camera), taken=paths))
    return paths
