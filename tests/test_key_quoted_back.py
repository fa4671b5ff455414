"""A key quoted back by Segmind in a form that is easy to miss: in mixed letter case, or only its last
8 characters. No such piece may reach an error message (the owner's line or a visitor's), the log, a
page answer the browser keeps, or any file the page or the client writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import app
from ray_studio.client.client import RayClient
from ray_studio.client.errors import KEY_HIDDEN, PAGE_CANNOT, SECRET_PIECE, RayError
from ray_studio.client.request import VideoRequest
from ray_studio.client.settings import Settings
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply, SegmindStandIn
from tests.visitor_http import Caller, new_session

PAGE_KEY = "sg_Page7kQ2mZ9xR4tW8b_qwertyuiop"  # letters to its end, so a change of case shows
VISITOR_KEY = "SG_visitor_Pq3Rs8TuVw_zxcvbnmk"


def mixed_case(text: str) -> str:
    """``sG_pAgE7...``: every other letter in the other case (neither all upper nor all lower)."""
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


QUOTES = {
    "the whole key in mixed case": mixed_case,
    "its last 8 characters": lambda key: key[-SECRET_PIECE:],
    "its last 8 characters in mixed case": lambda key: mixed_case(key[-SECRET_PIECE:]),
}


def leaked_pieces(key: str, text: str) -> list[str]:
    """Every run of SECRET_PIECE characters of ``key`` found in ``text``, whatever its letter case."""
    folded = text.lower()
    pieces = {key[i : i + SECRET_PIECE].lower() for i in range(len(key) - SECRET_PIECE + 1)}
    return sorted(p for p in pieces if p in folded)


def texts_of(err: RayError) -> list[str]:
    return [str(err), repr(err), err.visitor_message(True), err.visitor_message(False)]


@pytest.mark.parametrize("key", [PAGE_KEY, VISITOR_KEY, OWNER_KEY])
def test_each_quoted_form_is_what_its_name_says(key):
    whole, last, last_mixed = (quote(key) for quote in QUOTES.values())
    assert whole.lower() == key.lower() and whole not in (key, key.lower(), key.upper())
    assert last == key[-8:] and len(last) == SECRET_PIECE
    assert last_mixed.lower() == last.lower() and last_mixed not in (last, last.lower(), last.upper())


# --------------------------------------------------------------------------- in what the client raises


@pytest.fixture
def page_standin() -> Iterator[SegmindStandIn]:
    with SegmindStandIn(api_key=PAGE_KEY) as server:
        yield server


@pytest.fixture
def page_client(queue_settings: Settings, page_standin: SegmindStandIn) -> Iterator[RayClient]:
    settings = replace(
        queue_settings, api_key=PAGE_KEY, base_url=page_standin.base_url, upload_url=page_standin.root_url
    )
    with RayClient(settings, sleep=lambda _: None) as client:
        yield client


def quoting(where: str, text: str) -> Reply:
    """The stand-in's answer quoting ``text`` in the given place."""
    if where == "an error status":
        return Reply(status=400, body=json.dumps({"error": f"bad request for {text}"}).encode())
    if where == "a failed job's reason":
        return Reply(processing=0.05, failed=f"worker gave up on {text}")
    if where == "a 200 answer with no job id":
        return Reply(body=json.dumps({"status": "QUEUED", "error": f"no job for {text}"}).encode())
    raise ValueError(where)


PLACES = ["an error status", "a failed job's reason", "a 200 answer with no job id"]


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("form", list(QUOTES))
def test_the_pages_key_quoted_back_never_reaches_an_error_message(page_client, page_standin, tmp_path, form, where):
    page_standin.then(quoting(where, QUOTES[form](PAGE_KEY)))
    with pytest.raises(RayError) as err:
        page_client.generate(VideoRequest("a fox"), tmp_path / "v.mp4")
    assert KEY_HIDDEN in str(err.value)  # the quote arrived, and was hidden
    for text in texts_of(err.value):
        assert not leaked_pieces(PAGE_KEY, text), text


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("form", list(QUOTES))
def test_a_visitors_own_key_quoted_back_never_reaches_an_error_message(
    page_client, page_standin, tmp_path, form, where
):
    page_standin.api_key = VISITOR_KEY
    page_standin.then(quoting(where, QUOTES[form](VISITOR_KEY)))
    with pytest.raises(RayError) as err:
        page_client.generate(VideoRequest("a fox"), tmp_path / "v.mp4", api_key=VISITOR_KEY)
    assert KEY_HIDDEN in str(err.value)
    for text in texts_of(err.value):
        assert not leaked_pieces(VISITOR_KEY, text), text


def test_an_upload_refusal_quoting_the_keys_last_8_characters_is_hidden(page_client, page_standin):
    page_standin.then_upload(Reply(status=401, body=json.dumps({"error": f"bad {PAGE_KEY[-8:].upper()}"}).encode()))
    with pytest.raises(RayError) as err:
        page_client.upload(["data:image/png;base64,iVBORw0KGgo="])
    for text in texts_of(err.value):
        assert not leaked_pieces(PAGE_KEY, text), text


# --------------------------------------------------------------------------- in the log


@pytest.mark.parametrize("form", list(QUOTES))
def test_a_log_line_quoting_the_pages_key_in_an_odd_form_is_hidden_whoever_writes_it(upstream, tmp_path, caplog, form):
    with caplog.at_level(logging.INFO), running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path)):
        logging.getLogger("some.library").warning("sent x-api-key: %s", QUOTES[form](OWNER_KEY))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "some.library"]
    assert KEY_HIDDEN in line and not leaked_pieces(OWNER_KEY, line)


# --------------------------------------------------------------------------- what visitors, the log and the disk get


def page_generate(caller: Caller, prompt: str) -> list[dict]:
    """The page's own Generate, as a browser runs it: every queue message until the call ended."""
    session = new_session()
    joined = caller.join(caller.page_fn, caller.page_data(prompt), session)
    assert joined.status_code == 200, joined.text
    messages = []
    for message in caller.messages(session):
        messages.append(message)
        if message.get("msg") == "process_completed":
            break
    return messages


def every_file_under(folder: Path) -> dict[Path, str]:
    return {p: p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()}


def test_a_page_whose_segmind_quotes_its_key_keeps_every_piece_of_it_from_visitors_the_log_and_the_disk(
    upstream, tmp_path, caplog
):
    upstream.reset()
    saved = tmp_path / "kept"
    upstream.then(
        Reply(status=400, body=json.dumps({"error": f"invalid input for {OWNER_KEY[-8:]}"}).encode()),
        Reply(processing=0.05, failed=f"no credits on {mixed_case(OWNER_KEY)}"),
        Reply(status=403, body=json.dumps({"error": f"key {mixed_case(OWNER_KEY[-8:])} may not"}).encode()),
        Reply(headers={"x-echo": mixed_case(OWNER_KEY)}),  # a made clip, its answer quoting the key too
    )
    settings = app.AppSettings(save_dir=saved)
    with caplog.at_level(logging.DEBUG), running_app(upstream.base_url, OWNER_KEY, settings, str(tmp_path)) as running:
        alice = Caller(running.url, source="127.0.0.2")
        shown = [json.dumps(page_generate(alice, "a fox")), alice.generate("a kite").text]
        shown += [json.dumps(page_generate(alice, "a boat")), json.dumps(page_generate(alice, "a made one"))]
        files = every_file_under(tmp_path)
    assert len(upstream.submissions) == 4
    assert all(KEY_HIDDEN in text for text in shown[:2])  # each quote reached the visitor, hidden
    # The 403 on the page's key is its owner's account's business: the visitor reads none of Segmind's
    # words, the owner's log has them, hidden.
    assert PAGE_CANNOT in shown[2] and "may not" not in shown[2]
    assert any(KEY_HIDDEN in r.getMessage() and "may not" in r.getMessage() for r in caplog.records)
    assert any(p.suffix == ".mp4" for p in files) and any(p.parent == saved for p in files)
    for text in shown:
        assert not leaked_pieces(OWNER_KEY, text), text
    for record in caplog.records:
        assert not leaked_pieces(OWNER_KEY, record.getMessage()), record.getMessage()
    for path, content in files.items():
        assert not leaked_pieces(OWNER_KEY, content), path
