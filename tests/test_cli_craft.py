"""The command line's prompt craft, run in-process against the stand-in: --enhance, --camera, and clips
that lead in (--lead-in) or bridge two others (--bridge)."""

from __future__ import annotations

import io
import json

import av
import pytest
from PIL import Image

from ray_studio.client.camera import CAMERA_MOVES, with_camera
from ray_studio.client.cli import main
from tests.media_samples import BLUE, GREEN, RED, WHITE, write_clip
from tests.segmind_standin import CHAT_MODEL, TEST_API_KEY, Reply

REWRITE = "A red fox trots through deep snow at dawn; the camera tracks low beside it, warm light, calm and cinematic."


@pytest.fixture
def cli(standin, monkeypatch, tmp_path, capsys):
    """``cli(*argv)``: the exit status of ``python ray_client.py ARGV`` run here, with its stdout and
    stderr, against the stand-in, in an empty folder."""
    for name in ("SEGMIND_API_MODE", "SEGMIND_MODEL", "SEGMIND_ENHANCE_MODEL", "RAY_ENHANCE_PRICE", "RAY_MAX_VARIANTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGMIND_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("SEGMIND_BASE_URL", standin.base_url)
    monkeypatch.setenv("SEGMIND_UPLOAD_URL", standin.root_url)
    monkeypatch.setenv("SEGMIND_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("SEGMIND_MAX_RETRY_WAIT", "1")
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def image_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def decoded_frames(clip) -> list[Image.Image]:
    with av.open(str(clip)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


# --------------------------------------------------------------------------- --enhance


def test_enhance_makes_one_llm_call_then_one_clip_whose_prompt_is_its_text(cli, standin, tmp_path):
    standin.then_chat(Reply(text=REWRITE))
    status, out, err = cli("a fox in the snow", "--enhance", "--sidecar", "-o", "fox.mp4")
    assert status == 0, err
    (chat,) = standin.chats
    assert chat.path == f"/v2/{CHAT_MODEL}" and "a fox in the snow" in chat.body["messages"][0]["content"]
    (clip,) = standin.submissions
    assert clip.body["prompt"] == REWRITE
    sidecar = json.loads((tmp_path / "fox.json").read_text(encoding="utf-8"))
    assert (sidecar["prompt"], sidecar["original_prompt"]) == (REWRITE, "a fox in the snow")
    assert out.strip() == "fox.mp4"


def test_enhance_says_its_price_then_the_rewritten_prompt_before_the_clips_price(cli, standin):
    standin.then_chat(Reply(text=REWRITE))
    status, _, err = cli("a fox in the snow", "--enhance", "-o", "fox.mp4")
    assert status == 0, err
    asked = err.index(f"enhancing the prompt with {CHAT_MODEL} (1 call, $0.01)")
    told = err.index(f"enhanced prompt: {REWRITE}")
    assert asked < told < err.index("costs $0.375 at Segmind's listed price")


def test_a_failed_enhance_exits_1_and_makes_no_clip(cli, standin):
    standin.then_chat(Reply(status=406))
    status, out, err = cli("a fox", "--enhance", "-o", "fox.mp4")
    assert status == 1 and out == ""
    assert "error: Not enough credits (HTTP 406)" in err
    assert standin.submissions == [] and len(standin.chats) == 1


def test_a_rewrite_that_drops_quoted_words_exits_1_saying_so_and_makes_no_clip(cli, standin):
    standin.then_chat(Reply(text="A shop at night, its sign glowing."))
    status, _, err = cli('a shop with a sign reading "OPEN"', "--enhance", "-o", "shop.mp4")
    assert status == 1
    assert 'The rewrite dropped quoted words: the language model\'s rewrite left out "OPEN"' in err
    assert standin.submissions == []


def test_enhance_is_not_paid_for_when_a_local_check_fails(cli, standin, tmp_path):
    (tmp_path / "cat.png").write_bytes(b"not an image")
    status, _, err = cli("a fox", "--enhance", "--start-image", "cat.png", "-o", "fox.mp4")
    assert status == 2 and "cat.png is not an image" in err
    assert standin.received == []


def test_a_rewrite_quoting_the_key_shows_and_sends_no_piece_of_it(cli, standin, tmp_path):
    standin.then_chat(Reply(text="A fox in the snow.", quote_key=True))
    status, out, err = cli("a fox", "--enhance", "--sidecar", "-o", "fox.mp4")
    assert status == 0, err
    for text in (out, err, standin.submissions[0].body["prompt"], (tmp_path / "fox.json").read_text()):
        assert TEST_API_KEY[:8] not in text
    assert "[key hidden]" in err


def test_enhance_with_resume_is_refused():
    with pytest.raises(SystemExit) as refused:
        main(["--resume", "job-1", "--enhance"])
    assert refused.value.code == 2


# --------------------------------------------------------------------------- --camera


def test_a_camera_move_is_in_the_prompt_sent_and_the_sidecar(cli, standin, tmp_path):
    status, _, err = cli("a fox in the snow", "--camera", "orbit_left", "--sidecar", "-o", "fox.mp4")
    assert status == 0, err
    (clip,) = standin.submissions
    assert clip.body["prompt"] == "a fox in the snow. " + CAMERA_MOVES["orbit_left"]
    assert json.loads((tmp_path / "fox.json").read_text())["camera"] == "orbit_left"


def test_an_unknown_camera_move_exits_2_naming_the_valid_ones_and_sends_nothing(cli, standin):
    status, _, err = cli("a fox", "--camera", "sideways", "-o", "fox.mp4")
    assert status == 2
    assert "unknown camera move 'sideways'" in err and all(name in err for name in CAMERA_MOVES)
    assert standin.received == []


def test_several_moves_make_one_clip_each_named_and_captioned_by_move(cli, standin, tmp_path):
    status, out, err = cli("a fox", "--camera", "orbit_left", "--camera", "crane_up")
    assert status == 0, err
    prompts = sorted(submission.body["prompt"] for submission in standin.submissions)
    assert prompts == sorted(with_camera("a fox", move) for move in ("orbit_left", "crane_up"))
    assert sorted(out.split()) == ["a-fox_crane-up_16x9_5s.mp4", "a-fox_orbit-left_16x9_5s.mp4"]
    assert "· orbit left ·" in err and "· crane up ·" in err


def test_camera_moves_count_against_the_variants_limit(cli, standin):
    status, _, err = cli("a fox", "--camera", "pan_left", "--camera", "pan_right", "--aspect-ratio", "16:9",
                         "--aspect-ratio", "1:1", "--aspect-ratio", "9:16")  # fmt: skip
    assert status == 2 and "6 variants asked for (1 wording × 3 shapes × 2 camera moves); the limit is 4" in err
    assert standin.received == []


def test_enhance_with_several_moves_is_one_llm_call_and_the_moves_follow_its_text(cli, standin):
    standin.then_chat(Reply(text=REWRITE))
    status, _, err = cli("a fox", "--enhance", "--camera", "push_in", "--camera", "static")
    assert status == 0, err
    assert len(standin.chats) == 1
    prompts = sorted(submission.body["prompt"] for submission in standin.submissions)
    assert prompts == sorted(with_camera(REWRITE, move) for move in ("push_in", "static"))
    room = 2000 - max(len(CAMERA_MOVES["push_in"]), len(CAMERA_MOVES["static"])) - 2  # the longer move fits after
    assert f"At most {room} characters" in standin.chats[0].body["messages"][0]["content"]


# --------------------------------------------------------------------------- --lead-in and --bridge


def test_lead_in_sends_the_clips_first_frame_as_the_end_image_and_no_start_image(cli, standin, tmp_path):
    clip = write_clip(tmp_path / "B.mp4", [RED, BLUE])
    status, _, err = cli("a fox walks into frame", "--lead-in", "B.mp4", "-o", "lead.mp4")
    assert status == 0, err
    ((uploaded, mime),) = standin.uploads
    assert mime == "image/png" and image_of(uploaded).tobytes() == decoded_frames(clip)[0].tobytes()
    body = standin.submissions[0].body
    assert body["end_image_url"].startswith(f"{standin.root_url}/assets/") and "start_image_url" not in body
    assert "end image: first frame of B.mp4" in err


def test_bridge_sends_as_last_frame_as_start_and_bs_first_frame_as_end(cli, standin, tmp_path):
    first = write_clip(tmp_path / "A.mp4", [RED, GREEN])
    second = write_clip(tmp_path / "B.mp4", [BLUE, WHITE])
    status, _, err = cli("the fox crosses the river", "--bridge", "A.mp4", "B.mp4", "--sidecar", "-o", "bridge.mp4")
    assert status == 0, err
    (start, _), (end, _) = standin.uploads
    assert image_of(start).tobytes() == decoded_frames(first)[-1].tobytes()
    assert image_of(end).tobytes() == decoded_frames(second)[0].tobytes()
    assert near(image_of(start).getpixel((160, 90)), GREEN) and near(image_of(end).getpixel((160, 90)), BLUE)
    body = standin.submissions[0].body
    assert standin.assets[body["start_image_url"].rsplit("/", 1)[1]][0] == start
    assert standin.assets[body["end_image_url"].rsplit("/", 1)[1]][0] == end
    sources = json.loads((tmp_path / "bridge.json").read_text())["sources"]
    assert sources == {"start_image_url": "A.mp4", "end_image_url": "B.mp4"}


def test_lead_in_takes_the_clips_shape_as_the_aspect_ratio(cli, standin, tmp_path):
    write_clip(tmp_path / "B.mp4", [RED], size=(180, 320))
    status, _, err = cli("more", "--lead-in", "B.mp4", "-o", "lead.mp4")
    assert status == 0, err
    assert standin.submissions[0].body["aspect_ratio"] == "9:16" and "aspect ratio 9:16, as B.mp4" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lead-in", "B.mp4", "--end-image-url", "https://img.test/e.png"], "both set the end frame"),
        (["--bridge", "A.mp4", "B.mp4", "--extend", "A.mp4"], "both set the start frame"),
        (["--bridge", "A.mp4", "B.mp4", "--lead-in", "B.mp4"], "both set the end frame"),
    ],
)
def test_two_sources_for_one_frame_are_refused(args, message, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["a fox", *args])
    assert refused.value.code == 2 and message in capsys.readouterr().err


def test_a_lead_in_that_is_not_a_video_exits_2_and_sends_nothing(cli, standin, tmp_path):
    (tmp_path / "B.mp4").write_bytes(b"<html>502</html>")
    status, _, err = cli("more", "--lead-in", "B.mp4", "-o", "lead.mp4")
    assert status == 2 and "B.mp4 cannot be decoded as a video" in err
    assert standin.received == []
