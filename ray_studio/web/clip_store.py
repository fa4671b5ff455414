"""Where this server keeps its clips: a folder of their own, apart from Gradio's uploads.

Gradio serves the folder as it is (``gradio_tweaks.clip_folder``), so a clip's URL holds its path.
Nothing a visitor uploads lands here and nothing here is taken as an upload, so a clip's path sent
back as a "start image" is refused and never touched. The folder also holds the chains joined from
clips (each chain once, named after its clips), and is swept of files past their age.

Disk space: a paid clip needs ``min_free`` bytes left before it is sent (the client's check). Work
that nobody pays for (a join) stops far earlier, at ``SPARE_WORK_FLOOR`` times that, so the last of
the disk stays for clips already paid for.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from ray_studio.client.errors import RayError

CLIP_FOLDER_SUFFIX = "-ray-studio-clips"
CHAINS = "chains"  # joined chains, in CHAINS/<hash of their clips>/
SPARE_WORK_FLOOR = 4  # a join must leave this many times the paid clips' floor free


class NoRoomForExtrasError(RayError):
    title = "Server short of room"
    action = "Joining is paused while this server is short of disk space; your clips are still here. Try later."
    detail_for_visitors = False  # sizes of the server's disk


def clip_folder_beside(uploads: Path) -> Path:
    """The clip folder of a page whose Gradio upload folder is ``uploads``: its sibling, never inside it."""
    return uploads.with_name(uploads.name + CLIP_FOLDER_SUFFIX)


class ClipStore:
    """The clip folder: chain files, the disk floor for unpaid work, and the sweep of old files."""

    def __init__(self, folder: Path, *, max_age: float, sweep_every: float) -> None:
        self.folder = folder
        self.max_age = max_age
        self.sweep_every = sweep_every
        self._swept_at = float("-inf")

    def chain_file(self, clips: list[Path]) -> Path:
        """Where the chain of ``clips`` is joined: the same clips in the same order, the same file."""
        names = "\n".join(str(c.relative_to(self.folder)) for c in clips)
        digest = hashlib.sha256(names.encode()).hexdigest()[:32]
        return self.folder / CHAINS / digest / f"{clips[-1].stem}_chain-of-{len(clips)}.mp4"

    def check_room_for_spare_work(self, needed: int, paid_floor: int) -> None:
        """Refuse unpaid disk work that would leave less than ``SPARE_WORK_FLOOR`` × the paid clips' floor."""
        free = shutil.disk_usage(self.folder).free
        floor = SPARE_WORK_FLOOR * paid_floor
        if free - needed < floor:
            raise NoRoomForExtrasError(
                f"{free / 1e6:.0f} MB free; a join of {needed / 1e6:.0f} MB must leave {floor / 1e6:.0f} MB"
            )

    def sweep_if_due(self) -> int:
        """Runs ``sweep`` at most every ``sweep_every`` seconds; the number of files deleted."""
        now = time.monotonic()
        if now - self._swept_at < self.sweep_every:
            return 0
        self._swept_at = now
        return self.sweep()

    def sweep(self) -> int:
        """Deletes every file older than ``max_age`` (by its last change), and folders empty for as long."""
        cutoff = time.time() - self.max_age
        deleted = 0
        for root, folders, files in os.walk(self.folder, topdown=False):
            for name in files:
                path = Path(root) / name
                try:
                    if path.lstat().st_mtime < cutoff:
                        path.unlink()
                        deleted += 1
                except FileNotFoundError:
                    continue
            for name in folders:
                folder = Path(root) / name
                try:
                    if folder.lstat().st_mtime < cutoff:  # a new one may be about to take a clip
                        folder.rmdir()
                except OSError:
                    continue  # not empty, or gone
        return deleted
