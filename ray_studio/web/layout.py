"""The page's components, in the order they appear; each function returns the ones it made.

Nothing here reacts to anything: wiring.py connects these to page.py's handlers.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr

from ray_studio.client.camera import CAMERA_MOVES
from ray_studio.client.camera import caption as camera_caption
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, DURATIONS, MAX_PROMPT_CHARS
from ray_studio.client.wording import format_usd
from ray_studio.web.first_look import first_look
from ray_studio.web.gradio_tweaks import serve_as_is
from ray_studio.web.page import variants_price
from ray_studio.web.share_page import COPY_LINK_JS
from ray_studio.web.showcase import Showcase, ShowcaseClip
from ray_studio.web.studio import AppSettings, Studio
from ray_studio.web.words import DESCRIPTION, EXAMPLES, NO_SERVER_KEY_NOTICE, TIP, phrases_html

CARD_LIMIT = 50  # history cards shown (cards load their clip only when played)
DEFAULT_VARIANT_RATIOS = ["16:9", "9:16"]

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
    generate: gr.Button
    cancel: gr.Button
    allowance: gr.Markdown  # the one line on limits: what the visitor may make on the page's key (allowance_line)


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
    cameras: gr.Dropdown  # Compare moves: one wording, several camera moves


class PromptCraft(NamedTuple):
    """Beside the prompt: Enhance and its suggestion (shown beside the visitor's own), Undo, the camera move picker."""

    enhance: gr.Button
    undo: gr.Button
    camera: gr.Dropdown
    suggestion_box: gr.Group
    original: gr.Textbox  # the visitor's prompt, beside the suggestion
    suggestion: gr.Textbox
    use_it: gr.Button
    keep_mine: gr.Button
    before: gr.State  # the prompt before "Use it", for Undo


class ClipLinks(NamedTuple):
    """Lead in (a new clip ending on a clip's first frame) and Bridge (from A's last frame to B's first)."""

    lead_in: gr.Button
    bridge_from: gr.Dropdown
    bridge_to: gr.Dropdown
    bridge: gr.Button


class Tiles(NamedTuple):
    """A set of variants' tiles (drawn by page.js from ``data``) and their Use this one (given the entry's
    id as a history card's buttons are; their Continue is the cards')."""

    data: gr.JSON
    use: gr.Button


class Player(NamedTuple):
    status: gr.Markdown
    video: gr.Video
    info: gr.Markdown
    extend: gr.Button
    join: gr.Button
    chain_file: gr.File
    tiles: Tiles  # a set of variants, above the player
    progress: gr.HTML  # the clip being made (waiting.py), beside the status line


class Kept(NamedTuple):
    """What the browser keeps, and the page's memory of the clip in the player."""

    history: gr.BrowserState
    current: gr.State  # the history entry in the player
    continuing: gr.State  # {"id", "url"}: the next clip continues that one
    card: Card


CARD_ACTIONS = ("restore", "rerun", "further", "delete", "undo", "share", "leadin")


class Card(NamedTuple):
    """The history cards' buttons, shared by every card (the entry's id says which card)."""

    entry_id: gr.Textbox
    restore: gr.Button
    rerun: gr.Button
    further: gr.Button
    delete: gr.Button
    undo: gr.Button
    share: gr.Button  # the card's clip in the player's place for its link (its "Copy link" shows there)
    leadin: gr.Button  # a new clip that leads into the card's: its first frame as the end image


class Sharing(NamedTuple):
    """The clip in the player's link, and what a link opens: its settings, and Remix to load them."""

    link: gr.HTML
    remix: gr.Button
    shared: gr.State  # the shared clip's form values
    token: gr.Textbox  # the ?clip= of the page's address, read in the browser on load


@dataclass(frozen=True)
class Layout:
    shot: Shot
    key: KeyBox
    controls: Controls
    keyframes: Keyframes
    variants: VariantsForm
    player: Player
    kept: Kept
    craft: PromptCraft | None = None
    links: ClipLinks | None = None
    sharing: Sharing | None = None
    showcase: tuple[tuple[gr.Button, ShowcaseClip], ...] = ()
    examples: gr.HTML | None = None  # the example cards (first_look)

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
        """What a clip being made updates: the status line and its progress, the player and its line, the
        history, the entry played."""
        p, k = self.player, self.kept
        return [p.status, p.progress, p.video, p.info, k.history, k.current]


# --------------------------------------------------------------------------- the page, top to bottom


def build(
    studio: Studio,
    settings: AppSettings,
    showcase: Showcase | None = None,
) -> Layout:
    """The whole page."""
    header(studio.has_owner_key, settings.hf_login)
    with gr.Row():
        with gr.Column(scale=5, elem_id="form-column"):
            shot, craft = shot_form(studio.enhance_price_line())
            # Without a key of the page's own, the visitor's comes first, so Generate stays in sight on a laptop.
            key = None if studio.has_owner_key else key_box(open=True)
            controls = generate_controls(studio)
            keyframes = keyframe_forms()
            variants = variants_form(variants_price(studio, "", DEFAULT_VARIANT_RATIOS, False, DEFAULT_DURATION))
            key = key or key_box(open=False)
        with gr.Column(scale=6, elem_id="result"):
            player = result_player()
            links = clip_links()
            sharing = share_controls()
            look = first_look(showcase.clips if showcase else [], EXAMPLES)
    kept = history_section(settings.browser_secret, studio)
    return Layout(shot, key, controls, keyframes, variants, player, kept, craft, links, sharing, look.showcase,
                  examples=look.examples)  # fmt: skip


def header(has_owner_key: bool, hf_login: bool) -> None:
    gr.Markdown(DESCRIPTION, elem_id="intro")
    if not has_owner_key:
        gr.Markdown(NO_SERVER_KEY_NOTICE, elem_id="no-key-notice")
    if hf_login:
        gr.LoginButton(value="Sign in with Hugging Face (limits then follow you, not your address)")


def shot_form(enhance_price: str = "") -> tuple[Shot, PromptCraft]:
    """The prompt with its tools right under it (Enhance; phrases and camera moves, closed), then the shape.
    ``enhance_price``: what Enhance costs on the page's key, said in its suggestion (and its tooltip: wiring)."""
    prompt = gr.Textbox(
        label="Prompt",
        info=TIP,
        lines=3,
        max_length=MAX_PROMPT_CHARS,
        elem_id="prompt",
        placeholder="Describe the shot: subject, action, camera, light…",
    )
    with gr.Row(equal_height=True, elem_id="prompt-tools"):
        prompt_count = gr.Markdown(f"0 / {MAX_PROMPT_CHARS} characters", elem_id="prompt-count")
        enhance = gr.Button("✨ Enhance prompt", size="sm", elem_id="enhance", scale=0, min_width=150)
        undo = gr.Button("Undo", size="sm", visible=False, elem_id="enhance-undo", scale=0, min_width=80)
    craft = prompt_craft(enhance, undo, camera=phrases(), price=enhance_price)
    aspect_ratio = gr.Radio(
        list(ASPECT_RATIOS), value=DEFAULT_ASPECT_RATIO, label="Aspect ratio", elem_id="aspect-ratio"
    )
    with gr.Row(equal_height=True):
        duration = gr.Radio([(f"{d} s", d) for d in DURATIONS], value=DEFAULT_DURATION, label="Duration", scale=2,
                            elem_id="duration")  # fmt: skip
        loop = gr.Checkbox(label="Loop (last frame matches the first)", value=False, scale=2, elem_id="loop")
        ratio_shape = gr.HTML(min_height=0, scale=1, elem_id="ratio-shape")
    return Shot(prompt, prompt_count, aspect_ratio, duration, loop, ratio_shape), craft


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
    with gr.Row():
        generate = gr.Button("Generate", variant="primary", elem_id="generate")
        # Named for what it does: a clip Segmind has started is billed anyway.
        cancel = gr.Button("Stop waiting", variant="stop", visible=False, elem_id="cancel")
    return Controls(price, generate, cancel, allowance)


def allowance_line() -> gr.Markdown:
    """Under the price, the one line on limits: what this visitor may still make on the page's key, or
    that the page runs on visitors' own keys (filled in once the page loads)."""
    return gr.Markdown("", elem_id="allowance")


def phrases() -> gr.Dropdown:
    """Under the prompt, closed: the camera move picker and 17 phrase chips stay out of the Tab path
    from the prompt to Generate. Returns the camera move picker."""
    with gr.Accordion("Camera moves and phrases Ray responds to (click to add)", open=False, elem_id="phrases"):
        camera = gr.Dropdown(camera_choices(), value=None, label="Camera move (adds its words to the prompt)",
                             elem_id="camera-move")  # fmt: skip
        # Plain buttons in one HTML block, handled in the browser (assets/page.js): a Gradio
        # button each would add 17 blocks that Gradio copies for every visitor's session.
        gr.HTML(phrases_html(), min_height=0)
    return camera


def keyframe_forms() -> Keyframes:
    with gr.Accordion("Keyframes: start and end images (optional)", open=False) as box, gr.Row():
        start, end = keyframe_form("start"), keyframe_form("end")
    return Keyframes(box, start, end)


def keyframe_form(which: str) -> Keyframe:
    with gr.Column(elem_id=f"{which}-slot"):
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
        cameras = gr.Dropdown(
            camera_choices(), value=[], multiselect=True, label="Compare camera moves (each wording with each move)",
            elem_id="variant-cameras",
        )  # fmt: skip
        run = gr.Button("Run the variants", variant="primary", elem_id="run-variants")
    return VariantsForm(prompts, ratios, loop_both, cost, run, cameras)


def camera_choices() -> list[tuple[str, str]]:
    """Luma's camera move names as people read them (``orbit left``), sent as the names."""
    return [(camera_caption(move), move) for move in CAMERA_MOVES]


def prompt_craft(enhance: gr.Button, undo: gr.Button, camera: gr.Dropdown, price: str = "") -> PromptCraft:
    """Enhance's suggestion, shown beside the visitor's own prompt until they choose, with its price."""
    with gr.Group(visible=False, elem_id="enhance-suggestion") as suggestion_box:
        with gr.Row():
            original = gr.Textbox(label="Yours", interactive=False, lines=4, elem_id="enhance-original")
            suggestion = gr.Textbox(label="Suggested (edit it if you like)", lines=4, elem_id="enhance-text")
        with gr.Row():
            use_it = gr.Button("Use it", size="sm", variant="primary", elem_id="enhance-use")
            keep_mine = gr.Button("Keep mine", size="sm", elem_id="enhance-keep")
        if price:
            gr.Markdown(f"{price}.", elem_id="enhance-price")
    return PromptCraft(enhance, undo, camera, suggestion_box, original, suggestion, use_it, keep_mine, gr.State(""))


def clip_links() -> ClipLinks:
    with gr.Row():
        lead_in = gr.Button("Lead in to this clip", elem_id="lead-in", size="sm", interactive=False)
    with gr.Accordion("Bridge two of your clips", open=False, elem_id="bridge-box"), gr.Row(equal_height=True):
        bridge_from = gr.Dropdown([], label="From (its last frame starts the bridge)", elem_id="bridge-from")
        bridge_to = gr.Dropdown([], label="To (its first frame ends it)", elem_id="bridge-to")
        bridge = gr.Button("Bridge", size="sm", elem_id="bridge")
    return ClipLinks(lead_in, bridge_from, bridge_to, bridge)


def status_area() -> tuple[gr.Markdown, gr.HTML]:
    """Above the player, one live region (#clip-status): the page's line about the clip, and the clip
    being made (in the player's place while the player is empty: page.css)."""
    with gr.Column(elem_id="clip-status"):
        status = gr.Markdown(elem_id="clip-line")
        progress = gr.HTML("", min_height=0, padding=False, elem_id="clip-progress")
    return status, progress


def result_player() -> Player:
    status, progress = status_area()
    tiles = variant_tiles()
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
    return Player(status, video, info, extend, join, chain_file, tiles, progress)


def variant_tiles() -> Tiles:
    """Where a set of variants shows, above the player (page.js draws the tiles; an empty player hides
    while they show: page.css)."""
    gr.HTML("", min_height=0, elem_id="variant-tiles", padding=False)
    with gr.Row(visible="hidden", elem_id="variant-tiles-do"):
        data = gr.JSON([], visible="hidden", elem_id="variant-tiles-data")
        use = gr.Button(visible="hidden", elem_id="tile-use-do")
    return Tiles(data, use)


def share_controls() -> Sharing:
    """Under the player: the clip's "Copy link" (elem_id share-link), and Remix for a shared clip."""
    link = gr.HTML("", min_height=0, elem_id="share-link", js_on_load=COPY_LINK_JS)
    remix = gr.Button("Remix: load these settings into the form", visible=False, size="sm", elem_id="remix")
    return Sharing(link, remix, gr.State(None), gr.Textbox("", visible=False))


def history_section(browser_secret: str, studio: Studio) -> Kept:
    with gr.Column(elem_id="history"):
        gr.Markdown(
            "### Your clips\nNewest first, kept in this browser only (nobody else sees them); the server keeps "
            "the files a day."
        )
        history = gr.BrowserState([], storage_key="ray-studio-history", secret=browser_secret)
        current = gr.State(None)
        continuing = gr.State(None)
        # The cards are drawn in the browser (assets/page.js) from the history: a change redraws only the
        # cards whose entry changed, and no card is a Gradio block copied into every session.
        gr.HTML(cards_config(studio), min_height=0, elem_id="history-cards", padding=False)
        card = card_actions()
    return Kept(history, current, continuing, card)


def cards_config(studio: Studio) -> str:
    """What page.js needs to draw cards: where clips are served, and a clip's price by length."""
    config = {
        "clips": str(studio.clips),
        "prices": {str(d): format_usd(studio.price(d)) for d in DURATIONS},
        "limit": CARD_LIMIT,
    }
    return f"<div class='cards-config' hidden data-config='{html.escape(json.dumps(config), quote=True)}'></div>"


def card_actions() -> Card:
    """The cards' buttons as the server hears them: page.js puts the entry's id in ``entry_id`` and
    clicks one of these hidden buttons."""
    with gr.Row(visible="hidden"):
        entry_id = gr.Textbox(visible="hidden", elem_id="card-id", container=False)
        buttons = [gr.Button(visible="hidden", elem_id=f"card-{action}-do") for action in CARD_ACTIONS]
    return Card(entry_id, *buttons)
