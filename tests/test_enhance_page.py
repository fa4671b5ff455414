"""The /enhance endpoint: a prompt rewritten by an LLM on Segmind, under the page's key rules and spending limits."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from ray_studio.client.client import RayClient
from ray_studio.client.settings import Settings
from ray_studio.web.history import chain_of
from ray_studio.web.policy import SpendPolicy
from tests.app_harness import running_app
from tests.conftest import OWNER_KEY
from tests.segmind_standin import Reply

REWRITE = "A red fox trots through fresh snow at dawn, the camera tracking low beside it, soft golden light."


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()
    yield


def enhance(url: str, prompt: str = "a fox in the snow", api_key: str = "") -> str:
    return Client(url, verbose=False).predict(prompt=prompt, api_key=api_key, api_name="/enhance")


def test_enhance_returns_the_rewrite_and_sends_no_clip(studio, upstream):
    upstream.then_chat(Reply(text=REWRITE))
    assert enhance(studio.url) == REWRITE
    assert len(upstream.chats) == 1
    assert upstream.submissions == []


def test_an_enhance_on_the_pages_key_counts_against_the_day_budget_at_its_price(upstream, tmp_path):
    price = RayClient(Settings()).settings.enhance_price
    policy = SpendPolicy(visitor_limits="off", daily_budget=price * 1.5, in_flight_per_visitor=4)
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        enhance(running.url)
        with pytest.raises(AppError, match="Today's budget for this page's key is spent"):
            enhance(running.url)
    assert len(upstream.chats) == 1


def test_with_own_key_only_and_no_key_enhance_is_refused_with_nothing_sent(upstream, tmp_path):
    policy = SpendPolicy(own_key_only=True)
    running = running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy)
    with running as app, pytest.raises(AppError, match="paste your Segmind key"):
        enhance(app.url)
    assert upstream.received == []


def test_over_the_enhance_limit_it_is_refused_saying_when_to_try_again(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="off", daily_budget=None, in_flight_per_visitor=4, enhance_limits="2 per hour")
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        enhance(running.url)
        enhance(running.url)
        with pytest.raises(AppError, match=r"2 prompt rewrites per hour.*try again in .*, at \d\d:\d\d UTC"):
            enhance(running.url)
    assert len(upstream.chats) == 2


def test_the_enhance_limit_does_not_use_up_the_clip_limit(upstream, tmp_path):
    policy = SpendPolicy(visitor_limits="1 per hour", daily_budget=None, enhance_limits="5 per hour")
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), policy=policy) as running:
        enhance(running.url)
        video, _ = Client(running.url, verbose=False).predict(prompt="a fox", api_name="/generate")
    assert video and len(upstream.submissions) == 1


def enhance_price_shown(url: str) -> str | None:
    """The line under Enhance's suggestion, as the page's config carries it (None: there is none)."""
    components = httpx.get(url + "config", trust_env=False, timeout=30).json()["components"]
    lines = [c["props"]["value"] for c in components if c["props"].get("elem_id") == "enhance-price"]
    return lines[0] if lines else None


def test_on_the_pages_key_enhance_says_its_price_at_ray_enhance_price(upstream, tmp_path):
    with running_app(upstream.base_url, OWNER_KEY, temp_dir=str(tmp_path), enhance_price=0.02) as running:
        assert enhance_price_shown(running.url) == "Enhance costs $0.02 on this page's key."


def test_without_a_page_key_enhance_names_no_price(upstream, tmp_path):
    with running_app(upstream.base_url, None, temp_dir=str(tmp_path)) as running:
        assert enhance_price_shown(running.url) is None


def test_a_lead_in_joins_before_its_clip_and_a_bridge_between_its_two():
    a, b, lead, bridge = ({"id": name} for name in "ablx")
    lead["leads_into"] = "a"
    bridge.update(continues="a", leads_into="b")
    history = [bridge, lead, b, a]
    assert [e["id"] for e in chain_of(history, "l")] == ["l", "a"]
    assert [e["id"] for e in chain_of(history, "x")] == ["a", "x", "b"]
