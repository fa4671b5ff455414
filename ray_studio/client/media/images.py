"""Keyframe images, checked on this machine with Pillow before anything is uploaded or paid for.

``load_keyframe`` opens an image by its content (never its name) and refuses, naming the file, one that
is not an accepted image, too big, too small or damaged; otherwise it comes back upright (EXIF
orientation), RGB or RGBA, at most ``MAX_KEYFRAME_SIDE`` on the long side and re-encoded, so EXIF (GPS,
camera, dates) never leaves the machine.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

from PIL import ExifTags, Image, ImageFile, JpegImagePlugin

from ray_studio.client.media.errors import (
    CorruptImageError,
    ImageFileTooLargeError,
    ImageTooLargeError,
    ImageTooSmallError,
    MediaError,
    NotAnImageError,
    UnsupportedImageFormatError,
)
from ray_studio.client.media.sniff import (
    accepted_format_by_magic,
    display_name,
    format_label,
    other_image_format,
    read_at_most,
    require_regular_file,
    what_else,
)
from ray_studio.client.media.values import (
    ACCEPTED_FORMATS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_KEYFRAME_SIDE,
    MIN_IMAGE_SIDE,
    Keyframe,
    PathLike,
)

KEPT_FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 92

_MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_MB = 1024 * 1024


def _accepted_list() -> str:
    labels = [format_label(f) for f in ACCEPTED_FORMATS]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def _size_text(size: int) -> str:
    return f"{math.ceil(size * 10 / _MB) / 10:.1f} MB"  # rounded up: 20 MB and a byte is "20.1 MB"


def load_keyframe(source: PathLike | bytes, name: str | None = None) -> Keyframe:
    """An accepted image, checked, upright, scaled and re-encoded without metadata; or a MediaError."""
    _require_truncated_images_refused()
    name = display_name(source, name, "the image")
    data = _image_bytes(source, name)
    image = _open_header(data, name)
    fmt = "JPEG" if image.format == "MPO" else str(image.format)
    header_size = image.size
    check_pixels(header_size, name)
    notes: list[str] = []
    orientation = _decode(image, fmt, name, notes)
    image = _rgb_or_rgba(image, notes)
    image = scaled(image, header_size, orientation, notes)
    image = _upright(image, orientation, notes)
    encoded, out_fmt = _encode(image, fmt, data, notes)
    return Keyframe(encoded, _MIME_TYPES[out_fmt], image.width, image.height, name, tuple(notes))


def _require_truncated_images_refused() -> None:
    # A process-wide Pillow switch: on, a cut-off image would decode as half grey and be sent as is.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; the media checks refuse to run with it")


def _image_bytes(source: PathLike | bytes, name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        size = require_regular_file(source, name).st_size
        _check_bytes(size, name)
        data = read_at_most(source, name, MAX_IMAGE_BYTES)
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
    known = accepted_format_by_magic(head)
    if known:
        return CorruptImageError(name, f"{name} starts like a {format_label(known)} image but its header is damaged")
    other = other_image_format(head)
    if other:
        return UnsupportedImageFormatError(name, f"{name} is {other}; the images accepted are {_accepted_list()}")
    return NotAnImageError(name, f"{name} is not an image: it looks like {what_else(head)}")


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " MP"


def check_pixels(size: tuple[int, int], name: str, subject: str | None = None) -> None:
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
        notes.append(f"first frame of an animated {format_label(fmt)}")
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


def scaled(image: Image.Image, header_size: tuple[int, int], orientation: int, notes: list[str]) -> Image.Image:
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
        notes.append(f"converted from {format_label(fmt)} to {out_fmt}")
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
