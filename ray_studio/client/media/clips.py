"""Clips, read with PyAV: a clip opened safely (``open_clip``: by its content, from an absolute path,
never by its name), what it is (``clip_info``), and its first or last frame as a keyframe
(``first_frame``, ``last_frame``). Joining clips is in ``joining``, on top of these.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from ray_studio.client.files import is_mp4_head
from ray_studio.client.media.errors import (
    UndecodableVideoError,
    UnsupportedClipError,
)
from ray_studio.client.media.sniff import (
    AVIF_BRANDS,
    HEIF_BRANDS,
    accepted_format_by_magic,
    display_name,
    format_label,
    other_image_format,
    read_at_most,
    require_regular_file,
    what_else,
)
from ray_studio.client.media.values import ClipInfo, Keyframe, PathLike

if TYPE_CHECKING:
    from PIL import Image

_CONTAINER_LABELS = {"mp4": "MP4/MOV", "matroska": "WebM/MKV"}


def _container_format(head: bytes) -> str | None:
    """FFmpeg's demuxer for a clip, chosen by its first bytes (never its name, which FFmpeg would use)."""
    if is_mp4_head(head) and head[8:12] not in HEIF_BRANDS + AVIF_BRANDS:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    return None


def _not_a_video(head: bytes) -> str:
    known = accepted_format_by_magic(head)
    if known:
        return f"a {format_label(known)} image"
    return other_image_format(head) or what_else(head)


def av_reason(err: av.FFmpegError) -> str:
    """FFmpeg's words without the file name it appends."""
    text = err.strerror or type(err).__name__
    return text[:1].lower() + text[1:]


def undecodable(name: str, why: str) -> UndecodableVideoError:
    return UndecodableVideoError(name, f"{name} cannot be decoded as a video: {why}")


@contextmanager
def open_clip(
    clip: PathLike, name: str, formats: tuple[str, ...] = ("mp4", "matroska")
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The clip's container and first video stream, opened by content from an absolute path (so no
    FFmpeg protocol, pattern or network address is ever read from the name)."""
    require_regular_file(clip, name)
    head = read_at_most(clip, name, 1023)
    if not head:
        raise undecodable(name, "it is empty (0 bytes)")
    fmt = _container_format(head)
    if fmt is None:
        raise undecodable(name, f"it is {_not_a_video(head)}")
    if fmt not in formats:
        raise UnsupportedClipError(
            name, f"{name} is a {_CONTAINER_LABELS[fmt]} video; only MP4 or MOV clips can be joined"
        )
    try:
        container = av.open(os.path.abspath(clip), format=fmt)
    except av.FFmpegError as err:
        raise undecodable(name, av_reason(err)) from None
    try:
        if not container.streams.video:
            raise undecodable(name, "it has no video track")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise undecodable(name, "its video codec cannot be decoded here")
        yield container, stream
    finally:
        container.close()


def clip_info(clip: PathLike, name: str | None = None) -> ClipInfo:
    """Duration, shape, codec and rate of a clip, from its header (nothing is decoded)."""
    name = display_name(clip, name, "the clip")
    with open_clip(clip, name) as (container, stream):
        return _info(container, stream, name)


def _info(container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str) -> ClipInfo:
    ctx = stream.codec_context
    duration = _declared_duration(stream)
    if duration is None and container.duration:
        duration = container.duration / av.time_base
    return ClipInfo(
        name=name,
        duration=float(duration) if duration is not None else _measured_duration(container, stream, name),
        width=ctx.width,
        height=ctx.height,
        codec=ctx.name,
        fps=float(stream.average_rate) if stream.average_rate else None,
        frame_count=stream.frames or None,
        pixel_format=ctx.format.name if ctx.format else None,
        has_audio=bool(container.streams.audio),
    )


def _declared_duration(stream: av.video.stream.VideoStream) -> Fraction | None:
    if not stream.duration or stream.time_base is None:
        return None
    return stream.duration * stream.time_base


def _measured_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str) -> float:
    start, end = None, None
    for packet in packets(container, stream, name):
        start = packet.pts if start is None else min(start, packet.pts)
        end = packet.pts + packet.duration if end is None else max(end, packet.pts + packet.duration)
    if start is None or end is None:
        raise undecodable(name, "it has no frames")
    return float((end - start) * stream.time_base)


def packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> Iterator[av.Packet]:
    """The stream's packets with data, in file order; a read error names the clip."""
    try:
        for packet in container.demux(stream):
            if packet.size:
                if packet.pts is None or packet.dts is None:
                    raise undecodable(name, "a frame in it has no timestamp")
                yield packet
    except av.FFmpegError as err:
        raise undecodable(name, av_reason(err)) from None


# --------------------------------------------------------------------------- first and last frames


def first_frame(clip: PathLike, name: str | None = None) -> Keyframe:
    """The clip's first frame (in display order) as a PNG keyframe, e.g. to end a clip that leads into it."""
    name = display_name(clip, name, "the clip")
    with open_clip(clip, name) as (container, stream):
        stream.thread_type = "AUTO"
        frame = _first(container, stream, name)
        if frame is None:
            raise undecodable(name, "it has no frames")
        image, notes = _frame_image(frame, "first")
    return _keyframe(image, notes, name, "first")


def last_frame(clip: PathLike, name: str | None = None) -> Keyframe:
    """The clip's last frame (in display order) as a PNG keyframe, e.g. to start the next clip on."""
    name = display_name(clip, name, "the clip")
    with open_clip(clip, name) as (container, stream):
        frame = _frame_after_last_keyframe(container, stream, name)
        if frame is None or _stops_early(frame, stream):
            frame = _decode_from_start(clip, name)  # no index, an odd file, or a cut one: the slow, sure way
        if _stops_early(frame, stream):
            raise cut_short(stream, _shown_until(frame, stream), name)
        image, notes = _frame_image(frame, "last")
    return _keyframe(image, notes, name, "last")


def _keyframe(image: Image.Image, notes: list[str], name: str, which: str) -> Keyframe:
    """A frame's picture checked and scaled as a keyframe, as PNG."""
    from ray_studio.client.media.images import check_pixels, scaled  # Pillow, only once a frame is taken

    check_pixels(image.size, name, f"the {which} frame of {name}")
    image = scaled(image, image.size, 1, notes)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    label = f"{which} frame of {name}"
    return Keyframe(buffer.getvalue(), "image/png", image.width, image.height, label, tuple(notes))


def _first(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> av.VideoFrame | None:
    """The first frame the decoder gives: FFmpeg's decoders give frames in display order."""
    try:
        return next(iter(container.decode(stream)), None)
    except av.FFmpegError as err:
        raise undecodable(name, av_reason(err)) from None


def _frame_after_last_keyframe(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> av.VideoFrame | None:
    """Seeks to the last keyframe and decodes forward to the end; None when that finds no frame."""
    stream.thread_type = "AUTO"
    try:
        container.seek(_FAR_BEYOND_THE_END, stream=stream, backward=True)
    except av.FFmpegError:
        return None
    return _final(container, stream, name)


_FAR_BEYOND_THE_END = 2**62


def _decode_from_start(clip: PathLike, name: str) -> av.VideoFrame:
    with open_clip(clip, name) as (container, stream):
        stream.thread_type = "AUTO"
        frame = _final(container, stream, name)
    if frame is None:
        raise undecodable(name, "it has no frames")
    return frame


def _final(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> av.VideoFrame | None:
    last = None
    try:
        for frame in container.decode(stream):
            last = frame
    except av.FFmpegError as err:
        raise undecodable(name, av_reason(err)) from None
    return last


def _frame_step(stream: av.video.stream.VideoStream) -> Fraction:
    return 1 / stream.average_rate if stream.average_rate else Fraction(1, 24)


def _shown_until(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> Fraction:
    """Seconds from the clip's start to the end of ``frame``."""
    start = (stream.start_time or 0) * stream.time_base
    return frame.pts * frame.time_base - start + _frame_step(stream)


def _stops_early(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> bool:
    if frame.pts is None or frame.time_base is None:
        return False  # nothing to tell by
    return _shown_until(frame, stream) < end_to_reach(stream)


def end_to_reach(stream: av.video.stream.VideoStream) -> Fraction:
    """How far a whole clip's frames must reach: the duration its header declares, less a frame and a
    half of slack; 0 when the header declares none."""
    declared = _declared_duration(stream)
    return declared - _frame_step(stream) * Fraction(3, 2) if declared is not None else Fraction(0)


def cut_short(stream: av.video.stream.VideoStream, shown_until: Fraction, name: str) -> UndecodableVideoError:
    stop, length = float(shown_until), float(_declared_duration(stream) or 0)
    return undecodable(name, f"its frames stop at {stop:.2f} s of its {length:.2f} s (the file is cut short)")


def _frame_image(frame: av.VideoFrame, which: str) -> tuple[Image.Image, list[str]]:
    notes = [f"{which} frame, at {float(frame.time or 0):.2f} s"]
    image = frame.to_image()
    rotation = frame.rotation
    if rotation:
        # The display matrix, as players apply it: `rotation` is counter-clockwise, as is Image.rotate.
        image = image.rotate(rotation, expand=True)
        direction = "anticlockwise" if rotation > 0 else "clockwise"
        notes.append(f"turned {abs(rotation)}° {direction}, as the video's rotation metadata says")
    return image, notes
