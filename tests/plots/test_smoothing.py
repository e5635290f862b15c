"""TensorBoard-style smoothing: the debiased moving average, non-finite values kept."""

from __future__ import annotations

import numpy as np
import pytest

from ravelab.plots.smoothing import smooth


def _reference(values: list[float], weight: float) -> list[float]:
    """TensorBoard's loop: start at 0, debias by 1 - weight**n."""
    last, out = 0.0, []
    for n, value in enumerate(values, 1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**n))
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_smoothing_matches_tensorboards_loop(weight: float) -> None:
    values = np.random.default_rng(1).normal(size=3000).cumsum()
    assert smooth(values, weight) == pytest.approx(_reference(list(values), weight), rel=1e-9)


def test_smoothing_keeps_non_finite_values_and_refuses_bad_weights() -> None:
    values = np.array([1.0, np.nan, 3.0])
    smoothed = smooth(values, 0.5)
    assert np.isnan(smoothed[1])
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        smooth(values, 1.0)


def test_columns_are_averaged_before_smoothing() -> None:
    from ravelab.plots.smoothing import smooth_columns

    steps = np.arange(10_000, dtype=np.float64)
    noisy = np.where(steps % 2 == 0, 4.0, 6.0)  # a band 2 units thick around 5
    x, y = smooth_columns(steps, noisy, 100, 0.6)
    assert x.size == 100 and np.all(np.diff(x) > 0)
    assert np.allclose(y, 5.0)  # the level, not the band
    few_x, few_y = smooth_columns(steps[:50], noisy[:50], 100, 0.6)
    assert few_x.size == 50 and few_y == pytest.approx(smooth(noisy[:50], 0.6))
    empty = smooth_columns(np.array([1.0]), np.array([np.nan]), 10, 0.6)
    assert empty[0].size == 0 and empty[1].size == 0
