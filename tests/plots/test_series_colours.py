"""Series colours: never repeated within a panel; a run keeps its colour family across panels."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ravelab.plots.series_colours import run_colour, series_styles, shade

_HEX = re.compile(r"^#[0-9a-f]{6}$")


def test_one_run_takes_a_palette_colour_per_metric() -> None:
    styles = series_styles([7], ["a", "b", "c"])
    assert [styles[(7, m)] for m in "abc"] == [(run_colour(i), "-") for i in range(3)]


def test_overlaid_runs_keep_their_colour_in_every_panel() -> None:
    first = series_styles([1, 2, 3], ["validation", "fullband_spectral_distance"])
    second = series_styles([1, 2, 3], ["pred_fake"])
    for index, run in enumerate((1, 2, 3)):
        assert first[(run, "validation")][0] == second[(run, "pred_fake")][0] == run_colour(index)
    assert first[(1, "validation")][1] != first[(1, "fullband_spectral_distance")][1]


@given(
    runs=st.integers(min_value=1, max_value=12),
    metrics=st.integers(min_value=1, max_value=12),
)
def test_colours_never_repeat_within_a_panel(runs: int, metrics: int) -> None:
    styles = series_styles(list(range(runs)), [f"m{i}" for i in range(metrics)])
    colours = [colour for colour, _ in styles.values()]
    assert len(colours) == runs * metrics == len(set(colours))
    assert all(_HEX.match(colour) for colour in colours)


def test_shades_stay_colours() -> None:
    assert shade("#808080", 1.0) == "#ffffff"
    assert shade("#808080", -2.0) == "#000000"
    assert shade("#1f77b4", 0.0) == "#1f77b4"
