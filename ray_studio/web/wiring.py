"""The page put together: layout.py's components, page.py's handlers, and one line (or a small
block) per event between them."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import anyio.to_thread
import gradio as gr
from gradio.utils import get_upload_folder

from ray_studio.client.camera import CAMERA_MOVES
from ray_studio.client.client import RayClient
from ray_studio.client.request import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, DURATIONS, MAX_PROMPT_CHARS
from ray_studio.web import layout
from ray_studio.web.board import JobBoard
from ray_studio.web.cards import CardButtons
from ray_studio.web.config import AppSettings
from ray_studio.web.craft import Craft
from ray_studio.web.gradio_tweaks import api, clip_folder, guard_inputs, lighter_sessions
from ray_studio.web.keyframe_field import KeyframeField
from ray_studio.web.layout import DEFAULT_VARIANT_RATIOS, Layout
from ray_studio.web.owner import OwnerView
from ray_studio.web.page import Page
from ray_studio.web.policy import SpendPolicy
from ray_studio.web.record import Recorder, open_store
from ray_studio.web.redaction import RedactKeys
from ray_studio.web.share import ClipLinks, attach, describing
from ray_studio.web.share_page import READ_LINK_JS, SharePage
from ray_studio.web.showcase import Showcase, poster_folder_beside
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from ray_studio.web.variant_tiles import VariantTiles

PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False}  # small events: no queue
# Waiting on Segmind costs this server nothing but a task, so Gradio runs every generation at
# once; the job board holds RAY_CONCURRENCY upstream at a time, the gate each visitor's share.
# Image work too: a visitor's second image is refused at once, so no visitor fills the queue.
UNLIMITED: dict[str, Any] = {"concurrency_limit": None}
QUEUED: dict[str, Any] = {"api_visibility": "private", **UNLIMITED}
IN_PAGE: dict[str, Any] = {"show_progress": "hidden", "preprocess": False, **QUEUED}
FOCUS_THEN_BUSY: dict[str, Any] = {"js": "(l) => { rayStudio.focusResult(); return l; }", **PRIVATE}


def build_demo(client: RayClient, settings: AppSettings | None = None, policy: SpendPolicy | None = None) -> gr.Blocks:
    settings = settings or AppSettings()
    studio = make_studio(client, settings, policy or SpendPolicy())
    links = make_links(studio, settings)
    RedactKeys.install(lambda: (client.settings.api_key,))
    with gr.Blocks(
        title="Ray Studio · Luma Ray Flash 2", delete_cache=(settings.cleanup_every, settings.clip_max_age)
    ) as demo:
        ui = layout.build(studio, settings, showcase=links.showcase)
        page = Page(studio, Path(get_upload_folder()), ui, links)
        shares = SharePage(links, studio.board, ui)
        wire(demo, ui, page)
        sharing(demo, ui, shares, page)
    attach(demo, links)
    # The owner's routes (/owner …), given to Gradio's FastAPI app when it is made: app.launch_options.
    demo.ray_owner_routes = OwnerView(studio, settings).routes()  # type: ignore[attr-defined]
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    guard_inputs(demo)
    lighter_sessions()
    return demo


def make_studio(client: RayClient, settings: AppSettings, policy: SpendPolicy) -> Studio:
    clips = clip_folder(Path(get_upload_folder()))
    board = JobBoard(
        client, concurrency=settings.concurrency, threads=settings.concurrency + 8, keep_finished=settings.clip_max_age
    )
    store = open_store(policy.storage_uri, settings.data_dir)
    recorder = Recorder(store, days=settings.record_days, sees_prompts=settings.owner_sees_prompts)
    return Studio(client, board, SpendGate(policy, pause=store), clips, settings, recorder)


def make_links(studio: Studio, settings: AppSettings) -> ClipLinks:
    """The showcase (posters made now) and clip links; every clip made is described for its link."""
    showcase = Showcase.load(settings.showcase_dir, poster_folder_beside(Path(get_upload_folder())))
    model, mode = studio.client.settings.model, studio.client.settings.api_mode
    links = ClipLinks(studio.signer, studio.clips, max_age=settings.clip_max_age, save_dir=settings.save_dir,
                      showcase=showcase, model=model, api_mode=mode)  # fmt: skip
    studio.board.on_done = describing(links, studio.board.on_done)
    return links


def sharing(demo: gr.Blocks, ui: Layout, shares: SharePage, page: Page) -> None:
    """The showcase's buttons, the player's "Copy link" (a card's Share puts its clip there), and the
    page a link opens (with Remix)."""
    s, kept = ui.sharing, ui.kept
    taken = card_inputs(kept)
    picked = kept.card.share.click(CardButtons(page.studio, ui).pick, outputs=kept.current, **taken, **PRIVATE)
    shown = picked.then(shares.entry_link, kept.current, s.link, **PRIVATE)  # also when it was already there
    shown.then(None, js="() => document.querySelector('#share-link')?.scrollIntoView({block: 'center'})")
    for button, clip in ui.showcase:
        button.click(functools.partial(shares.form, clip.form_values()), None, ui.form, **PRIVATE)
    ui.kept.current.change(shares.entry_link, ui.kept.current, s.link, **PRIVATE)
    opened_outputs = [ui.player.status, ui.player.video, ui.player.info, s.link, s.shared, s.remix]
    demo.load(shares.opened, s.token, opened_outputs, js=READ_LINK_JS, **PRIVATE)
    s.remix.click(shares.form, s.shared, ui.form, **PRIVATE)


def wire(demo: gr.Blocks, ui: Layout, page: Page) -> None:
    craft = Craft(page, ui)
    runs = [generation(ui, page), variants(ui, page)]
    prompt_craft(ui, craft)
    clip_links(ui, craft)
    cancel(ui, page, runs)
    continuing(ui, page)
    history_cards(ui, page)
    keyframes(ui, page)
    form_lines(ui, page)
    remembered_key(ui)
    on_load(demo, ui, page)
    enhance_price(demo, page)
    first_look(demo, ui)
    endpoints(page, craft)
    allowance(demo, ui, page, runs)


def busy_outputs(ui: Layout) -> list[Any]:
    link = [ui.sharing.link] if ui.sharing else []
    return [*ui.buttons, ui.player.video, ui.player.info, ui.kept.current, ui.player.tiles.data, *link]


def generation(ui: Layout, page: Page) -> gr.events.Dependency:
    """Generate: the buttons off, the clip made in the page, then the buttons back and the lines it changed."""
    kept, start_url = ui.kept, ui.keyframes.start.url
    locked = ui.controls.generate.click(page.busy, ui.shot.loop, busy_outputs(ui), **FOCUS_THEN_BUSY)
    run = locked.then(page.generate_in_page, [*ui.form, ui.key.api_key, kept.history, kept.continuing], ui.shown,
                      **IN_PAGE)  # fmt: skip
    run.then(page.idle, None, ui.buttons, **PRIVATE)
    run.failure(page.idle, None, ui.buttons, **PRIVATE)  # Gradio 6 skips .then after an error
    run.failure(lambda: "", None, ui.player.progress, **PRIVATE)  # no placeholder left after a bug
    run.success(page.chain_button, [kept.history, kept.current], ui.player.join, **PRIVATE)
    end_url = ui.keyframes.end.url
    run.success(page.after_continuing, [kept.continuing, start_url, end_url], [kept.continuing, start_url, end_url],
                **PRIVATE)  # fmt: skip
    return run


def variants(ui: Layout, page: Page) -> gr.events.Dependency:
    form, frames, player = ui.variants, ui.keyframes, ui.player
    tiles = VariantTiles(page)
    inputs = [form.prompts, form.ratios, ui.shot.duration, form.loop_both, ui.shot.loop, frames.start.url,
              frames.end.url, ui.key.api_key, ui.kept.history, form.cameras]  # fmt: skip
    locked = form.run.click(page.busy, ui.shot.loop, busy_outputs(ui), **FOCUS_THEN_BUSY)
    run = locked.then(
        tiles.run, inputs, [player.status, player.tiles.data, ui.kept.history, player.progress], **IN_PAGE
    )
    run.then(page.idle, None, ui.buttons, **PRIVATE)
    run.failure(page.idle, None, ui.buttons, **PRIVATE)
    variant_tiles(ui, page, tiles)
    return run


def variant_tiles(ui: Layout, page: Page, tiles: VariantTiles) -> None:
    """The tiles drawn in the browser on each change; Use this one (a tile's Continue is a card's)."""
    player, kept = ui.player, ui.kept
    player.tiles.data.change(None, player.tiles.data, None, js="(t) => rayStudio.tiles.render(t)")
    outputs = [player.video, player.info, kept.current, *ui.form]
    # Queued: a State changed by an unqueued event does not fire its .change (the player's buttons follow it).
    used = player.tiles.use.click(tiles.use, outputs=outputs, **card_inputs(kept), **QUEUED)
    used.then(page.chain_button, [kept.history, kept.current], player.join, **PRIVATE)
    used.then(None, js="() => rayStudio.tiles.used()")


def cancel(ui: Layout, page: Page, runs: list[gr.events.Dependency]) -> None:
    status, history = ui.player.status, ui.kept.history
    # Queued (unlike the other small events): Gradio delivers gr.Info only through the queue.
    stopped = [*ui.buttons, status, ui.player.progress]
    stop = ui.controls.cancel.click(page.cancelled, None, stopped, cancels=runs, api_visibility="private")
    stop.then(page.keep_after_cancel, [history, ui.key.api_key], [status, history], **QUEUED)
    stop.then(None, js="() => rayStudio.tiles.stopped()")


def continue_from(listener: Any, ui: Layout, page: Page) -> None:
    """``listener`` (a click, a .then) makes the form continue from the clip in ``ui.kept.current``."""
    outputs = [*ui.form, ui.kept.continuing, ui.player.status, ui.keyframes.box, *frame_slots(ui)]
    listener(page.continue_from, [ui.kept.current, ui.key.api_key], outputs, **QUEUED)


def frame_slots(ui: Layout) -> list[Any]:
    """What a clip's frame put in a keyframe slot shows: the picture, its note, the URL it was hosted as."""
    return [c for f in (ui.keyframes.start, ui.keyframes.end) for c in (f.image, f.note, f.uploaded)]


def continuing(ui: Layout, page: Page) -> None:
    player, kept = ui.player, ui.kept
    continue_from(player.extend.click, ui, page)
    kept.current.change(lambda entry: gr.Button(interactive=bool(entry)), kept.current, player.extend, **PRIVATE)
    player.join.click(page.join, [kept.history, kept.current, ui.key.api_key], [player.chain_file, player.status],
                      **QUEUED)  # fmt: skip


def card_inputs(kept: Any) -> dict[str, Any]:
    """What a card's button sends: the id page.js handed over (``rayStudio.cards.take``), and the history."""
    return {"inputs": [kept.card.entry_id, kept.history], "js": "(i, h) => rayStudio.cards.take(i, h)"}


def history_cards(ui: Layout, page: Page) -> None:
    """The history drawn in the browser on each change, and the cards' buttons, each given the entry's id."""
    kept, card, buttons = ui.kept, ui.kept.card, CardButtons(page.studio, ui)
    kept.history.change(None, kept.history, None, js="(h) => rayStudio.cards.render(h)")
    taken = card_inputs(kept)
    restored = card.restore.click(buttons.restore, outputs=ui.form, **taken, **PRIVATE)
    restored.then(None, js="() => rayStudio.cards.restored()")
    rerun = card.rerun.click(buttons.restore, outputs=ui.form, **taken, **PRIVATE)
    rerun.then(None, js="() => rayStudio.clickGenerate()")
    continue_from(card.further.click(buttons.pick, outputs=kept.current, **taken, **PRIVATE).then, ui, page)
    card.delete.click(buttons.delete, outputs=kept.history, **taken, **PRIVATE)
    card.undo.click(buttons.undo, outputs=kept.history, **taken, **PRIVATE)


def keyframes(ui: Layout, page: Page) -> None:
    for frame in (ui.keyframes.start, ui.keyframes.end):
        field = KeyframeField(page, frame)
        # The picture shown and the URL sent stay one: a URL typed or restored over an uploaded
        # image clears the picture and its note.
        checked = [frame.url, frame.note, frame.image, frame.uploaded]
        frame.image.input(field.keyframe, [frame.image, ui.key.api_key], checked, preprocess=False, **QUEUED)
        frame.url.change(field.url_changed, [frame.url, frame.uploaded], [frame.image, frame.note], **PRIVATE)
        frame.url.change(None, frame.url, frame.preview, js=f"(u) => rayStudio.preview(u, '{frame.preview.elem_id}')")


def form_lines(ui: Layout, page: Page) -> None:
    """The lines under the form that follow it: characters left, the shape, the prices."""
    shot, form = ui.shot, ui.variants
    shot.prompt.change(None, shot.prompt, shot.prompt_count, js=f"(t) => rayStudio.count(t, {MAX_PROMPT_CHARS})")
    shot.aspect_ratio.change(None, shot.aspect_ratio, shot.ratio_shape, js="(r) => rayStudio.shape(r)")
    shot.duration.change(page.price_line, shot.duration, ui.controls.price, **PRIVATE)
    for trigger in (form.prompts.change, form.ratios.change, form.loop_both.change, shot.duration.change):
        trigger(page.variants_price, [form.prompts, form.ratios, form.loop_both, shot.duration], form.cost, **PRIVATE)


def remembered_key(ui: Layout) -> None:
    key = ui.key
    for field in (key.api_key, key.remember_key):
        field.change(None, [key.api_key, key.remember_key], None, js="(k, r) => rayStudio.rememberKey(k, r)")


def on_load(demo: gr.Blocks, ui: Layout, page: Page) -> None:
    loaded = demo.load(None, None, [ui.key.api_key, ui.key.remember_key], js="() => rayStudio.restoreKey()")
    loaded.then(None, ui.shot.aspect_ratio, ui.shot.ratio_shape, js="(r) => rayStudio.shape(r)")
    loaded.then(None, ui.kept.history, None, js="(h) => rayStudio.cards.render(h)")  # at once, before pick_up
    picked_up = [*ui.shown, ui.controls.generate, ui.variants.run]  # Generate waits for a clip picked up
    loaded.then(page.pick_up, [ui.kept.history, ui.key.api_key], picked_up, **QUEUED)


def first_look(demo: gr.Blocks, ui: Layout) -> None:
    """In the browser only (assets/first_look.js): an example card fills the form; the form's draft
    (prompt, shape, length, loop) is kept in this browser and back after a reload, except on a shared
    link's page; a clip that arrives is brought into view on a phone."""
    picked = ui.examples.pick(None, None, ui.form, js="() => rayStudio.firstLook.take()")
    picked.then(None, js="() => rayStudio.cards.restored()")  # what it changed, marked, and in sight
    draft = [ui.shot.prompt, ui.shot.aspect_ratio, ui.shot.duration, ui.shot.loop]
    demo.load(None, draft, draft, js="(...form) => rayStudio.firstLook.restoreDraft(form)")
    gr.on([field.change for field in draft], None, draft, js="(...form) => rayStudio.firstLook.saveDraft(form)")
    ui.player.video.change(None, ui.player.video, js="(clip) => rayStudio.firstLook.arrived(clip)")


def enhance_price(demo: gr.Blocks, page: Page) -> None:
    """Enhance's price on the page's key as the button's tooltip (a Gradio Button takes no title)."""
    if line := page.studio.enhance_price_line():
        demo.load(None, js=f"() => document.getElementById('enhance')?.setAttribute('title', {json.dumps(line)})")


def endpoints(page: Page, craft: Craft) -> None:
    """The API and MCP ways in, with no components in the page. The values arrive as they are sent:
    VideoRequest, not a generic choice check, names a bad one precisely for API callers."""
    ratio = {"enum": list(ASPECT_RATIOS), "type": "string"}
    duration = ({"enum": list(DURATIONS), "type": "integer", "title": "Duration"}, DEFAULT_DURATION)
    generate_types = {"aspect_ratio": (ratio, DEFAULT_ASPECT_RATIO), "duration": duration}
    ratios = ({"type": "array", "items": ratio}, DEFAULT_VARIANT_RATIOS)
    cameras = ({"type": "array", "items": {"enum": list(CAMERA_MOVES), "type": "string"}}, [])
    variants_types = {"aspect_ratios": ratios, "duration": duration, "cameras": cameras}
    api(page.generate, "generate", ("clip", "summary"), generate_types, **UNLIMITED)
    api(page.variants, "variants", ("clips", "summary"), variants_types, **UNLIMITED)
    api(craft.enhance, "enhance", ("prompt",), **UNLIMITED)


def prompt_craft(ui: Layout, craft: Craft) -> None:
    """Enhance: the suggestion beside the prompt, Use it / Keep mine, Undo; the camera move picker."""
    c, prompt = ui.craft, ui.shot.prompt
    c.enhance.click(craft.enhance_in_page, [prompt, ui.key.api_key],
                    [c.suggestion_box, c.original, c.suggestion, ui.player.status], **QUEUED)  # fmt: skip
    c.use_it.click(craft.use_it, [c.suggestion, prompt], [prompt, c.before, c.undo, c.suggestion_box], **PRIVATE)
    c.keep_mine.click(craft.keep_mine, None, c.suggestion_box, **PRIVATE)
    c.undo.click(craft.undo, c.before, [prompt, c.undo], **PRIVATE)
    c.camera.input(craft.pick_camera, [prompt, c.camera], [prompt, c.camera], **PRIVATE)


def clip_links(ui: Layout, craft: Craft) -> None:
    """Lead in (the clip in the player) and Bridge (two of the visitor's clips): the form made ready, like Continue."""
    links, kept, key = ui.links, ui.kept, ui.key.api_key
    outputs = [*ui.form, kept.continuing, ui.player.status, ui.keyframes.box, *frame_slots(ui)]
    links.lead_in.click(craft.lead_in_current, [kept.current, key], outputs, **QUEUED)
    taken = card_inputs(kept)
    picked = kept.card.leadin.click(CardButtons(craft.page.studio, ui).pick, outputs=kept.current, **taken, **PRIVATE)
    picked.then(craft.lead_in_current, [kept.current, key], outputs, **QUEUED)
    kept.current.change(lambda entry: gr.Button(interactive=bool(entry)), kept.current, links.lead_in, **PRIVATE)
    links.bridge.click(craft.bridge, [kept.history, links.bridge_from, links.bridge_to, key], outputs, **QUEUED)
    kept.history.change(craft.bridge_choices, kept.history, [links.bridge_from, links.bridge_to], **PRIVATE)


def allowance(demo: gr.Blocks, ui: Layout, page: Page, runs: list[gr.events.Dependency]) -> None:
    """The visitor's allowance under the price, on load, with each key typed and after each run; and /allowance."""

    async def allowance(api_key: str = "", request: gr.Request = None) -> str:  # type: ignore[assignment]
        """What you may still make on this page's key: clips left in each limit (or that your own key is used).

        Args:
            api_key: Your own Segmind API key; empty for the page's key.

        Returns:
            One line, like "3 of 4 clips left in the next 10 minutes · 11 today".
        """
        visitor = page.visitor(request)
        return await anyio.to_thread.run_sync(page.studio.allowance_line, api_key, visitor)

    api(allowance, "allowance", ("allowance",))  # first: the page's own events below are named after it too
    line, api_key = ui.controls.allowance, ui.key.api_key
    demo.load(allowance, api_key, line, **PRIVATE)
    api_key.change(allowance, api_key, line, **PRIVATE)
    for run in runs:
        run.then(allowance, api_key, line, **PRIVATE)
        run.failure(allowance, api_key, line, **PRIVATE)
