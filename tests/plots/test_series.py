"""Metric histories turned into arrays in chunks: the same arrays whatever the chunk size."""

from __future__ import annotations

import numpy as np

from ravelab.plots.series import history_arrays


def test_chunks_make_the_same_arrays_as_one_conversion() -> None:
    points = [(step, step / 7.0) for step in range(1, 1002)]
    steps, values = history_arrays(points, chunk=100)
    whole = np.asarray(points, dtype=np.float64)
    assert np.array_equal(steps, whole[:, 0]) and np.array_equal(values, whole[:, 1])
    assert steps.dtype == values.dtype == np.float64
    assert steps.flags.c_contiguous and values.flags.c_contiguous
    single_steps, single_values = history_arrays(points[:3])
    assert list(single_steps) == [1.0, 2.0, 3.0] and list(single_values) == [
        1 / 7.0,
        2 / 7.0,
        3 / 7.0,
    ]


def test_no_points_make_two_empty_arrays_of_their_own() -> None:
    steps, values = history_arrays([])
    assert steps.shape == values.shape == (0,) and steps is not values
