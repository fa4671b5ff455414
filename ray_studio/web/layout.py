"""The page's components, in the order they appear; each function returns the ones it made.

Nothing here reacts to anything: wiring.py connects these to page.py's handlers.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr

from ray_studio.client.errors import API_KEYS_PAGE, RayError
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, DURATIONS, MAX_PROMPT_CHARS
from ray_studio.client.wording import describe_shape
from ray_studio.web.gradio_tweaks import serve_as_is
from ray_studio.web.history import entry_line
from ray_studio.web.page import variants_price
from ray_studio.web.studio import AppSettings, Studio

CARD_LIMIT = 24  # history cards shown; older entries stay in the browser
DEFAULT_VARIANT_RATIOS = ["16:9", "9:16"]

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
    return f"{describe_shape(ratio, duration, loop, bool(start), bool(end))} · {prompt}"


# --------------------------------------------------------------------------- the groups of components


class Shot(NamedTuple):
    """What the clip shows and its shape."""

    prompt: gr.Textbox
    prompt_count: gr.Markdown
    aspect_ratio: gr.Radio
    duration: gr.Radio
    loop: gr.Checkbox
    ratio_shape: gr.HTML


class KeyBox(NamedTuple):
    api_key: gr.Textbox
    remember_key: gr.Checkbox


class Controls(NamedTuple):
    price: gr.Markdown
    limits: gr.Markdown
    generate: gr.Button
    cancel: gr.Button
    allowance: gr.Markdown | None = None  # the visitor's clips left (allowance_line)


class Keyframe(NamedTuple):
    """One keyframe: the picture, its note, the URL sent, that URL's preview, and the URL the picture
    was uploaded as."""

    image: gr.Image
    note: gr.Markdown
    url: gr.Textbox
    preview: gr.HTML
    uploaded: gr.State


class Keyframes(NamedTuple):
    box: gr.Accordion
    start: Keyframe
    end: Keyframe


class VariantsForm(NamedTuple):
    prompts: gr.Textbox
    ratios: gr.CheckboxGroup
    loop_both: gr.Checkbox
    cost: gr.Markdown
    run: gr.Button


class Player(NamedTuple):
    status: gr.Markdown
    video: gr.Video
    info: gr.Markdown
    extend: gr.Button
    join: gr.Button
    chain_file: gr.File
    slots: list[gr.Video]  # the variants' players


class Kept(NamedTuple):
    """What the browser keeps, and the page's memory of the clip in the player."""

    history: gr.BrowserState
    current: gr.State  # the history entry in the player
    continuing: gr.State  # {"id", "url"}: the next clip continues that one


class Card(NamedTuple):
    """A history card's buttons."""

    restore: gr.Button
    rerun: gr.Button
    further: gr.Button
    delete: gr.Button


@dataclass(frozen=True)
class Layout:
    shot: Shot
    key: KeyBox
    controls: Controls
    keyframes: Keyframes
    variants: VariantsForm
    player: Player
    kept: Kept

    @property
    def form(self) -> list[Any]:
        """Everything a clip is made from, in VideoRequest's order (examples and history entries fill it)."""
        s, k = self.shot, self.keyframes
        return [s.prompt, s.aspect_ratio, s.duration, s.loop, k.start.url, k.end.url]

    @property
    def buttons(self) -> list[gr.Button]:
        """Generate, Cancel and Run the variants: off and on together."""
        return [self.controls.generate, self.controls.cancel, self.variants.run]

    @property
    def shown(self) -> list[Any]:
        """What a clip being made updates: the status line, the player and its line, the history, the entry played."""
        p, k = self.player, self.kept
        return [p.status, p.video, p.info, k.history, k.current]


# --------------------------------------------------------------------------- the page, top to bottom


def build(studio: Studio, settings: AppSettings, wire_card: Callable[[Card, dict], None]) -> Layout:
    """The whole page. ``wire_card(card, entry)`` connects each history card as it is rendered."""
    header(studio.has_owner_key, settings.hf_login)
    with gr.Row():
        with gr.Column(scale=5):
            shot = shot_form()
            # Without a key of the page's own, the visitor's comes first, so Generate stays in sight on a laptop.
            key = None if studio.has_owner_key else key_box(open=True)
            controls = generate_controls(studio)
            phrases()
            keyframes = keyframe_forms()
            variants = variants_form(variants_price(studio, "", DEFAULT_VARIANT_RATIOS, False, DEFAULT_DURATION))
            key = key or key_box(open=False)
        with gr.Column(scale=6):
            player = result_player(settings.max_variants)
    kept = history_section(settings.browser_secret, studio, wire_card)
    layout = Layout(shot, key, controls, keyframes, variants, player, kept)
    gr.Examples(
        examples=EXAMPLES,
        inputs=layout.form,
        cache_examples=False,
        example_labels=[example_label(e) for e in EXAMPLES],
        label="Example prompts (choosing one only fills the form)",
    )
    return layout


def header(has_owner_key: bool, hf_login: bool) -> None:
    gr.Markdown(DESCRIPTION)
    if not has_owner_key:
        gr.Markdown(NO_SERVER_KEY_NOTICE, elem_id="no-key-notice")
    if hf_login:
        gr.LoginButton(value="Sign in with Hugging Face (limits then follow you, not your address)")


def shot_form() -> Shot:
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
        duration = gr.Radio([(f"{d} s", d) for d in DURATIONS], value=DEFAULT_DURATION, label="Duration", scale=2)
        loop = gr.Checkbox(label="Loop (last frame matches the first)", value=False, scale=2)
        ratio_shape = gr.HTML(min_height=0, scale=1, elem_id="ratio-shape")
    return Shot(prompt, prompt_count, aspect_ratio, duration, loop, ratio_shape)


def key_box(open: bool) -> KeyBox:
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
    return KeyBox(api_key, remember_key)


def generate_controls(studio: Studio) -> Controls:
    price = gr.Markdown(studio.price_line(DEFAULT_DURATION), elem_id="price")
    allowance = allowance_line()
    limits = gr.Markdown(studio.limits_line(), elem_id="limits", visible=bool(studio.limits_line()))
    with gr.Row():
        generate = gr.Button("Generate", variant="primary", elem_id="generate")
        cancel = gr.Button("Cancel", variant="stop", visible=False, elem_id="cancel")
    return Controls(price, limits, generate, cancel, allowance)


def allowance_line() -> gr.Markdown:
    """Under the price: what this visitor may still make on the page's key (filled in once the page loads)."""
    return gr.Markdown("", elem_id="allowance")


def phrases() -> None:
    with gr.Accordion("Phrases Ray responds to (click to add)", open=False, elem_id="phrases"):
        # Plain buttons in one HTML block, handled in the browser (assets/page.js): a Gradio
        # button each would add 17 blocks that Gradio copies for every visitor's session.
        gr.HTML(phrases_html(), min_height=0)


def keyframe_forms() -> Keyframes:
    with gr.Accordion("Keyframes: start and end images (optional)", open=False) as box, gr.Row():
        start, end = keyframe_form("start"), keyframe_form("end")
    return Keyframes(box, start, end)


def keyframe_form(which: str) -> Keyframe:
    with gr.Column():
        image = gr.Image(
            type="filepath",
            sources=["upload", "clipboard", "webcam"],
            height=160,
            label=f"{which.title()} image: drop, pick, paste or take one",
            elem_id=f"{which}-image",
        )
        note = gr.Markdown(elem_id=f"{which}-note")
        url = gr.Textbox("", label=f"…or the {which} image's URL", placeholder="https://…/frame.jpg",
                         elem_id=f"{which}-image-url")  # fmt: skip
        preview = gr.HTML(min_height=0, elem_id=f"{which}-preview")
    return Keyframe(image, note, url, preview, gr.State(""))


def variants_form(cost_line: str) -> VariantsForm:
    with gr.Accordion("Variants: several wordings and shapes at once", open=False, elem_id="variants-form"):
        prompts = gr.Textbox(label="Wordings, one per line", lines=3, elem_id="variant-prompts")
        ratios = gr.CheckboxGroup(
            list(ASPECT_RATIOS), value=DEFAULT_VARIANT_RATIOS, label="Shapes", elem_id="variant-ratios"
        )
        loop_both = gr.Checkbox(label="Each with and without loop", value=False)
        cost = gr.Markdown(cost_line, elem_id="variants-cost")
        run = gr.Button("Run the variants", variant="primary", elem_id="run-variants")
    return VariantsForm(prompts, ratios, loop_both, cost, run)


def result_player(max_variants: int) -> Player:
    status = gr.Markdown(elem_id="clip-status")
    video = gr.Video(label="Video", autoplay=True, buttons=["download"], interactive=False, elem_id="video", height=440)
    # Serve our clips as they are. With ffmpeg installed (as on Spaces) Gradio would ffprobe every
    # clip in the event loop's path and re-encode any it does not recognise; Segmind's are H.264
    # MP4, which browsers play. (A subclass would make Gradio write an app.pyi stub, hence the
    # instance attribute.)
    video.postprocess = serve_as_is
    info = gr.Markdown(elem_id="clip-info")
    with gr.Row():
        extend = gr.Button("Continue from this clip", elem_id="extend", size="sm", interactive=False)
        join = gr.Button("Download the chain as one MP4", elem_id="join", size="sm", visible=False)
    chain_file = gr.File(label="The chain, joined", visible=False, elem_id="chain-file")
    slots = []
    with gr.Column(elem_id="variants"):
        for row in range(0, max_variants, 2):
            with gr.Row():
                for i in range(row, min(row + 2, max_variants)):
                    slot = gr.Video(visible=False, autoplay=True, loop=True, interactive=False,
                                    buttons=["download"], elem_id=f"variant-{i}")  # fmt: skip
                    slot.postprocess = serve_as_is
                    slots.append(slot)
    return Player(status, video, info, extend, join, chain_file, slots)


def history_section(browser_secret: str, studio: Studio, wire_card: Callable[[Card, dict], None]) -> Kept:
    with gr.Column(elem_id="history"):
        gr.Markdown(
            "### Your clips\nNewest first, kept in this browser only (nobody else sees them); the server keeps "
            "the files a day."
        )
        history = gr.BrowserState([], storage_key="ray-studio-history", secret=browser_secret)
        current = gr.State(None)
        continuing = gr.State(None)

        # Rendered on each change only: on load, Page.pick_up sends the stored history back once
        # (a render on load too would race it and leave the page with the older render's buttons).
        @gr.render(inputs=[history], triggers=[history.change])
        def history_cards(entries: list[dict]) -> None:
            entries = [e for e in (entries or []) if isinstance(e, dict)][:CARD_LIMIT]
            with gr.Row(equal_height=False):
                for entry in entries:
                    wire_card(history_card(entry, clip_path(studio, entry)), entry)

    return Kept(history, current, continuing)


def clip_path(studio: Studio, entry: dict) -> str | None:
    """The entry's clip on this server, if it was made and is still here."""
    if entry.get("state") != "done":
        return None
    try:
        return str(studio.clip_file(entry))
    except RayError:
        return None


def history_card(entry: dict, path: str | None) -> Card:
    with gr.Column(min_width=260, elem_classes="history-card"):
        if path:
            # Not keyed: with key= (which would keep the players across the two re-renders per
            # clip) Gradio 6.31 at times drops the second render.
            card = gr.Video(path, loop=bool(entry.get("loop")), show_label=False, buttons=["download"],
                            interactive=False)  # fmt: skip
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
            rerun = gr.Button("Make again" if not path else "Re-run", size="sm", elem_classes="card-rerun")
            further = gr.Button("Continue", size="sm", elem_classes="card-continue", interactive=bool(path))
            delete = gr.Button("Delete", size="sm", variant="stop", elem_classes="card-delete")
    return Card(restore, rerun, further, delete)
