"""Keyframe images in, video frames out: every check is made here, on this machine, before anything
is uploaded or paid for.

``load_keyframe`` turns a local image (a path or bytes) into a ``Keyframe`` Ray Flash 2 can start or
end on: opened by its content (never its name), refused with a message naming the file when it is not
an accepted image, too big, too small or damaged; otherwise upright (EXIF orientation), RGB or RGBA,
at most ``MAX_KEYFRAME_SIDE`` on the long side and re-encoded, so EXIF (GPS, camera, dates) never
leaves the machine. ``last_frame`` takes the last frame of a clip as a keyframe (to extend a clip),
``clip_info`` describes one, and ``join_clips`` joins MP4 clips without re-encoding them.

Accepted images: JPEG, PNG and WebP are kept in their format; GIF, BMP, TIFF and AVIF are converted
(to PNG when they have transparency, else JPEG). Refused: anything else, naming it when it is a known
image or document format (HEIC, PSD, SVG, PDF, ICO, JPEG 2000, JPEG XL, EPS...).

Joining copies the video packets of each clip, offsetting their timestamps so they follow on; the
clips must match in codec, shape, pixel format, frame rate and codec parameters. Only silent clips
are joined (Ray's clips have no sound): a clip with a sound track is refused rather than its sound
dropped. The result is written beside the output as ``NAME.<random>.incomplete`` and renamed into
place only when whole (replacing an older file of that name only then).

Every refusal is a ``MediaError``, an ``InvalidRequestError``: the CLI exits 2 on it and the page shows
"Invalid request". Messages name the file by the display name the caller passes (``name=``), or by the
path exactly as given; they never quote Pillow's or FFmpeg's own text that could hold a path.
"""

from __future__ import annotations

import base64
import io
import math
import os
import stat
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Union

import av
from PIL import ExifTags, Image, ImageFile, JpegImagePlugin

from ray_studio.client.errors import InvalidRequestError

PathLike = Union[str, "os.PathLike[str]"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # also the page's upload limit (Gradio's max_file_size)
# Phones' 48 and 50 MP modes (8160×6144 is 50.1 MP) pass; a 20000×20000 bomb does not. Decoding a PNG
# this big takes about 0.3 GB (0.5 GB with transparency); a JPEG, decoded at reduced scale, 0.1 GB.
MAX_IMAGE_PIXELS = 52_000_000
MIN_IMAGE_SIDE = 128
MAX_KEYFRAME_SIDE = 1280  # the long side of Ray Flash 2's 720p output
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")  # Pillow's names
KEPT_FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 92

_FORMAT_LABELS = {"WEBP": "WebP"}
_MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_MB = 1024 * 1024
_NOTHING_SENT = "nothing was sent"
_NOTHING_WRITTEN = "nothing was written"


def _label(fmt: str) -> str:
    return _FORMAT_LABELS.get(fmt, fmt)


def _accepted_list() -> str:
    labels = [_label(f) for f in ACCEPTED_FORMATS]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


# --------------------------------------------------------------------------- errors


class MediaError(InvalidRequestError):
    """A local file that cannot be used as it is; nothing was sent. ``file_name`` is its display name."""

    action = f"Fix that and try again; {_NOTHING_SENT}."

    def __init__(self, file_name: str, problem: str) -> None:
        self.file_name = file_name
        super().__init__([problem])


class UnreadableFileError(MediaError):
    action = f"Check the file's name and folder, then try again; {_NOTHING_SENT}."


class NotAnImageError(MediaError):
    action = f"Choose a JPEG, PNG or WebP image and try again; {_NOTHING_SENT}."


class UnsupportedImageFormatError(MediaError):
    action = f"Save it as JPEG, PNG or WebP and try again; {_NOTHING_SENT}."


class CorruptImageError(MediaError):
    action = f"Download or export the image again, then try again; {_NOTHING_SENT}."


class ImageFileTooLargeError(MediaError):
    action = (
        f"Save it smaller (as a JPEG, or scaled to {MAX_KEYFRAME_SIDE} px on the long side: the model uses no more)"
        f" and try again; {_NOTHING_SENT}."
    )


class ImageTooLargeError(MediaError):
    """Too many pixels: refused from the header, before anything is decoded."""

    action = (
        f"Scale it down ({MAX_KEYFRAME_SIDE} px on the long side is all the model uses) and try again; {_NOTHING_SENT}."
    )


class ImageTooSmallError(MediaError):
    action = f"Use a larger image (the video is 720p) and try again; {_NOTHING_SENT}."


class UndecodableVideoError(MediaError):
    action = f"Choose a whole MP4, MOV, WebM or MKV video and try again; {_NOTHING_SENT}."


class TooFewClipsError(MediaError):
    action = f"Give two or more clips to join; {_NOTHING_WRITTEN}."


class UnsupportedClipError(MediaError):
    action = f"Join only silent MP4 or MOV clips, such as Ray's; {_NOTHING_WRITTEN}."


class ClipsDoNotMatchError(MediaError):
    action = f"Join only clips made with the same shape and settings; {_NOTHING_WRITTEN}."


class JoinOutputError(MediaError):
    """The joined clip cannot be written where asked (no such folder, no permission, disk full)."""

    action = f"Choose a folder that exists and that you may write to; {_NOTHING_WRITTEN}."


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Keyframe:
    """An image ready to send as a keyframe: encoded, metadata stripped, at most MAX_KEYFRAME_SIDE."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    name: str
    notes: tuple[str, ...] = ()

    def data_url(self) -> str:
        """The image inline, as ``start_image_url``/``end_image_url`` or an <img> src can take it."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's header says about its video: enough to show it, or to check a join."""

    name: str
    duration: float  # seconds
    width: int
    height: int
    codec: str  # FFmpeg's name, e.g. "h264"
    fps: float | None
    frame_count: int | None  # from the container's index; None when it does not say
    pixel_format: str | None
    has_audio: bool


# --------------------------------------------------------------------------- files


def _display_name(source: object, name: str | None, default: str) -> str:
    if name:
        return name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return default
    return os.fsdecode(source)  # type: ignore[arg-type]


def _require_regular_file(path: PathLike, name: str) -> os.stat_result:
    try:
        info = os.stat(path)
    except OSError as err:
        raise UnreadableFileError(name, f"{name} cannot be read: {_os_reason(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError(name, f"{name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(name, f"{name} is not a regular file")
    return info


def _os_reason(err: OSError) -> str:
    """The OS's words without the path they may carry."""
    return (err.strerror or type(err).__name__).lower()


def _read_at_most(path: PathLike, name: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except OSError as err:
        raise UnreadableFileError(name, f"{name} cannot be read: {_os_reason(err)}") from None


def _size_text(size: int) -> str:
    return f"{math.ceil(size * 10 / _MB) / 10:.1f} MB"  # rounded up: 20 MB and a byte is "20.1 MB"


# --------------------------------------------------------------------------- what a file is


def _is_isobmff(head: bytes) -> bool:
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")

# Other image (or drawing) formats, by their first bytes: named in refusals, never opened.
_OTHER_IMAGE_MAGIC = (
    (b"8BPS", "a PSD (Photoshop) file"),
    (b"%PDF", "a PDF document"),
    (b"%!PS", "an EPS (PostScript) file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS (PostScript) file"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
    (b"\x00\x00\x02\x00", "a CUR cursor"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"icns", "an ICNS icon"),
    (b"gimp xcf", "a GIMP XCF file"),
    (b"qoif", "a QOI image"),
)
_ACCEPTED_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_NOT_IMAGE_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1a\x45\xdf\xa3", "a WebM/MKV video"),
    (b"RIFF", "a RIFF file (such as a WAV or AVI)"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio or video file"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
    (b"\x1f\x8b", "a gzip archive"),
)


def _accepted_format_by_magic(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if _is_isobmff(head) and head[8:12] in _AVIF_BRANDS:
        return "AVIF"
    return next((fmt for magic, fmt in _ACCEPTED_MAGIC if head.startswith(magic)), None)


def _other_image_format(head: bytes) -> str | None:
    """What unaccepted image format this is, by its first bytes, or None."""
    if _is_isobmff(head) and head[8:12] in _HEIF_BRANDS:
        return "a HEIC/HEIF image"
    found = next((what for magic, what in _OTHER_IMAGE_MAGIC if head.startswith(magic)), None)
    if found:
        return found
    text = _as_text(head)
    if text is not None and "<svg" in text.lower():
        return "an SVG drawing"
    return None


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the end of `head` is still text.
        return head[: err.start].decode("utf-8") if err.start >= len(head) - 3 else None


def _what_else(head: bytes) -> str:
    """What a file that is neither an accepted image nor a video seems to be, for a refusal."""
    if _is_isobmff(head):
        return "an MP4/MOV video (or another ISO media file)"
    found = next((what for magic, what in _NOT_IMAGE_MAGIC if head.startswith(magic)), None)
    if found:
        return found
    text = _as_text(head)
    if text is not None:
        start = text.lstrip("\ufeff \t\r\n").lower()
        if start.startswith(("<!doctype html", "<html", "<head", "<body")):
            return "an HTML page (perhaps a web page saved instead of the image it shows)"
        if start.startswith(("{", "[")):
            return "JSON text"
        if start.startswith("<"):
            return "XML or HTML text"
        return "text"
    return "data of an unknown kind"


# --------------------------------------------------------------------------- keyframe images


def load_keyframe(source: PathLike | bytes, name: str | None = None) -> Keyframe:
    """An accepted image, checked, upright, scaled and re-encoded without metadata; or a MediaError."""
    _require_truncated_images_refused()
    name = _display_name(source, name, "the image")
    data = _image_bytes(source, name)
    image = _open_header(data, name)
    fmt = "JPEG" if image.format == "MPO" else str(image.format)
    header_size = image.size
    _check_pixels(header_size, name)
    notes: list[str] = []
    orientation = _decode(image, fmt, name, notes)
    image = _rgb_or_rgba(image, notes)
    image = _scaled(image, header_size, orientation, notes)
    image = _upright(image, orientation, notes)
    encoded, out_fmt = _encode(image, fmt, data, notes)
    return Keyframe(encoded, _MIME_TYPES[out_fmt], image.width, image.height, name, tuple(notes))


def _require_truncated_images_refused() -> None:
    # A process-wide Pillow switch: on, a cut-off image would decode as half grey and be sent as is.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; media.py refuses to check images with it")


def _image_bytes(source: PathLike | bytes, name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        size = _require_regular_file(source, name).st_size
        _check_bytes(size, name)
        data = _read_at_most(source, name, MAX_IMAGE_BYTES)
    _check_bytes(len(data), name)
    if not data:
        raise NotAnImageError(name, f"{name} is empty (0 bytes)")
    return data


def _check_bytes(size: int, name: str) -> None:
    if size > MAX_IMAGE_BYTES:
        raise ImageFileTooLargeError(
            name, f"{name} is {_size_text(size)}; the largest image file accepted is {MAX_IMAGE_BYTES // _MB} MB"
        )


def _open_header(data: bytes, name: str) -> ImageFile.ImageFile:
    """Image.open restricted to ACCEPTED_FORMATS, reading the header only. It goes through Pillow's
    registry rather than Image.open because Image.open applies Pillow's own, process-wide pixel
    limit and raises without saying the size; ours is lower and is checked right after, by the caller.
    """
    Image.init()
    head = data[:16]
    for fmt in ACCEPTED_FORMATS:
        if fmt not in Image.OPEN:
            continue  # a Pillow built without this format
        factory, accept = Image.OPEN[fmt]
        if accept is not None and accept(head) is not True:
            continue
        try:
            return factory(io.BytesIO(data), "")
        except (SyntaxError, IndexError, TypeError, ValueError, EOFError, OSError, struct.error):
            continue  # as Image.open does: another plugin may read it
    raise _why_not_an_image(data[:1024], name)


def _why_not_an_image(head: bytes, name: str) -> MediaError:
    known = _accepted_format_by_magic(head)
    if known:
        return CorruptImageError(name, f"{name} starts like a {_label(known)} image but its header is damaged")
    other = _other_image_format(head)
    if other:
        return UnsupportedImageFormatError(name, f"{name} is {other}; the images accepted are {_accepted_list()}")
    return NotAnImageError(name, f"{name} is not an image: it looks like {_what_else(head)}")


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " MP"


def _check_pixels(size: tuple[int, int], name: str, subject: str | None = None) -> None:
    """Refuses too many pixels, too few, or a shape too thin to keep MIN_IMAGE_SIDE once scaled.
    ``subject`` is what the message calls the image (default: the file's display name)."""
    width, height = size
    subject = subject or name
    shape = f"{subject} is {width}×{height}"
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            name, f"{shape} ({_mp(width * height)}); the largest image accepted is {_mp(MAX_IMAGE_PIXELS)}"
        )
    need = f"a keyframe needs at least {MIN_IMAGE_SIDE} px on each side"
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageTooSmallError(name, f"{shape}; {need}")
    fitted = _fit((width, height))
    if min(fitted) < MIN_IMAGE_SIDE:
        raise ImageTooSmallError(
            name,
            f"{shape}, so long and thin that at the model's {MAX_KEYFRAME_SIDE} px it would be"
            f" {fitted[0]}×{fitted[1]}; {need}",
        )


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down (never up) so its long side is at most MAX_KEYFRAME_SIDE."""
    width, height = size
    scale = MAX_KEYFRAME_SIDE / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


def _decode(image: ImageFile.ImageFile, fmt: str, name: str, notes: list[str]) -> int:
    """Decodes the first frame whole (a cut-off file is refused); returns the EXIF orientation."""
    try:
        _note_frames(image, fmt, notes)
        if fmt == "JPEG":
            # DCT scaling: a 6000×4000 JPEG decodes at 3000×2000 in a quarter of the time and memory.
            target = _fit(image.size)
            image.draft(None, (target[0] * 2, target[1] * 2))
        image.load()
        exif = image.getexif()
    except _DECODE_ERRORS as err:
        raise CorruptImageError(name, f"{name} is damaged or cut short ({_pillow_reason(err)})") from None
    _note_metadata(image, exif, notes)
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    return orientation if orientation in _TRANSPOSE else 1


def _pillow_reason(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__  # opened from memory: Pillow's text holds no path
    return text[:120]


def _note_frames(image: ImageFile.ImageFile, fmt: str, notes: list[str]) -> None:
    if fmt == "JPEG" or not getattr(image, "is_animated", False):
        return
    if fmt == "TIFF":
        notes.append("first page of a multi-page TIFF")
    else:
        notes.append(f"first frame of an animated {_label(fmt)}")
    image.seek(0)


_PERSONAL_TAGS = frozenset(
    (
        ExifTags.Base.Make,
        ExifTags.Base.Model,
        ExifTags.Base.DateTime,
        ExifTags.Base.Artist,
        ExifTags.Base.Copyright,
        ExifTags.Base.ImageDescription,
        ExifTags.Base.Software,
        ExifTags.IFD.Exif,
    )
)


def _note_metadata(image: Image.Image, exif: Image.Exif, notes: list[str]) -> None:
    # Only what a person would call metadata: a TIFF's structural tags come through getexif() too.
    if ExifTags.IFD.GPSInfo in exif:
        notes.append("removed the GPS location and other metadata")
    elif _PERSONAL_TAGS.intersection(exif) or "xmp" in image.info:
        notes.append("removed metadata (camera, dates)")


def _rgb_or_rgba(image: Image.Image, notes: list[str]) -> Image.Image:
    """RGBA when the image has any transparent pixel, else RGB; 16-bit and CMYK brought down sensibly."""
    if image.mode == "CMYK":
        notes.append("converted CMYK colours to RGB")
        return image.convert("RGB")
    if image.mode.startswith("I;16") or image.mode == "I":
        image = _eight_bit_grey(image, notes)
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")  # an alpha channel with nothing transparent in it
    return image


def _eight_bit_grey(image: Image.Image, notes: list[str]) -> Image.Image:
    # Pillow's own I;16 -> L conversion clips everything above 255 to white.
    wide = image.convert("I")
    if wide.getextrema()[1] <= 255:
        return wide.convert("L")
    notes.append("reduced from 16 to 8 bits")
    return wide.point(lambda value: value * (1 / 257)).convert("L")


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _scaled(image: Image.Image, header_size: tuple[int, int], orientation: int, notes: list[str]) -> Image.Image:
    # Scaled before it is turned upright (ImageOps.exif_transpose's table, applied after): the same
    # result without a second full-size copy in memory. A drafted JPEG is already smaller than its header says.
    target = _fit(header_size)
    if image.size == target:
        return image
    before, after = (header_size, target) if orientation not in (5, 6, 7, 8) else (header_size[::-1], target[::-1])
    notes.append(f"scaled from {before[0]}×{before[1]} to {after[0]}×{after[1]}")
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _upright(image: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    if orientation == 1:
        return image
    notes.append("turned upright as its EXIF orientation says")
    return image.transpose(_TRANSPOSE[orientation])


def _encode(image: Image.Image, fmt: str, original: bytes, notes: list[str]) -> tuple[bytes, str]:
    """Re-encoded with none of the original's metadata but its colour profile."""
    icc = _rgb_icc_profile(image)
    keep_jpeg_tables = isinstance(image, JpegImagePlugin.JpegImageFile) and image.format == "JPEG"  # not MPO
    image.info = {}  # Pillow's writers fall back on info for some fields (a JPEG's comment)
    out_fmt = fmt if fmt in KEPT_FORMATS else ("PNG" if image.mode == "RGBA" else "JPEG")
    if out_fmt != fmt:
        notes.append(f"converted from {_label(fmt)} to {out_fmt}")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if out_fmt == "JPEG":
        # An unchanged JPEG keeps its own quantisation tables: re-encoding it loses next to nothing.
        options.update(quality="keep" if keep_jpeg_tables else JPEG_QUALITY, optimize=True)
    elif out_fmt == "WEBP" and _webp_is_lossless(original):
        options.update(lossless=True)
    elif out_fmt == "WEBP":
        options.update(quality=JPEG_QUALITY)
    buffer = io.BytesIO()
    image.save(buffer, out_fmt, **options)
    return buffer.getvalue(), out_fmt


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The image's colour profile if it is one for RGB (a CMYK or grey one would be wrong on RGB pixels)."""
    icc = image.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc[16:20] == b"RGB " else None


def _webp_is_lossless(data: bytes) -> bool:
    """Whether a WebP file's first image chunk is VP8L (lossless)."""
    offset = 12
    while offset + 8 <= len(data):
        kind, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if kind in (b"VP8 ", b"VP8L"):
            return kind == b"VP8L"
        if kind == b"ANMF":
            return data[offset + 24 : offset + 28] == b"VP8L"  # the first frame's own image chunk
        offset += 8 + size + (size & 1)
    return False


# --------------------------------------------------------------------------- clips

_CONTAINER_LABELS = {"mp4": "MP4/MOV", "matroska": "WebM/MKV"}


def _container_format(head: bytes) -> str | None:
    """FFmpeg's demuxer for a clip, chosen by its first bytes (never its name, which FFmpeg would use)."""
    if _is_isobmff(head) and head[8:12] not in _HEIF_BRANDS + _AVIF_BRANDS:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    return None


def _not_a_video(head: bytes) -> str:
    known = _accepted_format_by_magic(head)
    if known:
        return f"a {_label(known)} image"
    return _other_image_format(head) or _what_else(head)


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
    _require_regular_file(clip, name)
    head = _read_at_most(clip, name, 1023)
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
    name = _display_name(clip, name, "the clip")
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
    name = _display_name(clip, name, "the clip")
    with _open_clip(clip, name) as (container, stream):
        frame = _frame_after_last_keyframe(container, stream, name)
        if frame is None or _stops_early(frame, stream):
            frame = _decode_from_start(clip, name)  # no index, an odd file, or a cut one: the slow, sure way
        if _stops_early(frame, stream):
            raise _cut_short(stream, _shown_until(frame, stream), name)
        image, notes = _frame_image(frame)
    _check_pixels(image.size, name, f"the last frame of {name}")
    image = _scaled(image, image.size, 1, notes)
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
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.incomplete")
    try:
        _remux(sources, partial, out_name)
        os.replace(partial, target)
    except BaseException:
        with suppress(OSError):
            partial.unlink()
        raise
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
