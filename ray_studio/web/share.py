"""A link for every clip: ``/?clip=<token>`` opens the page with that clip playing.

The token is signed by this server with the history entries' signer (``EntrySigner``) and names only
the clip: where it is (this server's clip folder, or the showcase) and its Segmind job id (to find the
kept copy in RAY_SAVE_DIR once the day-long cache has dropped it). No key, no visitor. A clip's
settings come from the sidecar written beside it when it was made (``describe``: the same sidecar as
RAY_SAVE_DIR's), never from what a browser sends. ``ShareCards`` puts Open Graph tags in the page's
head for a link, so it unfurls in a chat.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import os
import re
import shutil
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ray_studio.client.clip_files import sidecar, sidecar_path, write_sidecar
from ray_studio.client.errors import RayError
from ray_studio.client.job import VideoResult
from ray_studio.client.request import VideoRequest
from ray_studio.client.wording import describe_shape
from ray_studio.web.history import ENTRY_FILE, EntrySigner
from ray_studio.web.showcase import Showcase, file_url, poster_for, request_from_sidecar

log = logging.getLogger("ray_studio")

TOKEN = re.compile(r"[A-Za-z0-9_-]{4,700}\.[0-9a-f]{32}")
KEPT_LINKS = "links"  # clips brought back from RAY_SAVE_DIR for a link, in the clip folder
IN_CACHE, IN_SHOWCASE = "c", "s"


class InvalidLinkError(RayError):
    title = "This link is not valid"
    action = "It was changed or cut short on the way: ask whoever sent it for the link again."
    detail_for_visitors = False


class ClipGoneError(RayError):
    title = "This clip is no longer here"
    action = "This server keeps new clips a day, and this one has gone. Its link cannot bring it back."
    detail_for_visitors = False


@dataclass(frozen=True)
class SharedClip:
    """A clip a link names: its file (served by Gradio), its settings, and how long the link lasts."""

    path: Path
    request: VideoRequest
    lasts: str
    poster_folder: Path

    def shape(self) -> str:
        r = self.request
        return describe_shape(r.aspect_ratio, r.duration, r.loop, bool(r.start_image_url), bool(r.end_image_url))

    def form_values(self) -> tuple:
        r = self.request
        return (r.prompt, r.aspect_ratio, r.duration, r.loop, r.start_image_url or "", r.end_image_url or "")

    def poster(self) -> Path:
        return poster_for(self.path, self.poster_folder)


def until_text(moment: float, now: float | None = None) -> str:
    """``14:05 UTC today``, ``14:05 UTC tomorrow`` or ``14:05 UTC on 3 May``."""
    when = datetime.fromtimestamp(moment, timezone.utc)
    today = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).date()
    day = {today: "today", today + timedelta(days=1): "tomorrow"}.get(when.date(), f"on {when.day} {when:%B}")
    return f"{when:%H:%M} UTC {day}"


class ClipLinks:
    """Makes and opens clip links for one page."""

    def __init__(
        self, signer: EntrySigner, clips: Path, *, max_age: float, save_dir: Path | None, showcase: Showcase,
        model: str = "", api_mode: str = "",
    ) -> None:  # fmt: skip
        self.signer = signer
        self.clips = clips
        self.max_age = max_age
        self.save_dir = save_dir
        self.showcase = showcase
        self.model, self.api_mode = model, api_mode
        self._saved_by_job: dict[str, Path] = {}

    # -- making links

    def describe(self, result: VideoResult) -> None:
        """Writes the clip's sidecar beside it in the clip folder (once): what its link will show."""
        if result.request is None or sidecar_path(result.path).exists():
            return
        try:
            write_sidecar(result.path, sidecar(result, model=self.model, api_mode=self.api_mode))
        except OSError as err:
            log.warning("could not describe a clip for its link: %s", err.strerror or type(err).__name__)

    def token(self, kind: str, file: str, job: str = "") -> str:
        payload = json.dumps([kind, file, job], separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sig(body)}"

    def _sig(self, body: str) -> str:
        # As an entry its id is no entry id and it names no job or file, so it is no use as one.
        return self.signer.sign({"id": f"link:{body}"})["sig"]

    def token_for_entry(self, entry: Any) -> str | None:
        """A history entry's link, when this server signed it and still has its clip described."""
        if not self.signer.valid(entry) or entry.get("state") != "done":
            return None
        file = entry.get("file")
        if not isinstance(file, str) or not ENTRY_FILE.fullmatch(file):
            return None
        if not sidecar_path(self.clips / file).is_file():
            return None
        return self.token(IN_CACHE, file, entry.get("job") or "")

    def token_for_result(self, result: VideoResult) -> str | None:
        try:
            file = result.path.relative_to(self.clips).as_posix()
        except ValueError:
            return None
        self.describe(result)
        return self.token(IN_CACHE, file, result.job_id or "")

    # -- opening links

    def open(self, token: Any) -> SharedClip:
        """The clip a link names; InvalidLinkError for a token this server did not sign as it is."""
        kind, file, job = self._read(token)
        if kind == IN_SHOWCASE:
            clip = self.showcase.get(file)
            if clip is None:
                raise ClipGoneError("the showcase no longer holds it")
            lasts = "this link works as long as the clip is in this page's showcase"
            return SharedClip(clip.path, clip.request, lasts, clip.poster.parent)
        if not ENTRY_FILE.fullmatch(file):
            raise InvalidLinkError("a signed link to no clip")
        path = self.clips / file
        if path.is_file() and sidecar_path(path).is_file():
            return self._shared(path, self._lasts(path, job))
        kept = self._saved_copy(job)
        if kept is None:
            raise ClipGoneError(f"{file} is gone")
        return self._shared(self._brought_back(kept, job), "this link works as long as this server keeps the clip")

    def _shared(self, path: Path, lasts: str) -> SharedClip:
        try:
            request = request_from_sidecar(sidecar_path(path))
        except (ValueError, OSError, RayError):
            raise ClipGoneError(f"the sidecar of {path.name} is not readable") from None
        return SharedClip(path, request, lasts, path.parent)

    def _read(self, token: Any) -> tuple[str, str, str]:
        if not isinstance(token, str) or not TOKEN.fullmatch(token.strip()):
            raise InvalidLinkError("not a link token")
        body, sig = token.strip().split(".")
        if not self.signer.valid({"id": f"link:{body}", "sig": sig}):
            raise InvalidLinkError("a token this server did not sign")
        try:
            kind, file, job = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError, binascii.Error):
            raise InvalidLinkError("a signed token that does not read") from None
        if kind not in (IN_CACHE, IN_SHOWCASE) or not isinstance(file, str) or not isinstance(job, str):
            raise InvalidLinkError("a signed token of another kind")
        return kind, file, job

    def _lasts(self, path: Path, job: str) -> str:
        if self.save_dir is not None and job:
            return "this link works as long as this server keeps the clip"
        return f"this link works until {until_text(path.stat().st_mtime + self.max_age)}"

    def _saved_copy(self, job: str) -> Path | None:
        """The clip of Segmind job ``job`` in RAY_SAVE_DIR, found by its sidecar's job id."""
        if self.save_dir is None or not job:
            return None
        known = self._saved_by_job.get(job)
        if known is not None and known.is_file():
            return known
        for side in self.save_dir.glob("*.json"):
            try:
                data = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("job_id") == job:
                clip = side.with_suffix(".mp4")
                if clip.is_file():
                    self._saved_by_job[job] = clip
                    return clip
        return None

    def _brought_back(self, kept: Path, job: str) -> Path:
        """A kept clip, put back in the clip folder (which Gradio serves) with its sidecar."""
        folder = self.clips / KEPT_LINKS / re.sub(r"[^A-Za-z0-9_-]", "", job)[:64]
        target = folder / kept.name
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            for source, goal in ((sidecar_path(kept), sidecar_path(target)), (kept, target)):
                partial = goal.with_name(f".{goal.name}.{os.getpid()}.part")
                shutil.copyfile(source, partial)
                os.replace(partial, goal)
        return target

    # -- the page's words

    def api_line(self, result: VideoResult, base_url: str) -> str:
        """`` · link: http://…/?clip=… (this link works until …)`` for /generate's summary."""
        token = self.token_for_result(result)
        if token is None:
            return ""
        lasts = self._lasts(result.path, result.job_id or "")
        return f" · link: {base_url.rstrip('/')}/?clip={token} ({lasts})"

    def lasts_for_entry(self, entry: dict) -> str:
        path = self.clips / str(entry.get("file"))
        try:
            return self._lasts(path, entry.get("job") or "")
        except OSError:
            return ""


# --------------------------------------------------------------------------- the head of a shared page

_PAGES: weakref.WeakKeyDictionary[Any, ClipLinks] = weakref.WeakKeyDictionary()


def attach(demo: Any, links: ClipLinks) -> None:
    """``ShareCards`` finds the links of the page it is in front of through its Blocks."""
    _PAGES[demo] = links


def links_of(demo: Any) -> ClipLinks | None:
    try:
        return _PAGES.get(demo)
    except TypeError:  # not a Blocks
        return None


def describing(links: ClipLinks, then: Any) -> Any:
    """A job board's ``on_done``: the clip described for its link, then ``then`` (RAY_SAVE_DIR's copy)."""

    def on_done(tracked: Any) -> None:
        if tracked.result is not None:
            links.describe(tracked.result)
        if then is not None:
            then(tracked)

    return on_done


def base_url(headers: dict[str, str], scheme: str, root_path: str = "") -> str:
    """The page's address as the visitor reached it (a proxy's X-Forwarded-Proto and Host)."""
    proto = headers.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
    host = headers.get("x-forwarded-host") or headers.get("host", "localhost")
    return f"{proto}://{host.split(',')[0].strip()}{root_path}/"


def og_tags(shared: SharedClip, root: str) -> str:
    """Open Graph (and Twitter) tags for a shared clip: its prompt, its poster, the video."""
    prompt = shared.request.prompt
    title = prompt if len(prompt) <= 90 else prompt[:89] + "…"
    video = root + file_url(shared.path)
    tags = {
        "og:title": title,
        "og:description": f"{shared.shape()} · made with Luma Ray Flash 2 in Ray Studio",
        "og:type": "video.other",
        "og:image": root + file_url(shared.poster()),
        "og:video": video,
        "og:video:secure_url": video,
        "og:video:type": "video/mp4",
        "twitter:card": "summary_large_image",
        "twitter:title": title,
    }
    return "".join(
        f'<meta property="{name}" content="{html.escape(value, quote=True)}">' for name, value in tags.items()
    )


class ShareCards:
    """ASGI middleware: the page at ``/?clip=<token>`` gets Open Graph tags in its head. Any other
    request, or a token that does not open, passes untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        token = self._token(scope)
        links = links_of(_blocks(scope)) if token else None
        if links is None:
            return await self.app(scope, receive, send)
        import anyio

        try:
            shared = await anyio.to_thread.run_sync(links.open, token)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            root = base_url(headers, scope.get("scheme", "http"), scope.get("root_path", ""))
            tags = await anyio.to_thread.run_sync(og_tags, shared, root)
        except (RayError, OSError):
            return await self.app(scope, receive, send)
        await self.app(scope, receive, _with_head(send, tags))

    @staticmethod
    def _token(scope: dict) -> str | None:
        if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") not in ("/", ""):
            return None
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("clip")
        return values[0] if values else None


def _blocks(scope: dict) -> Any:
    app = scope.get("app")
    return app.get_blocks() if hasattr(app, "get_blocks") else None


def _with_head(send: Any, tags: str) -> Any:
    """``send`` that puts ``tags`` at the start of an HTML page's head (a compressed or non-HTML
    answer goes as it is)."""
    start: dict = {}
    body: list[bytes] = []

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body" or not start:
            return await send(message)
        body.append(message.get("body", b""))
        if message.get("more_body"):
            return
        page, headers = b"".join(body), list(start.get("headers", []))
        names = {k.lower(): v for k, v in headers}
        if b"text/html" in names.get(b"content-type", b"") and b"content-encoding" not in names:
            page = re.sub(rb"(<head[^>]*>)", lambda m: m.group(1) + tags.encode(), page, count=1)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    return sending
