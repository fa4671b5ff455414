"""One price rule: RAY_PRICE_PER_SECOND is what the page, the cards, the CLI and the day budget use."""

from __future__ import annotations

import asyncio

import pytest

from ray_studio.client.cli import main as cli_main
from ray_studio.client.client import RayClient
from ray_studio.client.request import VideoRequest
from ray_studio.web.board import JobBoard
from ray_studio.web.config import read_settings
from ray_studio.web.history import entry_for, entry_line
from ray_studio.web.identity import Visitor
from ray_studio.web.page import variants_price
from ray_studio.web.policy import SettingError, SpendPolicy
from ray_studio.web.spending import SpendGate
from ray_studio.web.studio import Studio
from tests.app_harness import client_settings
from tests.conftest import OWNER_KEY
from tests.segmind_standin import TEST_API_KEY, SegmindStandIn

VISITOR = Visitor("ip:198.51.100.7", "198.51.100.7")


@pytest.fixture
def dear_studio(tmp_path):
    """A page whose owner set RAY_PRICE_PER_SECOND=0.2, with a $10 day budget."""
    with SegmindStandIn(api_key=OWNER_KEY) as upstream:
        client = RayClient(client_settings(upstream.base_url, OWNER_KEY, price_per_second=0.2))
        board = JobBoard(client, concurrency=4, threads=4)
        yield Studio(client, board, SpendGate(SpendPolicy(visitor_limits="off", daily_budget=10)), tmp_path / "c")
        client.close()


def test_the_form_shows_the_configured_price(dear_studio):
    assert "**$1.00**" in dear_studio.price_line(5)
    assert "These 2 clips cost **$3.60** ($1.80 each)" in dear_studio.price_line(9, 2)


def test_the_variants_line_shows_the_configured_price(dear_studio):
    assert "**$2.00**" in variants_price(dear_studio, "a fox\nan owl", ["16:9"], False, 5)


def test_a_made_clip_costs_the_configured_price_on_its_card_and_in_the_budget(dear_studio):
    async def make() -> dict:
        tracked, own_key = await dear_studio.start(VideoRequest("a fox"), "", VISITOR)
        await tracked.outcome()
        return entry_for(tracked, own_key)

    entry = asyncio.run(make())
    assert entry_line(entry).endswith("$1.00")
    assert dear_studio.gate.spent_today() == pytest.approx(1.0)


def test_the_cli_says_the_configured_price_before_sending(monkeypatch, tmp_path, capsys):
    with SegmindStandIn() as upstream:
        monkeypatch.setenv("SEGMIND_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("SEGMIND_BASE_URL", upstream.base_url)
        monkeypatch.setenv("SEGMIND_UPLOAD_URL", upstream.root_url)
        monkeypatch.setenv("SEGMIND_POLL_INTERVAL", "0.05")
        monkeypatch.setenv("RAY_PRICE_PER_SECOND", "0.2")
        upstream.fail(406)  # refused before starting: the price line is what is checked
        assert cli_main(["a fox", "-o", str(tmp_path / "fox.mp4")]) == 1
    assert "costs $1.00 at Segmind's listed price" in capsys.readouterr().err


@pytest.mark.parametrize("price", ["0", "0.0000001", "0.009"])
def test_a_price_below_the_floor_is_refused_at_start_while_the_budget_is_on(price):
    with pytest.raises(SettingError, match=r"RAY_PRICE_PER_SECOND must be at least 0\.01"):
        read_settings({"RAY_PRICE_PER_SECOND": price})


def test_a_price_below_the_floor_is_allowed_when_the_budget_is_off():
    client, _, policy = read_settings({"RAY_PRICE_PER_SECOND": "0", "RAY_DAILY_BUDGET": "off"})
    assert client.price_per_second == 0 and policy.daily_budget is None


def test_every_bad_setting_of_every_layer_is_named_at_once():
    bad = {"SEGMIND_MAX_RETRIES": "x", "RAY_CONCURRENCY": "0", "RAY_DAILY_BUDGET": "lots", "RAY_AUTH": "alice"}
    with pytest.raises(SettingError) as err:
        read_settings(bad)
    assert all(name in str(err.value) for name in bad)
