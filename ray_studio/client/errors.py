"""Every failure the Ray Studio modules report: one small class per kind, one status ladder.

``str(err)`` is a line for the operator (CLI, log); ``err.visitor_message(...)`` is what a visitor
of a hosted page may read. This module imports nothing of the project's, so every other module can
raise these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

API_KEYS_PAGE = "https://cloud.segmind.com/console/api-keys"
BILLING_PAGE = "https://cloud.segmind.com/console/billing"
DEFAULT_MODEL = "ray-flash-2-720p"
# What a visitor on the page's own key reads of a problem with the owner's Segmind account (credits,
# billing, the key itself): what it means for them, not the account's own words.
PAGE_CANNOT = "This page cannot make clips right now"
PASTE_YOUR_OWN = "Paste your own Segmind key to go on."


# --------------------------------------------------------------------------- errors


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
SECRET_PIECE = 8  # no run of this many characters of a key may appear anywhere a person or a log can see
KEY_HIDDEN = "[key hidden]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every piece of SECRET_PIECE or more characters of any secret, in any letter
    case, replaced by KEY_HIDDEN (a shorter secret is hidden whole)."""
    if not text:
        return text
    folded = text.translate(_ASCII_LOWER)  # keeps every index: keys are ASCII
    hidden = bytearray(len(text))
    for secret in secrets:
        if not isinstance(secret, str) or not secret:
            continue
        secret = secret.translate(_ASCII_LOWER)
        size = min(SECRET_PIECE, len(secret))
        for piece in {secret[i : i + size] for i in range(len(secret) - size + 1)}:
            at = folded.find(piece)
            while at != -1:
                hidden[at : at + size] = b"\x01" * size
                at = folded.find(piece, at + 1)
    if not any(hidden):
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if not hidden[i]:
            out.append(ch)
        elif i == 0 or not hidden[i - 1]:
            out.append(KEY_HIDDEN)
    return "".join(out)


def sentence(text: str) -> str:
    """``text`` as a sentence begins: its first letter a capital (the rest as written)."""
    return text[:1].upper() + text[1:]


def _ended(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def holds_key(text: str, secrets: Iterable[str | None]) -> bool:
    """Whether ``text`` spells SECRET_PIECE characters of any secret in a row, in any letter case, forwards
    or backwards, even with separators between them (``stan-din--test-…``): for an id that a person
    reads, where no key may be hidden in plain sight. Compares letters and digits only."""
    letters = "".join(ch for ch in text.translate(_ASCII_LOWER) if ch.isascii() and ch.isalnum())
    for secret in secrets:
        if not isinstance(secret, str) or not secret:
            continue
        plain = "".join(ch for ch in secret.translate(_ASCII_LOWER) if ch.isascii() and ch.isalnum())
        size = min(SECRET_PIECE, len(plain))
        pieces = {plain[i : i + size] for i in range(len(plain) - size + 1)} if size else set()
        if any(piece in letters or piece in letters[::-1] for piece in pieces):
            return True
    return False


class RayError(Exception):
    """Base of every failure this module reports.

    ``str(err)`` (``user_message``) speaks to the operator: the CLI user, the log. ``visitor_message``
    speaks to a visitor of a hosted page, who cannot set the server's variables and must not read its
    addresses or paths: classes say what a visitor may do instead (``visitor_action``), and hide details
    that name hosts or settings; a problem of the account behind the page's own key reads as what it
    means for the visitor (``owner_account``).
    """

    title = "Video generation failed"
    action = "Try again."
    visitor_action: str | None = None  # None: the same as ``action``
    detail_for_visitors = True
    # About the account behind the key (credits, billing, the key itself). On the page's key a visitor
    # reads only what it means for them (PAGE_CANNOT); the owner reads the rest in the log.
    owner_account = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        server_message: str | None = None,
        action: str | None = None,
        visitor_detail: str | None = None,
        visitor_action: str | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.server_message = server_message
        self.visitor_detail = visitor_detail
        if action is not None:
            self.action = action
        if visitor_action is not None:
            self.visitor_action = visitor_action
        super().__init__(self.user_message)

    def _explain(self, detail: str | None, action: str) -> str:
        parts = [p for p in (detail, self.server_message and f'Segmind said: "{self.server_message}"') if p]
        return "".join(f"{_ended(p)} " for p in parts) + action

    @property
    def explanation(self) -> str:
        """Everything but the title: the detail, Segmind's own words, and what to do."""
        return self._explain(self.detail, self.action)

    @property
    def heading(self) -> str:
        return self.title + (f" (HTTP {self.status})" if self.status else "")

    @property
    def user_message(self) -> str:
        """What went wrong and what to do, on one line, for the operator."""
        return f"{self.heading}: {self.explanation}"

    def about_page_account(self, own_key: bool) -> bool:
        """Whether this is the page owner's account's business, not the visitor's."""
        return self.owner_account and not own_key

    def visitor_title(self, own_key: bool = True) -> str:
        return PAGE_CANNOT if self.about_page_account(own_key) else self.title

    def visitor_explanation(self, own_key: bool = True) -> str:
        """Everything but the title, for a visitor of a hosted page, in sentences."""
        if self.about_page_account(own_key):
            return PASTE_YOUR_OWN
        action = self.visitor_action or self.action
        detail = self.visitor_detail or (self.detail if self.detail_for_visitors else None)
        return sentence(self._explain(detail, action))

    def visitor_message(self, own_key: bool = True) -> str:
        """What went wrong and what to do, for a visitor who used their own key (or the page's): the
        title (with the HTTP status on their own key) as the first sentence."""
        heading = self.visitor_title(own_key) if self.about_page_account(own_key) else self.heading
        return f"{_ended(heading)} {self.visitor_explanation(own_key)}"

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
    visitor_action = (
        f"This page has no Segmind key of its own: paste yours under 'Your Segmind API key' (get one at "
        f"{API_KEYS_PAGE}). Nothing was sent."
    )
    detail_for_visitors = False  # the title says it

    def __init__(self) -> None:
        super().__init__(["no Segmind API key was given"])


class KeyFormatError(InvalidRequestError):
    title = "Invalid API key"
    action = "Paste the key again, exactly as Segmind shows it; nothing was sent."

    def __init__(self) -> None:
        # Never quote the key: it may be real with one stray character.
        super().__init__(["the API key holds characters a Segmind key never has (spaces, line breaks or non-ASCII)"])


class OutputNotWritableError(InvalidRequestError):
    title = "Cannot save the video there"
    action = "Choose another place to save it; nothing was sent and nothing was charged."
    visitor_action = "This server cannot save clips right now; the owner has been told. Nothing was charged."
    detail_for_visitors = False  # names paths


class APIStatusError(RayError):
    """Segmind answered with an error status; ``retry_after``: the seconds it asked to wait, if it said."""

    retry_after: float | None = None


class BadRequestError(APIStatusError):
    title = "Segmind rejected the request"
    action = "Check the prompt, aspect ratio, duration and keyframe URLs, then try again."


class AuthenticationError(APIStatusError):
    title = "API key rejected"
    action = f"Check SEGMIND_API_KEY or the key you entered; keys are at {API_KEYS_PAGE}."
    visitor_action = f"Check the key you pasted; keys are at {API_KEYS_PAGE}."
    owner_account = True


class PermissionDeniedError(APIStatusError):
    title = "Permission denied"
    action = "This key may not use this model; check the key's permissions and your Segmind plan."
    owner_account = True


class NotFoundError(APIStatusError):
    title = "Model not found"
    action = f"Check SEGMIND_BASE_URL and SEGMIND_MODEL (expected {DEFAULT_MODEL})."
    visitor_action = "This page is set up for a model Segmind does not know; its owner needs to fix that."


class QueueUnavailableError(NotFoundError):
    """Segmind's queue (v2) answered 404 for this model; ``generate`` falls back to the v1 call."""


class JobNotFoundError(APIStatusError):
    title = "Job not found"
    action = "Segmind keeps results for about an hour: check the job id, or make the clip again."


class InsufficientCreditsError(APIStatusError):
    title = "Not enough credits"
    action = f"Add credits at {BILLING_PAGE}, then try again."
    owner_account = True


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
    visitor_action = "Segmind may be busy; try again in a minute."
    detail_for_visitors = False


class APIConnectionError(RayError):
    title = "Connection problem"
    action = "Check your network connection and SEGMIND_BASE_URL, then try again."
    visitor_action = "This server could not reach Segmind; try again in a minute."
    detail_for_visitors = False  # names hosts


class CancelledError(RayError):
    title = "Cancelled"
    action = "No video was saved."


class InvalidResponseError(RayError):
    title = "Unexpected answer from Segmind"
    action = "No video was saved; try again, and report it if it keeps happening."


class JobIdHoldsKeyError(InvalidResponseError):
    """Segmind accepted a submission but answered with a job id that holds a piece of an API key: an
    id is shown, logged and saved, so it is refused like any upstream text that would show a key."""

    action = (
        "The clip may have been made and billed, but it cannot be followed from here: check your Segmind "
        "console before trying again, and report it."
    )
    visitor_action = "The clip may have been made and billed; check your history before trying again."

    def __init__(self) -> None:
        super().__init__("Segmind accepted the submission but answered with a job id that holds part of an API key")


class RedirectRefusedError(InvalidResponseError):
    title = "Redirect refused"
    action = "The key was not sent there and nothing was saved; check SEGMIND_BASE_URL."
    visitor_action = "Segmind's answer pointed somewhere else; nothing was sent there. Try again later."
    detail_for_visitors = False  # names hosts


class VideoTooLargeError(InvalidResponseError):
    title = "Video too large"
    action = "Nothing was saved; raise SEGMIND_MAX_VIDEO_BYTES if such clips are expected."
    visitor_action = "Segmind sent a video far larger than a clip can be; nothing was saved."


class ClipNotSavedError(RayError):
    title = "Clip not saved"
    action = "Segmind keeps the clip for about an hour: fetch it again by its job id (no new charge)."
    visitor_action = "It stays in your history: reload the page in a minute to fetch it again (no new charge)."
    detail_for_visitors = False  # names paths


class JobFailedError(RayError):
    title = "Segmind could not make this clip"
    action = (
        "Segmind bills a clip it started, so this attempt was probably charged; nothing was saved. "
        "Change the prompt or keyframes and try again."
    )
    visitor_action = (
        "Segmind bills a clip it started, so this attempt was probably charged. "
        "Change the prompt or keyframes and try again."
    )


class JobTimeoutError(RayError):
    title = "Still not ready"
    action = "The clip may still be finished at Segmind; fetch it later by its job id."


class UploadError(RayError):
    """The storage upload of a keyframe failed; no generation was sent."""

    title = "Image upload failed"
    action = "No video was made and nothing was charged; try again in a minute."


class UploadAuthenticationError(UploadError):
    title = "Image upload refused: API key rejected"
    action = f"Check SEGMIND_API_KEY or the key you entered; keys are at {API_KEYS_PAGE}. No video was made."
    visitor_action = f"Check the key you pasted; keys are at {API_KEYS_PAGE}. No video was made."
    owner_account = True


class UploadTooLargeError(UploadError):
    title = "Image too large for Segmind's storage"
    action = "Use a smaller image (fewer pixels, or JPEG); no video was made and nothing was charged."


class UploadServerError(UploadError):
    title = "Segmind's storage failed"
    action = "The problem is on Segmind's side; try again in a minute. No video was made."


class UploadResponseError(UploadError):
    title = "Unexpected answer from Segmind's storage"
    action = "No video was made and nothing was charged; try again, and report it if it keeps happening."


AnyRayError = TypeVar("AnyRayError", bound=RayError)


@dataclass(frozen=True)
class Advice:
    """What to do after a failure, which only the step that failed knows (whether the clip may have
    been billed, whether it can be fetched again): it replaces the error class's own advice."""

    action: str
    visitor_detail: str
    visitor_action: str

    def applied_to(self, err: AnyRayError) -> AnyRayError:
        """``err`` again, of the same class, with its detail, status and Segmind's own words, and this
        advice (for the classes built as RayError is: transport and answer failures)."""
        return type(err)(
            err.detail,
            status=err.status,
            server_message=err.server_message,
            action=self.action,
            visitor_detail=self.visitor_detail,
            visitor_action=self.visitor_action,
        )


# --------------------------------------------------------------------------- the status ladders


def error_for_status(status: int, server_message: str | None, retry_after: float | None = None) -> APIStatusError:
    """The error class for an HTTP status, as Segmind documents them, with its Retry-After if any (a
    503 may name one as well as a 429)."""
    err = _status_error(status, server_message, retry_after)
    err.retry_after = retry_after
    return err


def _status_error(status: int, server_message: str | None, retry_after: float | None) -> APIStatusError:
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


def upload_error_for_status(status: int, server_message: str | None) -> UploadError:
    """The error class for an HTTP status from Segmind's storage upload."""
    if status == 401:
        return UploadAuthenticationError(status=status, server_message=server_message)
    if status == 413:
        return UploadTooLargeError(status=status, server_message=server_message)
    if status >= 500:
        return UploadServerError(status=status, server_message=server_message)
    return UploadError(status=status, server_message=server_message)
