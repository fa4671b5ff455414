"""What the page says: its introduction, the tip on prompts, the phrases Ray responds to, the examples."""

from __future__ import annotations

import html

from ray_studio.client.errors import API_KEYS_PAGE
from ray_studio.client.wording import describe_shape

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
