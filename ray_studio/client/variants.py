"""Variants: every wording × every shape × every loop value × every camera move, made at once, one clip each.

The one expansion: the page's count and cost line, its Variants tab, the ``/variants`` endpoint and
the command line all go through ``plan_variants``, so what is shown is what is made and paid for.
Blank wordings are dropped and repeats are merged everywhere (a repeat would pay twice for one clip).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ray_studio.client.camera import UnknownCameraMoveError, camera_moves, with_camera
from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.request import ASPECT_RATIOS, VideoRequest, prompt_problem

DEFAULT_MAX_VARIANTS = 4  # RAY_MAX_VARIANTS: one set of variants fits the default 4-per-10-minutes limit


class TooManyVariantsError(InvalidRequestError):
    title = "Too many variants"
    action = "Use fewer wordings or shapes (or raise RAY_MAX_VARIANTS); nothing was sent and nothing was charged."
    visitor_action = "Use fewer wordings or shapes; nothing was sent and nothing was charged."


class Combination(NamedTuple):
    """One clip of a variants run: its wording, shape, loop value and camera move (None: none)."""

    wording: str
    ratio: str
    loop: bool
    camera: str | None = None

    @property
    def prompt(self) -> str:
        """The prompt sent: the wording with the camera move's phrase, if any."""
        return with_camera(self.wording, self.camera)


@dataclass(frozen=True)
class Variants:
    """What a variants run makes: each wording in each shape with each loop value and each camera move."""

    wordings: tuple[str, ...]
    ratios: tuple[str, ...]
    loops: tuple[bool, ...]
    cameras: tuple[str | None, ...] = (None,)

    @property
    def count(self) -> int:
        return len(self.wordings) * len(self.ratios) * len(self.loops) * len(self.cameras)

    def factors(self) -> str:
        """``3 wordings × 2 shapes``, naming only what multiplies (``× loop on and off`` when both,
        ``× 2 camera moves`` when several)."""
        factors = [f"{len(self.wordings)} wording{'s' if len(self.wordings) != 1 else ''}"]
        factors.append(f"{len(self.ratios)} shape{'s' if len(self.ratios) != 1 else ''}")
        if len(self.loops) > 1:
            factors.append("loop on and off")
        if len(self.cameras) > 1:
            factors.append(f"{len(self.cameras)} camera moves")
        return " × ".join(factors)

    def describe_count(self) -> str:
        """``6 variants (3 wordings × 2 shapes)``."""
        return f"{self.count} variant{'s' if self.count != 1 else ''} ({self.factors()})"

    def check(self, limit: int) -> None:
        """TooManyVariantsError naming both numbers when the run would make more than ``limit`` clips."""
        if self.count > limit:
            raise TooManyVariantsError([f"{self.count} variants asked for ({self.factors()}); the limit is {limit}"])

    def combinations(self) -> list[Combination]:
        return [
            Combination(w, r, loop, camera)
            for w in self.wordings
            for r in self.ratios
            for loop in self.loops
            for camera in self.cameras
        ]

    def requests(self, duration: Any, start: Any = "", end: Any = "") -> list[VideoRequest]:
        """Every clip as a checked VideoRequest (InvalidRequestError before anything is sent)."""
        return [VideoRequest(c.prompt, c.ratio, duration, c.loop, start, end) for c in self.combinations()]


def plan_variants(
    prompts: Any, aspect_ratios: Any, loops: Sequence[bool] = (False,), cameras: Sequence[str] = ()
) -> Variants:
    """The run asked for: ``prompts`` as text (one wording per line) or a list of texts;
    ``aspect_ratios`` as one ratio or a list of them; ``loops`` the loop values to try; ``cameras`` the
    camera moves (``camera.CAMERA_MOVES`` names; none: no move). InvalidRequestError names every problem
    (nothing is guessed: a number is not a prompt); an unknown move names the valid ones."""
    problems: list[str] = []
    wordings = _wordings(prompts, problems)
    ratios = _ratios(aspect_ratios, problems)
    loop_values = tuple(dict.fromkeys(loops)) or (False,)
    if any(not isinstance(loop, bool) for loop in loop_values):
        problems.append("loop must be true or false")
    if problems:
        _cameras(cameras, problems)
        raise InvalidRequestError(problems)
    return Variants(wordings, ratios, loop_values, _cameras(cameras, problems))


def _wordings(prompts: Any, problems: list[str]) -> tuple[str, ...]:
    if isinstance(prompts, str):
        lines = prompts.splitlines()
    elif isinstance(prompts, (list, tuple)) and all(isinstance(p, str) for p in prompts):
        lines = list(prompts)
    else:
        problems.append("prompts must be text (one wording per line) or a list of texts")
        return ()
    wordings = tuple(dict.fromkeys(line.strip() for line in lines if line.strip()))
    if not wordings:
        problems.append(prompt_problem(""))
    return wordings


def _cameras(cameras: Any, problems: list[str]) -> tuple[str | None, ...]:
    """The moves (None alone for none); an unknown one raises UnknownCameraMoveError unless there are
    other problems already, which it joins."""
    given = [cameras] if isinstance(cameras, str) else cameras
    try:
        if not isinstance(given, (list, tuple)):
            raise UnknownCameraMoveError(["camera moves must be a list of names"])
        return camera_moves(given) or (None,)
    except UnknownCameraMoveError as error:
        if not problems:
            raise
        problems.extend(error.problems)
        return (None,)


def _ratios(aspect_ratios: Any, problems: list[str]) -> tuple[str, ...]:
    given = [aspect_ratios] if isinstance(aspect_ratios, str) else aspect_ratios
    if not isinstance(given, (list, tuple)):
        problems.append("aspect_ratios must be a list of aspect ratios")
        return ()
    wrong = [r for r in given if not isinstance(r, str) or r.strip() not in ASPECT_RATIOS]
    if wrong:
        shown = ", ".join(repr(r)[:20] for r in wrong[:3])
        problems.append(f"aspect ratios must each be one of {', '.join(ASPECT_RATIOS)} (got {shown})")
        return ()
    ratios = tuple(dict.fromkeys(r.strip() for r in given))
    if not ratios:
        problems.append("choose at least one aspect ratio")
    return ratios
