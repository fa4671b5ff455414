"""What this app changes in Gradio (6.31, the pinned version), each for a reason given where it is done."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from ray_studio.web.clip_store import clip_folder_beside


def serve_as_is(value: str | Path | None) -> FileData | None:
    """A Video's postprocess for Segmind's H.264 MP4s, already in Gradio's cache: served as they are,
    with no ffprobe and no re-encoding of a clip Gradio does not recognise."""
    return FileData(path=str(value), mime_type="video/mp4") if value else None


def clip_folder(uploads: Path) -> Path:
    """The page's clip folder, beside Gradio's upload folder ``uploads`` and never inside it, made and
    served as it is: Gradio's static paths are neither copied into its cache nor taken as uploads, so a
    clip's path sent back as an upload is refused (and the old clips are swept by ``ClipStore``)."""
    folder = clip_folder_beside(uploads)
    folder.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([folder])
    return folder


def lighter_sessions() -> None:
    """Gradio starts every session (each API call is one) with a copy of every block's config, for
    deep links, which this page refuses (http_guard): 12–18 ms of event-loop time per call here on 2
    cores, most of what 128 calls at once cost. Sessions start with none of it instead; Gradio fills
    in what it needs (a changed value) on demand."""
    from gradio import state_holder

    original = state_holder.SessionState.__init__
    if getattr(original, "ray_studio", False):
        return

    def start_light(self: Any, blocks: Any) -> None:
        original(self, SimpleNamespace(default_config=blocks.default_config, blocks={}))

    start_light.ray_studio = True  # type: ignore[attr-defined]
    state_holder.SessionState.__init__ = start_light  # type: ignore[method-assign]


def guard_inputs(demo: gr.Blocks) -> None:
    """A call that sends fewer inputs than an endpoint takes is told which ones, instead of
    Gradio's unnamed internal error."""
    check = demo.validate_inputs

    def validate(block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            names = [getattr(b, "label", None) or type(b).__name__ for b in block_fn.inputs]
            raise gr.Error(
                f"This endpoint takes {len(names)} inputs ({', '.join(map(str, names))}); the call sent "
                f"{len(inputs)}. Nothing was sent to Segmind.",
                title="Invalid request",
                print_exception=False,
            )
        check(block_fn, inputs)

    demo.validate_inputs = validate  # type: ignore[method-assign]
