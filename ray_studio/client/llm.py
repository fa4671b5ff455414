"""Segmind-hosted language models on the wire: one chat call, with the key and the transport a clip uses.

Segmind serves chat models on the same key and API as Ray: ``POST /v1/<model>`` with ``{"messages":
[...]}`` answers at once with the provider's own JSON (OpenAI's ``choices[0].message.content`` for the
Llama models; Anthropic's and Gemini's shapes are read too, as Segmind's SDK does), and ``POST
/v2/<model>`` queues it, its result carrying that JSON as a string in ``output``. A chat goes through
the queue when ``SEGMIND_API_MODE=async`` (falling back to v1 when the model has no queue), else v1.

A status from Segmind reads as it does for a clip (the same error classes, Segmind's words with every
piece of a key hidden); the text of the answer is redacted the same way; an answer without text is an
``EmptyReplyError``. What the text is for is ``enhance``'s business.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import requests

from ray_studio.client import job_queue
from ray_studio.client.answers import job_status
from ray_studio.client.errors import (
    Advice,
    CancelledError,
    InvalidResponseError,
    NotFoundError,
    QueueUnavailableError,
    RayError,
    redact,
)
from ray_studio.client.job import Job, JobStatus, PollPlan
from ray_studio.client.transport import AbortScope, Transport

WHAT = "the prompt rewrite"
EXPECTED_SECONDS = 5.0  # a short chat answer at Segmind, for the poll plan

MODEL_NOT_FOUND = Advice(
    action="Check SEGMIND_ENHANCE_MODEL (a Segmind chat model's slug, like llama-v3p1-8b-instruct) and "
    "SEGMIND_BASE_URL.",
    visitor_detail="the prompt helper's language model is not known to Segmind",
    visitor_action="The prompt helper is set up for a model Segmind does not know; its owner needs to fix that.",
)


class EmptyReplyError(InvalidResponseError):
    """Segmind answered the chat, but with no text in it."""

    title = "No text from the language model"
    action = "Nothing was changed and no clip was made; try again, or keep your own wording."


class ChatFailedError(RayError):
    """The queued chat ended FAILED at Segmind."""

    title = "The language model could not answer"
    action = "Nothing was changed and no clip was made; try again in a minute, or keep your own wording."


def chat(
    http: Transport,
    messages: list[dict[str, Any]],
    key: str,
    *,
    queued: bool,
    cancel: threading.Event | None = None,
) -> str:
    """The text ``http.settings.enhance_model`` answers to ``messages``, redacted; through Segmind's queue
    when ``queued`` (v1 when the model has none), else in one v1 call. Raises a RayError on every
    expected failure: the status ladder's classes, EmptyReplyError, ChatFailedError, CancelledError."""
    v1, v2 = http.settings.enhance_endpoints
    body = {"messages": messages}
    try:
        if queued:
            try:
                data = _queued(http, v2, body, key, cancel)
            except QueueUnavailableError:
                data = _direct(http, v1, body, key, cancel)
        else:
            data = _direct(http, v1, body, key, cancel)
    except NotFoundError as err:
        raise MODEL_NOT_FOUND.applied_to(err) from err
    text = reply_text(data)
    if text is None or not text.strip():
        raise EmptyReplyError("Segmind's answer to the prompt rewrite holds no text")
    return redact(text, http.secrets(key))


def _direct(http: Transport, endpoint: str, body: dict[str, Any], key: str, cancel: threading.Event | None) -> Any:
    """One v1 call, resent only as ``Transport.with_retries`` allows; its JSON answer."""

    def send() -> requests.Response:
        response = http.send("POST", endpoint, key, json_body=body, what=WHAT)
        http.raise_for_status(response, key)
        return response

    with AbortScope(cancel):
        response, _ = http.with_retries(send, None, cancel)
        return http.read_json(response, WHAT)


def _queued(http: Transport, endpoint: str, body: dict[str, Any], key: str, cancel: threading.Event | None) -> Any:
    """Queue the chat at Segmind, follow it until it is done, and return its result's JSON."""

    def send() -> requests.Response:
        response = http.send("POST", endpoint, key, json_body=body, what=WHAT)
        if response.status_code == 404:
            response.close()
            raise QueueUnavailableError(status=404, server_message="no queue route for this model")
        http.raise_for_status(response, key)
        return response

    response, _ = http.with_retries(send, None, cancel)
    job = job_queue.job_from_answer(http, http.read_json(response, WHAT), None, key)
    _wait(http, job, key, cancel)
    return job_queue.job_answer(http, job, job.response_url, key, "the result request")


def _wait(http: Transport, job: Job, key: str, cancel: threading.Event | None) -> None:
    """Returns once the job is COMPLETED; ChatFailedError when FAILED. Failed checks are asked again
    (a status check is never billed), as ``PollPlan`` says."""
    plan = PollPlan(http.settings, job.id, expected=EXPECTED_SECONDS)
    while True:
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"stopped waiting for {WHAT}")
        try:
            data = job_queue.job_answer(http, job, job.status_url, key, "the status check")
            outcome: JobStatus | RayError = job_status(job.id, data, http.secrets(key))
        except InvalidResponseError:
            raise
        except RayError as err:
            outcome = err
        if isinstance(outcome, JobStatus) and outcome.state == "COMPLETED":
            return
        if isinstance(outcome, JobStatus) and outcome.state == "FAILED":
            raise ChatFailedError(server_message=outcome.error)
        delay = plan.delay_after(outcome)
        if cancel is None:
            http.sleep(delay)
        elif cancel.wait(delay):
            raise CancelledError(f"stopped waiting for {WHAT}")


def reply_text(data: Any) -> str | None:
    """The assistant's text in a chat answer: a v2 result's ``output`` (JSON in a string, or plain text)
    or the provider's JSON itself, in OpenAI's, Anthropic's or Gemini's shape. None when it holds none."""
    if isinstance(data, dict) and "output" in data:
        output = data["output"]
        if isinstance(output, str):
            try:
                data = json.loads(output)
            except ValueError:
                return output
        else:
            data = output
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return None
    if "choices" in data:
        return _openai_text(data["choices"])
    if isinstance(data.get("content"), list):
        return _parts_text(data["content"], "text")
    if isinstance(data.get("candidates"), list) and data["candidates"]:
        candidate = data["candidates"][0]
        content = candidate.get("content") if isinstance(candidate, dict) else None
        return _parts_text(content.get("parts") if isinstance(content, dict) else None, None)
    return None


def _openai_text(choices: Any) -> str | None:
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    return _parts_text(content, "text") if isinstance(content, list) else None


def _parts_text(parts: Any, kind: str | None) -> str | None:
    """The text of a list of content parts (``{"type": kind, "text": ...}``, or no type at all)."""
    if not isinstance(parts, list):
        return None
    texts = [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type") in (None, kind)
    ]
    return "".join(texts)
