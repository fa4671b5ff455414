"""Client for Luma's Ray Flash 2 (720p) video model on Segmind's hosted API.

Library use::

    from ray_client import RayClient, VideoRequest
    result = RayClient.from_env().generate(VideoRequest("a red kite over dunes"), "kite.mp4")

Command line: ``python ray_client.py "PROMPT" [--aspect-ratio 16:9] [--duration 5] ...``

No UI imports here: the app and the CLI are both thin layers over this module.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import json
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ray_errors import (  # noqa: F401  (re-exported: ray_client is the one import people use)
    API_KEYS_PAGE,
    BILLING_PAGE,
    DEFAULT_MODEL,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    CancelledError,
    GatewayTimeoutError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    InvalidResponseError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RayError,
    error_for_status,
)

DEFAULT_BASE_URL = "https://api.segmind.com/v1"
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
DURATIONS = (5, 9)
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_DURATION = 5
MAX_PROMPT_CHARS = 2000
MAX_URL_CHARS = 2048
CHUNK_BYTES = 1 << 20

ProgressCallback = Callable[[str], None]


# --------------------------------------------------------------------------- request


def _coerce_duration(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _coerce_loop(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _url_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be a URL string"
    if len(value) > MAX_URL_CHARS:
        return f"{name} is {len(value)} characters long; the limit is {MAX_URL_CHARS}"
    if any(ch.isspace() for ch in value):
        return f"{name} contains spaces; paste the image's full address"
    try:
        parts = urlsplit(value)
    except ValueError:
        return f"{name} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an absolute http:// or https:// address of an image (got {value[:60]!r})"
    return None


@dataclass(frozen=True)
class VideoRequest:
    """One generation's parameters. Construction validates: a bad value raises InvalidRequestError
    naming every problem, before anything is sent.

    Lenient only where a form or the API naturally sends another spelling of the same value
    ("9" or 9.0 for a duration, "true" for loop, "" for no keyframe); everything else is refused.
    """

    prompt: str
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    duration: int = DEFAULT_DURATION
    loop: bool = False
    start_image_url: str | None = None
    end_image_url: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        normalised: dict[str, Any] = {}

        if not isinstance(self.prompt, str):
            problems.append("prompt must be text")
        else:
            prompt = self.prompt.strip()
            if not prompt:
                problems.append("prompt is empty; describe the video you want")
            elif len(prompt) > MAX_PROMPT_CHARS:
                problems.append(f"prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}")
            elif "\x00" in prompt:
                problems.append("prompt contains a NUL character")
            normalised["prompt"] = prompt

        ratio = self.aspect_ratio.strip() if isinstance(self.aspect_ratio, str) else self.aspect_ratio
        if ratio not in ASPECT_RATIOS:
            problems.append(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)} (got {ratio!r})")
        normalised["aspect_ratio"] = ratio

        duration = _coerce_duration(self.duration)
        if duration not in DURATIONS:
            problems.append(f"duration must be 5 or 9 seconds (got {self.duration!r})")
        normalised["duration"] = duration

        loop = _coerce_loop(self.loop)
        if loop is None:
            problems.append(f"loop must be true or false (got {self.loop!r})")
        normalised["loop"] = loop

        for name in ("start_image_url", "end_image_url"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = value.strip() or None
            if value is not None and (problem := _url_problem(name, value)):
                problems.append(problem)
            normalised[name] = value

        if problems:
            raise InvalidRequestError(problems)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body Segmind expects; keyframes only when set."""
        body: dict[str, Any] = {
            "prompt": self.prompt,
            "aspect_ratio": self.aspect_ratio,
            "duration": self.duration,
            "loop": self.loop,
        }
        if self.start_image_url:
            body["start_image_url"] = self.start_image_url
        if self.end_image_url:
            body["end_image_url"] = self.end_image_url
        return body

    def describe(self) -> str:
        """A short human summary, e.g. ``16:9 · 5 s · loop · start+end keyframes``."""
        parts = [self.aspect_ratio, f"{self.duration} s"]
        if self.loop:
            parts.append("loop")
        frames = [n for n, v in (("start", self.start_image_url), ("end", self.end_image_url)) if v]
        if frames:
            parts.append("+".join(frames) + " keyframe" + ("s" if len(frames) > 1 else ""))
        return " · ".join(parts)


# --------------------------------------------------------------------------- settings


def env_number(env: dict[str, str], name: str, default: float) -> float:
    """A non-negative number setting; InvalidRequestError naming the variable if it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequestError([f"{name} must be a number (got {raw!r})"]) from None
    if value < 0:
        raise InvalidRequestError([f"{name} must not be negative (got {raw!r})"])
    return value


def env_bool(env: dict[str, str], name: str, default: bool) -> bool:
    """A yes/no setting (1/0, true/false, yes/no, on/off); InvalidRequestError otherwise."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidRequestError([f"{name} must be true or false (got {raw!r})"])


@dataclass(frozen=True)
class Settings:
    """Client settings; ``from_env`` documents the variable behind each (see .env.example)."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_retries: int = 2
    max_retry_wait: float = 30.0
    retry_gateway_errors: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            api_key=env.get("SEGMIND_API_KEY", "").strip() or None,
            base_url=env.get("SEGMIND_BASE_URL", "").strip() or DEFAULT_BASE_URL,
            model=env.get("SEGMIND_MODEL", "").strip() or DEFAULT_MODEL,
            connect_timeout=env_number(env, "SEGMIND_CONNECT_TIMEOUT", 10.0),
            read_timeout=env_number(env, "SEGMIND_READ_TIMEOUT", 300.0),
            max_retries=int(env_number(env, "SEGMIND_MAX_RETRIES", 2)),
            max_retry_wait=env_number(env, "SEGMIND_MAX_RETRY_WAIT", 30.0),
            retry_gateway_errors=env_bool(env, "SEGMIND_RETRY_GATEWAY_ERRORS", False),
        )

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.model.strip('/')}"


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class VideoResult:
    path: Path
    request: VideoRequest
    elapsed_seconds: float
    size_bytes: int
    remaining_credits: float | None = None
    credits_consumed: float | None = None
    attempts: int = 1

    @property
    def size_label(self) -> str:
        """The file size for people: ``3.1 MB`` or ``12 kB``."""
        size = self.size_bytes
        return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"

    def summary(self) -> str:
        """One line for people: parameters, time, size, credits."""
        parts = [
            self.request.describe(),
            f"{self.elapsed_seconds:.1f} s",
            self.size_label,
        ]
        if self.remaining_credits is not None:
            parts.append(f"{self.remaining_credits:g} credits left")
        return " · ".join(parts)


# --------------------------------------------------------------------------- response reading


def _is_mp4_head(head: bytes) -> bool:
    # Every MP4/MOV/3GP file starts with a box whose type sits at bytes 4..8: 'ftyp' normally.
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _header_number(response: requests.Response, name: str) -> float | None:
    raw = response.headers.get(name)
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _expected_size(response: requests.Response) -> int | None:
    """Bytes the body should have once decoded; unknown when it is compressed in transit."""
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    length = _header_number(response, "Content-Length")
    return int(length) if length is not None else None


def _parse_retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(body: bytes, content_type: str, secret: str | None) -> str | None:
    """Segmind's own error text: ``{"error": ...}`` normally; any short plain text otherwise."""
    text = body.decode("utf-8", "replace").strip()
    message: str | None = None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("error")
            if isinstance(value, str) and value.strip():
                message = value.strip()
                break
    elif isinstance(data, str):
        message = data.strip()
    elif data is None and "html" not in content_type.lower() and not text.startswith("<"):
        message = text or None
    if message is None:
        return None
    message = " ".join(message.split())
    if secret:
        message = message.replace(secret, "[key hidden]")
    return message[:300] + ("…" if len(message) > 300 else "")


_VIDEO_KEYS = ("video", "video_url", "url", "output", "outputs", "result", "data", "file", "image")


def _find_video_reference(data: Any) -> str | None:
    """A URL, data URI or base64 string of the video inside a JSON success body."""
    if isinstance(data, str):
        candidate = data.strip()
        if candidate.startswith(("http://", "https://", "data:")):
            return candidate
        if len(candidate) >= 64 and not any(ch.isspace() for ch in candidate[:200]):
            return candidate
        return None
    if isinstance(data, list):
        for item in data:
            if found := _find_video_reference(item):
                return found
        return None
    if isinstance(data, dict):
        for key in _VIDEO_KEYS:
            if key in data and (found := _find_video_reference(data[key])):
                return found
    return None


def _decode_base64_video(reference: str) -> bytes:
    payload = reference.split(",", 1)[1] if reference.startswith("data:") else reference
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponseError("the JSON answer holds no video URL or base64 video") from None


class _AtomicVideoFile:
    """Writes to ``NAME.incomplete`` beside the target and renames into place only when whole and
    an MP4; any failure removes the partial file, so a path either holds a whole video or nothing."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.incomplete")

    def write(self, chunks: Iterable[bytes], expected_size: int | None) -> int:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with open(self.partial, "wb") as out:
                head = b""
                for chunk in chunks:
                    if not chunk:
                        continue
                    if len(head) < 12:
                        head += chunk[:12]
                        if len(head) >= 12 and not _is_mp4_head(head):
                            raise InvalidResponseError("the answer is not an MP4 video")
                    out.write(chunk)
                    size += len(chunk)
            if not _is_mp4_head(head):
                raise InvalidResponseError("the answer was empty" if size == 0 else "the answer is not an MP4 video")
            if expected_size is not None and size != expected_size:
                raise APIConnectionError(
                    f"the download was cut off after {size:,} of {expected_size:,} bytes",
                    action="No video was saved; try again.",
                )
            os.replace(self.partial, self.target)
        except BaseException:
            self.partial.unlink(missing_ok=True)
            raise
        return size


def _iter_body(response: requests.Response, cancel: threading.Event | None) -> Iterator[bytes]:
    for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
        if cancel is not None and cancel.is_set():
            raise CancelledError("stopped while the video was downloading")
        yield chunk


# --------------------------------------------------------------------------- client


def _is_connect_failure(err: requests.exceptions.ConnectionError) -> bool:
    """True when the request never left: no connection was made, so nothing can be billed."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError))


class RayClient:
    """Sends one generation at a time per call; safe to share between threads (one pooled Session)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or Settings()
        self._session = session or requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._sleep = sleep

    @classmethod
    def from_env(cls) -> RayClient:
        return cls(Settings.from_env())

    def __repr__(self) -> str:
        return f"RayClient(endpoint={self.settings.endpoint!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(
        self,
        request: VideoRequest,
        output: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> VideoResult:
        """Make one clip and save it at ``output``. ``api_key`` overrides the configured key
        (a visitor's own). Raises a RayError subclass on every expected failure."""
        key = (api_key or "").strip() or self.settings.api_key
        if not key:
            raise MissingAPIKeyError()
        target = Path(output)
        if target.is_dir():
            raise InvalidRequestError([f"output {str(target)!r} is a folder; give a file name ending in .mp4"])
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                raise CancelledError("stopped before sending" if attempt == 1 else "stopped while waiting to retry")
            try:
                response = self._post(request, key)
            except RayError as err:
                wait = self._retry_wait(err, attempt)
                if wait is None:
                    raise
                if progress:
                    progress(f"{err.title.lower()}; retrying in {wait:.0f} s (attempt {attempt + 1})")
                self._sleep(wait)
                continue
            with response:
                size, credits_left, consumed = self._save(response, target, key, cancel)
            return VideoResult(
                path=target,
                request=request,
                elapsed_seconds=time.monotonic() - started,
                size_bytes=size,
                remaining_credits=credits_left,
                credits_consumed=consumed,
                attempts=attempt,
            )

    def _post(self, request: VideoRequest, key: str) -> requests.Response:
        s = self.settings
        try:
            response = self._session.post(
                s.endpoint,
                json=request.to_payload(),
                headers={"x-api-key": key, "Accept": "video/mp4, application/json"},
                timeout=(s.connect_timeout, s.read_timeout),
                stream=True,
            )
        except requests.exceptions.ConnectionError as err:
            if isinstance(err, requests.exceptions.ConnectTimeout):
                raise APITimeoutError(
                    f"could not connect to {urlsplit(s.endpoint).netloc} within {s.connect_timeout:g} s",
                    action="Check your network connection and SEGMIND_BASE_URL, then try again.",
                ) from err
            failed_to_connect = _is_connect_failure(err)
            raise APIConnectionError(
                f"could not reach {urlsplit(s.endpoint).netloc}"
                if failed_to_connect
                else "the connection dropped before Segmind answered",
            ) from err
        except requests.exceptions.Timeout as err:
            raise APITimeoutError(f"Segmind sent nothing for {s.read_timeout:g} s") from err
        except requests.exceptions.RequestException as err:
            raise APIConnectionError(f"the request failed ({type(err).__name__})") from err

        if response.status_code >= 400:
            with response:
                body = self._read_small(response)
            raise error_for_status(
                response.status_code,
                _server_message(body, response.headers.get("Content-Type", ""), key),
                _parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    @staticmethod
    def _read_small(response: requests.Response, limit: int = 64 * 1024) -> bytes:
        try:
            return response.raw.read(limit, decode_content=True) or b""
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
            return b""

    def _retry_wait(self, err: RayError, attempt: int) -> float | None:
        """Seconds to wait before resending, or None to give up. Only requests that cannot have
        been billed are resent, unless the gateway opt-in is on."""
        s = self.settings
        if attempt > s.max_retries:
            return None
        backoff = min(s.max_retry_wait, random.uniform(0, 2.0 ** (attempt - 1)))
        if isinstance(err, RateLimitError):
            if err.retry_after is None:
                return backoff
            return err.retry_after if err.retry_after <= s.max_retry_wait else None
        if isinstance(err, APIConnectionError) and isinstance(err.__cause__, requests.exceptions.ConnectionError):
            if _is_connect_failure(err.__cause__) or s.retry_gateway_errors:
                return backoff
            return None
        if isinstance(err, APITimeoutError) and isinstance(err.__cause__, requests.exceptions.ConnectTimeout):
            return backoff
        if s.retry_gateway_errors and isinstance(err, (BadGatewayError, GatewayTimeoutError, APITimeoutError)):
            return backoff
        return None

    def _save(
        self, response: requests.Response, target: Path, key: str, cancel: threading.Event | None
    ) -> tuple[int, float | None, float | None]:
        credits_left = _header_number(response, "x-remaining-credits")
        consumed = _header_number(response, "x-credits-consumed")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json" or content_type.endswith("+json"):
                size = self._save_from_json(response, target, cancel)
            else:
                if content_type.startswith("text/"):
                    raise InvalidResponseError(f"Segmind sent {content_type} instead of a video")
                size = _AtomicVideoFile(target).write(_iter_body(response, cancel), _expected_size(response))
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as err:
            # requests reports a read timeout inside iter_content as a ConnectionError.
            if err.args and isinstance(err.args[0], urllib3.exceptions.ReadTimeoutError):
                raise APITimeoutError(
                    f"the download stalled for {self.settings.read_timeout:g} s",
                    action="No video was saved; try again.",
                ) from err
            raise APIConnectionError(
                "the connection dropped while the video was downloading",
                action="No video was saved; try again.",
            ) from err
        except requests.exceptions.Timeout as err:
            raise APITimeoutError(
                f"the download stalled for {self.settings.read_timeout:g} s",
                action="No video was saved; try again.",
            ) from err
        except requests.exceptions.RequestException as err:
            raise APIConnectionError(f"the download failed ({type(err).__name__})") from err
        return size, credits_left, consumed

    def _save_from_json(self, response: requests.Response, target: Path, cancel: threading.Event | None) -> int:
        try:
            data = json.loads(response.content)
        except ValueError:
            raise InvalidResponseError("Segmind sent malformed JSON instead of a video") from None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            raise InvalidResponseError(f'Segmind answered without a video: "{data["error"][:200]}"')
        reference = _find_video_reference(data)
        if reference is None:
            raise InvalidResponseError("the JSON answer holds no video URL or base64 video")
        if reference.startswith(("http://", "https://")):
            # A fresh request without our headers: the key must never reach another host.
            with self._session.get(
                reference,
                stream=True,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
            ) as download:
                if download.status_code >= 400:
                    raise InvalidResponseError(
                        f"the video link answered HTTP {download.status_code}",
                        action="Try again; the link may have expired.",
                    )
                return _AtomicVideoFile(target).write(_iter_body(download, cancel), _expected_size(download))
        return _AtomicVideoFile(target).write([_decode_base64_video(reference)], None)


# --------------------------------------------------------------------------- command line


def _default_output(prompt: str) -> Path:
    slug = "-".join("".join(ch if ch.isalnum() else " " for ch in prompt.lower()).split()[:6]) or "video"
    return Path(f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}.mp4")


class _Ticker:
    """Shows on stderr that a long wait is still going."""

    def __init__(self, stream: Any, every: float) -> None:
        self.stream = stream
        self.every = every
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tty = hasattr(stream, "isatty") and stream.isatty()

    def say(self, text: str) -> None:
        end = "\r" if self._tty else "\n"
        print(f"{text}\033[K" if self._tty else text, end=end, file=self.stream, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.say(f"generating… {time.monotonic() - self.started:.0f} s")

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._tty:
            print("\r\033[K", end="", file=self.stream, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python ray_client.py",
        description="Make a video with Luma Ray Flash 2 (720p) on Segmind. "
        "Needs SEGMIND_API_KEY (environment or .env).",
    )
    parser.add_argument("prompt", help="what the video should show")
    parser.add_argument("--aspect-ratio", default=DEFAULT_ASPECT_RATIO, choices=ASPECT_RATIOS)
    parser.add_argument("--duration", type=int, default=DEFAULT_DURATION, choices=DURATIONS, help="seconds")
    parser.add_argument("--loop", action="store_true", help="last frame matches the first")
    parser.add_argument("--start-image-url", help="http(s) URL of the first frame")
    parser.add_argument("--end-image-url", help="http(s) URL of the last frame")
    parser.add_argument("--output", "-o", type=Path, help="where to save the MP4 (default: from the prompt)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 saved, 1 the API or network failed, 2 bad input (nothing sent)."""
    from dotenv import load_dotenv

    parser = build_parser()
    args = parser.parse_args(argv)
    load_dotenv()
    try:
        settings = Settings.from_env()
        request = VideoRequest(
            prompt=args.prompt,
            aspect_ratio=args.aspect_ratio,
            duration=args.duration,
            loop=args.loop,
            start_image_url=args.start_image_url,
            end_image_url=args.end_image_url,
        )
        if not settings.api_key:
            raise MissingAPIKeyError()
    except InvalidRequestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    output = args.output or _default_output(request.prompt)
    try:
        with RayClient(settings) as client, _Ticker(sys.stderr, every=5.0) as ticker:
            ticker.say(f"generating {request.describe()} → {output}")
            result = client.generate(request, output, progress=ticker.say)
    except InvalidRequestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RayError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cancelled; no video was saved", file=sys.stderr)
        return 130
    print(f"saved: {result.summary()}", file=sys.stderr)
    print(result.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
