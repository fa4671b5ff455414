"""Enhance (a prompt rewritten by an LLM on Segmind) for ``Studio``, which takes it from ``PromptRewrites``:
the key rules of a clip, the spending gate's leave on the page's key, and the owner's record of each call
on that key (kind "enhance", beside the clips)."""

from __future__ import annotations

import functools
from typing import Any

from ray_studio.client.client import RayClient
from ray_studio.client.enhance import check_prompt
from ray_studio.client.errors import RayError
from ray_studio.client.transport import surely_not_billed
from ray_studio.client.wording import format_usd
from ray_studio.web.identity import Visitor
from ray_studio.web.key_alert import alert_reason
from ray_studio.web.record import Recorder
from ray_studio.web.redaction import LIVE_KEYS
from ray_studio.web.refusals import SpendRefusedError


class PromptRewrites:
    """``enhance`` for ``Studio``, which sets the attributes below and gives ``key_for``, ``_admit``, ``_thread``."""

    client: RayClient
    recorder: Recorder | None
    has_owner_key: bool

    key_for: Any
    _admit: Any
    _thread: Any

    def enhance_price_line(self) -> str:
        """What one Enhance costs on the page's key (RAY_ENHANCE_PRICE), for the page; "" without a page key."""
        if not self.has_owner_key:
            return ""
        return f"Enhance costs {format_usd(self.client.settings.enhance_price)} on this page's key"

    async def enhance(self, prompt: Any, api_key: Any, visitor: Visitor) -> str:
        """``prompt`` rewritten by the LLM (RayClient.enhance): the key rules of a clip, then on the page's
        key a prompt rewrite's leave to spend (RAY_ENHANCE_LIMITS, and RAY_ENHANCE_PRICE of the day
        budget, given back if Segmind surely did not bill it). Nothing is sent that a local check refuses."""
        key, own_key = self.key_for(api_key)
        check_prompt(prompt)
        if own_key:
            with LIVE_KEYS.held(key):
                return await self._thread(self.client.enhance, prompt, key)
        return await self._enhance_on_page_key(prompt, key, visitor)

    async def _enhance_on_page_key(self, prompt: Any, key: str, visitor: Visitor) -> str:
        """An enhance on the page's key, written to the owner's record as it ends."""
        price = self.client.settings.enhance_price
        record = functools.partial(self._record_enhance, visitor)
        try:
            admission = await self._admit(visitor, 1, price, kind="enhance")
        except SpendRefusedError as err:
            record("refused", rule=err.rule)
            raise
        since = self.recorder.clock() if self.recorder is not None else 0.0
        outcome, cost, rule = "failed-billed", price, ""  # also when the visitor's request is cancelled
        try:
            text = await self._thread(self.client.enhance, prompt, key)
        except RayError as err:
            if surely_not_billed(err):
                admission.refund()
                outcome, cost = "failed-refunded", 0.0
            rule = self.key_refused(err)
            raise
        else:
            outcome = "made"
            if self.recorder is not None:
                self.recorder.key_worked(since)
            return text
        finally:
            admission.release()
            record(outcome, cost=cost, rule=rule)

    def _record_enhance(self, visitor: Visitor, outcome: str, **details: Any) -> None:
        if self.recorder is not None:
            self.recorder.add(visitor.id, None, "enhance", outcome, **details)

    def key_refused(self, err: RayError) -> str:
        """A call on the page's key failed: an account failure raises the owner's alert (key_alert.py).
        Returns its reason, or ""."""
        if self.recorder is not None:
            self.recorder.key_refused(err)
        return alert_reason(err) or ""
