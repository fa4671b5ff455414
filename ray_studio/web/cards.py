"""The history cards' buttons, as the server hears them: each names its entry by id (page.js draws
the cards in the browser; see layout.card_actions), and the history the browser sent says the rest."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import RayError
from ray_studio.web.history import HISTORY_LENGTH, entry_line, form_values, trimmed

if TYPE_CHECKING:
    from ray_studio.web.layout import Layout
    from ray_studio.web.studio import Studio

Shown = dict[Any, Any]


def without(entry_id: str, history: list[dict]) -> list[dict]:
    """The history without one entry (a card's Delete)."""
    return [e for e in history or [] if isinstance(e, dict) and e.get("id") != entry_id]


def for_cards(studio: Studio, history: Any) -> list[dict]:
    """The history as the cards show it: each entry with its line, and a made clip this server no
    longer has marked ``gone`` (display only: neither is signed, and nothing is trusted from them)."""
    shown = []
    for entry in trimmed(history):
        entry = {**entry, "line": entry_line(entry)}
        if entry.get("state") == "done":
            try:
                studio.clip_file(entry)
                entry.pop("gone", None)
            except RayError:
                entry["gone"] = True
        shown.append(entry)
    return shown


class CardButtons:
    """Restore, Re-run, Continue, Delete and Undo for the card whose id page.js sent."""

    def __init__(self, studio: Studio, ui: Layout) -> None:
        self.studio = studio
        self.ui = ui

    @staticmethod
    def entry(entry_id: Any, history: Any) -> dict | None:
        return next((e for e in trimmed(history) if e.get("id") == entry_id), None)

    def restore(self, entry_id: Any, history: Any) -> Shown:
        """The card's settings, back in the form."""
        entry = self.entry(entry_id, history)
        if entry is None:
            return gr.skip()
        return dict(zip(self.ui.form, form_values(entry), strict=True))

    def pick(self, entry_id: Any, history: Any) -> Shown:
        """The card's entry as the one in the player (for Continue)."""
        return {self.ui.kept.current: self.entry(entry_id, history)}

    def delete(self, entry_id: Any, history: Any) -> Shown:
        return {self.ui.kept.history: without(entry_id, trimmed(history))}

    def undo(self, entry_json: Any, history: Any) -> Shown:
        """A deleted entry back in its place: only one this server signed (page.js kept it a few seconds)."""
        try:
            entry = json.loads(entry_json) if isinstance(entry_json, str) else None
        except ValueError:
            entry = None
        history = trimmed(history)
        if not self.studio.signer.valid(entry) or any(e.get("id") == entry.get("id") for e in history):
            return gr.skip()
        created = entry.get("created") or 0
        at = next((i for i, e in enumerate(history) if (e.get("created") or 0) < created), len(history))
        return {self.ui.kept.history: [*history[:at], entry, *history[at:]][:HISTORY_LENGTH]}
