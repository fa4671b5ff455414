"""Ray Studio: a Gradio page for Luma Ray Flash 2 (720p) on Segmind.

Layout and event wiring only; every call to Segmind goes through ray_client.
Runs the same locally (``python app.py``) and as a Hugging Face Space.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
import gradio as gr
from anyio import get_cancelled_exc_class
from dotenv import load_dotenv
from gradio.data_classes import FileData
from gradio.utils import get_upload_folder

from ray_client import (
    API_KEYS_PAGE,
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_DURATION,
    MAX_PROMPT_CHARS,
    InvalidRequestError,
    RayClient,
    RayError,
    Settings,
    VideoRequest,
    VideoResult,
    env_bool,
)

log = logging.getLogger("ray_studio")

DESCRIPTION = """\
# 🎬 Ray Studio
Make short 720p videos from a prompt with Luma's **Ray Flash 2**, served by
[Segmind](https://www.segmind.com/models/ray-flash-2-720p). Pick a shape and a length, optionally
pin the first and last frames with image URLs, and press **Generate**. Each clip is billed to the
Segmind key in use; a clip takes from about half a minute to a few minutes.
"""

NO_SERVER_KEY_NOTICE = f"""\
**No server key is set.** Paste your own Segmind key under *Your Segmind API key* below
(get one at {API_KEYS_PAGE}). To run with your own key for everyone, set `SEGMIND_API_KEY` in the
environment, in `.env`, or as a Space secret.
"""

EXAMPLES = [
    ["a young boy riding a red bicycle through the valleys of the grand canyon, golden hour", "16:9", 5, False, "", ""],
    ["a barista pouring latte art in slow motion, close-up, steam rising", "9:16", 5, False, "", ""],
    ["an endless train of paper boats drifting down a rainy street gutter", "1:1", 5, True, "", ""],
    ["a slow dolly across a foggy pine forest at dawn, volumetric light", "21:9", 9, False, "", ""],
    [
        "the camera slowly circles the tower as clouds race past at sunset",
        "3:4",
        9,
        False,
        "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg",
        "",
    ],
]

# Client-side only: none of these send anything to the server.
BROWSER_KEY_SLOT = "ray-studio-segmind-key"
JS_RESTORE_KEY = f"() => {{ const k = localStorage.getItem('{BROWSER_KEY_SLOT}') || ''; return [k, k !== '']; }}"
JS_REMEMBER_KEY = (
    f"(key, remember) => {{ if (remember && key) localStorage.setItem('{BROWSER_KEY_SLOT}', key);"
    f" else localStorage.removeItem('{BROWSER_KEY_SLOT}'); return []; }}"
)
JS_COUNT = f"(text) => `${{(text || '').trim().length}} / {MAX_PROMPT_CHARS} characters`"
JS_RATIO_SHAPE = "(ratio) => { const [w, h] = String(ratio).split(':'); " + (
    "return `<div class='ratio-shape' style='aspect-ratio:${w}/${h}'>${w}:${h}</div>`; }"
)
JS_PREVIEW = (
    "(url) => { url = (url || '').trim(); if (!/^https?:\\/\\/\\S+$/i.test(url)) "
    "return url ? `<p class='keyframe-hint'>Not an http(s) image URL yet.</p>` : ''; "
    "const img = document.createElement('img'); img.src = url; img.alt = 'keyframe preview'; "
    "img.className = 'keyframe-preview'; img.referrerPolicy = 'no-referrer'; return img.outerHTML; }"
)

CSS = """
.ratio-shape { display:flex; align-items:center; justify-content:center; max-height:72px; max-width:128px;
  margin:auto; border:2px solid var(--color-accent); border-radius:4px; font-size:12px; }
.keyframe-preview { max-height:120px; border-radius:6px; }
.keyframe-hint { color: var(--body-text-color-subdued); font-size: 12px; }
#clip-info { min-height: 1.5em; }
"""


def _ratio_shape_html(ratio: str) -> str:
    w, h = ratio.split(":")
    return f"<div class='ratio-shape' style='aspect-ratio:{w}/{h}'>{w}:{h}</div>"


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """App settings; names and defaults are in .env.example."""

    concurrency: int = 32
    queue_size: int = 100
    clip_max_age: int = 86_400
    cleanup_every: int = 3_600
    mcp: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AppSettings:
        env = dict(os.environ if env is None else env)

        def whole(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or int(raw) < 1:
                raise InvalidRequestError([f"{name} must be a whole number of at least 1 (got {raw!r})"])
            return int(raw)

        return cls(
            concurrency=whole("RAY_CONCURRENCY", cls.concurrency),
            queue_size=whole("RAY_QUEUE_SIZE", cls.queue_size),
            clip_max_age=whole("RAY_CLIP_MAX_AGE", cls.clip_max_age),
            cleanup_every=whole("RAY_CLEANUP_EVERY", cls.cleanup_every),
            mcp=env_bool(env, "RAY_MCP", cls.mcp),
        )


def people_error(err: RayError) -> gr.Error:
    """A client error as the toast a visitor (or a gradio_client caller) sees."""
    # The whole line as the message: Gradio's toast labels itself "Error" whatever the title says.
    return gr.Error(err.user_message, title=err.title, duration=None, print_exception=False)


def clip_path(folder: Path) -> Path:
    # Written inside Gradio's cache folder so Gradio serves it without copying and deletes it
    # on its delete_cache schedule.
    return folder / f"ray-flash-2-{uuid.uuid4().hex[:12]}.mp4"


class Studio:
    """The page's two ways in, over one generation: the public ``/generate`` endpoint (also the MCP
    tool) and the page's own handler, which also returns the result for the session history. They are
    separate because a gr.State among an endpoint's outputs breaks Gradio's MCP tool results."""

    def __init__(self, client: RayClient, clips: Path) -> None:
        self.client = client
        self.clips = clips

    async def generate(
        self,
        prompt: str,
        aspect_ratio: str = DEFAULT_ASPECT_RATIO,
        duration: int = DEFAULT_DURATION,
        loop: bool = False,
        start_image_url: str = "",
        end_image_url: str = "",
        api_key: str = "",
    ) -> tuple[str, str]:
        """Make a 720p video clip with Luma Ray Flash 2 on Segmind.

        Args:
            prompt: What the video should show (up to 2000 characters).
            aspect_ratio: One of 1:1, 3:4, 4:3, 9:16, 16:9, 9:21, 21:9.
            duration: Length in seconds: 5 or 9.
            loop: Make the last frame match the first, for seamless looping.
            start_image_url: http(s) URL of an image to use as the first frame; empty for none.
            end_image_url: http(s) URL of an image to use as the last frame; empty for none.
            api_key: Your own Segmind API key; empty to use the server's key.

        Returns:
            The MP4 video, and a one-line summary: parameters, time taken, size, credits left.
        """
        result = await self._make_clip(prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key)
        return str(result.path), result.summary()

    async def generate_in_page(self, *params: Any) -> tuple[str, str, VideoResult]:
        result = await self._make_clip(*params)
        return str(result.path), result.summary(), result

    async def _make_clip(
        self, prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key
    ) -> VideoResult:
        cancel = threading.Event()
        try:
            request = VideoRequest(prompt, aspect_ratio, duration, loop, start_image_url, end_image_url)
            # anyio's pool, which Gradio sizes by max_threads; asyncio.to_thread's default executor
            # holds only cores + 4 threads and would serialise visitors on a small machine.
            result: VideoResult = await anyio.to_thread.run_sync(
                functools.partial(self.client.generate, request, clip_path(self.clips), api_key=api_key, cancel=cancel),
                abandon_on_cancel=True,
            )
        except get_cancelled_exc_class():
            cancel.set()  # stops the download at its next chunk; the thread then ends
            raise
        except RayError as err:
            log.info("generation failed: %s", type(err).__name__)
            raise people_error(err) from None
        except Exception:
            log.exception("unexpected failure while generating")
            raise gr.Error(
                "Something unexpected went wrong on this server; nothing was saved. Please try again.",
                title="Unexpected error",
                print_exception=False,
            ) from None
        log.info("generated %s in %.1f s", request.describe(), result.elapsed_seconds)
        return result


def serve_as_is(value: str | Path | None) -> FileData | None:
    return FileData(path=str(value), mime_type="video/mp4") if value else None


HISTORY_COLUMNS = ["Prompt", "Shape", "Length", "Loop", "Keyframes", "Took", "Size"]


def history_row(result: VideoResult) -> list[str]:
    r = result.request
    return [
        r.prompt,
        r.aspect_ratio,
        f"{r.duration} s",
        "yes" if r.loop else "",
        " + ".join(name for name, url in (("start", r.start_image_url), ("end", r.end_image_url)) if url),
        f"{result.elapsed_seconds:.0f} s",
        result.size_label,
    ]


def add_to_history(result: VideoResult, history: list[VideoResult]):
    history = [result, *history][:50]
    return history, [history_row(h) for h in history]


def restore_from_history(history: list[VideoResult], event: gr.SelectData):
    result = history[event.index[0]]
    r = result.request
    return (
        r.prompt,
        r.aspect_ratio,
        r.duration,
        r.loop,
        r.start_image_url or "",
        r.end_image_url or "",
        gr.Video(value=str(result.path), loop=r.loop),
        result.summary(),
    )


def busy(loop: bool):
    # The player's loop is set now, not when the clip arrives: changing it then rebuilds the player
    # while it loads the clip (bench, last byte to playable: medians 0.45–0.49 s before, 0.25–0.32 s after).
    return gr.Button(interactive=False, value="Generating…"), gr.Button(visible=True), gr.Video(loop=loop)


def idle():
    return gr.Button(interactive=True, value="Generate"), gr.Button(visible=False)


def cancelled():
    gr.Info("Cancelled. If Segmind had already started the clip, it may still be billed.", title="Cancelled")
    return idle()


def build_demo(client: RayClient, settings: AppSettings | None = None) -> gr.Blocks:
    settings = settings or AppSettings()
    has_server_key = bool(client.settings.api_key)
    clips = Path(get_upload_folder()) / "ray-studio"
    clips.mkdir(parents=True, exist_ok=True)
    studio = Studio(client, clips)

    with gr.Blocks(
        title="Ray Studio · Luma Ray Flash 2",
        delete_cache=(settings.cleanup_every, settings.clip_max_age),
    ) as demo:
        gr.Markdown(DESCRIPTION)
        if not has_server_key:
            gr.Markdown(NO_SERVER_KEY_NOTICE, elem_id="no-key-notice")
        with gr.Row():
            with gr.Column(scale=5):
                prompt = gr.Textbox(
                    label="Prompt",
                    lines=4,
                    max_length=MAX_PROMPT_CHARS,
                    placeholder="Describe the shot: subject, action, camera, light…",
                    elem_id="prompt",
                )
                prompt_count = gr.Markdown(f"0 / {MAX_PROMPT_CHARS} characters", elem_id="prompt-count")
                with gr.Row():
                    aspect_ratio = gr.Radio(
                        list(ASPECT_RATIOS), value=DEFAULT_ASPECT_RATIO, label="Aspect ratio", scale=4
                    )
                    ratio_shape = gr.HTML(_ratio_shape_html(DEFAULT_ASPECT_RATIO), min_height=0, scale=1)
                with gr.Row():
                    duration = gr.Radio([("5 s", 5), ("9 s", 9)], value=DEFAULT_DURATION, label="Duration")
                    loop = gr.Checkbox(label="Loop (last frame matches the first)", value=False)
                    # Gradio's Radio always calls its values strings in the API schema; these are numbers.
                    duration.api_info = lambda: {"enum": [5, 9], "title": "Duration", "type": "integer"}
                with gr.Accordion("Keyframes (optional)", open=False), gr.Row():
                    with gr.Column():
                        start_image_url = gr.Textbox(
                            "", label="Start image URL", placeholder="https://…/first-frame.jpg"
                        )
                        start_preview = gr.HTML(min_height=0)
                    with gr.Column():
                        end_image_url = gr.Textbox("", label="End image URL", placeholder="https://…/last-frame.jpg")
                        end_preview = gr.HTML(min_height=0)
                with gr.Accordion("Your Segmind API key", open=not has_server_key):
                    api_key = gr.Textbox(
                        "",
                        label="API key",
                        type="password",
                        placeholder="Empty: use this server's key" if has_server_key else "Paste your Segmind key",
                        info=f"Used for your requests only, never stored on the server. Get one at {API_KEYS_PAGE}",
                        elem_id="api-key",
                    )
                    remember_key = gr.Checkbox(label="Remember in this browser", value=False)
                with gr.Row():
                    generate_btn = gr.Button("Generate", variant="primary", elem_id="generate")
                    cancel_btn = gr.Button("Cancel", variant="stop", visible=False, elem_id="cancel")
            with gr.Column(scale=6):
                video = gr.Video(label="Video", autoplay=True, buttons=["download"], interactive=False, elem_id="video")
                # Serve our clips as they are. With ffmpeg installed (as on Spaces) Gradio would ffprobe
                # every clip in the event loop's path and re-encode any it does not recognise;
                # Segmind's are H.264 MP4, which browsers play. (A subclass would make Gradio write
                # an app.pyi stub, hence the instance attribute.)
                video.postprocess = serve_as_is
                info = gr.Markdown(elem_id="clip-info")
                history_table = gr.Dataframe(
                    headers=HISTORY_COLUMNS,
                    value=[],
                    interactive=False,
                    wrap=True,
                    max_height=320,
                    label="This session's clips: click one to watch it again and reuse its settings",
                    elem_id="history",
                )
        gr.Examples(
            examples=EXAMPLES,
            inputs=[prompt, aspect_ratio, duration, loop, start_image_url, end_image_url],
            cache_examples=False,
            label="Example prompts (choosing one only fills the form)",
        )
        last_result = gr.State(None)
        history = gr.State([])

        inputs = [prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key]
        private: dict[str, Any] = {"api_visibility": "private", "queue": False}
        # The page's generations and the API's share one limit of RAY_CONCURRENCY (and so the threads).
        one_limit_for_both: dict[str, Any] = {"concurrency_id": "generation"}
        locked = generate_btn.click(busy, loop, [generate_btn, cancel_btn, video], **private)
        run = locked.then(
            studio.generate_in_page,
            inputs,
            [video, info, last_result],
            show_progress_on=video,
            preprocess=False,
            api_visibility="private",
            **one_limit_for_both,
        )
        run.then(idle, None, [generate_btn, cancel_btn], **private)
        run.failure(idle, None, [generate_btn, cancel_btn], **private)  # Gradio 6 skips .then after an error
        run.success(add_to_history, [last_result, history], [history, history_table], **private)
        # Queued (unlike the other small events): Gradio delivers gr.Info only through the queue.
        cancel_btn.click(cancelled, None, [generate_btn, cancel_btn], cancels=[run], api_visibility="private")
        # The API and MCP way in, with no button of its own in the page. preprocess=False: these
        # inputs arrive as plain values either way, and VideoRequest, not Gradio's generic choice
        # check, names a bad value precisely for API callers.
        api_only = gr.Button(visible=False)
        api_only.click(
            studio.generate, inputs, [video, info], api_name="generate", preprocess=False, **one_limit_for_both
        )
        history_table.select(
            restore_from_history,
            [history],
            [prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, video, info],
            **private,
        )
        prompt.change(None, prompt, prompt_count, js=JS_COUNT)
        aspect_ratio.change(None, aspect_ratio, ratio_shape, js=JS_RATIO_SHAPE)
        start_image_url.change(None, start_image_url, start_preview, js=JS_PREVIEW)
        end_image_url.change(None, end_image_url, end_preview, js=JS_PREVIEW)
        api_key.change(None, [api_key, remember_key], None, js=JS_REMEMBER_KEY)
        remember_key.change(None, [api_key, remember_key], None, js=JS_REMEMBER_KEY)
        demo.load(None, None, [api_key, remember_key], js=JS_RESTORE_KEY)

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def launch_options(settings: AppSettings) -> dict[str, Any]:
    # Async handlers hand the blocking client call to a worker thread, so the thread pool must
    # hold every generation that runs at once, plus headroom for Gradio's own file work.
    # run_history off: Gradio would record every run's inputs, the visitor's key among them, and
    # offers to upload that record to a Hugging Face bucket.
    return {
        "max_threads": settings.concurrency + 8,
        "css": CSS,
        "mcp_server": settings.mcp,
        "run_history": False,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Ray Studio (a Gradio page for Luma Ray Flash 2).")
    parser.add_argument("--share", action="store_true", help="also serve on a public *.gradio.live link")
    parser.add_argument("--host", help="address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--mcp", action="store_true", help="also serve /generate as an MCP tool (RAY_MCP)")
    args = parser.parse_args(argv)

    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = AppSettings.from_env()
        client = RayClient(Settings.from_env())
    except InvalidRequestError as err:
        parser.exit(2, f"error: {err}\n")
    if args.mcp:
        settings = dataclasses.replace(settings, mcp=True)
    if settings.mcp and importlib.util.find_spec("mcp") is None:
        parser.exit(2, 'error: MCP needs an extra package: pip install "gradio[mcp]"\n')
    if not client.settings.api_key:
        log.warning("SEGMIND_API_KEY is not set: visitors must paste their own key")
    demo = build_demo(client, settings)
    demo.launch(share=args.share or None, server_name=args.host, server_port=args.port, **launch_options(settings))


if __name__ == "__main__":
    main()
