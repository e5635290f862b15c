"""Min-max decimation keeps what a plot of a given width shows."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numpy")

from ravelab.plots.decimate import minmax_decimate, visible_slice
from ravelab.plots.series import history_arrays


def _buckets(count: int, buckets: int) -> list[range]:
    edges = np.linspace(0, count, buckets + 1).astype(int)
    return [range(edges[i], edges[i + 1]) for i in range(buckets)]


@pytest.mark.parametrize(("count", "buckets"), [(1000, 10), (1003, 7), (50_001, 640), (21, 10)])
def test_each_buckets_min_and_max_are_kept_in_order(count: int, buckets: int) -> None:
    rng = np.random.default_rng(count)
    steps = np.arange(count, dtype=float) * 50
    values = rng.normal(size=count)
    x, y = minmax_decimate(steps, values, buckets)

    assert len(x) <= 2 * buckets
    assert np.all(np.diff(x) > 0), "points stay in their original order, without repeats"
    kept = set(x.tolist())
    for bucket in _buckets(count, buckets):
        chunk = values[bucket.start : bucket.stop]
        assert steps[bucket.start + int(np.argmin(chunk))] in kept
        assert steps[bucket.start + int(np.argmax(chunk))] in kept
    # Every kept point is a real point, with its own value.
    index = (x / 50).astype(int)
    assert np.array_equal(values[index], y)


def test_a_spike_survives_a_million_points() -> None:
    steps = np.arange(1_000_000, dtype=float)
    values = np.sin(steps / 5000)
    values[123_457] = 40.0
    values[876_543] = -40.0
    x, y = minmax_decimate(steps, values, 1000)
    assert len(x) <= 2000
    assert y.max() == 40.0 and x[np.argmax(y)] == 123_457
    assert y.min() == -40.0 and x[np.argmin(y)] == 876_543


def test_short_series_are_returned_unchanged() -> None:
    x, y = minmax_decimate([1, 2, 3], [3.0, 1.0, 2.0], 2)
    assert x.tolist() == [1, 2, 3] and y.tolist() == [3.0, 1.0, 2.0]
    x, y = minmax_decimate([], [], 10)
    assert x.size == 0 and y.size == 0


def test_a_bucket_whose_min_and_max_coincide_gives_one_point() -> None:
    x, _y = minmax_decimate([1, 2, 3, 4, 5, 6], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2)
    assert len(x) == len(set(x.tolist()))


def test_nan_and_inf_are_dropped() -> None:
    x, y = minmax_decimate([1, 2, 3, 4], [1.0, float("nan"), float("inf"), 2.0], 10)
    assert x.tolist() == [1, 4] and y.tolist() == [1.0, 2.0]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="buckets"):
        minmax_decimate([1, 2], [1.0, 2.0], 0)
    with pytest.raises(ValueError, match="differ in length"):
        minmax_decimate([1, 2], [1.0], 5)


def test_visible_slice_keeps_one_neighbour_each_side() -> None:
    steps = np.arange(0, 100, 10, dtype=float)
    part = visible_slice(steps, 25, 55)
    assert steps[part].tolist() == [20, 30, 40, 50, 60]
    assert steps[visible_slice(steps, -50, 500)].tolist() == steps.tolist()


def test_history_arrays_converts_in_chunks() -> None:
    points = [(step, step / 10) for step in range(1000)]
    x, y = history_arrays(points, chunk=64)
    assert x.dtype == np.float64 and x.tolist() == [float(s) for s in range(1000)]
    assert y[-1] == pytest.approx(99.9)
    empty_x, empty_y = history_arrays([])
    assert empty_x.size == 0 and empty_y.size == 0
