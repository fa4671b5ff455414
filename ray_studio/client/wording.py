"""How the client's values read for people, written once: money, a clip's settings, a running time."""

from __future__ import annotations

from typing import Any


def format_usd(amount: float) -> str:
    """Money as people read it, to the tenth of a cent where that digit is not 0: ``$0.375``,
    ``$2.70``, ``$1,234.50``. The one money format."""
    mills = round(amount * 1000)
    text = f"{mills / 1000:,.3f}"
    return "$" + (text[:-1] if text.endswith("0") else text)


def describe_shape(aspect_ratio: Any, duration: Any, loop: bool, start: bool = False, end: bool = False) -> str:
    """``16:9 · 5 s · loop · start+end keyframes``: how a clip's settings read everywhere they are shown."""
    parts = [str(aspect_ratio), f"{duration} s"]
    if loop:
        parts.append("loop")
    frames = [n for n, present in (("start", start), ("end", end)) if present]
    if frames:
        parts.append("+".join(frames) + " keyframe" + ("s" if len(frames) > 1 else ""))
    return " · ".join(parts)


def clock(seconds: float) -> str:
    """``0:42``, ``12:05``: a running time as a person reads it."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
