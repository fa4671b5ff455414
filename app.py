"""Ray Studio: a Gradio page for Luma Ray Flash 2 (720p) on Segmind.

Layout, then wiring; the handlers are in page.py. Every call to Segmind goes through ray_client;
what a visitor may spend, where clips go and what the browser keeps are decided in studio.py,
visitors.py and jobs.py. Runs the same locally (``python app.py``) and as a Hugging Face Space.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import html
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr
from dotenv import load_dotenv
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from ray_studio.client.client import RayClient
from ray_studio.client.errors import API_KEYS_PAGE, InvalidRequestError
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, MAX_PROMPT_CHARS
from ray_studio.web.board import JobBoard
from ray_studio.web.config import AppSettings, read_settings
from ray_studio.web.gradio_tweaks import clip_folder, guard_inputs, lighter_sessions, serve_as_is
from ray_studio.web.history import entry_line, form_values
from ray_studio.web.http_guard import HttpGuard
from ray_studio.web.page import CARD_LIMIT, Page
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.redaction import RedactKeys
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio

log = logging.getLogger("ray_studio")
ASSETS = Path(__file__).with_name("assets")

DESCRIPTION = """\
# 🎬 Ray Studio
Short 720p videos from a prompt with Luma's **Ray Flash 2** on
[Segmind](https://www.segmind.com/models/ray-flash-2-720p): pick a shape and a length, optionally the
first and last frames, and **Generate** (half a minute to a few minutes; billed to the key in use).
"""

NO_SERVER_KEY_NOTICE = f"""\
**This page has no Segmind key of its own:** paste yours below ([get one]({API_KEYS_PAGE})); it is used
for your clips only.
"""

TIP = (
    "Tip: short, direct and positive works best: the subject, what it does, and the camera "
    "(“a red kite over white dunes, slow aerial orbit, golden hour”)."
)
PHRASES = {
    "Camera": [
        "orbit shot",
        "dolly in",
        "dolly out",
        "crane up",
        "slow pan",
        "truck left",
        "aerial view",
        "handheld",
        "static camera",
    ],
    "Light": ["golden hour", "soft overcast light", "neon night", "volumetric light", "backlit"],
    "Pace": ["slow motion", "timelapse", "fast-paced"],
}

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


def phrases_html() -> str:
    rows = []
    for group, phrases in PHRASES.items():
        chips = "".join(
            f"<button type='button' class='phrase' data-phrase='{html.escape(p, quote=True)}'>{html.escape(p)}</button>"
            for p in phrases
        )
        rows.append(f"<div class='phrase-row'><b>{html.escape(group)}</b> {chips}</div>")
    return "".join(rows)


def example_label(example: list) -> str:
    """An example as people read it, settings first: ``9:16 · 5 s · loop · start keyframe · a barista…``."""
    prompt, ratio, duration, loop, start, end = example
    parts = [ratio, f"{duration} s"]
    parts += ["loop"] if loop else []
    parts += ["start keyframe"] if start else []
    parts += ["end keyframe"] if end else []
    return " · ".join([*parts, prompt])


def without(entry_id: str, history: list[dict]) -> list[dict]:
    return [e for e in history or [] if isinstance(e, dict) and e.get("id") != entry_id]


def busy(loop: bool):
    """While a clip or a set of variants is made: both buttons off, Cancel shown, the player and its
    line cleared (an older clip there would read as this one's, with Continue on it)."""
    # The player's loop is set now, not when the clip arrives: changing it then rebuilds the player
    # while it loads the clip (bench, last byte to playable: medians 0.45–0.49 s before, 0.25–0.32 s after).
    off = gr.Button(interactive=False)
    return off, gr.Button(visible=True), gr.Video(value=None, loop=loop), "", None, off


def idle():
    return gr.Button(interactive=True), gr.Button(visible=False), gr.Button(interactive=True)


def key_box(open: bool) -> tuple[gr.Textbox, gr.Checkbox]:
    """The visitor's own key: open and first when the page has none, else tucked away below."""
    with gr.Accordion("Your Segmind API key", open=open), gr.Row(equal_height=True):
        api_key = gr.Textbox(
            "",
            label="API key (used for your clips only; never stored on the server)",
            type="password",
            elem_id="api-key",
            placeholder="Paste your Segmind key" if open else "Empty: use this page's key (within its limits)",
            scale=3,
        )
        remember_key = gr.Checkbox(label="Remember in this browser", value=False, scale=1)
    return api_key, remember_key


def build_demo(client: RayClient, settings: AppSettings | None = None, policy: SpendPolicy | None = None) -> gr.Blocks:
    settings = settings or AppSettings()
    policy = policy or SpendPolicy()
    uploads = Path(get_upload_folder())
    clips = clip_folder(uploads)
    board = JobBoard(
        client, concurrency=settings.concurrency, threads=settings.concurrency + 8, keep_finished=settings.clip_max_age
    )
    studio = Studio(client, board, SpendGate(policy), clips, settings)
    page = Page(studio, uploads)
    RedactKeys.install(lambda: (client.settings.api_key,))

    with gr.Blocks(
        title="Ray Studio · Luma Ray Flash 2", delete_cache=(settings.cleanup_every, settings.clip_max_age)
    ) as demo:
        gr.Markdown(DESCRIPTION)
        if not studio.has_owner_key:
            gr.Markdown(NO_SERVER_KEY_NOTICE, elem_id="no-key-notice")
        if settings.hf_login:
            gr.LoginButton(value="Sign in with Hugging Face (limits then follow you, not your address)")
        with gr.Row():
            with gr.Column(scale=5):
                prompt = gr.Textbox(
                    label="Prompt",
                    info=TIP,
                    lines=3,
                    max_length=MAX_PROMPT_CHARS,
                    elem_id="prompt",
                    placeholder="Describe the shot: subject, action, camera, light…",
                )
                prompt_count = gr.Markdown(f"0 / {MAX_PROMPT_CHARS} characters", elem_id="prompt-count")
                aspect_ratio = gr.Radio(
                    list(ASPECT_RATIOS), value=DEFAULT_ASPECT_RATIO, label="Aspect ratio", elem_id="aspect-ratio"
                )
                with gr.Row(equal_height=True):
                    duration = gr.Radio([("5 s", 5), ("9 s", 9)], value=DEFAULT_DURATION, label="Duration", scale=2)
                    loop = gr.Checkbox(label="Loop (last frame matches the first)", value=False, scale=2)
                    ratio_shape = gr.HTML(min_height=0, scale=1, elem_id="ratio-shape")
                    # Gradio's Radio always calls its values strings in the API schema; these are numbers.
                    duration.api_info = lambda: {"enum": [5, 9], "title": "Duration", "type": "integer"}
                if not studio.has_owner_key:  # the key first, so Generate stays in sight on a laptop screen
                    api_key, remember_key = key_box(open=True)
                price = gr.Markdown(studio.price_line(DEFAULT_DURATION), elem_id="price")
                limits = gr.Markdown(studio.limits_line(), elem_id="limits", visible=bool(studio.limits_line()))
                with gr.Row():
                    generate_btn = gr.Button("Generate", variant="primary", elem_id="generate")
                    cancel_btn = gr.Button("Cancel", variant="stop", visible=False, elem_id="cancel")
                with gr.Accordion("Phrases Ray responds to (click to add)", open=False, elem_id="phrases"):
                    # Plain buttons in one HTML block, handled in the browser (assets/page.js): a Gradio
                    # button each would add 17 blocks that Gradio copies for every visitor's session.
                    gr.HTML(phrases_html(), min_height=0)
                with gr.Accordion("Keyframes: start and end images (optional)", open=False) as keyframe_box, gr.Row():
                    keyframes = {}
                    for which in ("start", "end"):
                        with gr.Column():
                            image = gr.Image(
                                type="filepath",
                                sources=["upload", "clipboard", "webcam"],
                                height=160,
                                label=f"{which.title()} image: drop, pick, paste or take one",
                                elem_id=f"{which}-image",
                            )
                            note = gr.Markdown(elem_id=f"{which}-note")
                            url = gr.Textbox(
                                "",
                                label=f"…or the {which} image's URL",
                                placeholder="https://…/frame.jpg",
                                elem_id=f"{which}-image-url",
                            )
                            preview = gr.HTML(min_height=0, elem_id=f"{which}-preview")
                            keyframes[which] = (image, note, url, preview)
                start_image_url, end_image_url = keyframes["start"][2], keyframes["end"][2]
                with gr.Accordion("Variants: several wordings and shapes at once", open=False, elem_id="variants-form"):
                    variant_prompts = gr.Textbox(label="Wordings, one per line", lines=3, elem_id="variant-prompts")
                    variant_ratios = gr.CheckboxGroup(
                        list(ASPECT_RATIOS), value=["16:9", "9:16"], label="Shapes", elem_id="variant-ratios"
                    )
                    loop_both = gr.Checkbox(label="Each with and without loop", value=False)
                    variants_cost = gr.Markdown(
                        page.variants_price("", ["16:9", "9:16"], False, DEFAULT_DURATION), elem_id="variants-cost"
                    )
                    variants_btn = gr.Button("Run the variants", variant="primary", elem_id="run-variants")
                if studio.has_owner_key:
                    api_key, remember_key = key_box(open=False)
            with gr.Column(scale=6):
                status = gr.Markdown(elem_id="clip-status")
                video = gr.Video(
                    label="Video", autoplay=True, buttons=["download"], interactive=False, elem_id="video", height=440
                )
                # Serve our clips as they are. With ffmpeg installed (as on Spaces) Gradio would ffprobe
                # every clip in the event loop's path and re-encode any it does not recognise;
                # Segmind's are H.264 MP4, which browsers play. (A subclass would make Gradio write
                # an app.pyi stub, hence the instance attribute.)
                video.postprocess = serve_as_is
                info = gr.Markdown(elem_id="clip-info")
                with gr.Row():
                    extend_btn = gr.Button("Continue from this clip", elem_id="extend", size="sm", interactive=False)
                    chain_btn = gr.Button("Download the chain as one MP4", elem_id="join", size="sm", visible=False)
                chain_file = gr.File(label="The chain, joined", visible=False, elem_id="chain-file")
                slots = []
                with gr.Column(elem_id="variants"):
                    for row in range(0, settings.max_variants, 2):
                        with gr.Row():
                            for i in range(row, min(row + 2, settings.max_variants)):
                                slot = gr.Video(
                                    visible=False,
                                    autoplay=True,
                                    loop=True,
                                    interactive=False,
                                    buttons=["download"],
                                    elem_id=f"variant-{i}",
                                )
                                slot.postprocess = serve_as_is
                                slots.append(slot)
        with gr.Column(elem_id="history"):
            gr.Markdown(
                "### Your clips\nNewest first, kept in this browser only (nobody else sees them); the server keeps "
                "the files a day."
            )
            history = gr.BrowserState([], storage_key="ray-studio-history", secret=settings.browser_secret)
            current = gr.State(None)  # the history entry in the player
            continuing = gr.State(None)  # {"id", "url"}: the next clip continues that one

            form = [prompt, aspect_ratio, duration, loop, start_image_url, end_image_url]

            # Rendered on each change only: on load, page.pick_up sends the stored history back once
            # (a render on load too would race it and leave the page with the older render's buttons).
            @gr.render(inputs=[history], triggers=[history.change])
            def history_cards(entries: list[dict]):
                entries = [e for e in (entries or []) if isinstance(e, dict)][:CARD_LIMIT]
                with gr.Row(equal_height=False):
                    for entry in entries:
                        with gr.Column(min_width=260, elem_classes="history-card"):
                            path = page.clip_path(entry) if entry.get("state") == "done" else None
                            if path:
                                # Not keyed: with key= (which would keep the players across the two
                                # re-renders per clip) Gradio 6.31 at times drops the second render.
                                card = gr.Video(
                                    path,
                                    loop=bool(entry.get("loop")),
                                    show_label=False,
                                    buttons=["download"],
                                    interactive=False,
                                )
                                card.postprocess = serve_as_is
                            elif entry.get("state") == "running":
                                gr.HTML("<p>⏳ Still being made at Segmind…</p>")
                            elif entry.get("state") == "failed":
                                gr.HTML(f"<p>⚠️ {html.escape(str(entry.get('error') or 'This clip failed.'))}</p>")
                            else:
                                gr.HTML(
                                    "<p class='card-gone'>This server no longer has this clip (files are kept a "
                                    "day): <b>Make again</b> to remake it from its settings.</p>"
                                )
                            gr.HTML(f"<p class='card-prompt'>{html.escape(str(entry.get('prompt', '')))}</p>")
                            gr.HTML(f"<p class='card-meta'>{html.escape(entry_line(entry))}</p>")
                            with gr.Row():
                                restore = gr.Button("Restore", size="sm", elem_classes="card-restore")
                                rerun = gr.Button(
                                    "Make again" if not path else "Re-run", size="sm", elem_classes="card-rerun"
                                )
                                further = gr.Button(
                                    "Continue", size="sm", elem_classes="card-continue", interactive=bool(path)
                                )
                                delete = gr.Button("Delete", size="sm", variant="stop", elem_classes="card-delete")
                            values = form_values(entry)
                            restore.click(lambda v=values: v, None, form, **card_event)
                            rerun.click(lambda v=values: v, None, form, **card_event).then(
                                None, js="() => rayStudio.clickGenerate()"
                            )
                            further.click(lambda e=entry: e, None, current, **card_event).then(**continue_clip)
                            delete.click(functools.partial(without, entry.get("id")), history, history, **card_event)

        gr.Examples(
            examples=EXAMPLES,
            inputs=form,
            cache_examples=False,
            example_labels=[example_label(e) for e in EXAMPLES],
            label="Example prompts (choosing one only fills the form)",
        )

        private: dict[str, Any] = {"api_visibility": "private", "queue": False}
        card_event: dict[str, Any] = private
        # Waiting on Segmind costs this server nothing but a task, so Gradio runs every generation at
        # once; the job board holds RAY_CONCURRENCY upstream at a time, the gate each visitor's share.
        # Image work too: a visitor's second image is refused at once, so no visitor fills the queue.
        unlimited: dict[str, Any] = {"concurrency_limit": None}
        continue_clip = {
            "fn": page.continue_from,
            "inputs": [current, api_key],
            "api_visibility": "private",
            "outputs": [*form, continuing, status, keyframe_box],
            **unlimited,
        }
        buttons = [generate_btn, cancel_btn, variants_btn]
        busy_outputs = [generate_btn, cancel_btn, video, info, current, variants_btn]
        focus_then_busy = {"js": "(l) => { rayStudio.focusResult(); return l; }", **private}
        locked = generate_btn.click(busy, loop, busy_outputs, **focus_then_busy)
        in_page = {"show_progress": "hidden", "preprocess": False, "api_visibility": "private", **unlimited}
        run = locked.then(
            page.generate_in_page,
            [*form, api_key, history, continuing],
            [status, video, info, history, current],
            **in_page,
        )
        run.then(idle, None, buttons, **private)
        run.failure(idle, None, buttons, **private)  # Gradio 6 skips .then after an error
        made = run.success(studio.limits_line, None, limits, **private)
        made.then(page.chain_button, [history, current], chain_btn, **private)
        made.then(page.after_continuing, [continuing, start_image_url], [continuing, start_image_url], **private)
        variant_form = [variant_prompts, variant_ratios, duration]
        variants_run = variants_btn.click(busy, loop, busy_outputs, **focus_then_busy).then(
            page.variants_in_page,
            [*variant_form, loop_both, loop, start_image_url, end_image_url, api_key, history],
            [status, *slots, history],
            **in_page,
        )
        variants_run.then(idle, None, buttons, **private)
        variants_run.failure(idle, None, buttons, **private)
        variants_run.success(studio.limits_line, None, limits, **private)
        # Queued (unlike the other small events): Gradio delivers gr.Info only through the queue.
        stop = cancel_btn.click(page.cancelled, None, [*buttons, status], cancels=[run, variants_run],
                                api_visibility="private")  # fmt: skip
        stop.then(page.keep_after_cancel, [history, api_key], [status, history], api_visibility="private", **unlimited)
        extend_btn.click(**continue_clip)
        current.change(lambda entry: gr.Button(interactive=bool(entry)), current, extend_btn, **private)
        chain_btn.click(
            page.join, [history, current, api_key], chain_file, api_visibility="private", **unlimited
        ).success(lambda: gr.File(visible=True), None, chain_file, **private)
        # The API and MCP ways in, with no buttons of their own in the page. preprocess=False: these
        # inputs arrive as plain values either way, and VideoRequest, not Gradio's generic choice
        # check, names a bad value precisely for API callers.
        api_only = gr.Button(visible=False)
        gallery = gr.Gallery(visible=False, label="Variants")
        api_only.click(
            page.generate, [*form, api_key], [video, info], api_name="generate", preprocess=False, **unlimited
        )
        api_only.click(
            page.variants,
            [*variant_form, loop, start_image_url, end_image_url, api_key],
            [gallery, info],
            api_name="variants",
            preprocess=False,
            **unlimited,
        )
        for which, (image, note, url, preview) in keyframes.items():
            # The picture shown and the URL sent stay one: a URL typed or restored over an uploaded
            # image clears the picture and its note.
            uploaded = gr.State("")
            image.input(page.keyframe, [image, api_key], [url, note, image, uploaded], preprocess=False,
                        api_visibility="private", **unlimited)  # fmt: skip
            url.change(page.keyframe_url_changed, [url, uploaded], [image, note], **private)
            url.change(None, url, preview, js=f"(u) => rayStudio.preview(u, '{which}-preview')")
        prompt.change(None, prompt, prompt_count, js=f"(t) => rayStudio.count(t, {MAX_PROMPT_CHARS})")
        aspect_ratio.change(None, aspect_ratio, ratio_shape, js="(r) => rayStudio.shape(r)")
        duration.change(page.price_line, duration, price, **private)
        for trigger in (variant_prompts.change, variant_ratios.change, loop_both.change, duration.change):
            trigger(
                page.variants_price, [variant_prompts, variant_ratios, loop_both, duration], variants_cost, **private
            )
        api_key.change(None, [api_key, remember_key], None, js="(k, r) => rayStudio.rememberKey(k, r)")
        remember_key.change(None, [api_key, remember_key], None, js="(k, r) => rayStudio.rememberKey(k, r)")
        loaded = demo.load(None, None, [api_key, remember_key], js="() => rayStudio.restoreKey()")
        loaded.then(None, aspect_ratio, ratio_shape, js="(r) => rayStudio.shape(r)")
        pick_up_outputs = [status, video, info, history, current]
        loaded.then(page.pick_up, [history, api_key], pick_up_outputs, api_visibility="private", **unlimited)

    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    guard_inputs(demo)
    lighter_sessions()
    return demo


def launch_options(settings: AppSettings, policy: SpendPolicy | None = None) -> dict[str, Any]:
    # Gradio's own sync work (file uploads, small events) runs on its thread pool; generations wait
    # on the job board without a thread. run_history off: Gradio would record every run's inputs,
    # the visitor's key among them, and offers to upload that record to a Hugging Face bucket.
    # Uvicorn would rewrite the client address from X-Forwarded-For for requests from 127.0.0.1;
    # visitors.identify decides whom to trust (RAY_PROXY_HOPS), so uvicorn trusts nobody.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    return {
        # Gradio runs at most max_threads queued events at once, whatever their concurrency limit: room
        # for every generation, a pick-up per visitor and the small events besides.
        "max_threads": 2 * settings.concurrency + 40,
        "css": (ASSETS / "page.css").read_text(),
        "head": f"<script>{(ASSETS / 'page.js').read_text()}</script>",
        "mcp_server": settings.mcp,
        "run_history": False,
        "max_file_size": settings.max_upload_bytes,
        "auth": list(settings.auth) or None,
        # Body sizes, the upload quota, and the MCP caller's address: see http_guard.
        "app_kwargs": {
            "middleware": [
                Middleware(
                    HttpGuard,
                    proxies=(policy or SpendPolicy()).proxies,
                    max_upload=settings.max_upload_bytes,
                )
            ]
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Ray Studio (a Gradio page for Luma Ray Flash 2).")
    parser.add_argument("--share", action="store_true", help="also serve on a public *.gradio.live link")
    parser.add_argument("--host", help="address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--mcp", action="store_true", help="also serve /generate and /variants as MCP tools (RAY_MCP)")
    args = parser.parse_args(argv)

    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        client_settings, settings, policy = read_settings()
        client = RayClient(client_settings)
    except InvalidRequestError as err:
        parser.exit(2, f"error: {err}\n")
    if args.mcp:
        settings = dataclasses.replace(settings, mcp=True)
    if settings.mcp and importlib.util.find_spec("mcp") is None:
        parser.exit(2, 'error: MCP needs an extra package: pip install "gradio[mcp]"\n')
    if not client.settings.api_key:
        log.warning("SEGMIND_API_KEY is not set: visitors must paste their own key")
    demo = build_demo(client, settings, policy)
    options = launch_options(settings, policy)
    demo.launch(share=args.share or None, server_name=args.host, server_port=args.port, **options)


if __name__ == "__main__":
    main()
