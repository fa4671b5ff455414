"""Keyframe images in, video frames out: every check is made here, on this machine, before anything
is uploaded or paid for.

``load_keyframe`` turns a local image (a path or bytes) into a ``Keyframe`` Ray Flash 2 can start or
end on (``images``). ``last_frame`` takes the last frame of a clip as a keyframe (to extend a clip),
``first_frame`` its first (to end a clip that leads into it, or bridges two),
``clip_info`` describes one (``clips``), and ``join_clips`` joins MP4 clips without re-encoding them
(``joining``). Importing this package loads neither Pillow nor PyAV: each loads when an image or a clip
is first used.

Accepted images: JPEG, PNG and WebP are kept in their format; GIF, BMP, TIFF and AVIF are converted
(to PNG when they have transparency, else JPEG). Refused: anything else, naming it when it is a known
image or document format (HEIC, PSD, SVG, PDF, ICO, JPEG 2000, JPEG XL, EPS...).

Every refusal is a ``MediaError``, an ``InvalidRequestError``: the CLI exits 2 on it and the page shows
"Invalid request". Messages name the file by the display name the caller passes (``name=``), or by the
path exactly as given; they never quote Pillow's or FFmpeg's own text that could hold a path.
"""

from __future__ import annotations

from collections.abc import Sequence

from ray_studio.client.media.errors import (
    ClipsDoNotMatchError,
    CorruptImageError,
    ImageFileTooLargeError,
    ImageTooLargeError,
    ImageTooSmallError,
    JoinOutputError,
    MediaError,
    NotAnImageError,
    TooFewClipsError,
    UndecodableVideoError,
    UnreadableFileError,
    UnsupportedClipError,
    UnsupportedImageFormatError,
)
from ray_studio.client.media.values import (
    ACCEPTED_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_KEYFRAME_SIDE,
    MIN_IMAGE_SIDE,
    ClipInfo,
    Keyframe,
    PathLike,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_KEYFRAME_SIDE",
    "MIN_IMAGE_SIDE",
    "ClipInfo",
    "ClipsDoNotMatchError",
    "CorruptImageError",
    "ImageFileTooLargeError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "JoinOutputError",
    "Keyframe",
    "MediaError",
    "NotAnImageError",
    "PathLike",
    "TooFewClipsError",
    "UndecodableVideoError",
    "UnreadableFileError",
    "UnsupportedClipError",
    "UnsupportedImageFormatError",
    "clip_info",
    "first_frame",
    "join_clips",
    "last_frame",
    "load_keyframe",
    "poster_jpeg",
]


def load_keyframe(source: PathLike | bytes, name: str | None = None) -> Keyframe:
    """An accepted image, checked, upright, scaled and re-encoded without metadata; or a MediaError."""
    from ray_studio.client.media import images

    return images.load_keyframe(source, name)


def first_frame(clip: PathLike, name: str | None = None) -> Keyframe:
    """The clip's first frame (in display order) as a PNG keyframe, e.g. to end a clip that leads into it."""
    from ray_studio.client.media import clips

    return clips.first_frame(clip, name)


def last_frame(clip: PathLike, name: str | None = None) -> Keyframe:
    """The clip's last frame (in display order) as a PNG keyframe, e.g. to start the next clip on."""
    from ray_studio.client.media import clips

    return clips.last_frame(clip, name)


def clip_info(clip: PathLike, name: str | None = None) -> ClipInfo:
    """Duration, shape, codec and rate of a clip, from its header (nothing is decoded)."""
    from ray_studio.client.media import clips

    return clips.clip_info(clip, name)


def join_clips(clips: Sequence[PathLike], output: PathLike, names: Sequence[str] | None = None) -> ClipInfo:
    """Joins two or more silent MP4 clips into one MP4 at ``output`` without re-encoding; returns its info.
    Written beside ``output`` and renamed into place only when whole: on any failure no partial file is
    left and an existing file at ``output`` is untouched."""
    from ray_studio.client.media import joining

    return joining.join_clips(clips, output, names)


def poster_jpeg(clip: PathLike, name: str | None = None) -> bytes:
    """The clip's first frame as a small JPEG (at most 640 px a side): a poster shown before it loads."""
    from ray_studio.client.media import posters

    return posters.poster_jpeg(clip, name)
