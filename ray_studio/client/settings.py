"""Client settings, from the environment (and ``.env``) with documented defaults (.env.example)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ray_studio.client.errors import DEFAULT_MODEL, InvalidRequestError
from ray_studio.client.request import PRICE_PER_SECOND

DEFAULT_BASE_URL = "https://api.segmind.com/v1"
DEFAULT_UPLOAD_URL = "https://workflows-api.segmind.com"
API_MODES = ("async", "sync")
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII, no spaces: every Segmind key
MIN_FREE_BYTES = 64 << 20  # room a clip needs before anything is paid for


def env_number(env: dict[str, str], name: str, default: float) -> float:
    """A finite, non-negative number setting; InvalidRequestError naming the variable otherwise."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", raw):
        raise InvalidRequestError([f"{name} must be a number of 0 or more, like 30 or 2.5 (got {raw[:40]!r})"])
    return float(raw)


def env_whole(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole-number setting of at least ``minimum``; InvalidRequestError naming the variable otherwise."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,12}", raw) or int(raw) < minimum:
        raise InvalidRequestError([f"{name} must be a whole number of at least {minimum} (got {raw[:40]!r})"])
    return int(raw)


def env_bool(env: dict[str, str], name: str, default: bool) -> bool:
    """A yes/no setting (1/0, true/false, yes/no, on/off); InvalidRequestError otherwise."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InvalidRequestError([f"{name} must be true or false (got {raw[:40]!r})"])


def _env_url(env: dict[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError([f"{name} must be an http(s) URL (got {raw[:60]!r})"])
    return raw.rstrip("/")


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        api_key = env.get("SEGMIND_API_KEY", "").strip() or None
        if api_key is not None and not KEY_PATTERN.fullmatch(api_key):
            raise InvalidRequestError(
                ["SEGMIND_API_KEY holds characters a Segmind key never has (spaces or non-ASCII)"]
            )
        model = env.get("SEGMIND_MODEL", "").strip() or DEFAULT_MODEL
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", model):
            raise InvalidRequestError([f"SEGMIND_MODEL must be a model slug like {DEFAULT_MODEL} (got {model[:40]!r})"])
        mode = env.get("SEGMIND_API_MODE", "").strip().lower() or "async"
        if mode not in API_MODES:
            raise InvalidRequestError([f"SEGMIND_API_MODE must be async or sync (got {mode[:20]!r})"])
        return cls(
            api_key=api_key,
            base_url=_env_url(env, "SEGMIND_BASE_URL", DEFAULT_BASE_URL),
            model=model,
            api_mode=mode,
            upload_url=_env_url(env, "SEGMIND_UPLOAD_URL", DEFAULT_UPLOAD_URL),
            connect_timeout=env_number(env, "SEGMIND_CONNECT_TIMEOUT", 10.0),
            read_timeout=env_number(env, "SEGMIND_READ_TIMEOUT", 300.0),
            max_retries=env_whole(env, "SEGMIND_MAX_RETRIES", 2),
            max_retry_wait=env_number(env, "SEGMIND_MAX_RETRY_WAIT", 30.0),
            retry_gateway_errors=env_bool(env, "SEGMIND_RETRY_GATEWAY_ERRORS", False),
            poll_interval=env_number(env, "SEGMIND_POLL_INTERVAL", 1.0),
            job_timeout=env_number(env, "SEGMIND_JOB_TIMEOUT", 600.0),
            max_video_bytes=env_whole(env, "SEGMIND_MAX_VIDEO_BYTES", 500_000_000, minimum=1),
            price_per_second=env_number(env, "RAY_PRICE_PER_SECOND", PRICE_PER_SECOND),
        )

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
    def trusted_origins(self) -> frozenset[str]:
        """Where the key may go: the API and the storage upload, as configured."""
        return frozenset(origin(u) for u in (self.base_url, self.upload_url))


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, the unit the key may be sent to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
