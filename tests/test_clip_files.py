"""clip_files: names for clips that are safe everywhere, and sidecars that can make a clip again."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ray_studio.client import clip_files
from ray_studio.client.cli import build_parser
from ray_studio.client.clip_files import clip_name, free_path, keep, sidecar, slug, write_sidecar
from ray_studio.client.job import VideoResult
from ray_studio.client.request import VideoRequest

SAFE_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def a_result(path: Path, request: VideoRequest | None = None, **fields) -> VideoResult:
    request = request or VideoRequest("Lighthouse at dusk", aspect_ratio="16:9", duration=5)
    values = {"elapsed_seconds": 41.26, "size_bytes": path.stat().st_size, "job_id": "job-123", "cost": 0.375}
    return VideoResult(path=path, request=request, **{**values, **fields})


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "made" / "clip.mp4"
    path.parent.mkdir()
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 a small stand-in for a clip")
    return path


# --------------------------------------------------------------------------- slug


def test_a_slug_is_the_prompts_first_words_in_lower_case_joined_by_dashes():
    assert slug("Lighthouse at dusk, waves crashing") == "lighthouse-at-dusk-waves-crashing"


def test_a_slug_keeps_at_most_six_words():
    assert slug("one two three four five six seven eight") == "one-two-three-four-five-six"


@pytest.mark.parametrize("prompt", ["word " * 400, "x" * 2000, "supercalifragilistic " * 6])
def test_a_very_long_prompt_gives_a_bounded_slug(prompt):
    assert 0 < len(slug(prompt)) <= clip_files.MAX_SLUG_CHARS


@pytest.mark.parametrize("prompt", ["雪の中の狐", "🦊🌨️", "  ", "...", "—"])
def test_a_prompt_with_no_latin_letters_or_digits_gives_clip(prompt):
    assert slug(prompt) == "clip"


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("Crème brûlée à Paris", "creme-brulee-a-paris"),
        ("Straße in Ærø", "strasse-in-aero"),
        ("The fox's den", "the-foxs-den"),
        ("ＦＵＬＬ width ①", "full-width-1"),
        ("🦊 fox in 雪 snow", "fox-in-snow"),
    ],
)
def test_accents_and_wide_forms_become_ascii_and_other_scripts_are_dropped(prompt, expected):
    assert slug(prompt) == expected


@pytest.mark.parametrize("prompt", ["CON", "nul", "Aux", "prn", "com1", "LPT9"])
def test_a_windows_device_name_is_never_a_slug(prompt):
    assert slug(prompt) == f"{prompt.lower()}-clip"


@pytest.mark.parametrize(
    "prompt",
    [
        "../../etc/passwd",
        "C:\\Windows\\System32",
        'a<b>c:d"e/f\\g|h?i*j',
        "ends with dots...",
        "ends with spaces   ",
        "--starts with dashes",
        "tab\tand\nnewline",
        "\u202eevil\u202c.exe",
    ],
)
def test_a_hostile_prompt_gives_a_plain_slug_that_can_be_a_file_name_here(prompt, tmp_path):
    name = slug(prompt)
    assert SAFE_SLUG.fullmatch(name), name
    (tmp_path / f"{name}.mp4").write_bytes(b"")
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.mp4"]


# --------------------------------------------------------------------------- clip_name


def test_a_clip_is_named_by_prompt_shape_and_length():
    assert clip_name(VideoRequest("Lighthouse at dusk", aspect_ratio="16:9", duration=5)) == (
        "lighthouse-at-dusk_16x9_5s.mp4"
    )


def test_a_looping_clip_says_so_in_its_name():
    assert clip_name(VideoRequest("a fox", aspect_ratio="9:21", duration=9, loop=True)) == "a-fox_9x21_9s_loop.mp4"


def test_a_clip_name_takes_another_suffix():
    assert clip_name(VideoRequest("a fox"), suffix=".json") == "a-fox_16x9_5s.json"


def test_a_clip_name_from_a_japanese_prompt_is_still_a_name():
    assert clip_name(VideoRequest("雪の中の狐", aspect_ratio="1:1")) == "clip_1x1_5s.mp4"


# --------------------------------------------------------------------------- free_path


def test_a_free_name_is_used_as_it_is(tmp_path):
    assert free_path(tmp_path, "fox.mp4") == tmp_path / "fox.mp4"


def test_a_taken_name_gets_2_then_3(tmp_path):
    (tmp_path / "fox.mp4").write_bytes(b"")
    assert free_path(tmp_path, "fox.mp4") == tmp_path / "fox-2.mp4"
    (tmp_path / "fox-2.mp4").write_bytes(b"")
    assert free_path(tmp_path, "fox.mp4") == tmp_path / "fox-3.mp4"


def test_a_name_whose_sidecar_remains_counts_as_taken(tmp_path):
    (tmp_path / "fox.json").write_text("{}")
    assert free_path(tmp_path, "fox.mp4") == tmp_path / "fox-2.mp4"


def test_names_promised_to_clips_being_made_count_as_taken(tmp_path):
    assert free_path(tmp_path, "fox.mp4", taken=[tmp_path / "fox.mp4"]) == tmp_path / "fox-2.mp4"


def test_a_folder_that_does_not_exist_yet_has_every_name_free(tmp_path):
    assert free_path(tmp_path / "new", "fox.mp4") == tmp_path / "new" / "fox.mp4"


def test_free_path_takes_a_name_not_a_path(tmp_path):
    with pytest.raises(ValueError, match="a file name, not a path"):
        free_path(tmp_path, "../fox.mp4")


# --------------------------------------------------------------------------- sidecar


def test_a_sidecar_holds_everything_needed_to_make_the_clip_again(clip):
    request = VideoRequest(
        "Lighthouse at dusk",
        aspect_ratio="9:16",
        duration=9,
        loop=True,
        start_image_url="https://storage.example/a.png",
        end_image_url="https://img.example/b.jpg",
    )
    data = sidecar(
        a_result(clip, request, cost=0.675),
        model="ray-flash-2-720p",
        api_mode="async",
        sources={"start_image_url": "photos/first frame.png"},
    )
    data.pop("created")
    cli = data.pop("cli")
    assert data == {
        "file": "clip.mp4",
        "prompt": "Lighthouse at dusk",
        "aspect_ratio": "9:16",
        "duration": 9,
        "loop": True,
        "start_image_url": "https://storage.example/a.png",
        "end_image_url": "https://img.example/b.jpg",
        "sources": {"start_image_url": "photos/first frame.png"},
        "model": "ray-flash-2-720p",
        "api_mode": "async",
        "job_id": "job-123",
        "elapsed_seconds": 41.3,
        "size_bytes": clip.stat().st_size,
        "cost_usd": 0.675,
    }
    assert cli.startswith("python ray_client.py ")


def test_created_is_now_in_utc_as_iso_8601(clip):
    created = datetime.fromisoformat(sidecar(a_result(clip), model="m", api_mode="sync")["created"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)


@pytest.mark.parametrize(
    "prompt",
    [
        "Lighthouse at dusk",
        'it\'s a "quoted" $(rm -rf ~) `prompt`; with | pipes & more',
        "-starts with a dash",
        "two\nlines",
        "雪の中の狐",
    ],
)
def test_the_cli_line_parses_back_into_the_same_request(clip, prompt):
    request = VideoRequest(
        prompt, aspect_ratio="21:9", duration=9, loop=True, start_image_url="https://x.example/a?b=1&c=2"
    )
    cli = sidecar(a_result(clip, request), model="m", api_mode="async")["cli"]
    argv = shlex.split(cli)
    assert argv[:2] == ["python", "ray_client.py"]
    args = build_parser().parse_args(argv[2:])
    again = VideoRequest(
        args.prompt,
        aspect_ratio=args.aspect_ratio[0],
        duration=args.duration,
        loop=args.loop,
        start_image_url=args.start_image_url,
        end_image_url=args.end_image_url,
    )
    assert again == request
    assert args.output is None  # a new file named after the prompt, never over the clip it describes


def test_a_clip_without_loop_or_keyframes_has_a_short_cli_line(clip):
    cli = sidecar(a_result(clip), model="m", api_mode="async")["cli"]
    assert cli == "python ray_client.py 'Lighthouse at dusk' --aspect-ratio 16:9 --duration 5"


def test_a_resumed_clip_of_unknown_request_has_null_parameters_and_a_resume_line(clip):
    result = VideoResult(path=clip, request=None, elapsed_seconds=2.0, size_bytes=10, job_id="job-9")
    data = sidecar(result, model="m", api_mode="async")
    assert data["prompt"] is None and data["aspect_ratio"] is None and data["cost_usd"] is None
    assert data["cli"] == "python ray_client.py --resume job-9 -o clip.mp4"


# --------------------------------------------------------------------------- write_sidecar


def test_the_sidecar_is_name_json_beside_name_mp4_in_indented_utf_8(clip):
    data = sidecar(a_result(clip, VideoRequest("雪の中の狐")), model="m", api_mode="async")
    path = write_sidecar(clip, data)
    assert path == clip.with_name("clip.json")
    text = path.read_text(encoding="utf-8")
    assert "雪の中の狐" in text and '\n  "prompt"' in text
    assert json.loads(text) == data


def test_a_new_sidecar_replaces_the_old_one_whole_and_leaves_no_temporary_file(clip):
    write_sidecar(clip, {"old": "x" * 10_000})
    write_sidecar(clip, {"new": True})
    assert json.loads(clip.with_suffix(".json").read_text()) == {"new": True}
    assert sorted(p.name for p in clip.parent.iterdir()) == ["clip.json", "clip.mp4"]


def test_a_sidecar_that_cannot_be_written_leaves_the_old_one_untouched(clip):
    write_sidecar(clip, {"old": True})
    with pytest.raises(TypeError):
        write_sidecar(clip, {"not json": object()})
    assert json.loads(clip.with_suffix(".json").read_text()) == {"old": True}
    assert sorted(p.name for p in clip.parent.iterdir()) == ["clip.json", "clip.mp4"]


# --------------------------------------------------------------------------- keep


def test_keep_copies_the_clip_under_its_name_with_its_sidecar(clip, tmp_path):
    kept, data_path = keep(a_result(clip), tmp_path / "saved", model="ray-flash-2-720p", api_mode="async")
    assert kept == tmp_path / "saved" / "lighthouse-at-dusk_16x9_5s.mp4"
    assert kept.read_bytes() == clip.read_bytes() and clip.exists()
    assert data_path == kept.with_suffix(".json")
    data = json.loads(data_path.read_text(encoding="utf-8"))
    assert data["file"] == kept.name and data["job_id"] == "job-123" and data["model"] == "ray-flash-2-720p"
    assert data["cli"].startswith("python ray_client.py") and " -o " not in data["cli"]


def test_keeping_the_same_prompt_twice_never_overwrites_the_first(clip, tmp_path):
    first, _ = keep(a_result(clip), tmp_path, model="m", api_mode="async")
    second, second_data = keep(a_result(clip), tmp_path, model="m", api_mode="async")
    assert (first.name, second.name) == ("lighthouse-at-dusk_16x9_5s.mp4", "lighthouse-at-dusk_16x9_5s-2.mp4")
    assert json.loads(second_data.read_text())["file"] == second.name
    assert first.with_suffix(".json").exists()


def test_keep_leaves_nothing_but_the_clip_and_its_sidecar(clip, tmp_path):
    keep(a_result(clip), tmp_path / "saved", model="m", api_mode="async", sources={"start_image_url": "a.png"})
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "lighthouse-at-dusk_16x9_5s.json",
        "lighthouse-at-dusk_16x9_5s.mp4",
    ]


def test_a_clip_that_is_gone_is_not_kept_and_leaves_nothing(clip, tmp_path):
    clip.unlink()
    result = VideoResult(path=clip, request=VideoRequest("a fox"), elapsed_seconds=1.0, size_bytes=1)
    with pytest.raises(FileNotFoundError):
        keep(result, tmp_path / "saved", model="m", api_mode="async")
    assert list((tmp_path / "saved").iterdir()) == []
