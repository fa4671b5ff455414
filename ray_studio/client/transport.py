"""The HTTP under the client: one session that keeps no cookies and sends the key only to the configured
origins, requests a cancel can cut short, resends only of what cannot have been billed, and failures told
apart by whether they may have been billed. Clips are saved by ``downloads`` on top of it."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import urllib3.exceptions
from requests import Response

from ray_studio.client.answers import (
    parse_retry_after,
    server_message,
)
from ray_studio.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadGatewayError,
    CancelledError,
    GatewayTimeoutError,
    InvalidRequestError,
    InvalidResponseError,
    RateLimitError,
    RayError,
    RedirectRefusedError,
    error_for_status,
)
from ray_studio.client.job import ProgressCallback, Update
from ray_studio.client.settings import Settings, origin

# --------------------------------------------------------------------------- the session's parts


class RefuseAllCookies(DefaultCookiePolicy):
    """One Session serves every visitor: a cookie set on one visitor's call must never ride on another's."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


_abort_scope = threading.local()


def current_abort_scope() -> AbortScope | None:
    return getattr(_abort_scope, "current", None)


class AbortScope:
    """While active in a thread, a set ``cancel`` event shuts the sockets that thread's requests use,
    so a blocking wait for Segmind's answer ends at once and the upstream request really ends."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    def watch(self, conn: Any) -> None:
        with self._lock:
            self._sockets.append(conn)

    def _abort(self) -> None:
        with self._lock:
            conns = list(self._sockets)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _watch_cancel(self) -> None:
        assert self.cancel is not None
        while not self._done.wait(0.05):
            if self.cancel.is_set():
                self._abort()
                return

    def __enter__(self) -> AbortScope:
        _abort_scope.current = self
        if self.cancel is not None:
            threading.Thread(target=self._watch_cancel, name="ray-abort-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        _abort_scope.current = None
        self._done.set()


# urllib3's private _get_conn is the one place a pooled socket can be seen before the answer arrives:
# without it a cancel during the v1 call would wait out the whole read timeout, and Segmind's request
# would go on until then.
def _watched(pool_class: type) -> type:
    class Watched(pool_class):  # type: ignore[misc, valid-type]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            scope = current_abort_scope()
            if scope is not None:
                scope.watch(conn)
            return conn

    Watched.__name__ = f"Watched{pool_class.__name__}"
    return Watched


class WatchedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _watched(urllib3.HTTPConnectionPool),
            "https": _watched(urllib3.HTTPSConnectionPool),
        }


def surely_not_billed(err: RayError) -> bool:
    """True when a failed generation cannot have been charged: refused locally, refused by Segmind
    with a 4xx before it started, or never connected. Anything else may have been billed."""
    if isinstance(err, InvalidRequestError) or getattr(err, "nothing_sent", False):
        return True
    if isinstance(err, APIStatusError) and err.status is not None and 400 <= err.status < 500:
        return True
    return isinstance(err, (APIConnectionError, APITimeoutError)) and not may_have_reached(err)


def may_have_reached(err: RayError) -> bool:
    """Whether a failed request may have reached Segmind (and so been billed)."""
    cause = err.__cause__
    return not (isinstance(cause, requests.exceptions.RequestException) and never_connected(cause))


def never_connected(err: requests.exceptions.RequestException) -> bool:
    """True when the request never left: no connection was made, so nothing can be billed."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(err, requests.exceptions.ConnectionError):
        return False
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError))


def read_small(response: requests.Response, limit: int = 64 * 1024) -> bytes:
    """Up to ``limit`` bytes of a (small, error or JSON) body; empty if the connection fails."""
    try:
        return response.raw.read(limit, decode_content=True) or b""
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""


# --------------------------------------------------------------------------- Transport


class Transport:
    """The HTTP under a RayClient, safe to share between threads: one pooled Session that keeps no
    cookies and reads no proxy or credentials from the environment; the key sent only to the configured
    origins; resends only of what cannot have been billed."""

    def __init__(
        self, settings: Settings, session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.cookies.set_policy(RefuseAllCookies())
        self.session.trust_env = False
        adapter = WatchedAdapter(pool_connections=4, pool_maxsize=64)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.sleep = sleep

    def close(self) -> None:
        self.session.close()

    def secrets(self, key: str | None) -> tuple[str | None, ...]:
        """Every key a text from upstream must not show: the caller's and the configured one."""
        return (key, self.settings.api_key)

    def quoted(self, data: Any, key: str | None) -> str | None:
        """Segmind's words in a JSON answer, every piece of a key hidden."""
        return server_message(json.dumps(data).encode(), "application/json", self.secrets(key))

    # -- one exchange

    def send(self, method: str, url: str, key: str, *, json_body: Any = None, what: str = "the request") -> Response:
        """One request carrying the key. Redirects are followed only within the configured origins
        (requests would carry x-api-key to any host a redirect names). Errors become RayErrors whose
        cause says whether the request may have reached Segmind."""
        trusted = self.settings.trusted_origins
        for _ in range(4):
            if origin(url) not in trusted:
                raise RedirectRefusedError(f"{what} was sent to {urlsplit(url).netloc}, not to Segmind")
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json_body,
                    headers={"x-api-key": key, "Accept": "application/json, video/mp4"},
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    stream=True,  # bodies are read by size-capped readers, never whole into memory
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as err:
                raise self._transport_error(err, url, what) from err
            if not response.is_redirect:
                return response
            location = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if origin(location) not in trusted:
                raise RedirectRefusedError(
                    f"Segmind's answer redirected {what} to {urlsplit(location).netloc}; the key was not sent there"
                )
            if method != "GET" and response.status_code not in (307, 308):
                raise RedirectRefusedError(f"Segmind's answer redirected {what} with HTTP {response.status_code}")
            url = location
        raise RedirectRefusedError(f"Segmind's answer redirected {what} more than three times")

    def get_without_key(self, url: str, what: str) -> Response:
        """A streamed GET that carries no key, for a link Segmind gave (it may name any host)."""
        s = self.settings
        try:
            return self.session.get(url, stream=True, timeout=(s.connect_timeout, s.read_timeout))
        except requests.exceptions.RequestException as err:
            raise self._transport_error(err, url, what) from err

    def _transport_error(self, err: requests.exceptions.RequestException, url: str, what: str) -> RayError:
        s = self.settings
        host = urlsplit(url).netloc
        scope = current_abort_scope()
        if scope is not None and scope.cancel is not None and scope.cancel.is_set():
            return CancelledError(
                "stopped while waiting for Segmind; the request was closed",
                action="No video was saved; if Segmind had started the clip, it may be billed.",
            )
        if isinstance(err, requests.exceptions.ConnectTimeout):
            return APITimeoutError(
                f"could not connect to {host} within {s.connect_timeout:g} s",
                action="Check your network connection and SEGMIND_BASE_URL, then try again.",
            )
        if never_connected(err):
            return APIConnectionError(f"could not reach {host}")
        if isinstance(err, requests.exceptions.Timeout):
            return APITimeoutError(f"Segmind sent nothing for {s.read_timeout:g} s in answer to {what}")
        if isinstance(err, requests.exceptions.ConnectionError):
            return APIConnectionError(f"the connection dropped before Segmind answered {what}")
        return APIConnectionError(f"{what} failed ({type(err).__name__})")

    def raise_for_status(
        self, response: Response, key: str, ladder: Callable[..., RayError] = error_for_status
    ) -> None:
        """An error status as the ladder's RayError, with Segmind's words (every piece of a key hidden)."""
        if response.status_code < 400:
            return
        with response:
            body = read_small(response)
        message = server_message(body, response.headers.get("Content-Type", ""), self.secrets(key))
        if ladder is error_for_status:
            raise error_for_status(
                response.status_code, message, parse_retry_after(response.headers.get("Retry-After"))
            )
        raise ladder(response.status_code, message)

    def read_json(self, response: Response, what: str) -> Any:
        with response:
            body = read_small(response, 1 << 20)
        try:
            return json.loads(body)
        except ValueError:
            raise InvalidResponseError(f"Segmind sent malformed JSON in answer to {what}") from None

    # -- resends

    def _retry_wait(self, err: RayError, attempt: int) -> float | None:
        """Seconds to wait before resending, or None to give up. Only requests that cannot have
        been billed are resent, unless the gateway opt-in is on."""
        s = self.settings
        if attempt > s.max_retries or isinstance(err, CancelledError):
            return None
        backoff = min(s.max_retry_wait, random.uniform(0, 2.0 ** (attempt - 1)))
        if isinstance(err, RateLimitError):
            if err.retry_after is None:
                return backoff
            return err.retry_after if err.retry_after <= s.max_retry_wait else None
        if isinstance(err, (APIConnectionError, APITimeoutError)) and not may_have_reached(err):
            return backoff
        if s.retry_gateway_errors and isinstance(err, (BadGatewayError, GatewayTimeoutError, APITimeoutError,
                                                       APIConnectionError)):  # fmt: skip
            return backoff
        return None

    def with_retries(
        self,
        send: Callable[[], Response],
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[Response, int]:
        """``send()``'s answer and the attempts it took, resending as ``_retry_wait`` allows."""
        attempt = 0
        billable = False  # an earlier try may have been charged (a resent gateway error)
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                stopped = CancelledError("stopped before sending" if attempt == 1 else "stopped while waiting to retry")
                stopped.nothing_sent = not billable  # nothing sent, or each try refused before Segmind began
                raise stopped
            try:
                return send(), attempt
            except RayError as err:
                billable = billable or not surely_not_billed(err)
                wait = self._retry_wait(err, attempt)
                if wait is None:
                    raise
                if progress:
                    if isinstance(err, RateLimitError):
                        text = f"rate limited by Segmind; waiting {wait:.0f} s before trying again"
                    else:
                        text = f"{err.title.lower()}; trying again in {wait:.0f} s (attempt {attempt + 1})"
                    progress(Update("waiting" if isinstance(err, RateLimitError) else "retrying", text, wait=wait))
                self.sleep(wait)
