"""Every failure the Ray Studio modules report: one small class per kind, one status ladder.

``str(err)`` is a line for the operator (CLI, log); ``err.visitor_message(...)`` is what a visitor
of a hosted page may read. This module imports nothing of the project's, so every other module can
raise these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

API_KEYS_PAGE = "https://cloud.segmind.com/console/api-keys"
BILLING_PAGE = "https://cloud.segmind.com/console/billing"
DEFAULT_MODEL = "ray-flash-2-720p"


# --------------------------------------------------------------------------- errors


class RayError(Exception):
    """Base of every failure this module reports. ``str(err)`` is a line a person can act on."""

    title = "Video generation failed"
    action = "Try again."

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        server_message: str | None = None,
        action: str | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.server_message = server_message
        if action is not None:
            self.action = action
        super().__init__(self.user_message)

    @property
    def explanation(self) -> str:
        """Everything but the title: the detail, Segmind's own words, and what to do."""
        parts = [p for p in (self.detail, self.server_message and f'Segmind said: "{self.server_message}"') if p]
        return "".join(f"{p}. " for p in parts) + self.action

    @property
    def user_message(self) -> str:
        """What went wrong and what to do, on one line."""
        head = self.title + (f" (HTTP {self.status})" if self.status else "")
        return f"{head}: {self.explanation}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.user_message!r})"


class InvalidRequestError(RayError):
    title = "Invalid request"
    action = "Fix that and try again; nothing was sent and nothing was charged."

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class MissingAPIKeyError(InvalidRequestError):
    title = "No API key"
    action = f"Set SEGMIND_API_KEY (in the environment or .env) or enter a key; get one at {API_KEYS_PAGE}."

    def __init__(self) -> None:
        super().__init__(["no Segmind API key was given"])


class APIStatusError(RayError):
    """Segmind answered with an error status."""


class BadRequestError(APIStatusError):
    title = "Segmind rejected the request"
    action = "Check the prompt, aspect ratio, duration and keyframe URLs, then try again."


class AuthenticationError(APIStatusError):
    title = "API key rejected"
    action = f"Check SEGMIND_API_KEY or the key you entered; keys are at {API_KEYS_PAGE}."


class PermissionDeniedError(APIStatusError):
    title = "Permission denied"
    action = "This key may not use this model; check the key's permissions and your Segmind plan."


class NotFoundError(APIStatusError):
    title = "Model not found"
    action = f"Check SEGMIND_BASE_URL and SEGMIND_MODEL (expected {DEFAULT_MODEL})."


class InsufficientCreditsError(APIStatusError):
    title = "Not enough credits"
    action = f"Add credits at {BILLING_PAGE}, then try again."


class RateLimitError(APIStatusError):
    title = "Rate limited"

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        wait = f"{max(1, round(retry_after))} seconds" if retry_after else "a minute"
        kwargs.setdefault("action", f"Too many requests: wait {wait} and try again.")
        super().__init__(*args, **kwargs)


class InternalServerError(APIStatusError):
    title = "Segmind server error"
    action = "The problem is on Segmind's side; try again in a minute."


class BadGatewayError(APIStatusError):
    title = "Segmind is temporarily unavailable"
    action = "Try again in a minute."


class GatewayTimeoutError(APIStatusError):
    title = "Segmind timed out"
    action = "Generation took too long upstream; try again, perhaps with a 5 s clip."


class APITimeoutError(RayError):
    title = "No answer in time"
    action = "Segmind may be busy; try again, or raise SEGMIND_READ_TIMEOUT."


class APIConnectionError(RayError):
    title = "Connection problem"
    action = "Check your network connection and SEGMIND_BASE_URL, then try again."


class CancelledError(RayError):
    title = "Cancelled"
    action = "No video was saved."


class InvalidResponseError(RayError):
    title = "Unexpected answer from Segmind"
    action = "No video was saved; try again, and report it if it keeps happening."


def error_for_status(status: int, server_message: str | None, retry_after: float | None = None) -> APIStatusError:
    """The error class for an HTTP status, as Segmind documents them."""
    if status == 400:
        return BadRequestError(status=status, server_message=server_message)
    if status == 401:
        return AuthenticationError(status=status, server_message=server_message)
    if status == 403:
        return PermissionDeniedError(status=status, server_message=server_message)
    if status == 404:
        return NotFoundError(status=status, server_message=server_message)
    if status in (402, 406):
        return InsufficientCreditsError(status=status, server_message=server_message)
    if status == 429:
        return RateLimitError(status=status, server_message=server_message, retry_after=retry_after)
    if status in (502, 503):
        return BadGatewayError(status=status, server_message=server_message)
    if status == 504:
        return GatewayTimeoutError(status=status, server_message=server_message)
    if status >= 500:
        return InternalServerError(status=status, server_message=server_message)
    return BadRequestError(status=status, server_message=server_message)
