"""What the page says: its introduction, the tip on prompts, the phrases Ray responds to, the examples,
where a clip is (``status_line``) and what tells variants apart (``captions``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ray_studio.client.camera import CAMERA_MOVES
from ray_studio.client.camera import caption as camera_caption
from ray_studio.client.errors import API_KEYS_PAGE
from ray_studio.client.wording import clock, describe_shape

if TYPE_CHECKING:
    from ray_studio.client.request import VideoRequest
    from ray_studio.web.board import JobBoard, Tracked

DESCRIPTION = """\
# 🎬 Ray Studio
Short 720p videos from a prompt with Luma's **Ray Flash 2** on
[Segmind](https://www.segmind.com/models/ray-flash-2-720p): pick a shape and a length, optionally the
first and last frames, and **Generate** (half a minute to a few minutes; billed to the key in use).
"""

NO_SERVER_KEY_NOTICE = f"""\
**This page has no Segmind key of its own:** paste yours below ([get one]({API_KEYS_PAGE})); it is used
for your clips only.
"""

TIP = (
    "Tip: short, direct and positive works best: the subject, what it does, and the camera "
    "(“a red kite over white dunes, slow aerial orbit, golden hour”)."
)
PHRASES = {
    "Camera": [
        "orbit shot",
        "dolly in",
        "dolly out",
        "crane up",
        "slow pan",
        "truck left",
        "aerial view",
        "handheld",
        "static camera",
    ],
    "Light": ["golden hour", "soft overcast light", "neon night", "volumetric light", "backlit"],
    "Pace": ["slow motion", "timelapse", "fast-paced"],
}

EXAMPLES = [
    ["a young boy riding a red bicycle through the valleys of the grand canyon, golden hour", "16:9", 5, False, "", ""],
    ["a barista pouring latte art in slow motion, close-up, steam rising", "9:16", 5, False, "", ""],
    ["an endless train of paper boats drifting down a rainy street gutter", "1:1", 5, True, "", ""],
    ["a slow dolly across a foggy pine forest at dawn, volumetric light", "21:9", 9, False, "", ""],
    [
        "the camera slowly circles the tower as clouds race past at sunset",
        "3:4",
        9,
        False,
        "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg",
        "",
    ],
]


def phrases_html() -> str:
    rows = []
    for group, phrases in PHRASES.items():
        chips = "".join(
            f"<button type='button' class='phrase' data-phrase='{html.escape(p, quote=True)}'>{html.escape(p)}</button>"
            for p in phrases
        )
        rows.append(f"<div class='phrase-row'><b>{html.escape(group)}</b> {chips}</div>")
    return "".join(rows)


def example_label(example: list) -> str:
    """An example as people read it, settings first: ``9:16 · 5 s · loop · start keyframe · a barista…``."""
    prompt, ratio, duration, loop, start, end = example
    return f"{describe_shape(ratio, duration, loop, bool(start), bool(end))} · {prompt}"


# A clip being made, phase by phase: what it is doing, and how its clock reads ("{t}": the clock).
WAIT_WORDS = {
    "waiting": ("Waiting for a free slot on this server…", "{t} (nothing sent yet)"),
    "submitting": ("Sending to Segmind…", ""),
    "QUEUED": ("Queued at Segmind…", "{t}"),
    "PROCESSING": ("Generating", "{t}"),
    "downloading": ("Downloading the clip…", "{t}"),
}


def wait_words(phase: str, usual: float | None) -> tuple[str, str, str]:
    """What a clip in ``phase`` is doing, then its clock within the usual time and past it:
    ``("Generating", "{t} of about 1:10", "{t} (longer than the usual 1:10)")``."""
    if phase == "PROCESSING" and usual:
        return "Generating", f"{{t}} of about {clock(usual)}", f"{{t}} (longer than the usual {clock(usual)})"
    words, time = WAIT_WORDS.get(phase, ("", ""))
    return words, time, time


def wait_text(phase: str, elapsed: float, usual: float | None) -> tuple[str, str]:
    """What a clip being made is doing, and its clock at ``elapsed`` s: ``("Generating", "0:42 of about 1:10")``."""
    words, within, over = wait_words(phase, usual)
    return words, (over if usual and elapsed > usual else within).replace("{t}", clock(elapsed))


def status_line(tracked: Tracked, board: JobBoard) -> str:
    """Where a clip is, as one line: ``Generating 0:42 of about 1:10``."""
    if tracked.phase == "done":
        return f"Done in {clock(tracked.result.elapsed_seconds if tracked.result else tracked.elapsed)}."
    if tracked.phase == "stopped":
        return "Stopped before anything was sent; nothing was charged."
    if tracked.phase not in WAIT_WORDS:
        return ""
    usual = board.estimate(tracked.request.duration) if tracked.request else None
    return " ".join(part for part in wait_text(tracked.phase, tracked.since_sent, usual) if part)


def captions(requests: list[VideoRequest]) -> list[str]:
    """Each variant named by what differs from the others (``16:9 · loop``, its wording, or its camera move)."""
    moves = [move_in(r.prompt) for r in requests]
    wordings = [
        r.prompt.removesuffix(CAMERA_MOVES[m]).strip() if m else r.prompt for r, m in zip(requests, moves, strict=True)
    ]
    differs = {
        "prompt": len(set(wordings)) > 1,
        "camera": len(set(moves)) > 1,
        "aspect_ratio": len({r.aspect_ratio for r in requests}) > 1,
        "loop": len({r.loop for r in requests}) > 1,
    }
    out = []
    for r, move, wording in zip(requests, moves, wordings, strict=True):
        parts = []
        if differs["prompt"]:
            parts.append(f"“{wording[:60]}{'…' if len(wording) > 60 else ''}”")
        if differs["camera"]:
            parts.append(camera_caption(move))
        if differs["aspect_ratio"]:
            parts.append(r.aspect_ratio)
        if differs["loop"]:
            parts.append("loop" if r.loop else "no loop")
        out.append(" · ".join(parts) or r.describe())
    return out


def move_in(prompt: str) -> str | None:
    """The camera move whose phrase ends ``prompt`` (as ``with_camera`` adds it), if any."""
    return next((move for move, phrase in CAMERA_MOVES.items() if prompt.endswith(" " + phrase)), None)
