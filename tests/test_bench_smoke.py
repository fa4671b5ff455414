"""Each benchmark's code path, at tiny sizes, so `python -m bench` cannot rot. No timing is asserted."""

from __future__ import annotations

import shutil

import pytest

from bench import figures
from bench.__main__ import main, missed, table
from ray_studio.client.request import VideoRequest

HEADLESS_FIGURES = [name for name in figures.FIGURES if name not in ("screen", "cards")]


@pytest.mark.slow
@pytest.mark.parametrize("name", HEADLESS_FIGURES)
def test_each_figure_runs_at_smoke_size_and_yields_numbers(name):
    rows = figures.FIGURES[name](True)
    assert rows
    for row in rows:
        assert row.figure and row.goal and row.detail
        assert any(ch.isdigit() for ch in row.value), row


@pytest.mark.browser
@pytest.mark.slow
def test_the_to_the_screen_figure_runs_in_chromium():
    if not shutil.which("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    (row,) = figures.to_the_screen(True)
    assert row.value.endswith(" s")


@pytest.mark.browser
@pytest.mark.slow
def test_the_history_cards_command_runs_one_round_in_chromium(capsys):
    if not shutil.which("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    assert main(["--smoke", "cards"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 50 cards: ")]
    assert len(rows) == 4 and all(any(ch.isdigit() for ch in row.split("|")[3]) for row in rows)


def test_the_standin_probe_reports_a_queued_jobs_finish_and_its_polls_on_the_wall_clock():
    with figures.standin_process(processing=0.2) as upstream:
        client = figures._client(upstream.base_url, SEGMIND_POLL_INTERVAL="0.05")
        result = client.generate(VideoRequest("probe"), figures.WORK / "probe.mp4")
        client.close()
        job = upstream.ask({"job": result.job_id})
        report = upstream.report()
    (figures.WORK / "probe.mp4").unlink(missing_ok=True)
    assert job["finished"] - job["submitted"] == pytest.approx(0.2)
    assert any(at >= job["finished"] for at in job["polls"])
    assert report["jobs"][result.job_id]["finished"] == pytest.approx(job["finished"])
    assert report["last_video_sent_at"] >= job["finished"]


def test_the_standin_probe_answers_the_next_submissions_as_scripted():
    with figures.standin_process() as upstream:
        upstream.then({"processing": 7.0}, {"processing": 9.0})
        client = figures._client(upstream.base_url)
        jobs = [client.submit(VideoRequest("probe")) for _ in range(3)]
        client.close()
        finished = upstream.report()["jobs"]
    spans = [finished[j.id]["finished"] - finished[j.id]["submitted"] for j in jobs]
    assert spans == pytest.approx([7.0, 9.0, 0.0])


def test_the_table_names_figure_goal_and_result_with_a_dash_for_a_row_without_goal():
    rows = [
        figures.Row("x", "≤ 1×", "0.9×", True, "how"),
        figures.Row("y", "≤ 2", "3", False),
        figures.Row("z", "—", "5 KiB", None, "reported"),
    ]
    assert table(rows).splitlines()[2:] == [
        "| x | ≤ 1× | 0.9× | pass | how |",
        "| y | ≤ 2 | 3 | FAIL |  |",
        "| z | — | 5 KiB | — | reported |",
    ]


def test_only_a_row_that_missed_its_goal_fails_the_run():
    rows = [
        figures.Row("x", "≤ 1×", "0.9×", True),
        figures.Row("y", "≤ 2", "3", False),
        figures.Row("z", "—", "5", None),
    ]
    assert [r.figure for r in missed(rows)] == ["y"]
