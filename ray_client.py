"""Ray Studio's client for Luma's Ray Flash 2 (720p) on Segmind: the one import scripts need.

Library use::

    from ray_client import RayClient, VideoRequest, RayError
    with RayClient.from_env() as client:
        result = client.generate(VideoRequest("a red kite over dunes"), "kite.mp4")

A clip is a job on Segmind's queue (v2) by default: ``submit`` returns a ``Job`` at once,
``status``/``wait`` follow it, ``fetch`` saves its clip, and a job id is enough to fetch it again
later. ``python ray_client.py "PROMPT" ...`` is the command line (``--help`` lists its options).

Everything here lives in ``ray_studio.client``; this module only names what people use.
"""

from __future__ import annotations

import sys

from ray_studio.client.camera import CAMERA_MOVES, UnknownCameraMoveError, with_camera
from ray_studio.client.client import RayClient
from ray_studio.client.enhance import QuotesLostError
from ray_studio.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    CancelledError,
    ClipNotSavedError,
    GatewayTimeoutError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    InvalidResponseError,
    JobFailedError,
    JobIdHoldsKeyError,
    JobNotFoundError,
    JobTimeoutError,
    KeyFormatError,
    MissingAPIKeyError,
    NotFoundError,
    OutputNotWritableError,
    PermissionDeniedError,
    QueueUnavailableError,
    RateLimitError,
    RayError,
    RedirectRefusedError,
    UploadAuthenticationError,
    UploadError,
    UploadResponseError,
    UploadServerError,
    UploadTooLargeError,
    VideoTooLargeError,
)
from ray_studio.client.job import Job, JobStatus, Update, VideoResult
from ray_studio.client.llm import ChatFailedError, EmptyReplyError
from ray_studio.client.request import ASPECT_RATIOS, DURATIONS, VideoRequest
from ray_studio.client.settings import Settings

__all__ = [
    "ASPECT_RATIOS",
    "CAMERA_MOVES",
    "DURATIONS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "CancelledError",
    "ChatFailedError",
    "ClipNotSavedError",
    "EmptyReplyError",
    "GatewayTimeoutError",
    "InsufficientCreditsError",
    "InternalServerError",
    "InvalidRequestError",
    "InvalidResponseError",
    "Job",
    "JobFailedError",
    "JobIdHoldsKeyError",
    "JobNotFoundError",
    "JobStatus",
    "JobTimeoutError",
    "KeyFormatError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OutputNotWritableError",
    "PermissionDeniedError",
    "QueueUnavailableError",
    "QuotesLostError",
    "RateLimitError",
    "RayClient",
    "RayError",
    "RedirectRefusedError",
    "Settings",
    "UnknownCameraMoveError",
    "Update",
    "UploadAuthenticationError",
    "UploadError",
    "UploadResponseError",
    "UploadServerError",
    "UploadTooLargeError",
    "VideoRequest",
    "VideoResult",
    "VideoTooLargeError",
    "with_camera",
]

if __name__ == "__main__":
    from ray_studio.client.cli import main

    sys.exit(main())
