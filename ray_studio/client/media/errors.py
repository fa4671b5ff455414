"""Every refusal of a local image or clip: a ``MediaError``, an ``InvalidRequestError`` (the CLI exits 2 on
it and the page shows "Invalid request"), whose ``file_name`` is the file's display name."""

from __future__ import annotations

from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.media.values import MAX_KEYFRAME_SIDE

NOTHING_SENT = "nothing was sent"
NOTHING_WRITTEN = "nothing was written"


class MediaError(InvalidRequestError):
    """A local file that cannot be used as it is; nothing was sent. ``file_name`` is its display name."""

    action = f"Fix that and try again; {NOTHING_SENT}."

    def __init__(self, file_name: str, problem: str) -> None:
        self.file_name = file_name
        super().__init__([problem])


class UnreadableFileError(MediaError):
    action = f"Check the file's name and folder, then try again; {NOTHING_SENT}."


class NotAnImageError(MediaError):
    action = f"Choose a JPEG, PNG or WebP image and try again; {NOTHING_SENT}."


class UnsupportedImageFormatError(MediaError):
    action = f"Save it as JPEG, PNG or WebP and try again; {NOTHING_SENT}."


class CorruptImageError(MediaError):
    action = f"Download or export the image again, then try again; {NOTHING_SENT}."


class ImageFileTooLargeError(MediaError):
    action = (
        f"Save it smaller (as a JPEG, or scaled to {MAX_KEYFRAME_SIDE} px on the long side: the model uses no more)"
        f" and try again; {NOTHING_SENT}."
    )


class ImageTooLargeError(MediaError):
    """Too many pixels: refused from the header, before anything is decoded."""

    action = (
        f"Scale it down ({MAX_KEYFRAME_SIDE} px on the long side is all the model uses) and try again; {NOTHING_SENT}."
    )


class ImageTooSmallError(MediaError):
    action = f"Use a larger image (the video is 720p) and try again; {NOTHING_SENT}."


class UndecodableVideoError(MediaError):
    action = f"Choose a whole MP4, MOV, WebM or MKV video and try again; {NOTHING_SENT}."


class TooFewClipsError(MediaError):
    action = f"Give two or more clips to join; {NOTHING_WRITTEN}."


class UnsupportedClipError(MediaError):
    action = f"Join only silent MP4 or MOV clips, such as Ray's; {NOTHING_WRITTEN}."


class ClipsDoNotMatchError(MediaError):
    action = f"Join only clips made with the same shape and settings; {NOTHING_WRITTEN}."


class JoinOutputError(MediaError):
    """The joined clip cannot be written where asked (no such folder, no permission, disk full)."""

    action = f"Choose a folder that exists and that you may write to; {NOTHING_WRITTEN}."
    # A visitor asked the page for the join: the folder is the server's, and its path is nobody else's business.
    detail_for_visitors = False
    visitor_action = "This server could not write the joined clip (its disk may be full); try again later."
