"""The showcase: a folder of finished clips (RAY_SHOWCASE_DIR) that every visitor sees first, free.

The folder holds clips with their JSON sidecars, exactly as RAY_SAVE_DIR and the CLI's ``--sidecar``
write them (``clip_files``). At start each clip gets a poster (its first frame, made once with PyAV)
in a folder of its own; clips are served from where they are, as they are. A clip without a sidecar,
with a sidecar that does not describe a valid request, or that cannot be decoded is left out, with
one log line each. Nothing here talks to Segmind.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ray_studio.client.clip_files import sidecar_path
from ray_studio.client.errors import RayError
from ray_studio.client.files import atomic_write
from ray_studio.client.request import VideoRequest
from ray_studio.client.wording import describe_shape

log = logging.getLogger("ray_studio")

SHOWCASE_LIMIT = 12  # clips shown; the first by name
POSTER_FOLDER_SUFFIX = "-ray-studio-posters"


@dataclass(frozen=True)
class ShowcaseClip:
    """One clip of the showcase: its file, its poster, and the settings it was made with."""

    path: Path
    poster: Path
    request: VideoRequest

    @property
    def name(self) -> str:
        return self.path.name

    def form_values(self) -> tuple:
        """prompt, shape, length, loop, keyframe URLs: the form's order (layout.Layout.form)."""
        r = self.request
        return (r.prompt, r.aspect_ratio, r.duration, r.loop, r.start_image_url or "", r.end_image_url or "")

    def shape(self) -> str:
        r = self.request
        return describe_shape(r.aspect_ratio, r.duration, r.loop, bool(r.start_image_url), bool(r.end_image_url))


def poster_folder_beside(uploads: Path) -> Path:
    """Where posters are kept: beside Gradio's upload folder (never in the owner's showcase folder)."""
    return uploads.with_name(uploads.name + POSTER_FOLDER_SUFFIX)


def file_url(path: Path) -> str:
    """A file Gradio serves as it is (a static path), relative to the page."""
    return "gradio_api/file=" + quote(str(path.resolve()))


def request_from_sidecar(path: Path) -> VideoRequest:
    """The request a sidecar records; ValueError (or a RayError) when it records none that is valid."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        raise ValueError("it names no prompt")
    return VideoRequest(
        data["prompt"],
        data.get("aspect_ratio"),
        data.get("duration"),
        bool(data.get("loop")),
        data.get("start_image_url") or None,
        data.get("end_image_url") or None,
    )


def poster_for(clip: Path, posters: Path) -> Path:
    """The clip's poster in ``posters``, made if it is not there yet (named after the clip's path,
    size and time, so a changed clip gets a new one)."""
    from ray_studio.client.media import poster_jpeg  # PyAV and Pillow, only when a poster is made

    stat = clip.stat()
    key = f"{clip.resolve()}\n{stat.st_size}\n{stat.st_mtime_ns}"
    target = posters / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.jpg"
    if not target.exists():
        posters.mkdir(parents=True, exist_ok=True)
        atomic_write(target, poster_jpeg(clip, clip.name))
    return target


def load_showcase(folder: Path, posters: Path, limit: int = SHOWCASE_LIMIT) -> list[ShowcaseClip]:
    """The showcase's clips, in name order, each with its poster; broken entries logged and left out."""
    if not folder.is_dir():
        log.warning("RAY_SHOWCASE_DIR is not a folder: %s (no showcase shown)", folder)
        return []
    clips: list[ShowcaseClip] = []
    for video in sorted(folder.glob("*.mp4")):
        if len(clips) >= limit:
            log.info("showcase: %d clips shown, the rest of %s left out", limit, folder)
            break
        clip = _showcase_clip(video, posters)
        if clip is not None:
            clips.append(clip)
    log.info("showcase: %d clip(s) from %s", len(clips), folder)
    return clips


def _showcase_clip(video: Path, posters: Path) -> ShowcaseClip | None:
    sidecar = sidecar_path(video)
    if not sidecar.is_file():
        log.warning("showcase: left out %s: no sidecar %s beside it", video.name, sidecar.name)
        return None
    try:
        request = request_from_sidecar(sidecar)
    except (ValueError, OSError, RayError) as err:
        log.warning("showcase: left out %s: its sidecar is not usable (%s)", video.name, _reason(err))
        return None
    try:
        poster = poster_for(video, posters)
    except (OSError, RayError) as err:
        log.warning("showcase: left out %s: no poster could be made (%s)", video.name, _reason(err))
        return None
    return ShowcaseClip(video, poster, request)


def _reason(err: Exception) -> str:
    if isinstance(err, RayError):
        return err.title
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return str(err) or type(err).__name__


class Showcase:
    """The showcase's clips, loaded once at start and served from where they are."""

    def __init__(self, clips: list[ShowcaseClip]) -> None:
        self.clips = clips
        self._by_name = {c.name: c for c in clips}

    @classmethod
    def load(cls, folder: Path | None, posters: Path) -> Showcase:
        import gradio as gr

        if folder is None:
            return cls([])
        clips = load_showcase(folder, posters)
        if clips:
            gr.set_static_paths([folder, posters])
        return cls(clips)

    def get(self, name: str) -> ShowcaseClip | None:
        return self._by_name.get(name)

    def holds(self, path: Path) -> bool:
        clip = self._by_name.get(path.name)
        return clip is not None and clip.path == path


def clip_html(clip: ShowcaseClip) -> str:
    """One clip of the grid: its poster until it plays (muted, on hover or tap), its shape and prompt,
    and a download under the clip's own (prompt-made) name."""
    url, prompt = file_url(clip.path), html.escape(clip.request.prompt)
    return (
        f"<figure class='showcase-clip'>"
        f"<video src='{url}' poster='{file_url(clip.poster)}' muted loop playsinline preload='none' "
        f"aria-label='{prompt}'></video>"
        f"<figcaption><b>{html.escape(clip.shape())}</b> · {prompt} "
        f"<a href='{url}' download='{html.escape(clip.name, quote=True)}'>Download</a></figcaption>"
        f"</figure>"
    )


# Plays a clip while the mouse is over it, and on a tap (phones have no hover); a mouse click does
# nothing more (the pointer over it already plays it).
HOVER_PLAY_JS = """
element.querySelectorAll('video').forEach((v) => {
  let touched = false;
  v.addEventListener('pointerdown', (e) => { touched = e.pointerType !== 'mouse'; });
  v.addEventListener('pointerenter', (e) => { if (e.pointerType === 'mouse') v.play().catch(() => {}); });
  v.addEventListener('pointerleave', (e) => { if (e.pointerType === 'mouse') v.pause(); });
  v.addEventListener('click', () => { if (touched) { v.paused ? v.play().catch(() => {}) : v.pause(); } });
});
"""
