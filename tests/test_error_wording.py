"""What a visitor reads of a failure: sentences, the page's own account kept out of their way, and a
time to come back that a browser can show in their own zone."""

from __future__ import annotations

import inspect
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from limits import parse

from ray_studio.client import errors
from ray_studio.client.errors import (
    PAGE_CANNOT,
    PASTE_YOUR_OWN,
    AuthenticationError,
    InsufficientCreditsError,
    MissingAPIKeyError,
    PermissionDeniedError,
    UploadAuthenticationError,
    error_for_status,
)
from ray_studio.web import refusals
from ray_studio.web.failures import PageFailures, failure_html
from ray_studio.web.refusals import DailyBudgetError, InFlightLimitError, OwnKeyRequiredError, VisitorLimitError

UTC = timezone.utc
NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
RECHARGE = "Insufficient credits. Please recharge your account"
A_SENTENCE_BEGUN_SMALL = re.compile(r"[.!?] [a-z]")


def every_error() -> list[errors.RayError]:
    """One of each of the client's errors, with a detail and Segmind's words where it takes them, and the refusals."""
    made = []
    for cls in vars(errors).values():
        if not (inspect.isclass(cls) and issubclass(cls, errors.RayError)):
            continue
        if not inspect.signature(cls).parameters:
            made.append(cls())
        elif issubclass(cls, errors.InvalidRequestError):
            made.append(cls(["the prompt is empty"]))
        else:
            made.append(cls("the connection dropped before Segmind answered", status=503, server_message="Busy"))
    now = NOON.timestamp()
    ten = parse("4 per 10 minutes")
    return [
        *made,
        OwnKeyRequiredError(),
        InFlightLimitError(1),
        VisitorLimitError(ten, clips=1, now=now, retry_at=NOON + timedelta(minutes=6)),
        VisitorLimitError(ten, clips=5, now=now, retry_at=None),
        DailyBudgetError(cost_micros=1, cap_micros=2, now=now),
        refusals.PausedError(),
        refusals.LimitsUnavailableError(),
    ]


@pytest.mark.parametrize("own_key", [True, False])
def test_every_visitor_message_reads_as_sentences_after_its_title(own_key):
    for err in every_error():
        message = err.visitor_message(own_key)
        assert not A_SENTENCE_BEGUN_SMALL.search(message), message
        assert ".." not in message.replace('.".', ""), message
        assert message.startswith(err.visitor_title(own_key)), message
        assert err.visitor_explanation(own_key)[0].isupper(), message


def test_a_limit_reads_as_its_title_then_a_sentence():
    err = VisitorLimitError(parse("2 per minute"), clips=1, now=NOON.timestamp(), retry_at=NOON + timedelta(seconds=30))
    assert err.visitor_message().startswith("Limit reached. This page's key allows each visitor 2 clips per minute")


def test_no_key_says_so_once():
    assert MissingAPIKeyError().visitor_message(False).startswith("No API key. This page has no Segmind key of its own")


@pytest.mark.parametrize("status", [401, 402, 403, 406])
def test_on_the_pages_key_an_account_matter_reads_as_what_it_means_for_the_visitor(status):
    err = error_for_status(status, RECHARGE)
    assert err.visitor_message(own_key=False) == f"{PAGE_CANNOT}. {PASTE_YOUR_OWN}"
    assert "recharge" not in failure_html(err, own_key=False).lower()


def test_a_failed_keyframe_upload_on_the_pages_key_reads_the_same():
    err = UploadAuthenticationError(status=401, server_message="Invalid API key")
    assert err.visitor_message(own_key=False) == f"{PAGE_CANNOT}. {PASTE_YOUR_OWN}"


@pytest.mark.parametrize("cls", [AuthenticationError, PermissionDeniedError, InsufficientCreditsError])
def test_on_their_own_key_a_visitor_reads_their_accounts_own_words(cls):
    message = cls(status=406, server_message=RECHARGE).visitor_message(own_key=True)
    assert RECHARGE in message and PAGE_CANNOT not in message


def test_the_owner_reads_the_accounts_own_words_in_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="ray_studio"):
        PageFailures().told(InsufficientCreditsError(status=406, server_message=RECHARGE), api_key="")
    assert RECHARGE in caplog.text and errors.BILLING_PAGE in caplog.text


def test_a_visitors_own_account_is_not_logged(caplog):
    with caplog.at_level(logging.INFO, logger="ray_studio"):
        PageFailures().told(InsufficientCreditsError(status=406, server_message=RECHARGE), api_key="their-own-key")
    assert RECHARGE not in caplog.text


def test_a_time_to_come_back_says_how_long_then_the_clock():
    ten = parse("4 per 10 minutes")
    err = VisitorLimitError(ten, clips=1, now=NOON.timestamp(), retry_at=NOON + timedelta(minutes=6))
    assert "You can try again in 6 min, at 12:06 UTC, or paste" in err.visitor_message()


def test_the_page_marks_a_time_to_come_back_for_the_browser_to_show_in_the_visitors_zone():
    at = NOON + timedelta(minutes=5, seconds=20)
    err = VisitorLimitError(parse("4 per 10 minutes"), clips=1, now=NOON.timestamp(), retry_at=at)
    shown = failure_html(err, own_key=False)
    assert "<time class='utc-time' datetime='2025-03-14T12:06:00+00:00'>12:06 UTC</time>" in shown


def test_the_page_marks_when_the_days_budget_resets():
    shown = failure_html(DailyBudgetError(cost_micros=1, cap_micros=2, now=NOON.timestamp()), own_key=False)
    assert "datetime='2025-03-15T00:00:00+00:00'>00:00 UTC tomorrow</time>" in shown


def test_the_page_shows_a_failure_as_its_title_and_sentences_with_links_to_follow():
    shown = failure_html(MissingAPIKeyError(), own_key=False)
    assert "<strong>No API key.</strong> This page has no Segmind key" in shown
    assert f"<a href='{errors.API_KEYS_PAGE}' target='_blank'" in shown
    assert f"{errors.API_KEYS_PAGE}</a>). Nothing was sent." in shown


def test_the_page_escapes_what_a_visitor_typed():
    shown = failure_html(errors.InvalidRequestError(["aspect ratio <b>5:4</b> is not one of ours"]), own_key=True)
    assert "<b>" not in shown and "&lt;b&gt;5:4&lt;/b&gt;" in shown


def test_a_clip_segmind_failed_tells_the_visitor_it_was_probably_charged():
    from ray_studio.client.errors import JobFailedError

    text = JobFailedError("the model could not make this").visitor_message(own_key=True)
    assert "probably charged" in text
