"""Exponential smoothing as TensorBoard's scalar dashboard does it (debiased EMA).

TensorBoard starts its moving average at 0 and divides by ``1 - weight**n`` so the first
points are not pulled towards 0; non-finite values pass through unchanged. The recurrence
is evaluated a block at a time in closed form with numpy, so a million points take a
fraction of a second instead of a Python loop's seconds.
"""

from __future__ import annotations

import math

import numpy as np

from ravelab.plots.decimate import FloatArray


def smooth(values: FloatArray, weight: float) -> FloatArray:
    """The debiased exponential moving average of ``values`` with ``weight`` in [0, 1)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), not {weight}")
    y = np.asarray(values, dtype=np.float64)
    if weight == 0.0 or y.size == 0:
        return y.copy()
    finite = np.isfinite(y)
    x = np.where(finite, y, 0.0)
    # Block length so that weight**-block stays below 1e6 (keeps the closed form exact
    # to ~1e-10 relative).
    block = max(1, min(4096, int(6 / -math.log10(weight))))
    out = np.empty_like(x)
    carry = 0.0
    powers = weight ** np.arange(1, block + 1, dtype=np.float64)  # w^1 .. w^B
    inverse = weight ** -np.arange(0, block, dtype=np.float64)  # w^0 .. w^-(B-1)
    for start in range(0, x.size, block):
        chunk = x[start : start + block]
        n = chunk.size
        # s_i = w^(i+1) * carry + (1 - w) * sum_{k<=i} w^(i-k) x_k
        partial = np.cumsum(chunk * inverse[:n]) * (1.0 / inverse[:n])
        values_block = powers[:n] * carry + (1.0 - weight) * partial
        out[start : start + n] = values_block
        carry = float(values_block[-1])
    count = np.arange(1, x.size + 1, dtype=np.float64)
    debiased = out / (1.0 - weight**count)
    return np.where(finite, debiased, y)


def smooth_columns(
    steps: FloatArray, values: FloatArray, columns: int, weight: float
) -> tuple[FloatArray, FloatArray]:
    """The smoothed curve of a series drawn ``columns`` pixels wide: ``smooth`` over the
    mean point of each pixel column (as TensorBoard smooths the points it sampled), or
    over every point when there are no more points than columns.

    A live plot holds a run as min-max summaries (``ravelab.plots.summary``): smoothing
    those alternating extremes point by point would draw the noise band again; the mean
    per column is the series' level there, which the average then follows.
    """
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
    if x.size <= max(columns, 1):
        return x, smooth(y, weight)
    span = float(x[-1] - x[0]) or 1.0
    index = np.minimum(((x - x[0]) / span * columns).astype(np.int64), columns - 1)
    counts = np.bincount(index, minlength=columns)
    filled = counts > 0
    mean_x = np.bincount(index, weights=x, minlength=columns)[filled] / counts[filled]
    mean_y = np.bincount(index, weights=y, minlength=columns)[filled] / counts[filled]
    return mean_x, smooth(mean_y, weight)
