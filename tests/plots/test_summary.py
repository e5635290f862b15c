"""MinMaxSummary: bounded memory, and every range's extremes kept exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ravelab.plots.summary import MinMaxSummary


def _extremes_per_range(x: np.ndarray, y: np.ndarray, origin: float, width: float) -> dict:
    index = ((x - origin) // width).astype(int)
    return {int(i): (y[index == i].min(), y[index == i].max()) for i in np.unique(index)}


def test_every_range_keeps_its_minimum_and_maximum_however_the_points_arrive() -> None:
    rng = np.random.default_rng(3)
    steps = np.arange(100_000, dtype=float) * 3 + 7
    values = rng.normal(size=steps.size)
    values[12_345] = 50.0  # a spike
    values[54_321] = -50.0
    summary = MinMaxSummary(buckets=64)
    for start in range(0, steps.size, 7_777):  # read in uneven pieces, as a live plot does
        summary.extend(steps[start : start + 7_777], values[start : start + 7_777])

    x, y = summary.points()
    assert summary.count == steps.size
    assert x.size <= 2 * 64 + 2 and np.all(np.diff(x) > 0)
    assert (x[0], y[0]) == (steps[0], values[0]) and (x[-1], y[-1]) == (steps[-1], values[-1])
    assert 50.0 in y and -50.0 in y
    width = summary.step_width
    expected = _extremes_per_range(steps, values, steps[0], width)
    kept = _extremes_per_range(x, y, steps[0], width)
    assert kept.keys() == expected.keys()
    for key, (low, high) in expected.items():
        assert kept[key] == (low, high)
    # Each kept point is a real point, at its real step.
    lookup = dict(zip(steps.tolist(), values.tolist(), strict=True))
    assert all(lookup[s] == v for s, v in zip(x.tolist(), y.tolist(), strict=True))


def test_short_series_are_kept_whole_and_bad_values_are_counted_not_drawn() -> None:
    summary = MinMaxSummary(buckets=16)
    assert summary.points()[0].size == 0 and summary.last_step is None
    summary.extend([1, 2, 3], [0.5, float("nan"), 0.25])
    summary.extend([3, 4], [9.0, float("inf")])  # step 3 again: ignored
    summary.extend([5], [0.125])
    x, y = summary.points()
    assert x.tolist() == [1, 3, 5] and y.tolist() == [0.5, 0.25, 0.125]
    assert summary.count == 6 and summary.last_step == 5


def test_memory_stays_bounded_for_a_long_run() -> None:
    summary = MinMaxSummary(buckets=128)
    for start in range(0, 2_000_000, 100_000):
        steps = np.arange(start, start + 100_000, dtype=float)
        summary.extend(steps, np.sin(steps / 1000))
    x, _ = summary.points()
    assert x.size <= 2 * 128 + 2
    assert summary.step_width >= 2_000_000 / 128


@pytest.mark.parametrize("buckets", [0, 1, 3])
def test_bucket_counts_must_be_even(buckets: int) -> None:
    with pytest.raises(ValueError, match="even"):
        MinMaxSummary(buckets=buckets)
