"""Making a run of clips from the command line: local keyframes uploaded (free), the prompts enhanced
when asked (one small paid call each, its text said), the price said, then every clip made at once,
each in its own thread, its saved path printed on stdout; on Ctrl-C or a failure after submission, how
to fetch each clip later (``--resume ID``) without paying again."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ray_studio.client.camera import CAMERA_MOVES, caption, with_camera
from ray_studio.client.cli_plan import Frame, RunPlan, plan_run
from ray_studio.client.cli_progress import Lines, Ticker
from ray_studio.client.client import RayClient
from ray_studio.client.clip_files import sidecar, write_sidecar
from ray_studio.client.errors import InvalidRequestError, JobFailedError, JobNotFoundError, RayError, redact
from ray_studio.client.job import Job, Update, VideoResult
from ray_studio.client.request import MAX_PROMPT_CHARS, VideoRequest
from ray_studio.client.settings import Settings
from ray_studio.client.transport import surely_not_billed
from ray_studio.client.wording import format_usd

CANCEL_GRACE_SECONDS = 5.0  # after Ctrl-C, how long clips being made get to stop and say where they are
NOT_AT_SEGMIND = (JobFailedError, JobNotFoundError)  # failures after which there is no clip to fetch


class SidecarNotWrittenError(RayError):
    title = "Sidecar not written"
    action = "The clip itself was saved; check the folder's permissions and free space."


class UnexpectedFailureError(RayError):
    """A failure the client does not know (a bug): reported as one line per clip, not a traceback."""

    title = "Unexpected failure"
    action = "No clip was saved here; please report this line."


@dataclass
class Variant:
    """One clip of the run, and what became of it."""

    request: VideoRequest
    output: Path
    caption: str = ""  # what sets it apart from the run's other clips, when not its prompt (a camera move)
    extra: dict[str, Any] = field(default_factory=dict)  # for its sidecar: original_prompt, camera
    job: Job | None = None
    result: VideoResult | None = None
    error: RayError | None = None

    @property
    def label(self) -> str:
        return self.output.name


def resume_hint(job: Job, output: Path) -> str:
    return f"fetch it later without paying again: python ray_client.py --resume {job.id} -o {shlex.quote(str(output))}"


def summary(result: VideoResult) -> str:
    return result.summary() + (f" · job {result.job_id}" if result.job_id else "")


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO, max_variants: int) -> int:
    """Checks everything here first (exit 2, nothing sent), uploads local keyframes, enhances the
    prompts when asked, then makes every clip at once."""

    def say(text: str) -> None:
        print(text, file=err, flush=True)

    with RayClient(settings) as client:
        try:
            plan = plan_run(args, client, max_variants, say)
        except InvalidRequestError as error:
            print(f"error: {error}", file=err)
            return 2
        except KeyboardInterrupt:
            print("cancelled; nothing was sent and no video was saved", file=err)
            return 130
        try:
            uploaded = upload_frames(client, plan.frames, say)  # free: first, and before the price of the clips
            rewritten = enhanced_prompts(client, plan, settings, say) if args.enhance else {}
            variants = variants_of(plan, uploaded, rewritten)
        except RayError as error:
            print(f"error: {error}", file=err)
            return 2 if isinstance(error, InvalidRequestError) else 1
        except KeyboardInterrupt:
            print("cancelled; no video was asked for and none was saved", file=err)
            return 130
        say_price(variants, settings, say)
        sources = {frame.field: frame.source for frame in plan.frames if frame.source}
        return make_all(client, variants, settings, out, err, sidecar_sources=sources if args.sidecar else None)


def enhanced_prompts(
    client: RayClient, plan: RunPlan, settings: Settings, say: Callable[[str], None]
) -> dict[str, str]:
    """Each wording of the run rewritten by the enhance model (one paid call each, said before and
    after), short enough to take the run's longest camera move after it."""
    wordings = list(dict.fromkeys(combination.wording for combination in plan.combinations))
    moves = {combination.camera for combination in plan.combinations if combination.camera}
    limit = MAX_PROMPT_CHARS - max((len(CAMERA_MOVES[move]) + 2 for move in moves), default=0)
    calls = len(wordings)
    what = "the prompt" if calls == 1 else f"{calls} prompts"
    cost = format_usd(calls * settings.enhance_price)
    say(f"enhancing {what} with {settings.enhance_model} ({calls} call{'s' if calls > 1 else ''}, {cost})")
    rewritten = {}
    for number, wording in enumerate(wordings, 1):
        rewritten[wording] = client.enhance(wording, limit=limit)
        say(f"enhanced prompt{'' if calls == 1 else f' {number} of {calls}'}: {rewritten[wording]}")
    return rewritten


def variants_of(plan: RunPlan, uploaded: dict[str, str], rewritten: dict[str, str]) -> list[Variant]:
    """The run's clips as sent: with the uploaded keyframes' URLs and, when enhanced, the rewritten
    wording (the camera move after it); captioned by camera move, and what the sidecar adds."""
    variants = []
    for request, combination, output in zip(plan.requests, plan.combinations, plan.outputs, strict=True):
        changes: dict[str, Any] = dict(uploaded)
        extra: dict[str, Any] = {}
        if combination.wording in rewritten:
            changes["prompt"] = with_camera(rewritten[combination.wording], combination.camera)
            extra["original_prompt"] = combination.wording
        if combination.camera:
            extra["camera"] = combination.camera
        label = caption(combination.camera) if combination.camera else ""
        variants.append(Variant(dataclasses.replace(request, **changes), output, label, extra))
    return variants


def say_price(variants: list[Variant], settings: Settings, say: Callable[[str], None]) -> None:
    prices = [variant.request.price(settings.price_per_second) for variant in variants]
    if len(variants) == 1:
        request, output = variants[0].request, variants[0].output
        say(f"{request.describe()} costs {format_usd(prices[0])} at Segmind's listed price → {output}")
        return
    say(f"{len(variants)} clips cost {format_usd(sum(prices))} at Segmind's listed price, made at once:")
    for variant, price in zip(variants, prices, strict=True):
        parts = [variant.request.describe(), format_usd(price), *([variant.caption] if variant.caption else [])]
        say(f"  {variant.output}  {' · '.join(parts)} · {variant.request.prompt[:60]!r}")


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
                write_clip_sidecar(variant.result, settings, sidecar_sources, variant.extra)
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


def write_clip_sidecar(
    result: VideoResult, settings: Settings, sources: dict[str, str], extra: dict[str, Any] | None = None
) -> None:
    api_mode = "async" if result.job_id else "sync"
    data = sidecar(result, model=settings.model, api_mode=api_mode, sources=sources, extra=extra)
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
