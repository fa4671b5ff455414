"""The page's settings, and reading every setting of the app at once.

``read_settings`` reads the client's, the page's and the spending rules' settings through one
``EnvReader``, so a start with several bad values names them all in one error (exit 2).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from ray_studio.client.media import MAX_IMAGE_BYTES
from ray_studio.client.settings import EnvReader, Settings
from ray_studio.client.variants import DEFAULT_MAX_VARIANTS
from ray_studio.web.policy import SettingError, SpendPolicy

MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES  # Gradio's upload route; keyframes are the only uploads
AUTH_EXPECTED = "user:password pairs separated by commas"
OWNER_EXPECTED = "one user:password pair"
# A price below this (US dollars per second) would let the day budget pass far more clips than it means to.
MIN_PRICE_PER_SECOND = 0.01


def parse_auth(raw: str) -> tuple[tuple[str, str], ...]:
    """RAY_AUTH: ``user:password`` pairs separated by commas; ValueError otherwise (never echoing a password)."""
    pairs = []
    for item in (part.strip() for part in re.split(r"[,;]", raw or "")):
        if not item:
            continue
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError("RAY_AUTH")
        pairs.append((user.strip(), password))
    return tuple(pairs)


def parse_owner(raw: str) -> tuple[str, str]:
    """RAY_OWNER: one ``user:password``; ValueError otherwise (never echoing the password)."""
    pairs = parse_auth(raw)
    if len(pairs) != 1:
        raise ValueError("RAY_OWNER")
    return pairs[0]


def parse_names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in re.split(r"[,;\s]+", raw) if name.strip())


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """App settings; names and defaults are in .env.example."""

    concurrency: int = 32
    queue_size: int = 100
    clip_max_age: int = 86_400
    cleanup_every: int = 3_600
    mcp: bool = False
    max_variants: int = DEFAULT_MAX_VARIANTS
    save_dir: Path | None = None
    showcase_dir: Path | None = None  # clips with their sidecars, shown to every visitor (showcase.py)
    auth: tuple[tuple[str, str], ...] = ()
    hf_login: bool = False
    # The browser history is encrypted with this in localStorage. It reaches every browser in the
    # page's config, so it is no secret from visitors; a fixed value keeps histories readable across
    # restarts (Gradio's default is new at each start).
    browser_secret: str = "ray-studio-history-v1"
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    # The owner's view (owner.py, record.py).
    owner: tuple[str, str] | None = None  # RAY_OWNER, HTTP Basic user:password for /owner
    owner_users: tuple[str, ...] = ()  # RAY_OWNER_USERS, with RAY_HF_LOGIN; SPACE_AUTHOR_NAME counts too
    data_dir: Path | None = None  # RAY_DATA_DIR; None: in memory here, app.py's main puts it in record.data_dir()
    record_days: int = 30  # RAY_RECORD_DAYS
    owner_sees_prompts: bool = False  # RAY_OWNER_SEES_PROMPTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, reader: EnvReader | None = None) -> AppSettings:
        """The page's settings; every bad value named at once (left in a shared ``reader`` for its owner)."""
        read = reader or EnvReader(env)
        save_dir = read.raw("RAY_SAVE_DIR")
        showcase_dir = read.raw("RAY_SHOWCASE_DIR")
        settings = cls(
            auth=read.value("RAY_AUTH", parse_auth, AUTH_EXPECTED, (), shown="…"),
            hf_login=read.flag("RAY_HF_LOGIN", cls.hf_login),
            save_dir=Path(save_dir).expanduser() if save_dir else None,
            showcase_dir=Path(showcase_dir).expanduser() if showcase_dir else None,
            browser_secret=read.raw("RAY_BROWSER_SECRET") or cls.browser_secret,
            concurrency=read.whole("RAY_CONCURRENCY", cls.concurrency, minimum=1),
            queue_size=read.whole("RAY_QUEUE_SIZE", cls.queue_size, minimum=1),
            clip_max_age=read.whole("RAY_CLIP_MAX_AGE", cls.clip_max_age, minimum=1),
            cleanup_every=read.whole("RAY_CLEANUP_EVERY", cls.cleanup_every, minimum=1),
            mcp=read.flag("RAY_MCP", cls.mcp),
            max_variants=read.whole("RAY_MAX_VARIANTS", cls.max_variants, minimum=1),
            owner=read.value("RAY_OWNER", parse_owner, OWNER_EXPECTED, None, shown="…"),
            owner_users=parse_names(read.raw("RAY_OWNER_USERS")) + parse_names(read.raw("SPACE_AUTHOR_NAME")),
            data_dir=Path(read.raw("RAY_DATA_DIR")).expanduser() if read.raw("RAY_DATA_DIR") else None,
            record_days=read.whole("RAY_RECORD_DAYS", cls.record_days, minimum=1),
            owner_sees_prompts=read.flag("RAY_OWNER_SEES_PROMPTS", cls.owner_sees_prompts),
        )
        if reader is None:
            read.check()
        return settings


def read_settings(env: Mapping[str, str] | None = None) -> tuple[Settings, AppSettings, SpendPolicy]:
    """The client's, the page's and the spending settings; a SettingError naming every bad value at once."""
    reader = EnvReader(env)
    client = Settings.from_env(reader=reader)
    app = AppSettings.from_env(reader=reader)
    policy = SpendPolicy.from_env(reader=reader)
    if policy.daily_budget is not None and client.price_per_second < MIN_PRICE_PER_SECOND:
        reader.problems.append(
            f"RAY_PRICE_PER_SECOND must be at least {MIN_PRICE_PER_SECOND} while RAY_DAILY_BUDGET is on "
            f"(got {client.price_per_second:g}): a lower price would let the budget pass far more clips"
        )
    reader.check(SettingError)
    return client, app, policy
