"""Joining clips with PyAV, without re-encoding them (``join_clips``).

Joining copies the video packets of each clip, offsetting their timestamps so they follow on; the
clips must match in codec, shape, pixel format, frame rate and codec parameters. Only silent clips
are joined (Ray's clips have no sound): a clip with a sound track is refused rather than its sound
dropped. The result is written through ``files.replacing``: renamed into place only when whole.
Each clip is opened as ``clips.open_clip`` opens it: by its content, never by its name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ray_studio.client.files import replacing
from ray_studio.client.media.clips import av_reason, clip_info, cut_short, end_to_reach, open_clip, packets, undecodable
from ray_studio.client.media.errors import ClipsDoNotMatchError, JoinOutputError, TooFewClipsError, UnsupportedClipError
from ray_studio.client.media.values import ClipInfo, PathLike


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
    with open_clip(clip, name, formats=("mp4",)) as (container, stream):
        if container.streams.audio:
            raise UnsupportedClipError(name, f"{name} has a sound track; only silent clips (as Ray makes) are joined")
        ctx = stream.codec_context
        if ctx.format is None or not ctx.width:
            raise undecodable(name, "its first frame cannot be read (is the file cut short?)")
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
        raise JoinOutputError(out_name, f"{out_name} cannot be written: {av_reason(err)}") from None
    try:
        out_stream, timeline = None, None
        for source in sources:
            with open_clip(source.path, source.name, formats=("mp4",)) as (container, stream):
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
        raise JoinOutputError(out_name, f"{out_name} could not be written: {av_reason(err)}") from None


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
    for packet in packets(container, stream, name):
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
        raise undecodable(name, "it has no frames")
    shown_until = (clip_end - (stream.start_time or 0)) * stream.time_base
    if shown_until < end_to_reach(stream):
        raise cut_short(stream, shown_until, name)
    timeline.offset = end
