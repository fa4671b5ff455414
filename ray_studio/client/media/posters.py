"""A clip's poster: its first frame as a small JPEG, for a grid that shows pictures before any video
loads (and for a shared link's preview card)."""

from __future__ import annotations

import io

from ray_studio.client.media.sniff import display_name
from ray_studio.client.media.values import PathLike

POSTER_SIDE = 640  # the long side of a poster: a grid cell, or a chat's preview card
POSTER_QUALITY = 82


def poster_jpeg(clip: PathLike, name: str | None = None, side: int = POSTER_SIDE) -> bytes:
    """The clip's first frame, upright, at most ``side`` on its long side, as JPEG bytes; an
    UndecodableVideoError (naming the clip as ``name``) when it has no frame to show."""
    import av  # PyAV, only once a poster is made

    from ray_studio.client.media.clips import av_reason, open_clip, undecodable

    name = display_name(clip, name, "the clip")
    with open_clip(clip, name) as (container, stream):
        try:
            frame = next(container.decode(stream), None)
        except av.FFmpegError as err:
            raise undecodable(name, av_reason(err)) from None
        if frame is None:
            raise undecodable(name, "it has no frames")
        image = frame.to_image()
        if frame.rotation:
            image = image.rotate(frame.rotation, expand=True)  # as players show it
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=POSTER_QUALITY)
    return buffer.getvalue()
