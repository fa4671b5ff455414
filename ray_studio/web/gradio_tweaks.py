"""What this app changes in Gradio (6.31, the pinned version), each for a reason given where it is done."""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import logging
import re
import typing
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
from gradio.context import get_blocks_context
from gradio.data_classes import FileData
from gradio.utils import get_function_params

from ray_studio.web.clip_store import clip_folder_beside

log = logging.getLogger("ray_studio")


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
    """Gradio keeps, per session (each API call is one), a copy of every block's config, for deep
    links, which this page refuses (http_guard): building it took 12–18 ms of event-loop time per call
    here on 2 cores, most of what 128 calls at once cost, and even filled on demand it costs a config
    per input and output of each call. Sessions here keep none of it: they hold their own state, their
    rendered blocks and nothing else. Gradio 6.31's ``SessionState``; its other methods are unchanged."""
    from gradio import state_holder
    from gradio.components import State

    session = state_holder.SessionState
    if getattr(session.__init__, "ray_studio", False):
        return
    original = session.__init__

    def start_light(self: Any, blocks: Any) -> None:
        original(self, SimpleNamespace(default_config=blocks.default_config, blocks={}))

    def set_without_config(self: Any, key: int, value: Any) -> None:
        block = self.blocks_config.blocks.get(key)
        if isinstance(block, State):
            self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
            self.state_data[key] = value
        else:
            self.blocks_config.blocks[key] = value

    start_light.ray_studio = True  # type: ignore[attr-defined]
    session.__init__ = start_light  # type: ignore[method-assign]
    session.__setitem__ = set_without_config  # type: ignore[method-assign]
    session._update_config = lambda self, key: None  # type: ignore[method-assign]
    session._update_value_in_config = lambda self, key, value: None  # type: ignore[method-assign]


@contextlib.contextmanager
def app_built_at_launch() -> Iterator[None]:
    """Gradio builds a FastAPI app (all its routes) when a Blocks is made, again when its ``with``
    ends and at each ``queue()``, and once more in ``launch()``: only launch's is ever served. Blocks
    made inside this skip the first three, a tenth of a second each on 2 cores; Gradio has no
    setting for it. Only for a page that is launched: ``demo.app`` is None until then."""
    from gradio.routes import App

    built = App.__dict__["create_app"]
    App.create_app = staticmethod(lambda *args, **kwargs: None)  # type: ignore[method-assign]
    try:
        yield
    finally:
        App.create_app = built  # type: ignore[method-assign]


def guard_inputs(demo: gr.Blocks) -> None:
    """A call that sends fewer inputs than an endpoint takes is told which ones, instead of
    Gradio's unnamed internal error."""
    check = demo.validate_inputs

    def validate(block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            names = [getattr(b, "label", None) or type(b).__name__ for b in block_fn.inputs]
            log.info("refused a call with %d of the %d inputs it takes", len(inputs), len(names))
            raise gr.Error(
                f"This endpoint takes {len(names)} inputs ({', '.join(map(str, names))}); the call sent "
                f"{len(inputs)}. Nothing was sent to Segmind.",
                title="Invalid request",
                print_exception=False,
            )
        check(block_fn, inputs)

    demo.validate_inputs = validate  # type: ignore[method-assign]


def api(
    fn: Callable[..., Any],
    api_name: str,
    returns: tuple[str, ...],
    schemas: dict[str, tuple[dict, Any]] | None = None,
    **options: Any,
) -> None:
    """``gr.api(fn)`` for an async ``fn``, with what gr.api misses here.

    - It reads the return type from the signature as written: under ``from __future__ import
      annotations`` a string, which it takes for one output of any type. Here it gets the types.
    - Its inputs and outputs are labelled 1st, 2nd…: here each is labelled with its name (the API
      page shows them, and guard_inputs names the missing ones).
    - A JSON type it cannot derive (a Literal of numbers has none): ``schemas[name]`` gives the
      parameter's schema and its default.
    """

    @functools.wraps(fn)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, **kwargs)

    endpoint.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    endpoint.__annotations__ = typing.get_type_hints(fn)
    made = gr.api(endpoint, api_name=api_name, **options)  # refuses to be called outside a Blocks
    event = get_blocks_context().fns[made["id"]]  # type: ignore[union-attr]
    names = [name for name, *_ in get_function_params(endpoint)]
    for component, name in zip(event.inputs, names, strict=True):
        component.label = name
        if schemas and name in schemas:
            component._api_info, component.value = schemas[name]  # type: ignore[attr-defined]
    for component, name in zip(event.outputs, returns, strict=True):
        component.label = name


_STREAM = re.compile(r"/gradio_api/(?:call/(?P<api>[^/]+)/(?P<event>[^/]+)|queue/data)/?\Z")


def names_a_held_stream(blocks: gr.Blocks, path: str, query: bytes) -> bool:
    """Whether a GET of an event stream (``/gradio_api/call/<name>/<event>``, ``/gradio_api/queue/data``)
    names one Gradio holds. Gradio finds out only after it has begun its answer, then drops the
    connection and logs a traceback; asked first, the front door answers a plain 404. Any other path: True.
    Reads Gradio 6.31's queue the way its own routes do (routes.simple_predict_get, queue_data_helper)."""
    match = _STREAM.search(path)
    if match is None:
        return True
    queue = blocks._queue
    if match["api"] is None:
        session = urllib.parse.parse_qs(query.decode("latin-1")).get("session_hash", [""])[0]
    else:
        if match["api"] not in {fn.api_name for fn in blocks.fns.values()}:
            return False
        event = queue.event_ids_to_events.get(match["event"])
        held = (s for s, ids in queue.pending_event_ids_session.items() if match["event"] in ids)
        session = event.session_hash if event is not None else next(held, match["event"])
    return session in queue.pending_messages_per_session
