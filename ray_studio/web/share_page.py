"""The page's side of showing and sharing: the showcase's "Use these settings", a clip's "Copy link",
and the page a link opens (the clip playing, its settings shown, "Remix" to load them)."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import RayError
from ray_studio.web.board import JobBoard
from ray_studio.web.failures import failure_html
from ray_studio.web.share import ClipLinks, base_url

if TYPE_CHECKING:
    from ray_studio.web.layout import Layout

log = logging.getLogger("ray_studio")

# Copies the link of the button clicked (the page's own address with ?clip=), and shows it too:
# where the clipboard is refused, it can be selected by hand.
COPY_LINK_JS = """
element.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-token]');
  if (!button) return;
  const url = location.origin + location.pathname + '?clip=' + button.dataset.token;
  const shown = button.parentElement.querySelector('input.share-url');
  if (shown) { shown.value = url; shown.hidden = false; shown.select(); }
  try { await navigator.clipboard.writeText(url); button.textContent = 'Link copied'; }
  catch (err) { button.textContent = 'Copy the link below'; }
});
"""
READ_LINK_JS = "(t) => new URLSearchParams(location.search).get('clip') || ''"


def link_html(token: str | None, lasts: str) -> str:
    """A "Copy link" button for a clip, and how long the link lasts; empty without a link."""
    if not token:
        return ""
    token = html.escape(token, quote=True)
    return (
        f"<div class='share-link'><button type='button' class='copy-link' data-token='{token}'>"
        f"🔗 Copy link</button> <span class='share-lasts'>{html.escape(lasts)}</span>"
        f"<input class='share-url' readonly hidden aria-label='Link to this clip'></div>"
    )


def request_root(request: Any) -> str:
    """The page's address for a call (``http://host/``), for links in API answers."""
    headers = {k.lower(): v for k, v in dict(getattr(request, "headers", None) or {}).items()}
    url = getattr(request, "url", None)
    return base_url(headers, getattr(url, "scheme", None) or "http")


class SharePage:
    """Handlers for the showcase and clip links on one page."""

    def __init__(self, links: ClipLinks, board: JobBoard, ui: Layout) -> None:
        self.links = links
        self.board = board
        self.ui = ui

    def form(self, values: Any) -> dict:
        """Settings into the form (the showcase's "Use these settings", a shared clip's "Remix")."""
        if not isinstance(values, (list, tuple)) or len(values) != len(self.ui.form):
            return gr.skip()
        return dict(zip(self.ui.form, values, strict=True))

    def entry_link(self, entry: Any) -> str:
        """The link of a history entry (the clip in the player, a card). The clip's settings come from
        this server's own record of it, described as it ends, never from the entry's words."""
        if not isinstance(entry, dict):
            return ""
        tracked = self.board.get(str(entry.get("id")))
        if tracked is not None and tracked.result is not None:
            self.links.describe(tracked.result)
        token = self.links.token_for_entry(entry)
        return link_html(token, self.links.lasts_for_entry(entry) if token else "")

    def opened(self, token: str) -> dict:
        """The page a link opens: its clip playing, its prompt and settings, how long the link lasts,
        and Remix; or why the link does not open (no path, no trace)."""
        if not token:
            return gr.skip()
        player, sharing = self.ui.player, self.ui.sharing
        try:
            shared = self.links.open(token)
        except RayError as err:
            log.info("a clip link did not open: %s (%s)", err.title, type(err).__name__)
            return {player.status: failure_html(err, own_key=True), sharing.remix: gr.skip()}
        prompt = html.escape(shared.request.prompt)
        return {
            player.status: f"**A shared clip** · {shared.lasts}.",
            player.video: gr.Video(value=str(shared.path), loop=shared.request.loop),
            player.info: f"“{prompt}”  \n{shared.shape()}",
            sharing.link: link_html(token.strip(), shared.lasts),
            sharing.shared: list(shared.form_values()),
            sharing.remix: gr.Button(visible=True),
        }
