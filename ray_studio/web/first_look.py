"""What the result area shows before there is a clip: the showcase (RAY_SHOWCASE_DIR) first, then the
examples as cards. Once a clip is made or shown, the player comes above them (assets/first_look.css
hides the empty player and what acts on a clip until there is one).

The example cards are one HTML block: a click hands the example to assets/first_look.js and fires the
block's ``pick`` event, which fills the form in the browser (wiring.first_look); nothing is sent.
"""

from __future__ import annotations

import html
import json
from typing import NamedTuple

import gradio as gr

from ray_studio.web.showcase import HOVER_PLAY_JS, ShowcaseClip, clip_html
from ray_studio.web.words import example_label

# The card clicked becomes the example the ``pick`` event puts in the form (rayStudio.firstLook.take).
PICK_JS = """
element.addEventListener('click', (event) => {
  const card = event.target.closest('button[data-example]');
  if (!card) return;
  window.rayStudio.firstLook.picked = JSON.parse(card.dataset.example);
  trigger('pick');
});
"""


class FirstLook(NamedTuple):
    examples: gr.HTML  # the example cards; its ``pick`` event fills the form
    showcase: tuple[tuple[gr.Button, ShowcaseClip], ...]


def first_look(clips: list[ShowcaseClip], examples: list[list]) -> FirstLook:
    """The showcase, then the example cards, under the player (which is hidden until there is a clip)."""
    with gr.Column(elem_id="first-look"):
        showcase = showcase_gallery(clips)
        cards = gr.HTML(examples_html(examples), min_height=0, padding=False, elem_id="examples", js_on_load=PICK_JS)
    return FirstLook(cards, showcase)


def examples_html(examples: list[list]) -> str:
    """The examples as cards: each its shape drawn, its settings and its prompt (``example_label``)."""
    cards = "".join(example_card(example) for example in examples)
    return (
        "<h3 class='examples-title'>Start from an example</h3>"
        "<p class='examples-note'>A click fills the form; nothing is made until you press Generate.</p>"
        f"<div class='example-cards' role='list'>{cards}</div>"
    )


def example_card(example: list) -> str:
    prompt, ratio = example[0], example[1]
    settings = example_label(example).removesuffix(f" · {prompt}")
    width, height = ratio.split(":")
    values = html.escape(json.dumps(example), quote=True)
    # One text block holds settings and prompt, so the card reads (and is found) as its label.
    return (
        f"<button type='button' class='example-card' role='listitem' data-example='{values}'>"
        f"<span class='example-shape' style='aspect-ratio:{width}/{height}' aria-hidden='true'>{ratio}</span>"
        f"<span class='example-text'><span class='example-settings'>{html.escape(settings)}</span>"
        f"<span class='example-dot'> · </span>{html.escape(prompt)}</span></button>"
    )


def showcase_gallery(clips: list[ShowcaseClip]) -> tuple[tuple[gr.Button, ShowcaseClip], ...]:
    """Finished clips every visitor sees (RAY_SHOWCASE_DIR): each plays on hover or tap, and "Use these
    settings" fills the form. Nothing is sent to Segmind to show them."""
    if not clips:
        return ()
    buttons = []
    with gr.Column(elem_id="showcase"):
        gr.Markdown("### Made with Ray Studio\nHover or tap a clip to play it; nothing is generated to show these.")
        with gr.Row(equal_height=False):
            for clip in clips:
                with gr.Column(min_width=180, elem_classes="showcase-item"):
                    gr.HTML(clip_html(clip), min_height=0, js_on_load=HOVER_PLAY_JS)
                    buttons.append((gr.Button("Use these settings", size="sm", elem_classes="use-settings"), clip))
    return tuple(buttons)
