"""No visitor's key reaches the log while the server uses it, whoever writes the line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.errors import SECRET_PIECE
from ray_studio.client.request import VideoRequest
from ray_studio.web.board import JobBoard
from ray_studio.web.identity import Visitor
from ray_studio.web.redaction import LIVE_KEYS, RedactKeys
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import UNLIMITED, client_settings
from tests.conftest import OWNER_KEY
from tests.media_samples import image_bytes
from tests.segmind_standin import Reply, SegmindStandIn

VISITOR_KEY = "SG_visitor_quoted_back_7c41d09e5b"
ALICE = Visitor("ip:127.0.0.2", "127.0.0.2")


@pytest.fixture
def visitor_standin():
    """Segmind as the visitor's account sees it: it takes the visitor's key, not the page's."""
    with SegmindStandIn(api_key=VISITOR_KEY) as server:
        yield server


@pytest.fixture
def studio(visitor_standin, tmp_path):
    client = RayClient(client_settings(visitor_standin.base_url, OWNER_KEY))
    RedactKeys.install(lambda: (client.settings.api_key,))  # as app.py does
    yield Studio(client, JobBoard(client, concurrency=4, threads=4), SpendGate(UNLIMITED), tmp_path / "clips")
    RedactKeys.uninstall()
    client.close()


def leaked(records: list[logging.LogRecord], key: str) -> list[str]:
    """Log lines holding any piece of ``key`` the redaction hides, in any letter case."""
    pieces = {key[i : i + SECRET_PIECE].lower() for i in range(len(key) - SECRET_PIECE + 1)}
    lines = [r.getMessage().lower() for r in records]
    return [line for line in lines if any(p in line for p in pieces)]


def test_a_visitors_key_quoted_back_by_segmind_never_reaches_the_log_in_any_case(studio, visitor_standin, caplog):
    # Segmind sends a status check on to an address holding the key (same host, so it is followed);
    # urllib3 logs every address it asks, at DEBUG.
    visitor_standin.then_poll(Reply(redirect_to=f"?echo={VISITOR_KEY.swapcase()}"))

    async def clip() -> None:
        tracked, own_key = await studio.start(VideoRequest("a fox"), VISITOR_KEY, ALICE)
        assert own_key
        await tracked.outcome()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(clip())
    assert any("?echo=" in p.path for p in visitor_standin.polls)  # the address was asked, so logged
    assert any("?echo=[key hidden]" in r.getMessage() for r in caplog.records)
    assert leaked(caplog.records, VISITOR_KEY) == []


def test_a_visitors_key_is_hidden_while_their_image_is_uploaded_and_forgotten_after(studio, tmp_path, caplog):
    image = tmp_path / "uploads" / "cat.png"
    image.parent.mkdir()
    image.write_bytes(image_bytes("PNG"))
    seen_during: list[list[str]] = []

    async def upload() -> None:
        work = asyncio.create_task(studio.keyframe(str(image), "cat.png", VISITOR_KEY, ALICE, image.parent))
        await asyncio.sleep(0)
        seen_during.append(list(LIVE_KEYS))
        logging.getLogger("some.library").warning("headers: x-api-key=%s", VISITOR_KEY.upper())
        await work

    with caplog.at_level(logging.INFO):
        asyncio.run(upload())
    assert seen_during == [[VISITOR_KEY]] and list(LIVE_KEYS) == []
    assert leaked(caplog.records, VISITOR_KEY) == []


def test_after_a_visitors_clip_ends_the_server_holds_their_key_nowhere(studio):
    async def clip() -> list[str]:
        tracked, _ = await studio.start(VideoRequest("a fox"), VISITOR_KEY, ALICE)
        await asyncio.sleep(0.01)
        during = list(LIVE_KEYS)
        await tracked.outcome()
        return during

    assert asyncio.run(clip()) == [VISITOR_KEY] and list(LIVE_KEYS) == []


def test_a_traceback_quoting_the_pages_key_or_a_key_in_use_is_hidden_in_the_log(caplog):
    RedactKeys.install(lambda: (OWNER_KEY,))  # as app.py does
    try:
        with LIVE_KEYS.held(VISITOR_KEY), caplog.at_level(logging.ERROR):
            try:
                raise ValueError(f"Segmind said {VISITOR_KEY.swapcase()} and {OWNER_KEY}")
            except ValueError:
                logging.getLogger("ray_studio.board").exception("unexpected failure while following a job")
    finally:
        RedactKeys.uninstall()
    text = caplog.text.lower()
    assert "unexpected failure" in text and "valueerror: segmind said" in text
    for key in (VISITOR_KEY, OWNER_KEY):
        pieces = {key[i : i + SECRET_PIECE].lower() for i in range(len(key) - SECRET_PIECE + 1)}
        assert [piece for piece in pieces if piece in text] == []
