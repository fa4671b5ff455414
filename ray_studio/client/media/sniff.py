"""What a local file is: read with care (a folder, a device or a missing file named as such), and told
by its first bytes, never by its name."""

from __future__ import annotations

import os
import stat

from ray_studio.client.files import is_mp4_head
from ray_studio.client.media.errors import UnreadableFileError
from ray_studio.client.media.values import PathLike

_FORMAT_LABELS = {"WEBP": "WebP"}


def format_label(fmt: str) -> str:
    """A Pillow format name as people write it (``WEBP`` → ``WebP``)."""
    return _FORMAT_LABELS.get(fmt, fmt)


def display_name(source: object, name: str | None, default: str) -> str:
    """What messages call a file: ``name`` when given, else the path as given (``default`` for bytes)."""
    if name:
        return name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return default
    return os.fsdecode(source)  # type: ignore[arg-type]


def require_regular_file(path: PathLike, name: str) -> os.stat_result:
    try:
        info = os.stat(path)
    except OSError as err:
        raise UnreadableFileError(name, f"{name} cannot be read: {os_reason(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError(name, f"{name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(name, f"{name} is not a regular file")
    return info


def os_reason(err: OSError) -> str:
    """The OS's words without the path they may carry."""
    return (err.strerror or type(err).__name__).lower()


def read_at_most(path: PathLike, name: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except OSError as err:
        raise UnreadableFileError(name, f"{name} cannot be read: {os_reason(err)}") from None


HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
AVIF_BRANDS = (b"avif", b"avis")

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


def accepted_format_by_magic(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if is_mp4_head(head) and head[8:12] in AVIF_BRANDS:
        return "AVIF"
    return next((fmt for magic, fmt in _ACCEPTED_MAGIC if head.startswith(magic)), None)


def other_image_format(head: bytes) -> str | None:
    """What unaccepted image format this is, by its first bytes, or None."""
    if is_mp4_head(head) and head[8:12] in HEIF_BRANDS:
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


def what_else(head: bytes) -> str:
    """What a file that is neither an accepted image nor a video seems to be, for a refusal."""
    if is_mp4_head(head):
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
