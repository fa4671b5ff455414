"""Call a launched Ray Studio over Gradio's own HTTP API, as a visitor at a chosen address would.

Every request leaves from ``source`` (any 127.x.y.z on Linux: all of 127/8 is loopback), so one test
process can be many visitors, or one visitor behind a proxy that sends ``X-Forwarded-For``:

    alice = Caller(app_url, source="127.0.0.2")
    outcome = alice.generate("a fox in the snow")           # POST /gradio_api/call/generate, then its stream
    outcome.ok, outcome.message                              # True, "" / False, "One clip at a time: …"

    event_id = alice.call("generate", generate_data("a fox"))  # start without waiting
    alice.cancel(event_id, event_id, alice.fn_index("generate"))  # Gradio's cancel route
    alice.join(fn, data, session_hash) / alice.listen(session_hash)  # the page's own queue/join way in

No gradio_client here: it calls module-level ``httpx`` functions, which cannot take a source address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "gradio_api"
PAGE_GENERATE = "generate_in_page"  # the name Gradio gives the page's own Generate event
DEFAULT_TIMEOUT = 60.0


@dataclass
class Outcome:
    """How one call ended: ``complete`` with its data, or ``error`` with the app's message (or Gradio's
    refusal: ``queue_full``, an HTTP status)."""

    kind: str  # "complete", "error", "refused" (the join itself was answered with an HTTP error)
    data: Any = None
    event_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "complete"

    @property
    def title(self) -> str:
        return str(self.data.get("title") or "") if isinstance(self.data, dict) else ""

    @property
    def message(self) -> str:
        """The error text a visitor reads ("" for a completed call)."""
        if self.ok:
            return ""
        if isinstance(self.data, dict):
            return str(self.data.get("error") or self.data.get("detail") or "")
        return "" if self.data is None else str(self.data)

    @property
    def text(self) -> str:
        """Everything the caller was shown, for checks that something is (not) in it."""
        return json.dumps(self.data, ensure_ascii=False)


def http_client(source: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """An httpx client whose connections leave from ``source``; no proxies from the environment."""
    return httpx.Client(
        transport=httpx.HTTPTransport(local_address=source), timeout=timeout, trust_env=False, follow_redirects=False
    )


def generate_data(
    prompt: str = "a fox in the snow",
    aspect_ratio: str = "16:9",
    duration: int = 5,
    loop: bool = False,
    start_image_url: str = "",
    end_image_url: str = "",
    api_key: Any = "",
) -> list[Any]:
    """The inputs of ``/generate`` in order, as its API schema lists them."""
    return [prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key]


def page_data(prompt: str = "a fox in the snow", duration: int = 5, api_key: Any = "", inputs: int = 9) -> list[Any]:
    """The inputs of the page's own Generate event: the form, the key field, the (empty) history and
    nothing for any state after it."""
    return [*generate_data(prompt, duration=duration, api_key=api_key), [], *[None] * (inputs - 8)]


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event name, data) for each server-sent event; the name is "" when the event has none."""
    name, data = "", []
    for line in response.iter_lines():
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "", []
        elif line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
    if data:
        yield name, "\n".join(data)


@dataclass
class Caller:
    """One visitor of the app at ``url``, connecting from ``source``; ``forwarded_for`` is sent as
    X-Forwarded-For on every request (what a proxy, or a client pretending to be one, sends)."""

    url: str
    source: str = "127.0.0.1"
    forwarded_for: str | list[str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    _config: dict | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/") + "/"

    # -- plumbing

    def client(self) -> httpx.Client:
        return http_client(self.source, self.timeout)

    @property
    def headers(self) -> list[tuple[str, str]]:
        values = [self.forwarded_for] if isinstance(self.forwarded_for, str) else list(self.forwarded_for or [])
        return [("X-Forwarded-For", value) for value in values]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as http:
            return http.get(self.url + path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as http:
            return http.post(self.url + path, headers=self.headers, **kwargs)

    @property
    def config(self) -> dict:
        if self._config is None:
            response = self.get("config")
            response.raise_for_status()
            self._config = response.json()
        return self._config

    def fn_index(self, api_name: str) -> int:
        """The id of the event with this name (private events have one too: their handler's name)."""
        for dep in self.config["dependencies"]:
            if dep.get("api_name") == api_name:
                return dep["id"]
        raise LookupError(f"no event named {api_name!r} in the app's config")

    @property
    def page_fn(self) -> int:
        """The page's Generate event (private: not in the API, but reachable through queue/join)."""
        return self.fn_index(PAGE_GENERATE)

    def page_data(self, prompt: str = "a fox in the snow", duration: int = 5, api_key: Any = "") -> list[Any]:
        """Inputs for ``page_fn``, as many as it takes."""
        (dep,) = [d for d in self.config["dependencies"] if d["id"] == self.page_fn]
        return page_data(prompt, duration, api_key, inputs=len(dep["inputs"]))

    # -- the simple API: /gradio_api/call/<api_name>

    def call(self, api_name: str, data: list[Any]) -> str:
        """Start a call; its event id (raises httpx.HTTPStatusError if the queue refuses the call)."""
        response = self.post(f"{API}/call/{api_name}", json={"data": data})
        response.raise_for_status()
        return response.json()["event_id"]

    def result(self, api_name: str, event_id: str) -> Outcome:
        """Follow a started call to its end."""
        with self.client() as http, http.stream("GET", f"{self.url}{API}/call/{api_name}/{event_id}") as response:
            for name, data in sse_events(response):
                if name in ("complete", "error"):
                    return Outcome(name, json.loads(data) if data else None, event_id)
        return Outcome("error", "the event stream ended without a result", event_id)

    def generate(self, prompt: str = "a fox in the snow", **params: Any) -> Outcome:
        """One call of ``/generate`` to its end (a queue refusal is an Outcome of kind "refused")."""
        try:
            event_id = self.call("generate", generate_data(prompt, **params))
        except httpx.HTTPStatusError as err:
            return refused(err.response)
        return self.result("generate", event_id)

    # -- the page's way in: /gradio_api/queue/join and /gradio_api/queue/data

    def join(self, fn_index: int, data: list[Any], session_hash: str | None = None) -> httpx.Response:
        """Join the queue as the page does; the raw answer (200 with an event id, or 503 queue_full…)."""
        body = {"data": data, "fn_index": fn_index, "session_hash": session_hash or new_session(), "event_data": None}
        return self.post(f"{API}/queue/join", json=body)

    def messages(self, session_hash: str) -> Iterator[dict]:
        """A session's queue messages as they come (``process_generating``, ``process_completed``…)."""
        with (
            self.client() as http,
            http.stream("GET", f"{self.url}{API}/queue/data", params={"session_hash": session_hash}) as response,
        ):
            for _, data in sse_events(response):
                yield json.loads(data)

    def listen(self, session_hash: str, event_ids: set[str] | None = None) -> dict[str, Outcome]:
        """The ends of a session's events (all it has, or those in ``event_ids``), by event id."""
        outcomes: dict[str, Outcome] = {}
        for message in self.messages(session_hash):
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                kind = "complete" if message.get("success") else "error"
                outcomes[message["event_id"]] = Outcome(kind, output, message["event_id"])
                if event_ids is not None and event_ids <= outcomes.keys():
                    break
            elif message.get("msg") == "close_stream":
                break
        return outcomes

    def join_and_wait(self, fn_index: int, data: list[Any]) -> Outcome:
        session = new_session()
        response = self.join(fn_index, data, session)
        if response.status_code != 200:
            return refused(response)
        event_id = response.json()["event_id"]
        return self.listen(session, {event_id}).get(event_id, Outcome("error", "no result", event_id))

    # -- the rest of the surface

    def cancel(self, session_hash: str, event_id: str, fn_index: int) -> httpx.Response:
        """Gradio's cancel route, as gradio_client's ``Job.cancel()`` calls it. A call made through
        ``/call/<api_name>`` without a session hash has its event id as its session hash."""
        body = {"session_hash": session_hash, "fn_index": fn_index, "event_id": event_id}
        return self.post(f"{API}/cancel", json=body)

    def upload(self, name: str, content: bytes) -> httpx.Response:
        return self.post(f"{API}/upload", files=[("files", (name, content, "application/octet-stream"))])


def refused(response: httpx.Response) -> Outcome:
    try:
        detail = response.json()
    except ValueError:
        detail = response.text
    return Outcome("refused", {"status": response.status_code, "detail": detail})


def new_session() -> str:
    return uuid.uuid4().hex[:11]
