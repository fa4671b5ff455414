"""Camera moves, as words in the prompt.

Luma's own API takes camera moves as ``concepts``, but Segmind's Ray Flash 2 (720p) lists no such
parameter, so a move is a short phrase Ray follows, added to the end of the prompt (and so visible in
the prompt sent, the sidecar and the history). The names are Luma's concept names.

``camera_moves(names)`` checks names (``push-in`` and ``Push_In`` are ``push_in``) and names every valid
one when a name is unknown; ``with_camera(prompt, move)`` is the one rule for adding a move to a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ray_studio.client.errors import InvalidRequestError

# Luma's concept name → what Ray is told. Each phrase names the move the way shot lists and Luma's own
# prompt guide do, so Ray follows it.
CAMERA_MOVES: dict[str, str] = {
    "push_in": "The camera slowly pushes in toward the subject.",
    "pull_out": "The camera slowly pulls back, revealing the surroundings.",
    "zoom_in": "The camera zooms in on the subject.",
    "zoom_out": "The camera zooms out, widening the view.",
    "pan_left": "The camera pans left.",
    "pan_right": "The camera pans right.",
    "tilt_up": "The camera tilts up.",
    "tilt_down": "The camera tilts down.",
    "orbit_left": "The camera orbits left around the subject.",
    "orbit_right": "The camera orbits right around the subject.",
    "crane_up": "The camera cranes up, rising above the scene.",
    "crane_down": "The camera cranes down, descending toward the subject.",
    "pedestal_up": "The camera rises straight up, staying level.",
    "pedestal_down": "The camera lowers straight down, staying level.",
    "truck_left": "The camera trucks left, gliding sideways alongside the subject.",
    "truck_right": "The camera trucks right, gliding sideways alongside the subject.",
    "roll_left": "The camera rolls to the left, the horizon tilting.",
    "roll_right": "The camera rolls to the right, the horizon tilting.",
    "dolly_zoom": "Dolly zoom: the camera moves toward the subject while zooming out, the background stretching away.",
    "handheld": "Handheld camera with a slight, natural shake.",
    "static": "Static camera on a tripod; the frame does not move.",
    "aerial_drone": "Aerial drone shot, flying high over the scene.",
    "aerial": "Aerial shot from high above.",
    "bolt_cam": "Bolt cam: a fast, sweeping robotic camera move around the subject.",
    "low_angle": "Low-angle shot, looking up at the subject.",
    "high_angle": "High-angle shot, looking down at the subject.",
    "eye_level": "Eye-level shot.",
    "ground_level": "Ground-level shot, the camera just above the ground.",
    "overhead": "Overhead shot, looking straight down on the scene.",
    "over_the_shoulder": "Over-the-shoulder shot.",
    "pov": "First-person point-of-view shot, seen through the subject's eyes.",
    "selfie": "Selfie shot, the subject holding the camera at arm's length.",
    "tiny_planet": "Tiny-planet shot, the world curved into a small sphere.",
    "elevator_doors": "The scene is revealed from the center outward, like elevator doors opening.",
}
LONGEST_PHRASE = max(len(phrase) for phrase in CAMERA_MOVES.values())


class UnknownCameraMoveError(InvalidRequestError):
    title = "Unknown camera move"
    action = "Use one of the moves named; nothing was sent and nothing was charged."


def normalise(name: str) -> str:
    """``Push-In`` → ``push_in``: the spelling the table uses."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def camera_moves(names: Iterable[Any]) -> tuple[str, ...]:
    """The moves asked for, checked and in the table's spelling, repeats merged. UnknownCameraMoveError
    names each unknown one and every valid name."""
    moves: list[str] = []
    unknown: list[str] = []
    for name in names:
        move = normalise(name) if isinstance(name, str) else ""
        if move in CAMERA_MOVES:
            moves.append(move)
        else:
            unknown.append(repr(name)[:30])
    if unknown:
        raise UnknownCameraMoveError(
            [f"unknown camera move {', '.join(unknown)}; the moves are {', '.join(CAMERA_MOVES)}"]
        )
    return tuple(dict.fromkeys(moves))


def with_camera(prompt: str, move: str | None) -> str:
    """``prompt`` with the move's phrase added at its end as a sentence of its own (nothing for None)."""
    if move is None:
        return prompt
    text = prompt.strip()
    if text and text[-1] not in ".!?…\"'”’)":
        text += "."
    return f"{text} {CAMERA_MOVES[move]}".strip()


def caption(move: str | None) -> str:
    """``orbit left``: how a move reads beside its clip."""
    return move.replace("_", " ") if move else "no camera move"
