"""VideoRequest: every problem is named before anything is sent."""

from __future__ import annotations

import pytest

from ray_studio.client.errors import InvalidRequestError
from ray_studio.client.request import VideoRequest, clip_price, private_host_problem
from ray_studio.client.settings import Settings
from ray_studio.client.wording import describe_shape, format_usd

# Segmind's documented values, written out: a test parametrised from the code's own constants could not
# catch a wrong constant.
DOCUMENTED_RATIOS = ["1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9"]


@pytest.mark.parametrize("ratio", DOCUMENTED_RATIOS)
def test_every_documented_aspect_ratio_is_accepted(ratio):
    assert VideoRequest("a fox", aspect_ratio=ratio).aspect_ratio == ratio


@pytest.mark.parametrize("duration", [5, 9, "9", 9.0])
def test_duration_accepts_5_or_9_in_any_spelling_a_form_sends(duration):
    assert VideoRequest("a fox", duration=duration).duration == int(float(duration))


def test_defaults_match_segmind():
    request = VideoRequest("a fox")
    assert request.to_payload() == {"prompt": "a fox", "aspect_ratio": "16:9", "duration": 5, "loop": False}


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt_is_refused(prompt):
    with pytest.raises(InvalidRequestError, match="prompt is empty"):
        VideoRequest(prompt)


def test_overlong_prompt_is_refused_with_its_length_and_the_limit():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("x" * 2001)
    assert "2001 characters" in str(err.value) and "the limit is 2000" in str(err.value)


def test_a_prompt_of_exactly_2000_characters_is_accepted():
    assert len(VideoRequest("x" * 2000).prompt) == 2000


@pytest.mark.parametrize("prompt", ["\u200b\u200c\u200d\ufeff", "\u2060 \u200b", "\u0301\u0301"])
def test_a_prompt_of_only_invisible_characters_is_refused(prompt):
    with pytest.raises(InvalidRequestError, match="no visible characters"):
        VideoRequest(prompt)


@pytest.mark.parametrize("prompt", ["\x07\x08\x1b", "a fox\x00", "a\x1b[31m fox"])
def test_a_prompt_with_control_characters_is_refused_naming_them(prompt):
    with pytest.raises(InvalidRequestError, match=r"control characters \(U\+"):
        VideoRequest(prompt)


def test_a_prompt_may_hold_line_breaks_tabs_and_any_script():
    assert VideoRequest("un renard\tdans la neige\n雪の中の狐 🦊").prompt.endswith("🦊")


def test_prompt_is_trimmed():
    assert VideoRequest("  a fox  \n").prompt == "a fox"


def test_non_text_prompt_is_refused():
    with pytest.raises(InvalidRequestError, match="prompt must be text"):
        VideoRequest(None)  # type: ignore[arg-type]


def test_unknown_aspect_ratio_is_refused_listing_the_allowed_ones():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("a fox", aspect_ratio="2:1")
    assert "'2:1'" in str(err.value) and "21:9" in str(err.value)


@pytest.mark.parametrize(
    "duration", [7, 0, "five", 5.5, True, None, "²", "٩", "9" * 500, [9], {"s": 9}, "009", "05", "9.0", "+9"]
)
def test_other_durations_are_refused(duration):
    with pytest.raises(InvalidRequestError, match="duration must be 5 or 9"):
        VideoRequest("a fox", duration=duration)


@pytest.mark.parametrize("loop, expected", [(True, True), (False, False), ("true", True), ("False", False)])
def test_loop_accepts_booleans_and_their_spellings(loop, expected):
    assert VideoRequest("a fox", loop=loop).loop is expected


@pytest.mark.parametrize("loop", ["yes", 1, None])
def test_loop_refuses_anything_else(loop):
    with pytest.raises(InvalidRequestError, match="loop must be true or false"):
        VideoRequest("a fox", loop=loop)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("/images/cat.png", "absolute http"),
        ("ftp://example.com/cat.png", "absolute http"),
        ("cat.png", "absolute http"),
        ("https://", "absolute http"),
        ("https://example.com/my cat.png", "contains spaces"),
        ("https://example.com/" + "a" * 3000, "limit is 2048"),
        ("https://example.com/" + "a" * 2029, "2049 characters long; the limit is 2048"),
        ("https://user:secret@example.com/cat.png", "must not carry a user name or password"),
        ("https://example.com:99999/cat.png", "not a valid URL"),
    ],
)
def test_keyframe_must_be_an_absolute_http_url(url, fragment):
    with pytest.raises(InvalidRequestError, match=fragment) as err:
        VideoRequest("a fox", start_image_url=url)
    assert "start_image_url" in str(err.value)


def test_empty_keyframe_means_none():
    request = VideoRequest("a fox", start_image_url="", end_image_url="  ")
    assert request.start_image_url is None and request.end_image_url is None
    assert "start_image_url" not in request.to_payload()


def test_keyframes_are_sent_when_set():
    request = VideoRequest("a fox", start_image_url="https://x.test/a.png", end_image_url="http://x.test/b.jpg")
    payload = request.to_payload()
    assert payload["start_image_url"] == "https://x.test/a.png"
    assert payload["end_image_url"] == "http://x.test/b.jpg"


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidRequestError) as err:
        VideoRequest("", aspect_ratio="5:4", duration=6, end_image_url="nope")
    assert len(err.value.problems) == 4
    for name in ("prompt", "aspect_ratio", "duration", "end_image_url"):
        assert name in str(err.value)


def test_describe_summarises_the_parameters():
    request = VideoRequest("a fox", aspect_ratio="9:16", duration=9, loop=True, start_image_url="https://x.test/a.png")
    assert request.describe() == "9:16 · 9 s · loop · start keyframe"


def test_a_keyframe_url_of_exactly_2048_characters_is_accepted():
    url = "https://example.com/" + "a" * 2028
    assert len(url) == 2048 and VideoRequest("a fox", start_image_url=url).start_image_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/cat.png",
        "http://127.1/cat.png",
        "http://2130706433/cat.png",
        "http://0x7f.0.0.1/cat.png",
        "http://0177.0.0.1/cat.png",
        "http://localhost:8080/cat.png",
        "http://api.localhost/cat.png",
        "http://[::1]/cat.png",
        "http://[::ffff:10.0.0.1]/cat.png",
        "http://10.1.2.3/cat.png",
        "http://172.16.0.9/cat.png",
        "http://192.168.1.1/cat.png",
        "http://100.64.0.1/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fd00:ec2::254]/latest",
        "http://0.0.0.0/cat.png",
        "http://intranet/cat.png",
        "http://printer.local/cat.png",
        "http://169.254.169.254.nip.io/latest/",
        "http://10-0-0-1.sslip.io/cat.png",
        "http://localtest.me/cat.png",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[2002:a9fe:a9fe::1]/latest",
    ],
)
def test_a_keyframe_url_pointing_at_a_private_or_local_address_is_refused(url):
    problem = private_host_problem("start_image_url", url)
    assert problem and "start_image_url" in problem and "public image URL" in problem


@pytest.mark.parametrize(
    "url",
    ["https://example.com/cat.png", "https://8.8.8.8/a.png", "https://[2606:4700::1]/a", "https://snip.io/a.png",
     "https://cdn-1-2-3-4.example.com/a.png"],
)  # fmt: skip
def test_a_public_keyframe_url_is_accepted(url):
    assert private_host_problem("start_image_url", url) is None


def test_prices_follow_segminds_listing():
    assert VideoRequest("a fox", duration=5).price() == 0.375
    assert VideoRequest("a fox", duration=9).price() == 0.675
    assert format_usd(0.675) == "$0.675" and format_usd(12.5) == "$12.50"


@pytest.mark.parametrize(
    "name, value",
    [
        ("SEGMIND_MAX_RETRIES", "²"),
        ("SEGMIND_MAX_RETRIES", "1.5"),
        ("SEGMIND_READ_TIMEOUT", "nan"),
        ("SEGMIND_READ_TIMEOUT", "inf"),
        ("SEGMIND_READ_TIMEOUT", "-1"),
        ("SEGMIND_CONNECT_TIMEOUT", "١٠"),
        ("SEGMIND_BASE_URL", "api.segmind.com"),
        ("SEGMIND_MODEL", "../admin"),
        ("SEGMIND_API_KEY", "SG_abc def"),
        ("RAY_PRICE_PER_SECOND", "free"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(name, value):
    with pytest.raises(InvalidRequestError) as err:
        Settings.from_env({name: value})
    assert name in str(err.value)
    if name == "SEGMIND_API_KEY":
        assert value not in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://１２７.０.０.１/a.png",  # fullwidth digits
        "http://①②⑦.0.0.1/a.png",  # circled digits
        "http://１９２.１６８.０.１/a.png",
        "http://169。254。169。254/latest/meta-data",  # ideographic full stops
        "http://[::127.0.0.1]/a.png",  # IPv4-compatible IPv6
        "http://[::ffff:10.0.0.1]/a.png",  # IPv4-mapped IPv6
        "http://[2002:c0a8:1::]/a.png",  # 6to4 carrying 192.168.0.1
        "http://[::]/a.png",
        "http://ＬＯＣＡＬＨＯＳＴ/a.png",
        "http://kubernetes.default.svc/a.png",
        "http://db.cluster.local/a.png",
        "http://metadata.google.internal/a.png",
        "http://127.0.0.%31/a.png",  # a browser decodes the escape
    ],
)
def test_a_keyframe_host_is_read_as_the_http_stack_reads_it_before_the_address_check(url):
    assert private_host_problem("start_image_url", url) is not None


@pytest.mark.parametrize("host", ["1\u00ad27.0.0.1", "1\u00ad0.0.0.1", "169.254.169.2\u00ad54"])
def test_a_private_address_with_a_soft_hyphen_idna_drops_is_refused(host):
    # UTS #46 maps U+00AD to nothing, so a browser-style URL parser reads 1\u00ad27.0.0.1 as 127.0.0.1;
    # NFKC folding keeps it, so only the IDNA spelling shows the address.
    assert "private, loopback or link-local" in private_host_problem("start_image_url", f"http://{host}/a.png")


def test_a_non_ascii_public_host_name_is_accepted():
    assert private_host_problem("start_image_url", "https://bücher.example/a.png") is None


def test_a_host_name_idna_refuses_is_refused_rather_than_sent():
    assert "cannot be used" in private_host_problem("start_image_url", "http://a\u200b\u0000b.example/a.png")


def test_the_price_follows_the_price_per_second_it_is_given():
    assert VideoRequest("a fox", duration=5).price(0.2) == 1.0
    assert clip_price(9, 0.075, clips=4) == 2.7


@pytest.mark.parametrize(
    "amount, text",
    [(0.375, "$0.375"), (0.675, "$0.675"), (2.7, "$2.70"), (1.0, "$1.00"), (3.375, "$3.375"), (1234.5, "$1,234.50")],
)
def test_money_reads_to_the_tenth_of_a_cent_only_where_that_digit_is_not_zero(amount, text):
    assert format_usd(amount) == text


def test_a_clips_settings_read_the_same_from_a_request_and_from_its_parts():
    request = VideoRequest("a fox", "9:16", 9, True, "https://example.com/a.png", "https://example.com/b.png")
    assert (
        request.describe() == describe_shape("9:16", 9, True, True, True) == "9:16 · 9 s · loop · start+end keyframes"
    )


def test_every_bad_client_setting_is_named_at_once():
    with pytest.raises(InvalidRequestError) as err:
        Settings.from_env({"SEGMIND_MAX_RETRIES": "x", "SEGMIND_API_MODE": "fast", "RAY_PRICE_PER_SECOND": "free"})
    assert all(name in str(err.value) for name in ("SEGMIND_MAX_RETRIES", "SEGMIND_API_MODE", "RAY_PRICE_PER_SECOND"))
