"""Clips you can find again: file names from the prompt, and a JSON sidecar that can make the clip again.

``clip_name`` names a clip after its request (``lighthouse-at-dusk_16x9_5s.mp4``) with only ASCII
letters, digits, ``-`` and ``_``, so the name is the same and valid on Windows, macOS and Linux;
``free_path`` adds ``-2``, ``-3`` ... rather than overwrite. ``sidecar`` records everything needed to
make the clip again, down to a ready-to-run command line, and ``write_sidecar`` puts it beside the
clip as ``NAME.json``. ``keep`` does both for a folder of kept clips (the app's RAY_SAVE_DIR).

No HTTP and no UI here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import unicodedata
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ray_studio.client.files import atomic_write, partial_file
from ray_studio.client.job import VideoResult
from ray_studio.client.request import VideoRequest

SLUG_WORDS = 6
MAX_SLUG_CHARS = 40
FALLBACK_SLUG = "clip"
SIDECAR_SUFFIX = ".json"
CLI_COMMAND = ("python", "ray_client.py")

# Names Windows keeps for devices, with any extension: "con.mp4" cannot be created there.
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))]
)
# Latin letters that Unicode does not decompose into an ASCII letter and a mark.
_LATIN_EXTRAS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l",
     "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "ı": "i"}
)  # fmt: skip
_APOSTROPHES = re.compile(r"['’ʼ`]")


# --------------------------------------------------------------------------- names


def slug(prompt: str) -> str:
    """The prompt's first words as a file-name stem: ``"Lighthouse at dusk, waves"`` →
    ``lighthouse-at-dusk-waves``. Only a-z, 0-9 and single '-' between words; accents dropped
    (``café`` → ``cafe``); other scripts and emoji dropped; never empty (``clip``), never a Windows
    device name, at most MAX_SLUG_CHARS characters."""
    text = _APOSTROPHES.sub("", prompt.translate(_LATIN_EXTRAS))  # "fox's" → "foxs", not "fox-s"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)[:SLUG_WORDS]
    stem = ""
    for word in words:
        longer = f"{stem}-{word}" if stem else word
        if len(longer) > MAX_SLUG_CHARS:
            stem = stem or word[:MAX_SLUG_CHARS]
            break
        stem = longer
    if not stem:
        return FALLBACK_SLUG
    return f"{stem}-{FALLBACK_SLUG}" if stem in WINDOWS_RESERVED else stem


def clip_name(request: VideoRequest, suffix: str = ".mp4", *, tag: str | None = None) -> str:
    """``lighthouse-at-dusk_16x9_5s.mp4``; ``_loop`` is added for a looping clip, and a ``tag`` (a camera
    move: ``lighthouse-at-dusk_orbit-left_16x9_5s.mp4``) after the prompt's words."""
    shape = request.aspect_ratio.replace(":", "x")
    loop = "_loop" if request.loop else ""
    tagged = f"_{slug(tag)}" if tag else ""
    return f"{slug(request.prompt)}{tagged}_{shape}_{request.duration}s{loop}{suffix}"


def free_path(folder: Path, name: str, *, taken: Collection[Path] = ()) -> Path:
    """``folder/name``, or ``name-2``, ``name-3`` ... (before the suffix): the first that is free. A name
    is taken when a file (or a link) of that name exists, when its sidecar (NAME.json) does, or when
    it is in ``taken`` (names already promised to clips being made)."""
    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"free_path takes a file name, not a path (got {name!r})")
    stem, suffix = _split(name)
    candidate, number = Path(folder) / name, 1
    while _is_taken(candidate, taken):
        number += 1
        candidate = Path(folder) / f"{stem}-{number}{suffix}"
    return candidate


def _split(name: str) -> tuple[str, str]:
    path = Path(name)
    return (path.stem, path.suffix) if path.stem else (name, "")


def _is_taken(candidate: Path, taken: Collection[Path]) -> bool:
    companions = (candidate, candidate.with_suffix(SIDECAR_SUFFIX))
    return candidate in taken or any(os.path.lexists(path) for path in companions)


# --------------------------------------------------------------------------- sidecars


def sidecar(
    result: VideoResult,
    *,
    model: str,
    api_mode: str,
    sources: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to make the clip again, as JSON-ready data: the prompt and every parameter,
    the keyframe URLs that were sent (``sources`` maps a keyframe field to the local file it was made
    from), the model and API mode, the job id, time taken, size, cost (US dollars), when (UTC, ISO
    8601), the clip's file name, what ``extra`` adds (``original_prompt`` before an enhance, the
    ``camera`` move), and ``cli``: a shell-quoted (POSIX) command line that makes it again, run in the
    clip's folder.
    A resumed clip whose request is not known has null parameters, and ``cli`` fetches it again."""
    request = result.request
    data: dict[str, Any] = {
        "file": result.path.name,
        "prompt": request.prompt if request else None,
        "aspect_ratio": request.aspect_ratio if request else None,
        "duration": request.duration if request else None,
        "loop": request.loop if request else None,
        "start_image_url": request.start_image_url if request else None,
        "end_image_url": request.end_image_url if request else None,
        "sources": dict(sources or {}),
        "model": model,
        "api_mode": api_mode,
        "job_id": result.job_id,
        "elapsed_seconds": round(result.elapsed_seconds, 1),
        "size_bytes": result.size_bytes,
        "cost_usd": result.cost,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    data["cli"] = cli_command(request, result.path.name, job_id=result.job_id)
    return data


def cli_command(request: VideoRequest | None, file_name: str, *, job_id: str | None = None) -> str:
    """The shell-quoted (POSIX) command line that makes ``request`` again, into a new file named after
    its prompt (never over ``file_name``, the clip this sidecar describes); with no request, the one
    that fetches job ``job_id`` again into ``file_name``."""
    if request is None:
        if not job_id:
            raise ValueError("cli_command needs a request or a job id")
        return shlex.join([*CLI_COMMAND, "--resume", job_id, "-o", file_name])
    options = ["--aspect-ratio", request.aspect_ratio, "--duration", str(request.duration)]
    if request.loop:
        options.append("--loop")
    for option, url in (("--start-image-url", request.start_image_url), ("--end-image-url", request.end_image_url)):
        if url:
            options += [option, url]
    if request.prompt.startswith("-"):  # it would read as an option: after "--" it cannot
        return shlex.join([*CLI_COMMAND, *options, "--", request.prompt])
    return shlex.join([*CLI_COMMAND, request.prompt, *options])


def sidecar_path(video: Path) -> Path:
    return Path(video).with_suffix(SIDECAR_SUFFIX)


def write_sidecar(video: Path, data: dict[str, Any]) -> Path:
    """Writes ``data`` as ``NAME.json`` beside ``NAME.mp4``: UTF-8, indented, and whole or not at all
    (written to a temporary file in the same folder, then renamed over any older one)."""
    target = sidecar_path(video)
    atomic_write(target, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return target


# --------------------------------------------------------------------------- a folder of kept clips


def keep(result: VideoResult, folder: Path, **sidecar_kwargs: Any) -> tuple[Path, Path]:
    """Copies the clip into ``folder`` (made if missing) under its ``clip_name`` (``free_path``: never
    over another clip), with its sidecar; returns (clip, sidecar). ``sidecar_kwargs`` go to ``sidecar``
    (model=, api_mode=, sources=). The copy appears whole or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = clip_name(result.request) if result.request else f"{result.job_id or FALLBACK_SLUG}.mp4"
    with partial_file(folder / name) as partial:
        shutil.copyfile(result.path, partial)
        kept = _claim(partial, folder, name)
    kept_result = replace(result, path=kept)
    return kept, write_sidecar(kept, sidecar(kept_result, **sidecar_kwargs))


def _claim(partial: Path, folder: Path, name: str) -> Path:
    """Gives the finished copy the first free name. A hard link fails when the name was taken in the
    meantime (another process keeping a clip of the same prompt), so no clip is ever replaced."""
    while True:
        target = free_path(folder, name)
        try:
            os.link(partial, target)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: rename (a race here could replace a clip)
            os.replace(partial, target)
        return target  # the partial name is removed by keep's partial_file
