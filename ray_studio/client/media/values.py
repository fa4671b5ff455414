"""The limits every media check applies, and what the checks give back: a Keyframe, a ClipInfo."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # also the page's upload limit (Gradio's max_file_size)
# Phones' 48 and 50 MP modes (8160×6144 is 50.1 MP) pass; a 20000×20000 bomb does not. Decoding a PNG
# this big takes about 0.3 GB (0.5 GB with transparency); a JPEG, decoded at reduced scale, 0.1 GB.
MAX_IMAGE_PIXELS = 52_000_000
MIN_IMAGE_SIDE = 128
MAX_KEYFRAME_SIDE = 1280  # the long side of Ray Flash 2's 720p output
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")  # Pillow's names


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
