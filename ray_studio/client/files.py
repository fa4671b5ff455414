"""Files written whole or not at all: each is written under a fresh name beside its target and renamed
into place only when whole (``replacing``, ``atomic_write``; ``AtomicVideoFile`` for a video arriving in
pieces), and a place to save a clip is proved before anything is paid for (``check_output``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ray_studio.client.errors import (
    APIConnectionError,
    InvalidResponseError,
    OutputNotWritableError,
    VideoTooLargeError,
)
from ray_studio.client.settings import MIN_FREE_BYTES


def is_mp4_head(head: bytes) -> bool:
    """Whether a file starting with ``head`` is an ISO media file (MP4, MOV, 3GP, HEIF, AVIF): each starts
    with a box whose type sits at bytes 4..8, 'ftyp' normally."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def check_output(target: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Prove, before anything is paid for, that a clip can be saved at ``target``: the folder exists
    (or is made), a file can be created in it, and it has ``min_free`` bytes of room."""
    target = Path(target)
    if target.is_dir():
        raise OutputNotWritableError([f"{target} is a folder; give a file name ending in .mp4"])
    if target.is_symlink() or (target.exists() and not target.is_file()):
        # A clip replaces a file of the same name; a link, a pipe or a device (/dev/null) it must not.
        raise OutputNotWritableError([f"{target} is not a regular file (a link, pipe or device); give a file name"])
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = partial_path(target)
        probe.open("xb").close()
        probe.unlink()
    except OSError as err:
        raise OutputNotWritableError([f"cannot write in {folder} ({err.strerror or type(err).__name__})"]) from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise OutputNotWritableError(
            [f"only {free / 1e6:.0f} MB free in {folder}; saving a clip needs at least {min_free / 1e6:.0f} MB"]
        )


def partial_path(target: Path) -> Path:
    """A fresh name beside ``target`` for a file being written: ``NAME.<random>.incomplete``."""
    return target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.incomplete")


@contextlib.contextmanager
def partial_file(target: Path) -> Iterator[Path]:
    """A ``partial_path`` to write ``target``'s content to; whatever is left there when the block ends,
    normally or not, is removed."""
    partial = partial_path(target)
    try:
        yield partial
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A ``partial_file`` renamed over ``target`` when the block ends normally: ``target`` then holds the
    whole new file, and on any failure what it held before."""
    with partial_file(target) as partial:
        yield partial
        os.replace(partial, target)


def atomic_write(target: Path, data: bytes) -> None:
    """Writes ``data`` at ``target`` whole or not at all (flushed to disk before the rename)."""
    with replacing(Path(target)) as partial, open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


class AtomicVideoFile:
    """Writes a video to ``target`` through ``replacing``: renamed into place only when whole and an
    MP4, so a path holds a whole video or nothing."""

    def __init__(self, target: Path, limit: int) -> None:
        self.target = target
        self.limit = limit

    def _too_large(self, size: int) -> VideoTooLargeError:
        return VideoTooLargeError(f"the video is over {self.limit / 1e6:.0f} MB ({size / 1e6:.0f} MB or more)")

    def write(self, chunks: Iterable[bytes], expected_size: int | None) -> int:
        if expected_size is not None and expected_size > self.limit:
            raise self._too_large(expected_size)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(self.target) as partial:
            with open(partial, "wb") as out:
                size, head = self._copy(chunks, out)
            if not is_mp4_head(head):
                raise InvalidResponseError("the answer was empty" if size == 0 else "the answer is not an MP4 video")
            if expected_size is not None and size != expected_size:
                raise APIConnectionError(f"the download was cut off after {size:,} of {expected_size:,} bytes")
        return size

    def _copy(self, chunks: Iterable[bytes], out: Any) -> tuple[int, bytes]:
        """(bytes written, the first 12): refused as soon as the head is no MP4's or the size is over the limit."""
        size, head = 0, b""
        for chunk in chunks:
            if not chunk:
                continue
            if len(head) < 12:
                head += chunk[:12]
                if len(head) >= 12 and not is_mp4_head(head):
                    raise InvalidResponseError("the answer is not an MP4 video")
            size += len(chunk)
            if size > self.limit:
                raise self._too_large(size)
            out.write(chunk)
        return size, head
