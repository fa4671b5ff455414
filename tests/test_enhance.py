"""Enhance: a prompt rewritten by a Segmind-hosted language model, over the client's own transport,
against the stand-in; then the rules the rewrite is held to."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from ray_studio.client.client import RayClient
from ray_studio.client.enhance import QuotesLostError, checked, cut, messages_for, quoted_words, tidy
from ray_studio.client.errors import (
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    CancelledError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RedirectRefusedError,
)
from ray_studio.client.llm import ChatFailedError, EmptyReplyError, reply_text
from ray_studio.client.request import MAX_PROMPT_CHARS, VideoRequest
from ray_studio.client.settings import DEFAULT_ENHANCE_MODEL, ENHANCE_PRICE, Settings
from tests.segmind_standin import CHAT_MODEL, CHAT_TEXT, ERROR_MESSAGES, TEST_API_KEY, Reply, SegmindStandIn

REWRITE = "A red fox trots through deep snow at dawn; the camera tracks low beside it, warm light, calm and cinematic."


@pytest.fixture
def queue_client(queue_settings, sleeps):
    with RayClient(queue_settings, sleep=sleeps.append) as c:
        yield c


def sent_prompt_of(standin: SegmindStandIn) -> str:
    (chat,) = standin.chats
    (message,) = chat.body["messages"]
    return message["content"]


# --------------------------------------------------------------------------- the call


def test_the_rewrite_is_the_language_models_text(client, standin):
    standin.then_chat(Reply(text=REWRITE))
    assert client.enhance("a fox in the snow") == REWRITE


def test_one_call_goes_to_the_enhance_model_with_the_key_and_nothing_to_the_video_model(client, standin):
    client.enhance("a fox in the snow")
    (chat,) = standin.chats
    assert chat.path == f"/v1/{CHAT_MODEL}" and chat.headers["x-api-key"] == TEST_API_KEY
    assert standin.submissions == [] and standin.uploads == []


def test_in_queue_mode_the_call_is_queued_and_its_result_read_from_the_output_string(queue_client, standin):
    standin.then_chat(Reply(text=REWRITE, queued=0.05, processing=0.05))
    assert queue_client.enhance("a fox in the snow") == REWRITE
    assert [c.path for c in standin.chats] == [f"/v2/{CHAT_MODEL}"]
    assert [p.path.rsplit("/", 1)[-1] for p in standin.polls][-1] == next(iter(standin.jobs))


def test_a_model_without_a_queue_is_asked_with_the_v1_call(queue_client, standin):
    standin.then_chat(Reply(status=404), Reply(text=REWRITE))
    assert queue_client.enhance("a fox") == REWRITE
    assert [c.path for c in standin.chats] == [f"/v2/{CHAT_MODEL}", f"/v1/{CHAT_MODEL}"]


def test_the_model_is_told_what_ray_responds_to_and_given_the_prompt(client, standin):
    standin.then_chat(Reply(text='A fox sits under a sign reading "OPEN".'))
    client.enhance('a fox and a sign reading "OPEN"')
    sent = sent_prompt_of(standin)
    assert '<prompt>\na fox and a sign reading "OPEN"\n</prompt>' in sent
    for rule in ("subject", "action", "camera", "light", "style", "one paragraph", "no lists", "double quotes"):
        assert rule in sent
    assert f"At most {MAX_PROMPT_CHARS} characters" in sent


def test_a_limit_is_passed_on_to_the_model_and_held_to(client, standin):
    standin.then_chat(Reply(text="A fox runs. " * 40))
    text = client.enhance("a fox", limit=300)
    assert "At most 300 characters" in sent_prompt_of(standin) and len(text) <= 300


def test_the_configured_model_is_the_one_asked(standin, settings):
    with RayClient(dataclasses.replace(settings, enhance_model="llama-v3p1-70b-instruct")) as client:
        client.enhance("a fox")
    assert standin.chats[0].path == "/v1/llama-v3p1-70b-instruct"


def test_a_prompt_no_clip_could_take_is_refused_before_anything_is_sent(client, standin):
    for prompt in ("", "   ", "x" * (MAX_PROMPT_CHARS + 1), 42):
        with pytest.raises(InvalidRequestError):
            client.enhance(prompt)
    assert standin.received == []


def test_no_key_is_refused_before_anything_is_sent(standin, settings):
    with RayClient(dataclasses.replace(settings, api_key=None)) as client, pytest.raises(InvalidRequestError):
        client.enhance("a fox")
    assert standin.received == []


def test_a_visitors_key_is_the_one_sent(standin, settings):
    visitor_key = "visitor-key-0123456789"
    with SegmindStandIn(api_key=visitor_key) as upstream:
        with RayClient(dataclasses.replace(settings, base_url=upstream.base_url)) as client:
            client.enhance("a fox", visitor_key)
        assert upstream.chats[0].headers["x-api-key"] == visitor_key


# --------------------------------------------------------------------------- failures read as a clip's do


@pytest.mark.parametrize(
    "status, error_class",
    [(401, AuthenticationError), (406, InsufficientCreditsError), (500, InternalServerError), (503, BadGatewayError)],
)
def test_an_error_status_reads_exactly_as_it_does_for_a_clip(standin, settings, tmp_path, status, error_class):
    with RayClient(dataclasses.replace(settings, max_retries=0)) as client:
        standin.then(Reply(status=status))
        with pytest.raises(error_class) as for_a_clip:
            client.generate(VideoRequest("a fox"), tmp_path / "fox.mp4")
        standin.then_chat(Reply(status=status))
        with pytest.raises(error_class) as for_enhance:
            client.enhance("a fox")
    assert str(for_enhance.value) == str(for_a_clip.value)
    assert for_enhance.value.visitor_message(False) == for_a_clip.value.visitor_message(False)
    assert for_enhance.value.server_message == ERROR_MESSAGES[status]


def test_a_rate_limit_is_waited_out_as_segmind_asks_then_answered(client, standin, sleeps):
    standin.then_chat(Reply(status=429, headers={"Retry-After": "2"}), Reply(text=REWRITE))
    assert client.enhance("a fox") == REWRITE
    assert sleeps == [2.0] and len(standin.chats) == 2


def test_a_rate_limit_that_lasts_is_a_rate_limit_error(standin, settings):
    standin.then_chat(*[Reply(status=429, headers={"Retry-After": "1"})] * 3)
    with RayClient(settings, sleep=lambda s: None) as client, pytest.raises(RateLimitError):
        client.enhance("a fox")


def test_an_unknown_enhance_model_says_which_setting_to_fix(standin, queue_settings):
    unknown = dataclasses.replace(queue_settings, enhance_model="no-such-llm")
    with RayClient(unknown) as client, pytest.raises(NotFoundError) as refused:
        client.enhance("a fox")
    assert "SEGMIND_ENHANCE_MODEL" in str(refused.value) and "SEGMIND_MODEL" not in str(refused.value)
    assert "prompt helper" in refused.value.visitor_message(False)


def test_an_empty_reply_is_its_own_error(client, standin):
    for text in ("", "   \n  "):
        standin.then_chat(Reply(text=text))
        with pytest.raises(EmptyReplyError, match="holds no text"):
            client.enhance("a fox")


def test_an_answer_of_another_shape_without_text_is_an_empty_reply(client, standin):
    standin.then_chat(Reply(body=json.dumps({"id": "x", "choices": []}).encode()))
    with pytest.raises(EmptyReplyError):
        client.enhance("a fox")


def test_a_queued_call_that_fails_is_its_own_error_with_segminds_reason(queue_client, standin):
    standin.then_chat(Reply(failed="model overloaded"))
    with pytest.raises(ChatFailedError) as failed:
        queue_client.enhance("a fox")
    assert failed.value.server_message == "model overloaded"


def test_a_cancel_stops_waiting_for_a_queued_call(standin, queue_settings):
    standin.then_chat(Reply(processing=60))
    cancel = threading.Event()
    with RayClient(queue_settings, sleep=lambda s: cancel.set()) as client, pytest.raises(CancelledError):
        threading.Timer(0.2, cancel.set).start()
        client.enhance("a fox", cancel=cancel)


# --------------------------------------------------------------------------- the key stays where it belongs


def test_a_reply_quoting_the_key_is_redacted(client, standin):
    standin.then_chat(Reply(text="A fox in the snow.", quote_key=True))
    text = client.enhance("a fox")
    assert TEST_API_KEY[:8] not in text and text.startswith("A fox in the snow.") and "[key hidden]" in text


def test_an_error_quoting_the_key_is_redacted(client, standin):
    standin.then_chat(Reply(status=400, body=json.dumps({"error": f"bad key {TEST_API_KEY}"}).encode()))
    with pytest.raises(BadRequestError) as refused:
        client.enhance("a fox")
    assert TEST_API_KEY[:8] not in str(refused.value) and "[key hidden]" in str(refused.value)


def test_a_redirect_elsewhere_is_refused_and_the_key_not_sent_there(client, standin):
    with SegmindStandIn(host="127.0.0.2") as elsewhere:
        standin.then_chat(Reply(redirect_to=f"{elsewhere.root_url}/collect"))
        with pytest.raises(RedirectRefusedError):
            client.enhance("a fox")
        assert elsewhere.received == []


def test_a_cookie_set_on_one_call_is_not_sent_on_the_next(client, standin):
    standin.then_chat(Reply(set_cookie="session=visitorA; Path=/"))
    client.enhance("a fox")
    client.enhance("an owl")
    assert all("Cookie" not in chat.headers for chat in standin.chats)


# --------------------------------------------------------------------------- settings


def test_the_enhance_settings_are_read_from_the_environment():
    settings = Settings.from_env({"SEGMIND_ENHANCE_MODEL": "mixtral-8x7b-instruct", "RAY_ENHANCE_PRICE": "0.002"})
    assert (settings.enhance_model, settings.enhance_price) == ("mixtral-8x7b-instruct", 0.002)
    assert settings.enhance_endpoints == (
        "https://api.segmind.com/v1/mixtral-8x7b-instruct",
        "https://api.segmind.com/v2/mixtral-8x7b-instruct",
    )


def test_the_enhance_settings_default_to_a_segmind_instruct_model_and_a_ceiling_price():
    settings = Settings.from_env({})
    assert (settings.enhance_model, settings.enhance_price) == (DEFAULT_ENHANCE_MODEL, ENHANCE_PRICE)
    assert DEFAULT_ENHANCE_MODEL == CHAT_MODEL


@pytest.mark.parametrize("name, value", [("SEGMIND_ENHANCE_MODEL", "no/slashes"), ("RAY_ENHANCE_PRICE", "cheap")])
def test_a_bad_enhance_setting_is_named(name, value):
    with pytest.raises(InvalidRequestError, match=name):
        Settings.from_env({name: value})


# --------------------------------------------------------------------------- the rules a rewrite is held to


def test_quoted_words_survive_or_the_rewrite_is_refused_naming_them():
    original = 'a shop sign reading "OPEN ALL NIGHT" and a “Blue Moon” cafe'
    assert checked(original, 'A neon sign reads "OPEN ALL NIGHT" above the “Blue Moon” cafe.') is not None
    with pytest.raises(QuotesLostError) as lost:
        checked(original, 'A neon sign reads "OPEN" above a cafe.')
    assert '"OPEN ALL NIGHT"' in str(lost.value) and '"Blue Moon"' in str(lost.value)
    assert lost.value.rewrite == 'A neon sign reads "OPEN" above a cafe.'


def test_the_quoted_words_are_found_in_straight_and_curly_quotes():
    assert quoted_words('say "hello there" and “good night”, not "hello there" twice') == [
        "hello there",
        "good night",
    ]


def test_a_reply_is_made_one_paragraph_without_preamble_bullets_or_wrapping_quotes():
    reply = 'Here is the rewritten prompt:\n\n"- A fox in snow.\n- The camera tracks low.\n\nSoft light."'
    assert tidy(reply) == "A fox in snow. The camera tracks low. Soft light."


def test_a_long_reply_is_cut_at_the_end_of_a_sentence():
    text = "A fox runs through the snow. " * 100
    result = cut(text.strip(), 2000)
    assert len(result) <= 2000 and result.endswith("the snow.") and len(result) > 1900


def test_a_long_reply_without_sentences_is_cut_at_the_end_of_a_word():
    result = cut("fox " * 600, 2000)
    assert len(result) <= 2000 and result.endswith("fox.")


def test_a_cut_never_ends_inside_quotes():
    text = "A fox. " * 10 + '"' + "word " * 100 + '" rest'
    result = cut(text, 200)
    assert result.count('"') % 2 == 0 and result == ("A fox. " * 10).strip()


def test_the_rewrite_is_a_prompt_a_clip_accepts():
    result = checked("a fox", "A fox\x07 runs.\tFast.")
    assert VideoRequest(result).prompt == "A fox runs. Fast."


def test_the_message_asks_for_the_limit_it_is_given():
    assert "At most 500 characters" in messages_for("a fox", 500)[0]["content"]


@pytest.mark.parametrize(
    "answer",
    [
        {"choices": [{"message": {"content": "A fox."}}]},
        {"choices": [{"message": {"content": [{"type": "text", "text": "A fox."}]}}]},
        {"content": [{"type": "text", "text": "A fox."}]},
        {"candidates": [{"content": {"parts": [{"text": "A fox."}]}}]},
        {"status": "COMPLETED", "output": json.dumps({"choices": [{"message": {"content": "A fox."}}]})},
        {"status": "COMPLETED", "output": "A fox."},
    ],
    ids=["openai", "openai-parts", "anthropic", "gemini", "v2-json-string", "v2-plain-text"],
)
def test_the_text_is_read_from_each_answer_shape_segminds_sdk_reads(answer):
    assert reply_text(answer) == "A fox."


def test_the_stand_ins_default_text_passes_the_checks(client, standin):
    assert client.enhance("a fox in the snow") == CHAT_TEXT
