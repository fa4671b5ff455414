"""The page's prompt craft handlers: Enhance (and /enhance), the camera move picker, Lead in and Bridge.

Like page.py's, each handler returns ``{component: value}``; the decisions (keys, spending, frames)
are Studio's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.camera import camera_moves, with_camera
from ray_studio.client.errors import InvalidRequestError, RayError
from ray_studio.web.history import entry_line, form_values, trimmed
from ray_studio.web.keyframe_field import clip_frames_shown

if TYPE_CHECKING:
    from ray_studio.web.frames import HostedFrame
    from ray_studio.web.layout import Layout
    from ray_studio.web.page import Page, Shown


class NoSuchClipError(InvalidRequestError):
    title = "Clip not found"
    action = "Pick one of your clips that this server made and still has."


class Craft:
    """Handlers for Enhance, camera moves, Lead in and Bridge on one page."""

    def __init__(self, page: Page, ui: Layout) -> None:
        self.page = page
        self.studio = page.studio
        self.ui = ui

    # -- Enhance

    async def enhance(
        self,
        prompt: str,
        api_key: str = "",
        request: gr.Request = None,  # type: ignore[assignment]
        profile: gr.OAuthProfile | None = None,
    ) -> str:
        """Rewrite a short video idea into a detailed prompt for Luma Ray Flash 2 (one LLM call on Segmind; no clip).

        Args:
            prompt: The idea or prompt to rewrite (up to 2000 characters); words in double quotes are kept.
            api_key: Your own Segmind API key; empty to use the server's key (within its limits).

        Returns:
            The rewritten prompt: one paragraph of subject, action, camera, light and style.
        """
        try:
            return await self.studio.enhance(prompt, api_key, self.page.visitor(request, profile))
        except RayError as err:
            raise self.page.error(err, api_key) from None

    async def enhance_in_page(self, prompt: str, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """The suggestion beside the visitor's prompt; the prompt itself stays as it is until "Use it"."""
        craft = self.ui.craft
        try:
            suggestion = await self.studio.enhance(prompt, api_key, self.page.visitor(request))
        except RayError as err:
            return self.page.failed(err, api_key)
        return {
            craft.suggestion_box: gr.Group(visible=True),
            craft.original: prompt,
            craft.suggestion: suggestion,
        }

    def use_it(self, suggestion: str, prompt: str) -> Shown:
        """The suggestion becomes the prompt (nothing is generated until Generate); Undo brings the old one back."""
        craft = self.ui.craft
        return {
            self.ui.shot.prompt: suggestion,
            craft.before: prompt,
            craft.undo: gr.Button(visible=True),
            craft.suggestion_box: gr.Group(visible=False),
        }

    def keep_mine(self) -> Shown:
        return {self.ui.craft.suggestion_box: gr.Group(visible=False)}

    def undo(self, before: str) -> Shown:
        return {self.ui.shot.prompt: before, self.ui.craft.undo: gr.Button(visible=False)}

    # -- camera moves

    def pick_camera(self, prompt: str, move: str | None) -> Shown:
        """The move's words added to the prompt, visible and editable; the picker is ready for another."""
        if not move:
            return gr.skip()
        try:
            (move,) = camera_moves([move])
        except RayError as err:
            raise self.page.error(err, "") from None
        return {self.ui.shot.prompt: with_camera(prompt or "", move), self.ui.craft.camera: None}

    # -- Lead in and Bridge

    def entry(self, history: Any, entry_id: Any) -> dict:
        """One of the visitor's clips that this server signed."""
        for entry in trimmed(history):
            if entry.get("id") == entry_id and self.studio.signer.valid(entry):
                return entry
        raise NoSuchClipError(["that clip is not in your history here"])

    async def lead_in(self, history: Any, entry_id: Any, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """A new clip that ends where ``entry_id`` begins: its first frame becomes the end image, its
        settings the form's. Joined as lead-in + clip in the chain download."""
        try:
            entry = self.entry(history, entry_id)
            end = await self.studio.clip_frame(entry, "first", api_key, self.page.visitor(request))
        except RayError as err:
            return self.page.failed(err, api_key)
        prompt, ratio, duration, _, _, _ = form_values(entry)
        note = "Leading in to that clip: its first frame is the end image. Describe what comes before, then Generate."
        links = {"leads_into": entry.get("id"), "end_url": end.url}
        return self._form((prompt, ratio, duration, False, "", end.url), links, note, end=end)

    async def bridge(self, history: Any, from_id: Any, to_id: Any, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """A clip from A's last frame to B's first: joined as A + bridge + B in the chain download."""
        try:
            first, second = self.entry(history, from_id), self.entry(history, to_id)
            if first.get("id") == second.get("id"):
                raise InvalidRequestError(["pick two different clips to bridge"])
            visitor = self.page.visitor(request)
            start = await self.studio.clip_frame(first, "last", api_key, visitor)
            end = await self.studio.clip_frame(second, "first", api_key, visitor)
        except RayError as err:
            return self.page.failed(err, api_key)
        prompt, ratio, duration, _, _, _ = form_values(first)
        links = {"id": first.get("id"), "url": start.url, "leads_into": second.get("id"), "end_url": end.url}
        note = "Bridging: the first clip's last frame starts it, the second's first frame ends it. Then Generate."
        return self._form((prompt, ratio, duration, False, start.url, end.url), links, note, start=start, end=end)

    async def lead_in_current(self, entry: Any, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """Lead in to the clip in the player."""
        entry = entry if isinstance(entry, dict) else {}
        return await self.lead_in([entry], entry.get("id"), api_key, request)

    def _form(
        self,
        values: tuple,
        continuing: dict,
        note: str,
        start: HostedFrame | None = None,
        end: HostedFrame | None = None,
    ) -> Shown:
        ui = self.ui
        return {
            **dict(zip(ui.form, values, strict=True)),
            **clip_frames_shown(ui.keyframes, start, end),
            ui.kept.continuing: continuing,
            ui.player.status: note,
            ui.keyframes.box: gr.Accordion(open=True),
        }

    def bridge_choices(self, history: Any) -> Shown:
        """The clips that can be bridged: this server's, made, newest first."""
        choices = [
            (f"{str(e.get('prompt', ''))[:40]} · {entry_line(e)}", e.get("id"))
            for e in trimmed(history)
            if e.get("state") == "done" and self.studio.signer.valid(e)
        ]
        links = self.ui.links
        return {links.bridge_from: gr.Dropdown(choices=choices), links.bridge_to: gr.Dropdown(choices=choices)}
