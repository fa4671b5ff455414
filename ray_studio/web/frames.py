"""Keyframes, continuing and joining: a visitor's image or a clip's last frame hosted at Segmind's
storage (free; on the key a generation would use), and a chain of continued clips joined into one
file on this server. ``Studio`` takes this work from ``FramesAndChains``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import anyio.to_thread
import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ray_studio.client import media
from ray_studio.client.client import RayClient
from ray_studio.client.errors import InvalidRequestError, RayError
from ray_studio.web.clip_store import ClipStore
from ray_studio.web.history import ENTRY_FILE, MAX_CHAIN, EntrySigner, chain_of, trimmed
from ray_studio.web.identity import Visitor
from ray_studio.web.redaction import LIVE_KEYS

UPLOADS_ON_OWNER_KEY = "20 per 10 minutes"  # keyframe uploads one visitor may make on the page's key
FILE_WORK = "12 per 10 minutes"  # joins and last frames one visitor may ask this server for, on any key
MAX_CHAIN_BYTES = 600_000_000  # a joined chain: twelve long clips, with room
IMAGE_WORK_AT_ONCE = 2  # a 52 MP PNG takes up to 0.5 GB to check; two at a time on a small machine


class ClipGoneError(InvalidRequestError):
    title = "Clip no longer here"
    action = "Make it again from its settings; clips are kept a day."


class BusyWithImageError(RayError):
    title = "One image at a time"
    action = "An image of yours is still being prepared; wait for it, then try again."


class UploadLimitError(RayError):
    title = "Too many uploads"
    action = "Wait a few minutes, or paste your own Segmind key to go on now."


class FileWorkLimitError(RayError):
    title = "Too many joins and frames"
    action = "Wait a few minutes, then try again; your clips are still here."


class HostedFrame(NamedTuple):
    """A clip's frame hosted at Segmind's storage: the URL sent, and the picture the page shows for it."""

    url: str
    frame: media.Keyframe
    which: str  # "first" or "last"


class FramesAndChains:
    """Keyframe uploads, last frames and joined chains for ``Studio``, which sets the attributes below."""

    client: RayClient
    clips: Path
    store: ClipStore
    signer: EntrySigner
    key_refused: Callable[[RayError], str]  # Studio's (rewrites.py): the owner's alert on the page's key

    def __init__(self) -> None:
        self._image_work = anyio.Semaphore(IMAGE_WORK_AT_ONCE)
        self._image_busy: set[str] = set()
        self._upload_limit = limits.parse(UPLOADS_ON_OWNER_KEY)
        self._uploads = MovingWindowRateLimiter(MemoryStorage())
        self._file_work = MovingWindowRateLimiter(MemoryStorage())
        self._file_work_limit = limits.parse(FILE_WORK)
        self._joins: dict[Path, asyncio.Future] = {}

    def key_for(self, api_key: Any) -> tuple[str, bool]:
        """The key a visitor's call uses, and whether it is their own (``Studio.key_for``)."""
        raise NotImplementedError

    async def _thread(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    async def keyframe(
        self, path: Any, name: Any, api_key: Any, visitor: Visitor, uploads: Path
    ) -> tuple[str, tuple[str, ...]]:
        """A visitor's image, checked here (Pillow) and hosted at Segmind's storage: its URL, and what
        was done to it. ``path`` must be a file Gradio's upload route saved in ``uploads`` (never a
        clip). Nothing is deleted here, even a file that is no image: Gradio names an upload after its
        bytes and knows no uploader, so nothing proves it is this visitor's alone. Uploads age out
        with Gradio's cache (``delete_cache``)."""
        source = _uploaded_file(path, uploads, self.clips)
        label = name if isinstance(name, str) and name.strip() else source.name
        key, own_key = self.key_for(api_key)
        with LIVE_KEYS.held(key if own_key else None):
            async with self._one_image_at_a_time(visitor):
                frame = await self._thread(media.load_keyframe, source, label[:80])
                return await self._upload(frame, key, own_key, visitor), frame.notes

    async def continue_from(self, entry: Any, api_key: Any, visitor: Visitor) -> HostedFrame:
        """The last frame of a clip in a visitor's history, hosted to be the next clip's start image."""
        return await self.clip_frame(entry, "last", api_key, visitor)

    async def clip_frame(self, entry: Any, which: str, api_key: Any, visitor: Visitor) -> HostedFrame:
        """The ``which`` ("first" or "last") frame of a clip in a visitor's history, checked and hosted
        like a keyframe: the one path of Continue, Lead in and Bridge."""
        take = {"first": media.first_frame, "last": media.last_frame}[which]
        clip = self.clip_file(entry)
        key, own_key = self.key_for(api_key)
        with LIVE_KEYS.held(key if own_key else None):
            async with self._one_image_at_a_time(visitor):
                self._take_file_work(visitor)
                frame = await self._thread(take, clip, f"the clip {clip.name}")
                return HostedFrame(await self._upload(frame, key, own_key, visitor), frame, which)

    async def _upload(self, frame: media.Keyframe, key: str, own_key: bool, visitor: Visitor) -> str:
        if not own_key and not self._uploads.hit(self._upload_limit, visitor.id):
            raise UploadLimitError(f"this page's key takes {UPLOADS_ON_OWNER_KEY} images from each visitor")
        try:
            (url,) = await self._thread(self.client.upload, [frame.data_url()], key)
        except RayError as err:
            if not own_key:
                self.key_refused(err)
            raise
        return url

    @contextlib.asynccontextmanager
    async def _one_image_at_a_time(self, visitor: Visitor) -> AsyncIterator[None]:
        """Image work (a 52 MP PNG takes up to 0.5 GB to check) runs two at a time on this server, and
        one at a time per visitor; a second from the same visitor is refused at once, not queued."""
        if visitor.id in self._image_busy:
            raise BusyWithImageError()
        self._image_busy.add(visitor.id)
        try:
            async with self._image_work:
                yield
        finally:
            self._image_busy.discard(visitor.id)

    def chain_of(self, history: Any, entry_id: str) -> list[dict]:
        """The clips (this server's own entries) that lead to ``entry_id`` by "continue", oldest first."""
        return chain_of([e for e in trimmed(history) if self.signer.valid(e)], entry_id)

    async def join_chain(self, history: Any, entry_id: str, visitor: Visitor) -> Path:
        """The chain ending at ``entry_id`` as one MP4, joined without re-encoding, once: the same chain
        asked for again (by anyone, or while it is being joined) is the same file."""
        chain = self.chain_of(history, entry_id)
        if len(chain) < 2:
            raise InvalidRequestError(["this clip does not continue another one; there is nothing to join"])
        if len(chain) > MAX_CHAIN:
            raise InvalidRequestError([f"this chain has {len(chain)} clips; at most {MAX_CHAIN} are joined"])
        clips = [self.clip_file(e) for e in chain]
        output = self.store.chain_file(clips)
        if output.is_file():
            os.utime(output)  # kept a day from its last download
            return output
        joining = self._joins.get(output)
        if joining is None:
            size = sum(c.stat().st_size for c in clips)
            if size > MAX_CHAIN_BYTES:
                raise InvalidRequestError([f"these clips are over {MAX_CHAIN_BYTES // 1_000_000} MB together"])
            self.store.check_room_for_spare_work(size, self.client.settings.min_free_bytes)
            if visitor.id in self._image_busy:
                raise BusyWithImageError()
            self._take_file_work(visitor)
            joining = asyncio.ensure_future(self._join(clips, output, visitor))
            self._joins[output] = joining
            joining.add_done_callback(lambda _: self._joins.pop(output, None))
        await asyncio.shield(joining)  # a visitor who leaves does not stop a join others may wait for
        return output

    async def _join(self, clips: list[Path], output: Path, visitor: Visitor) -> None:
        async with self._one_image_at_a_time(visitor):
            await self._thread(self.store.sweep_if_due)
            output.parent.mkdir(parents=True, exist_ok=True)
            await self._thread(media.join_clips, clips, output, [c.name for c in clips])

    def _take_file_work(self, visitor: Visitor) -> None:
        """One of the visitor's joins or last frames (work on this server's disk and CPU, on any key)."""
        if not self._file_work.hit(self._file_work_limit, visitor.id):
            raise FileWorkLimitError(f"this server joins clips and takes last frames {FILE_WORK} for each visitor")

    def clip_file(self, entry: Any) -> Path:
        """The file of one of this server's history entries, if it still has it."""
        name = entry.get("file") if self.signer.valid(entry) else None
        path = self.clips / name if isinstance(name, str) and ENTRY_FILE.fullmatch(name) else None
        if path is None or not path.is_file():
            raise ClipGoneError(["this server no longer has that clip"])
        return path


def _uploaded_file(path: Any, uploads: Path, clips: Path) -> Path:
    """A file Gradio's upload route saved, and nothing else: a payload naming any other path (a clip
    among them) is refused."""
    if not isinstance(path, str) or not path:
        raise InvalidRequestError(["no image was received; pick or drop the image again"])
    resolved = Path(path).resolve()
    inside = resolved.is_relative_to(uploads.resolve()) and not resolved.is_relative_to(clips.resolve())
    if not inside or not resolved.is_file():
        raise InvalidRequestError(["that image is not one uploaded to this page; pick or drop it again"])
    return resolved
