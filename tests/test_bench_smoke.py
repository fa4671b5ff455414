"""Each benchmark's code path, at tiny sizes, so `python -m bench` cannot rot. No timing is asserted."""

from __future__ import annotations

import shutil

import pytest

from bench import figures
from bench.__main__ import table


@pytest.mark.parametrize("name", ["overhead", "memory", "visitors", "startup"])
def test_each_benchmark_runs_and_yields_a_number(name):
    row = figures.FIGURES[name](True)
    assert row.figure and row.goal and any(ch.isdigit() for ch in row.value)


@pytest.mark.browser
def test_the_to_the_screen_benchmark_runs_in_chromium():
    if not shutil.which("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    row = figures.to_the_screen(True)
    assert row.value.endswith(" s")


def test_the_table_names_figure_goal_and_result():
    rows = [figures.Row("x", "≤ 1×", "0.9×", True, "how"), figures.Row("y", "≤ 2", "3", False)]
    assert table(rows).splitlines()[2:] == ["| x | ≤ 1× | 0.9× | pass | how |", "| y | ≤ 2 | 3 | FAIL |  |"]
