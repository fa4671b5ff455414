"""Test images and clips for media.py, made on the spot with Pillow and PyAV (nothing downloaded)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
from PIL import ExifTags, Image

RED, GREEN, BLUE, WHITE = (230, 20, 20), (20, 200, 40), (30, 40, 220), (255, 255, 255)
Colour = tuple[int, int, int]


# --------------------------------------------------------------------------- images


def image_bytes(fmt: str, size: tuple[int, int] = (640, 480), colour: Colour = RED, mode: str = "RGB", **save) -> bytes:
    """A solid image of ``colour`` encoded as ``fmt``; ``save`` goes to Image.save (exif=, quality=...)."""
    image = Image.new("RGB", size, colour)
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def halves(size: tuple[int, int], left: Colour = RED, right: Colour = BLUE) -> Image.Image:
    """An image whose left half is ``left`` and right half ``right``: shows any turn or flip."""
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def noise_jpeg(size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG with detail everywhere, so that cutting it anywhere loses real image data."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    """EXIF with a camera, a date and a GPS position (Paris), and optionally an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.DateTime] = "2024:05:01 12:00:00"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    return exif


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says ``width``×``height`` but which holds only a few bytes of pixel data:
    reading its header is cheap, while decoding it would fail as cut short (or, were the data there,
    need width×height×4 bytes of memory)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_header_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to claim ``width``×``height``."""
    data = bytearray(image_bytes("JPEG", (160, 160)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


# --------------------------------------------------------------------------- clips


def video_encoder() -> str:
    """The best H.264 (or, failing that, MPEG-4) encoder this PyAV wheel has."""
    for name in ("libx264", "libopenh264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        return name
    raise RuntimeError("this PyAV has no H.264 or MPEG-4 encoder")


def write_clip(
    path: Path,
    colours: Sequence[Colour | Image.Image],
    *,
    size: tuple[int, int] = (320, 180),
    fps: int = 24,
    frames_each: int = 6,
    gop: int | None = None,
    faststart: bool = False,
    with_audio: bool = False,
) -> Path:
    """An MP4 showing each colour (or image) for ``frames_each`` frames; B-frames on, as x264 makes them.
    ``gop``: frames between keyframes (default: the encoder's, one keyframe for a short clip)."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", container_options=options) as out:
        stream = out.add_stream(video_encoder(), rate=fps, options={"g": str(gop)} if gop else {})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        audio = _silent_audio_stream(out) if with_audio else None
        for colour in colours:
            picture = colour if isinstance(colour, Image.Image) else Image.new("RGB", size, colour)
            for _ in range(frames_each):
                out.mux(stream.encode(av.VideoFrame.from_image(picture)))
        out.mux(stream.encode(None))
        if audio is not None:
            _write_silence(out, audio, seconds=len(colours) * frames_each / fps)
    return path


def _silent_audio_stream(out: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    stream = out.add_stream("aac", rate=48000)
    stream.layout = "mono"
    return stream


def _write_silence(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    samples = int(48000 * seconds)
    frame = av.AudioFrame(format="fltp", layout="mono", samples=samples)
    frame.planes[0].update(bytes(frame.planes[0].buffer_size))
    frame.sample_rate, frame.pts, frame.time_base = 48000, 0, Fraction(1, 48000)
    out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def with_display_rotation(data: bytes) -> bytes:
    """The MP4 with its video track's matrix set as a phone sets it for a portrait video: the stored
    picture is to be shown turned 90° clockwise."""
    patched = bytearray(data)
    tkhd = patched.index(b"tkhd")
    version = patched[tkhd + 4]
    matrix = tkhd + 8 + (32 if version == 1 else 20) + 8 + 8
    height = struct.unpack(">I", patched[matrix + 40 : matrix + 44])[0]  # 16.16 fixed point
    struct.pack_into(">9i", patched, matrix, 0, 0x10000, 0, -0x10000, 0, 0, height, 0, 0x40000000)
    return bytes(patched)


def cut_inside_media_data(data: bytes) -> bytes:
    """The file cut halfway through its frames' data (its index, if it comes first, stays whole)."""
    mdat = data.index(b"mdat")
    return data[: mdat + (len(data) - mdat) // 2]


def cut_before_packet(path: Path, index: int) -> bytes:
    """The file cut where its ``index``-th frame's data starts: the frames before it whole, the rest gone
    (with its index first, such a file opens and its first frames decode)."""
    with av.open(str(path)) as container:
        starts = sorted(packet.pos for packet in container.demux(video=0) if packet.size)
    return path.read_bytes()[: starts[index]]


def noise_pictures(count: int, size: tuple[int, int] = (320, 180)) -> list[Image.Image]:
    """Pictures of grey noise: frames that take real room in a clip, unlike solid colours."""
    return [Image.effect_noise(size, 50 + 10 * i).convert("RGB") for i in range(count)]
