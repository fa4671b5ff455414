"""What a visitor's browser keeps of their clips: one entry per clip, signed by this server.

Entries live in the visitor's own browser (Gradio's BrowserState) and come back as an input to
events, so the server trusts nothing in them but what it signed: the entry's id, its Segmind job id,
its file and whose key made it. A forged or edited entry cannot name a clip or job this server never
put in an entry, or join a clip to itself fifty times. A signature says who issued an entry, not who
holds it: a copied entry is a link to its clip. Whose a clip in the making is, the job board knows
while it follows it; after a restart every holder of the entry follows it (``Studio.pick_up``).
No server path and no key is ever in an entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ray_studio.client.request import DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, VideoRequest
from ray_studio.client.wording import describe_shape, format_usd
from ray_studio.web.board import Tracked

HISTORY_LENGTH = 50  # entries kept; older ones drop off
MAX_CHAIN = 12  # clips one chain may join
ENTRY_ID = re.compile(r"[0-9a-f]{32}")
ENTRY_FILE = re.compile(r"[0-9a-f]{32}/[A-Za-z0-9_.-]{1,120}\.mp4")


class EntrySigner:
    """Signs the parts of an entry the server relies on, with a secret that never leaves the server
    and survives restarts (see ``for_key``)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def for_key(cls, owner_key: str | None, keep_in: Path | None = None) -> EntrySigner:
        """With the page's key: a secret derived from it. Without: a random one kept in the private
        file ``keep_in`` (made once, readable by this user only; never in Gradio's served folders),
        so visitors' histories stay valid across restarts; new at each start without ``keep_in``."""
        if owner_key:
            return cls(hmac.new(owner_key.encode(), b"ray-studio/history-entry/v1", hashlib.sha256).digest())
        if keep_in is None:
            return cls(os.urandom(32))
        return cls(_kept_secret(keep_in))

    def _signature(self, entry: dict[str, Any]) -> str:
        signed = json.dumps([entry.get("id"), entry.get("job"), entry.get("file"), bool(entry.get("own_key"))])
        return hmac.new(self._secret, signed.encode(), hashlib.sha256).hexdigest()[:32]

    def sign(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {**entry, "sig": self._signature(entry)}

    def valid(self, entry: Any) -> bool:
        return (
            isinstance(entry, dict)
            and isinstance(entry.get("sig"), str)
            and hmac.compare_digest(entry["sig"], self._signature(entry))
        )


def _kept_secret(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) == 32:
            return secret
        path.unlink()  # damaged: make a new one (older entries then stop being trusted)
        return _kept_secret(path)
    secret = os.urandom(32)
    with os.fdopen(fd, "wb") as out:
        out.write(secret)
    return secret


def default_secret_file() -> Path:
    """Where a page without a key keeps its history-signing secret: this user's private temp folder."""
    return (
        Path(tempfile.gettempdir()) / f"ray-studio-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "history.key"
    )


def entry_for(
    tracked: Tracked, own_key: bool, continues: str | None = None, leads_into: str | None = None
) -> dict[str, Any]:
    """The entry of one clip (unsigned): enough to show it, restore its settings, make it again and
    find it after a reload. A clip that was made but could not be fetched stays "running", so the
    next visit fetches it (no new charge)."""
    r = tracked.request
    state = {"done": "done", "failed": "failed", "stopped": "failed"}.get(tracked.phase, "running")
    if tracked.fetch_failed:
        state = "running"
    entry: dict[str, Any] = {
        "id": tracked.ticket,
        "job": tracked.job_id,
        "state": state,
        "created": round(time.time() - tracked.elapsed),
        "own_key": own_key,
    }
    if continues:
        entry["continues"] = continues
    if leads_into:
        entry["leads_into"] = leads_into  # a lead-in or a bridge: the clip this one's last frame meets
    if r is not None:
        entry.update(
            prompt=r.prompt,
            aspect_ratio=r.aspect_ratio,
            duration=r.duration,
            loop=r.loop,
            start_image_url=r.start_image_url or "",
            end_image_url=r.end_image_url or "",
        )
    if tracked.result is not None:
        entry.update(took=round(tracked.result.elapsed_seconds, 1), size=tracked.result.size_bytes)
        if tracked.result.cost is not None:
            entry["cost"] = tracked.result.cost
        entry["file"] = entry_file(tracked)
    if tracked.error is not None:
        entry["error"] = tracked.error.visitor_message(own_key)
    entry["line"] = entry_line(entry)  # for the card (page.js draws it); not signed, not trusted
    return entry


def entry_file(tracked: Tracked) -> str:
    """Where a made clip is in the clip folder, as its entry (and its variant tile) names it."""
    return f"{tracked.ticket}/{tracked.target.name}"


def trimmed(history: Any) -> list[dict[str, Any]]:
    """A history as it arrived from a browser, cut to what a real one can hold."""
    return [e for e in (history if isinstance(history, list) else [])[: HISTORY_LENGTH * 2] if isinstance(e, dict)][
        :HISTORY_LENGTH
    ]


def with_entry(history: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """``history`` with ``entry`` first, replacing an older entry of the same clip."""
    rest = [e for e in history if e.get("id") != entry["id"]]
    return [entry, *rest][:HISTORY_LENGTH]


def chain_of(history: Iterable[dict[str, Any]], entry_id: str) -> list[dict[str, Any]]:
    """The clips that lead to ``entry_id`` by "continue", oldest first (each clip once), then the clip
    it leads into, if it is a lead-in (lead-in + clip) or a bridge (A + bridge + B)."""
    by_id = {e.get("id"): e for e in history}
    chain, seen = [], set()
    entry = by_id.get(entry_id)
    while entry is not None and entry.get("id") not in seen:
        seen.add(entry.get("id"))
        chain.append(entry)
        entry = by_id.get(entry.get("continues"))
    chain.reverse()
    after = by_id.get(chain[-1].get("leads_into")) if chain else None
    if after is not None and after.get("id") not in seen:
        chain.append(after)
    return chain


def chain_links(continuing: Any, start_url: str | None, end_url: str | None) -> tuple[str | None, str | None]:
    """The clips a new clip joins, from the form's ``continuing`` ({"id", "url", "leads_into", "end_url"}):
    the one it continues (its start image is still that clip's last frame) and the one it leads into
    (its end image is still that clip's first frame). A keyframe changed since unlinks it."""
    if not isinstance(continuing, dict):
        return None, None
    continues = continuing.get("id") if continuing.get("url") and continuing.get("url") == start_url else None
    end = continuing.get("end_url")
    leads_into = continuing.get("leads_into") if end and end == end_url else None
    return continues, leads_into


def request_of(entry: dict[str, Any]) -> VideoRequest:
    """The settings an entry was made with (checked like any request)."""
    return VideoRequest(*form_values(entry))


def form_values(entry: dict[str, Any]) -> tuple:
    """An entry's settings, for the form: prompt, shape, length, loop, keyframe URLs."""
    return (
        entry.get("prompt", ""),
        entry.get("aspect_ratio", DEFAULT_ASPECT_RATIO),
        entry.get("duration", DEFAULT_DURATION),
        bool(entry.get("loop")),
        entry.get("start_image_url") or "",
        entry.get("end_image_url") or "",
    )


def entry_line(entry: dict[str, Any]) -> str:
    """``16:9 · 5 s · loop · start keyframe · took 48 s · $0.375`` for a history card."""
    parts = [
        describe_shape(
            entry.get("aspect_ratio", "?"),
            entry.get("duration", "?"),
            bool(entry.get("loop")),
            bool(entry.get("start_image_url")),
            bool(entry.get("end_image_url")),
        )
    ]
    if isinstance(entry.get("took"), (int, float)):
        parts.append(f"took {entry['took']:.0f} s")
    if isinstance(entry.get("cost"), (int, float)):
        parts.append(format_usd(entry["cost"]))
    return " · ".join(parts)
