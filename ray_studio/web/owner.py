"""The owner's view: ``/owner`` (what the page's key spent, who was refused, a pause switch),
``/owner/spend.csv?days=N``, and ``POST /owner/pause`` / ``/owner/resume``.

Only the owner gets in: HTTP Basic with RAY_OWNER (compared in constant time; wrong tries are limited per
address: past the limit every password from there, the right one too, gets a 429 saying until when, so
the answer tells a guesser nothing), or with RAY_HF_LOGIN the Space's author (SPACE_AUTHOR_NAME) or a
name in RAY_OWNER_USERS. Anyone else gets a bare 401 or 403; without an owner configured the routes do
not exist (404).

The page is plain HTML with inline SVG bar charts, not a second Gradio app: a second Blocks would bring its
own queue, config and API routes (each needing the owner's auth), and a megabyte of script, for two charts
that need neither interaction nor updates; plain HTML also works with Basic auth and without JavaScript.
The routes are Starlette routes given to Gradio's FastAPI app at its creation (``launch(app_kwargs=
{"routes": ...})``), so http_guard's request-size limits apply to them as to every other route.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hmac
import io
import math
import time
import urllib.parse
from datetime import datetime, timezone

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ray_studio.client.errors import RayError
from ray_studio.web.config import AppSettings
from ray_studio.web.identity import address_visitor, client_address
from ray_studio.web.owner_html import owner_page
from ray_studio.web.record import SpendEvent
from ray_studio.web.refusals import when
from ray_studio.web.studio import Studio

UTC = timezone.utc
WRONG_TRIES = "10 per 10 minutes"  # wrong owner passwords one address may send
CSV_COLUMNS = ["time_utc", "kind", "outcome", "rule", "cost_usd", "job_id", "seconds", "shape", "visitor", "prompt"]


class OwnerView:
    """The owner's routes for one page (its ``Studio``: the record, the gate)."""

    def __init__(self, studio: Studio, settings: AppSettings) -> None:
        self.studio = studio
        self.settings = settings
        self._wrong = MovingWindowRateLimiter(MemoryStorage())
        self._wrong_limit = limits.parse(WRONG_TRIES)

    @property
    def configured(self) -> bool:
        return self.studio.recorder is not None and (
            self.settings.owner is not None or (self.settings.hf_login and bool(self.settings.owner_users))
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/owner", self.page, methods=["GET"]),
            Route("/owner/spend.csv", self.spend_csv, methods=["GET"]),
            Route("/owner/pause", self.pause, methods=["POST"]),
            Route("/owner/resume", self.resume, methods=["POST"]),
        ]

    # -- who may come in

    def refusal(self, request: Request) -> Response | None:
        """None for the owner; else the bare answer anyone else gets."""
        if not self.configured:
            return PlainTextResponse("Not found.", status_code=404)
        if self._hf_user(request) in self.settings.owner_users and self.settings.hf_login:
            return None
        if self.settings.owner is None:
            status = 403 if self._hf_user(request) else 401
            return PlainTextResponse("Forbidden." if status == 403 else "Sign in first.", status_code=status)
        caller = address_visitor(client_address(_peer(request), _forwarded(request), self.studio.policy.proxies)).id
        if not self._wrong.test(self._wrong_limit, caller):
            return self._locked_out(caller)
        if _basic_matches(request.headers.get("authorization", ""), self.settings.owner):
            return None
        if request.headers.get("authorization"):
            self._wrong.hit(self._wrong_limit, caller)
        headers = {"WWW-Authenticate": 'Basic realm="Ray Studio owner", charset="UTF-8"'}
        return PlainTextResponse("Authentication required.", status_code=401, headers=headers)

    def _locked_out(self, caller: str) -> Response:
        """The answer to every password from an address past WRONG_TRIES: the same whether it is right or
        not (else it would tell a guesser which one is), with when the next try will be heard."""
        reset_at, _ = self._wrong.get_window_stats(self._wrong_limit, caller)
        now = time.time()
        wait = max(1, math.ceil(reset_at - now))
        until = datetime.fromtimestamp(now + wait, UTC)
        text = (
            f"Too many wrong passwords from this address. Every password from here, the right one too, is "
            f"refused for now: try again {when(until, now)}.\n"
        )
        return PlainTextResponse(text, status_code=429, headers={**_PRIVATE, "Retry-After": str(wait)})

    @staticmethod
    def _hf_user(request: Request) -> str | None:
        if "session" not in request.scope:
            return None
        info = request.session.get("oauth_info") or {}
        name = (info.get("userinfo") or {}).get("preferred_username")
        return name if isinstance(name, str) and name else None

    # -- the routes

    async def page(self, request: Request) -> Response:
        if (refused := self.refusal(request)) is not None:
            return refused
        html = await run_in_threadpool(self._page_html)
        return HTMLResponse(html, headers=_PRIVATE)

    def _page_html(self) -> str:
        recorder = self.studio.recorder
        assert recorder is not None
        days = min(30, recorder.days)
        events = recorder.events(days)
        try:
            counted, paused = self.studio.gate.spent_today(), self.studio.gate.paused()
        except RayError:
            counted, paused = None, None
        try:
            alert = recorder.key_alert()
        except recorder.store.errors:
            alert = None
        return owner_page(
            events,
            now=recorder.clock(),
            alert=alert,
            days=days,
            budget=self.studio.policy.daily_budget,
            counted_today=counted,
            paused=paused,
            sees_prompts=recorder.sees_prompts,
        )

    async def spend_csv(self, request: Request) -> Response:
        if (refused := self.refusal(request)) is not None:
            return refused
        recorder = self.studio.recorder
        assert recorder is not None
        raw = request.query_params.get("days", "1")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= recorder.days:
            return PlainTextResponse(f"days must be a whole number from 1 to {recorder.days}.", status_code=400)
        events = await run_in_threadpool(recorder.events, int(raw))
        name = f"ray-spend-{datetime.now(UTC):%Y%m%d}-{raw}d.csv"
        headers = {**_PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(spend_csv(events), media_type="text/csv; charset=utf-8", headers=headers)

    async def pause(self, request: Request) -> Response:
        return await self._switch(request, paused=True)

    async def resume(self, request: Request) -> Response:
        return await self._switch(request, paused=False)

    async def _switch(self, request: Request, paused: bool) -> Response:
        if (refused := self.refusal(request)) is not None:
            return refused
        if _cross_site(request):
            return PlainTextResponse("Forbidden.", status_code=403)
        try:
            await run_in_threadpool(self.studio.gate.set_paused, paused)
        except RayError:
            return PlainTextResponse("The switch could not be stored; try again.", status_code=503)
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/owner", status_code=303)
        return PlainTextResponse("paused\n" if paused else "resumed\n", headers=_PRIVATE)


_PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def spend_csv(events: list[SpendEvent]) -> str:
    """The events as CSV, one row each, oldest first; costs in dollars."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in events:
        when = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")
        cost = f"{e.cost:.6f}".rstrip("0").rstrip(".") if e.cost else "0"
        row = [when, e.kind, e.outcome, e.rule, cost, e.job_id, e.seconds, e.shape, e.visitor, e.prompt]
        writer.writerow([_no_formula(str(value)) for value in row])
    return out.getvalue()


def _no_formula(value: str) -> str:
    """A spreadsheet would run a cell starting with = + - @ (a prompt could): it is quoted as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _basic_matches(header: str, owner: tuple[str, str]) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), owner[0].encode())
    password_ok = hmac.compare_digest(password.encode(), owner[1].encode())
    return bool(sep) and user_ok and password_ok


def _cross_site(request: Request) -> bool:
    """A form another site made the owner's browser send (it would carry the remembered Basic login)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urllib.parse.urlsplit(origin).netloc != request.headers.get("host", "")


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


def _forwarded(request: Request) -> list[str]:
    return request.headers.getlist("x-forwarded-for")
