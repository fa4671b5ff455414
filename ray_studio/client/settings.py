"""Client settings, from the environment (and ``.env``) with documented defaults (.env.example)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from ray_studio.client.errors import DEFAULT_MODEL, InvalidRequestError
from ray_studio.client.request import PRICE_PER_SECOND

DEFAULT_BASE_URL = "https://api.segmind.com/v1"
DEFAULT_UPLOAD_URL = "https://workflows-api.segmind.com"
API_MODES = ("async", "sync")
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII, no spaces: every Segmind key
MIN_FREE_BYTES = 64 << 20  # room a clip needs before anything is paid for
# The Segmind-hosted instruct model that rewrites prompts (enhance), and what one call is taken to cost
# in US dollars: Segmind lists no per-call figure for it, so this is a ceiling (the README says why).
DEFAULT_ENHANCE_MODEL = "llama-v3p1-8b-instruct"
ENHANCE_MODEL_SLUG = f"a model slug like {DEFAULT_ENHANCE_MODEL}"
ENHANCE_PRICE = 0.01

T = TypeVar("T")


def parse_bool(raw: str) -> bool:
    """A yes/no text (1/0, true/false, yes/no, on/off, any case); ValueError otherwise. The one boolean parser."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _parse_number(raw: str) -> float:
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", raw):
        raise ValueError(raw)
    return float(raw)


def _parse_whole(raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", raw):
        raise ValueError(raw)
    return int(raw)


def _parse_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    return raw.rstrip("/")


class EnvReader:
    """Reads settings from an environment and keeps every problem, so that all are named at once:
    each reader method returns the default for a bad value and notes why; ``check()`` raises them.

    The one settings parser: the client's, the page's and the spending rules' settings all read
    through it, and app.py shares one reader between them."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def value(self, name: str, parse: Callable[[str], T], expected: str, default: T, shown: str | None = None) -> T:
        """``parse`` applied to the variable (ValueError: a problem naming ``expected``), or ``default`` when unset."""
        raw = self.raw(name)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError:
            self.problems.append(f"{name} must be {expected} (got {(shown or raw)[:60]!r})")
            return default

    def number(self, name: str, default: float) -> float:
        return self.value(name, _parse_number, "a number of 0 or more, like 30 or 2.5", default)

    def whole(self, name: str, default: int, minimum: int = 0) -> int:
        def at_least(raw: str) -> int:
            if (number := _parse_whole(raw)) < minimum:
                raise ValueError(raw)
            return number

        return self.value(name, at_least, f"a whole number of at least {minimum}", default)

    def flag(self, name: str, default: bool) -> bool:
        return self.value(name, parse_bool, "true or false", default)

    def url(self, name: str, default: str) -> str:
        return self.value(name, _parse_url, "an http(s) URL", default)

    def check(self, error: type[InvalidRequestError] = InvalidRequestError) -> None:
        """Raise ``error`` naming every problem noted so far (nothing when there is none)."""
        if self.problems:
            raise error(list(self.problems))


@dataclass(frozen=True)
class Settings:
    """Client settings; ``from_env`` documents the variable behind each (see .env.example)."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    api_mode: str = "async"
    upload_url: str = DEFAULT_UPLOAD_URL
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_retries: int = 2
    max_retry_wait: float = 30.0
    retry_gateway_errors: bool = False
    poll_interval: float = 1.0
    job_timeout: float = 600.0
    max_video_bytes: int = 500_000_000
    price_per_second: float = PRICE_PER_SECOND
    min_free_bytes: int = MIN_FREE_BYTES
    enhance_model: str = DEFAULT_ENHANCE_MODEL
    enhance_price: float = ENHANCE_PRICE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, reader: EnvReader | None = None) -> Settings:
        """The settings from the environment; every bad value is named at once (InvalidRequestError).
        With a shared ``reader``, problems are left in it for its owner to raise with the others'."""
        read = reader or EnvReader(env)
        api_key = read.raw("SEGMIND_API_KEY") or None
        if api_key is not None and not KEY_PATTERN.fullmatch(api_key):
            read.problems.append("SEGMIND_API_KEY holds characters a Segmind key never has (spaces or non-ASCII)")
            api_key = None
        settings = cls(
            api_key=api_key,
            base_url=read.url("SEGMIND_BASE_URL", DEFAULT_BASE_URL),
            model=read.value("SEGMIND_MODEL", _parse_model, f"a model slug like {DEFAULT_MODEL}", DEFAULT_MODEL),
            api_mode=read.value("SEGMIND_API_MODE", _parse_mode, "async or sync", "async"),
            upload_url=read.url("SEGMIND_UPLOAD_URL", DEFAULT_UPLOAD_URL),
            connect_timeout=read.number("SEGMIND_CONNECT_TIMEOUT", 10.0),
            read_timeout=read.number("SEGMIND_READ_TIMEOUT", 300.0),
            max_retries=read.whole("SEGMIND_MAX_RETRIES", 2),
            max_retry_wait=read.number("SEGMIND_MAX_RETRY_WAIT", 30.0),
            retry_gateway_errors=read.flag("SEGMIND_RETRY_GATEWAY_ERRORS", False),
            poll_interval=read.number("SEGMIND_POLL_INTERVAL", 1.0),
            job_timeout=read.number("SEGMIND_JOB_TIMEOUT", 600.0),
            max_video_bytes=read.whole("SEGMIND_MAX_VIDEO_BYTES", 500_000_000, minimum=1),
            price_per_second=read.number("RAY_PRICE_PER_SECOND", PRICE_PER_SECOND),
            enhance_model=read.value("SEGMIND_ENHANCE_MODEL", _parse_model, ENHANCE_MODEL_SLUG, DEFAULT_ENHANCE_MODEL),
            enhance_price=read.number("RAY_ENHANCE_PRICE", ENHANCE_PRICE),
        )
        if reader is None:
            read.check()
        return settings

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.model.strip('/')}"

    @property
    def v2_base(self) -> str:
        """The v1 base with its last ``/v1`` (any ``/vN``) replaced by ``/v2``, as Segmind's SDK does."""
        base = self.base_url.rstrip("/")
        head, _, last = base.rpartition("/")
        if re.fullmatch(r"v[0-9]+", last) and "//" not in last and head.count("/") >= 2:
            base = head
        return base + "/v2"

    @property
    def v2_endpoint(self) -> str:
        return f"{self.v2_base}/{self.model.strip('/')}"

    @property
    def enhance_endpoints(self) -> tuple[str, str]:
        """The enhance model's v1 and v2 (queue) endpoints."""
        model = self.enhance_model.strip("/")
        return f"{self.base_url.rstrip('/')}/{model}", f"{self.v2_base}/{model}"

    @property
    def trusted_origins(self) -> frozenset[str]:
        """Where the key may go: the API and the storage upload, as configured."""
        return frozenset(origin(u) for u in (self.base_url, self.upload_url))


def _parse_model(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", raw):
        raise ValueError(raw)
    return raw


def _parse_mode(raw: str) -> str:
    if raw.lower() not in API_MODES:
        raise ValueError(raw)
    return raw.lower()


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, the unit the key may be sent to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
