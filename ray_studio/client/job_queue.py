"""Segmind's queue (v2) on the wire: a submission and the job id it answers with, a job's status and
result answers (a FAILED job comes as a 422), and what to advise when a step fails. ``RayClient``
follows jobs with these."""

from __future__ import annotations

import re
import threading
from typing import Any

import requests

from ray_studio.client.errors import (
    Advice,
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    InvalidResponseError,
    JobIdHoldsKeyError,
    JobNotFoundError,
    QueueUnavailableError,
    error_for_status,
    holds_key,
)
from ray_studio.client.job import JOB_STATES, Job, ProgressCallback
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings, origin
from ray_studio.client.transport import Transport, may_have_reached

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")

SUBMISSION_MAY_HAVE_REACHED = Advice(
    action="The submission may have reached Segmind and been billed: check your Segmind console before trying again.",
    visitor_detail="the connection dropped while the clip was being submitted",
    visitor_action="It may have reached Segmind and been billed: check your history before trying again.",
)


def fetch_again_advice(job: Job) -> Advice:
    return Advice(
        action=f"The clip is still at Segmind for about an hour: fetch it again with job id {job.id}.",
        visitor_detail="the download of the finished clip failed",
        visitor_action="Segmind keeps the clip for about an hour: reload the page to fetch it again (no new charge).",
    )


def job_for(settings: Settings, job_id: str, request: VideoRequest | None = None) -> Job:
    """A Job for an id Segmind gave, its URLs built from the id. An id that spells the key (pasted in
    its place) is refused before it goes into any URL, without being repeated."""
    job_id = job_id.strip() if isinstance(job_id, str) else ""
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidRequestError(["a job id is letters, digits, '-' and '_' only, as Segmind gave it"])
    if holds_key(job_id, (settings.api_key,)):
        raise InvalidRequestError(["that job id spells your API key, not a job: use the id Segmind gave the clip"])
    base = settings.v2_base
    return Job(job_id, f"{base}/requests/{job_id}/status", f"{base}/requests/{job_id}", request)


def submit(
    http: Transport,
    request: VideoRequest,
    key: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> Job:
    """Queue ``request`` at Segmind (billed from here on; resent only as ``Transport.with_retries``
    allows) and return its Job. Raises QueueUnavailableError when this model has no v2 route."""

    def send() -> requests.Response:
        response = http.send("POST", http.settings.v2_endpoint, key, json_body=request.to_payload(),
                             what="the submission")  # fmt: skip
        if response.status_code == 404:
            response.close()
            raise QueueUnavailableError(status=404, server_message="no queue route for this model")
        http.raise_for_status(response, key)
        return response

    try:
        response, _ = http.with_retries(send, progress, cancel)
    except (APIConnectionError, APITimeoutError) as err:
        if not may_have_reached(err):
            raise
        raise SUBMISSION_MAY_HAVE_REACHED.applied_to(err) from err
    return job_from_answer(http, http.read_json(response, "the submission"), request, key)


def job_from_answer(http: Transport, data: Any, request: VideoRequest | None, key: str) -> Job:
    """The Job a submission's answer names (its id checked; Segmind's URLs kept only where the key may go)."""
    job_id = data.get("request_id") if isinstance(data, dict) else None
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        message = http.quoted(data, key)
        raise InvalidResponseError("Segmind accepted the submission but sent no job id", server_message=message)
    if holds_key(job_id, http.secrets(key)):
        raise JobIdHoldsKeyError()
    job = job_for(http.settings, job_id, request)
    # Segmind's own URLs when they stay where the key may go; built from the id otherwise.
    status_url, response_url = data.get("status_url"), data.get("response_url")
    trusted = http.settings.trusted_origins
    if all(isinstance(u, str) and origin(u) in trusted for u in (status_url, response_url)):
        job = Job(job_id, status_url, response_url, request, job.submitted_at)
    return job


def job_answer(http: Transport, job: Job, url: str, key: str, what: str) -> dict[str, Any]:
    """Segmind's answer about a job (its status or its result), with a known ``status``."""
    response = http.send("GET", url, key, what=what)
    if response.status_code == 404:
        response.close()
        raise JobNotFoundError(f"Segmind does not know job {job.id} (or no longer keeps it)", status=404)
    if response.status_code == 422:  # Segmind answers a FAILED job with 422 and its status body
        data = http.read_json(response, what)
        if isinstance(data, dict) and data.get("status") == "FAILED":
            return data
        raise error_for_status(422, http.quoted(data, key))
    http.raise_for_status(response, key)
    data = http.read_json(response, what)
    if not isinstance(data, dict) or data.get("status") not in JOB_STATES:
        raise InvalidResponseError(f"Segmind's answer about job {job.id} holds no known status")
    return data
