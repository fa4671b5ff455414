"""Clips, read with PyAV: what a clip is (``clip_info``), its last frame as a keyframe (``last_frame``),
and joining clips without re-encoding them (``join_clips``).

Joining copies the video packets of each clip, offsetting their timestamps so they follow on; the
clips must match in codec, shape, pixel format, frame rate and codec parameters. Only silent clips
are joined (Ray's clips have no sound): a clip with a sound track is refused rather than its sound
dropped. The result is written through ``files.replacing``: renamed into place only when whole.
FFmpeg opens a clip by its content from an absolute path, never by its name.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from ray_studio.client.files import is_mp4_head, replacing
from ray_studio.client.media.errors import (
    ClipsDoNotMatchError,
    JoinOutputError,
    TooFewClipsError,
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


def _av_reason(err: av.FFmpegError) -> str:
    """FFmpeg's words without the file name it appends."""
    text = err.strerror or type(err).__name__
    return text[:1].lower() + text[1:]


def _undecodable(name: str, why: str) -> UndecodableVideoError:
    return UndecodableVideoError(name, f"{name} cannot be decoded as a video: {why}")


@contextmanager
def _open_clip(
    clip: PathLike, name: str, formats: tuple[str, ...] = ("mp4", "matroska")
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The clip's container and first video stream, opened by content from an absolute path (so no
    FFmpeg protocol, pattern or network address is ever read from the name)."""
    require_regular_file(clip, name)
    head = read_at_most(clip, name, 1023)
    if not head:
        raise _undecodable(name, "it is empty (0 bytes)")
    fmt = _container_format(head)
    if fmt is None:
        raise _undecodable(name, f"it is {_not_a_video(head)}")
    if fmt not in formats:
        raise UnsupportedClipError(
            name, f"{name} is a {_CONTAINER_LABELS[fmt]} video; only MP4 or MOV clips can be joined"
        )
    try:
        container = av.open(os.path.abspath(clip), format=fmt)
    except av.FFmpegError as err:
        raise _undecodable(name, _av_reason(err)) from None
    try:
        if not container.streams.video:
            raise _undecodable(name, "it has no video track")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise _undecodable(name, "its video codec cannot be decoded here")
        yield container, stream
    finally:
        container.close()


def clip_info(clip: PathLike, name: str | None = None) -> ClipInfo:
    """Duration, shape, codec and rate of a clip, from its header (nothing is decoded)."""
    name = display_name(clip, name, "the clip")
    with _open_clip(clip, name) as (container, stream):
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
    for packet in _packets(container, stream, name):
        start = packet.pts if start is None else min(start, packet.pts)
        end = packet.pts + packet.duration if end is None else max(end, packet.pts + packet.duration)
    if start is None or end is None:
        raise _undecodable(name, "it has no frames")
    return float((end - start) * stream.time_base)


def _packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> Iterator[av.Packet]:
    """The stream's packets with data, in file order; a read error names the clip."""
    try:
        for packet in container.demux(stream):
            if packet.size:
                if packet.pts is None or packet.dts is None:
                    raise _undecodable(name, "a frame in it has no timestamp")
                yield packet
    except av.FFmpegError as err:
        raise _undecodable(name, _av_reason(err)) from None


# --------------------------------------------------------------------------- the last frame


def last_frame(clip: PathLike, name: str | None = None) -> Keyframe:
    """The clip's last frame (in display order) as a PNG keyframe, e.g. to start the next clip on."""
    name = display_name(clip, name, "the clip")
    with _open_clip(clip, name) as (container, stream):
        frame = _frame_after_last_keyframe(container, stream, name)
        if frame is None or _stops_early(frame, stream):
            frame = _decode_from_start(clip, name)  # no index, an odd file, or a cut one: the slow, sure way
        if _stops_early(frame, stream):
            raise _cut_short(stream, _shown_until(frame, stream), name)
        image, notes = _frame_image(frame)
    from ray_studio.client.media.images import check_pixels, scaled  # Pillow, only once a frame is taken

    check_pixels(image.size, name, f"the last frame of {name}")
    image = scaled(image, image.size, 1, notes)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return Keyframe(buffer.getvalue(), "image/png", image.width, image.height, f"last frame of {name}", tuple(notes))


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
    with _open_clip(clip, name) as (container, stream):
        stream.thread_type = "AUTO"
        frame = _final(container, stream, name)
    if frame is None:
        raise _undecodable(name, "it has no frames")
    return frame


def _final(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> av.VideoFrame | None:
    last = None
    try:
        for frame in container.decode(stream):
            last = frame
    except av.FFmpegError as err:
        raise _undecodable(name, _av_reason(err)) from None
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
    return _shown_until(frame, stream) < _end_to_reach(stream)


def _end_to_reach(stream: av.video.stream.VideoStream) -> Fraction:
    """How far a whole clip's frames must reach: the duration its header declares, less a frame and a
    half of slack; 0 when the header declares none."""
    declared = _declared_duration(stream)
    return declared - _frame_step(stream) * Fraction(3, 2) if declared is not None else Fraction(0)


def _cut_short(stream: av.video.stream.VideoStream, shown_until: Fraction, name: str) -> UndecodableVideoError:
    stop, length = float(shown_until), float(_declared_duration(stream) or 0)
    return _undecodable(name, f"its frames stop at {stop:.2f} s of its {length:.2f} s (the file is cut short)")


def _frame_image(frame: av.VideoFrame) -> tuple[Image.Image, list[str]]:
    notes = [f"last frame, at {float(frame.time or 0):.2f} s"]
    image = frame.to_image()
    rotation = frame.rotation
    if rotation:
        # The display matrix, as players apply it: `rotation` is counter-clockwise, as is Image.rotate.
        image = image.rotate(rotation, expand=True)
        direction = "anticlockwise" if rotation > 0 else "clockwise"
        notes.append(f"turned {abs(rotation)}° {direction}, as the video's rotation metadata says")
    return image, notes


# --------------------------------------------------------------------------- joining clips


@dataclass(frozen=True)
class _JoinSource:
    path: PathLike
    name: str
    width: int
    height: int
    codec: str
    pixel_format: str
    fps: Fraction | None
    extradata: bytes


def join_clips(clips: Sequence[PathLike], output: PathLike, names: Sequence[str] | None = None) -> ClipInfo:
    """Joins two or more silent MP4 clips into one MP4 at ``output`` without re-encoding; returns its info.

    Written to ``NAME.<random>.incomplete`` beside ``output`` and renamed into place only when whole: on
    any failure no partial file is left and an existing file at ``output`` is untouched.
    """
    clip_names = _clip_names(clips, names)
    if len(clips) < 2:
        listed = ", ".join(clip_names) or "none"
        raise TooFewClipsError(listed, f"joining needs at least 2 clips (got {len(clips)}: {listed})")
    out_name = os.fsdecode(output)
    target = Path(output)
    _require_writable_folder(target, out_name)
    sources = [_probe_for_join(clip, n) for clip, n in zip(clips, clip_names, strict=True)]
    for source in sources[1:]:
        _require_match(sources[0], source)
    with replacing(target) as partial:
        _remux(sources, partial, out_name)
    return clip_info(target, out_name)


def _clip_names(clips: Sequence[PathLike], names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [os.fsdecode(clip) for clip in clips]
    if len(names) != len(clips):
        raise ValueError(f"join_clips got {len(clips)} clips but {len(names)} names")
    return list(names)


def _require_writable_folder(target: Path, out_name: str) -> None:
    if target.is_dir():
        raise JoinOutputError(out_name, f"{out_name} is a folder; give a file name for the joined clip")
    folder = target.parent
    if not folder.is_dir():
        raise JoinOutputError(out_name, f"the folder of {out_name} does not exist")
    if not os.access(folder, os.W_OK):
        raise JoinOutputError(out_name, f"the folder of {out_name} may not be written to")


def _probe_for_join(clip: PathLike, name: str) -> _JoinSource:
    with _open_clip(clip, name, formats=("mp4",)) as (container, stream):
        if container.streams.audio:
            raise UnsupportedClipError(name, f"{name} has a sound track; only silent clips (as Ray makes) are joined")
        ctx = stream.codec_context
        if ctx.format is None or not ctx.width:
            raise _undecodable(name, "its first frame cannot be read (is the file cut short?)")
        return _JoinSource(
            path=clip,
            name=name,
            width=ctx.width,
            height=ctx.height,
            codec=ctx.name,
            pixel_format=ctx.format.name,
            fps=stream.average_rate,
            extradata=bytes(ctx.extradata or b""),
        )


def _require_match(first: _JoinSource, other: _JoinSource) -> None:
    difference = _difference(first, other)
    if difference:
        raise ClipsDoNotMatchError(other.name, f"{difference}: such clips cannot be joined without re-encoding")


def _difference(a: _JoinSource, b: _JoinSource) -> str | None:
    """How clip ``b`` differs from clip ``a`` in a way a plain join of their packets cannot carry."""
    if (b.width, b.height) != (a.width, a.height):
        return f"{b.name} is {b.width}×{b.height} but {a.name} is {a.width}×{a.height}, a different shape"
    if b.codec != a.codec:
        return f"{b.name} is encoded as {_codec_label(b.codec)} but {a.name} as {_codec_label(a.codec)}"
    if b.pixel_format != a.pixel_format:
        return f"{b.name} stores its pixels as {b.pixel_format} but {a.name} as {a.pixel_format}"
    if a.fps and b.fps and abs(a.fps - b.fps) > a.fps / 1000:
        return f"{b.name} runs at {float(b.fps):g} fps but {a.name} at {float(a.fps):g} fps"
    if b.extradata != a.extradata:
        return f"{b.name} was encoded with other {_codec_label(b.codec)} settings than {a.name}"
    return None


_CODEC_LABELS = {"h264": "H.264", "hevc": "HEVC (H.265)", "av1": "AV1", "vp9": "VP9", "mpeg4": "MPEG-4 Part 2"}


def _codec_label(codec: str) -> str:
    return _CODEC_LABELS.get(codec, codec)


@dataclass
class _Timeline:
    """Where the next clip starts in the joined file, in the output's time base."""

    time_base: Fraction
    offset: int = 0
    last_dts: int | None = None


def _remux(sources: list[_JoinSource], partial: Path, out_name: str) -> None:
    # faststart: the index goes first, so the page's player can start before the whole file arrives.
    try:
        output = av.open(str(partial.absolute()), "w", format="mp4", container_options={"movflags": "+faststart"})
    except av.FFmpegError as err:
        raise JoinOutputError(out_name, f"{out_name} cannot be written: {_av_reason(err)}") from None
    try:
        out_stream, timeline = None, None
        for source in sources:
            with _open_clip(source.path, source.name, formats=("mp4",)) as (container, stream):
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                    out_stream.time_base = stream.time_base
                    _write(output.start_encoding, out_name)
                    timeline = _Timeline(out_stream.time_base)
                assert timeline is not None
                _append(container, stream, output, out_stream, timeline, source.name, out_name)
    except BaseException:
        with suppress(av.FFmpegError, OSError):
            output.close()  # the partial file is deleted anyway; the first error is the one to tell
        raise
    _write(output.close, out_name)


def _write(step: Callable[[], object], out_name: str) -> None:
    try:
        step()
    except av.FFmpegError as err:
        raise JoinOutputError(out_name, f"{out_name} could not be written: {_av_reason(err)}") from None


def _append(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    output: av.container.OutputContainer,
    out_stream: av.video.stream.VideoStream,
    timeline: _Timeline,
    name: str,
    out_name: str,
) -> None:
    """Copies one clip's packets after what is already written, its first frame right after the last one."""
    in_tb, out_tb = stream.time_base, timeline.time_base

    def rescale(value: int) -> int:
        return round(value * in_tb / out_tb)

    shift = timeline.offset - rescale(stream.start_time or 0)
    end, clip_end = timeline.offset, None
    for packet in _packets(container, stream, name):
        dts = rescale(packet.dts) + shift
        if timeline.last_dts is not None and dts <= timeline.last_dts:
            shift += timeline.last_dts + 1 - dts  # decode order must keep rising across the seam
            dts = timeline.last_dts + 1
        pts = max(rescale(packet.pts) + shift, dts)
        duration = rescale(packet.duration) if packet.duration else 0
        end = max(end, pts + duration)
        clip_end = max(clip_end or 0, packet.pts + packet.duration)
        packet.stream = out_stream
        packet.time_base = out_tb
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        _write(lambda packet=packet: output.mux(packet), out_name)
        timeline.last_dts = dts
    if clip_end is None:
        raise _undecodable(name, "it has no frames")
    shown_until = (clip_end - (stream.start_time or 0)) * stream.time_base
    if shown_until < _end_to_reach(stream):
        raise _cut_short(stream, shown_until, name)
    timeline.offset = end
