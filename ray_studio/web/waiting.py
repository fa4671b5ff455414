"""A clip being made, as the page shows it: a placeholder in the clip's shape with its state in words
and a progress bar against the usual time (``JobBoard.estimate``).

The server sends it on each change of phase, with the clock as it was then; between those, page.js
moves the clock and the bar each second from the ``data-`` attributes (``rayStudio.waiting``).
Whether it takes the player's place (no clip in it yet) or is a strip above the clip playing is
decided by page.css, from what the player holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from ray_studio.client.request import DEFAULT_ASPECT_RATIO
from ray_studio.web.words import wait_text, wait_words

if TYPE_CHECKING:
    from ray_studio.web.board import JobBoard, Tracked

# The phases whose time counts against the usual time, from sending to the clip.
TIMED = ("QUEUED", "PROCESSING", "downloading")
NEAR_FULL = 97  # percent: past the usual time the bar waits here, not at the end


@dataclass(frozen=True)
class Waiting:
    """A clip being made: its phase, its clock (seconds), the usual time if known, and its shape."""

    phase: str
    elapsed: float
    usual: float | None = None
    ratio: str = DEFAULT_ASPECT_RATIO

    @classmethod
    def of(cls, tracked: Tracked, board: JobBoard) -> Waiting:
        request = tracked.request
        usual = board.estimate(request.duration) if request and tracked.phase in TIMED else None
        return cls(tracked.phase, tracked.since_sent, usual, request.aspect_ratio if request else DEFAULT_ASPECT_RATIO)

    @property
    def percent(self) -> float | None:
        """How far along the bar is; None when it cannot say (an indeterminate bar)."""
        if not self.usual:
            return None
        if self.phase == "downloading":
            return 100.0
        return min(NEAR_FULL, 100 * self.elapsed / self.usual)


def placeholder(tracked: Tracked, board: JobBoard) -> str:
    """The placeholder of a clip the board follows."""
    return waiting_html(Waiting.of(tracked, board))


def waiting_html(waiting: Waiting) -> str:
    """The placeholder: the clip's shape, its state in words, and its progress bar."""
    words, clock = wait_text(waiting.phase, waiting.elapsed, waiting.usual)
    _, within, over = wait_words(waiting.phase, waiting.usual)
    width, height = (escape(side) for side in waiting.ratio.split(":", 1))
    data = {"phase": waiting.phase, "elapsed": f"{waiting.elapsed:.1f}", "within": within, "over": over}
    if waiting.usual:
        data["usual"] = f"{waiting.usual:.1f}"
    attributes = " ".join(f'data-{name}="{escape(value)}"' for name, value in data.items())
    text = " ".join(part for part in (words, clock) if part)
    return (
        f'<div class="ray-wait" {attributes} style="--w: {width}; --h: {height}">'
        f'<div class="wait-shape" aria-hidden="true"><span>{width}:{height}</span></div>'
        f'<div class="wait-body"><p class="wait-text"><span class="wait-words">{escape(words)}</span> '
        f'<span class="wait-clock" aria-hidden="true">{escape(clock)}</span></p>'
        f"{progress_bar(waiting, text)}</div></div>"
    )


def progress_bar(waiting: Waiting, text: str) -> str:
    """role=progressbar: its value in seconds against the usual time, or only its words when it cannot say."""
    percent = waiting.percent
    if percent is None or not waiting.usual:
        return (
            f'<div class="wait-bar indeterminate" role="progressbar" aria-label="The clip being made" '
            f'aria-valuetext="{escape(text)}"><div class="wait-fill"></div></div>'
        )
    now = round(waiting.usual if waiting.phase == "downloading" else min(waiting.elapsed, waiting.usual))
    return (
        f'<div class="wait-bar" role="progressbar" aria-label="The clip being made" aria-valuemin="0" '
        f'aria-valuemax="{waiting.usual:.0f}" aria-valuenow="{now}" aria-valuetext="{escape(text)}">'
        f'<div class="wait-fill" style="width: {percent:.1f}%"></div></div>'
    )
