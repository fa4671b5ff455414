"""A failure as the page shows it: once, in the status line above the player, in the words of the
visitor it is for (page.js points at it when it is out of sight, and shows a time to come back in
the visitor's own zone as well as UTC).

The API ways in raise ``error``: a gr.Error their caller reads. The page's own events write the
failure in the status line and end (``in_page``) with a gr.Error that shows no toast but still ends
the event as failed, so the steps chained with .success() do not run and those chained with .failure()
(the buttons back) do. The page's small events, which nothing follows, just write it.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import RayError

if TYPE_CHECKING:
    from ray_studio.web.layout import Layout

log = logging.getLogger("ray_studio")
Shown = dict[Any, Any]

_URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,;:]")


def own_key_used(api_key: Any) -> bool:
    """Whether the visitor's own key was in the field (else the page's key was used)."""
    return isinstance(api_key, str) and bool(api_key.strip())


def failure_html(err: RayError, own_key: bool) -> str:
    """The failure for the page: its title, then what it means and what to do, in sentences; links
    to follow; a time to come back marked as such (``<time>``) for page.js to show in the visitor's zone.

    Not passed through ``redact`` again: Segmind's words in it were redacted by the client, and the
    rest is ours or the visitor's own input. Redacting that against the page's key would tell a
    visitor whether what they typed is part of the key (``(got '[key hidden]')``): an oracle."""
    title = html.escape(err.visitor_title(own_key))
    text = _linked(html.escape(err.visitor_explanation(own_key), quote=False))
    clock = getattr(err, "clock", None)
    if clock is not None:
        text = _timed(text, *clock)
    return f"<div class='clip-error' role='alert'><p>⚠️ <strong>{title}.</strong> {text}</p></div>"


def _linked(text: str) -> str:
    return _URL.sub(lambda m: f"<a href='{m[0]}' target='_blank' rel='noopener noreferrer'>{m[0]}</a>", text)


def _timed(text: str, label: str, at: datetime) -> str:
    shown = html.escape(label, quote=False)
    return text.replace(shown, f"<time class='utc-time' datetime='{at.isoformat()}'>{shown}</time>", 1)


class PageFailures:
    """How a Page tells a visitor of a failure (Page gives ``ui``)."""

    ui: Layout

    def told(self, err: RayError, api_key: Any) -> bool:
        """A failure a visitor is told of, logged in one line (a refusal, or a failure the page foresaw,
        is no bug, so no traceback); whether their own key was used.

        Only the title goes to the log: the rest may quote what the visitor typed, their key among it
        if they pasted it in the wrong field. A problem of the page's own Segmind account, which the
        visitor reads only as "this page cannot make clips", reaches the owner whole (Segmind's words
        in it were redacted by the client)."""
        own_key = own_key_used(api_key)
        log.info("told a visitor: %s (%s)", err.heading, type(err).__name__)
        if err.about_page_account(own_key):
            log.warning("this page's Segmind key cannot be used: %s", err.user_message)
        return own_key

    def error(self, err: RayError, api_key: Any) -> gr.Error:
        """The failure for an API or MCP caller, who reads the error it raises."""
        own_key = self.told(err, api_key)
        return gr.Error(
            err.visitor_message(own_key), title=err.visitor_title(own_key), duration=None, print_exception=False
        )

    def failure_line(self, err: RayError, api_key: Any) -> str:
        """The failure in the status line, where the page shows it (once: no toast)."""
        return failure_html(err, self.told(err, api_key))

    def failed(self, err: RayError, api_key: Any) -> Shown:
        """A handler's answer when it failed: the failure in the status line, the rest as it was."""
        return {self.ui.player.status: self.failure_line(err, api_key)}

    async def in_page(self, stream: AsyncIterator[Shown], api_key: Any) -> AsyncIterator[Shown]:
        """A page event's updates; a failure it raises is shown in the status line, then the event
        ends failed with a gr.Error that shows no toast (it still says what failed, for anyone who
        calls the event through Gradio's queue)."""
        try:
            async for shown in stream:
                yield shown
        except RayError as err:
            own_key = self.told(err, api_key)
            yield {self.ui.player.status: failure_html(err, own_key), self.ui.player.progress: ""}
            title, message = err.visitor_title(own_key), err.visitor_message(own_key)
            raise gr.Error(message, title=title, duration=None, visible=False, print_exception=False) from None
