"""Min-max decimation: a long series reduced to what a plot of a given width can show.

A line plot of a million points drawn into a thousand pixel columns shows, per column,
a vertical stroke from the column's lowest to its highest value. Keeping only each
bucket's minimum and maximum (in their original order) draws the same picture with two
points per column, so spikes survive where naive striding would drop them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]

#: Points handled per numpy call (about 0.5 MB of float64).
CHUNK_POINTS = 65_536


def _as_arrays(
    steps: Sequence[float] | npt.ArrayLike, values: Sequence[float] | npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(steps, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"steps and values differ in length: {x.size} != {y.size}")
    return x, y


def minmax_decimate(
    steps: Sequence[float] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
    buckets: int,
) -> tuple[FloatArray, FloatArray]:
    """Keep each bucket's minimum and maximum point, in their original order.

    The points are split into ``buckets`` runs of consecutive points of (nearly) equal
    length; metric points come at evenly spaced steps, so a bucket matches a pixel
    column when ``buckets`` is the plot's width. Points whose value is NaN or infinite
    are dropped first (a plot cannot draw them and they would win every min or max).
    A series of at most ``2 * buckets`` points is returned unchanged (but as arrays).

    Args:
        steps: x values, in drawing order (normally increasing).
        values: y values, as many as ``steps``.
        buckets: how many buckets (at least 1), usually the plot's width in pixels.

    Returns:
        ``(x, y)``: at most ``2 * buckets`` points; when a bucket's minimum and maximum
        are the same point it appears once.

    Raises:
        ValueError: ``steps`` and ``values`` differ in length, or ``buckets < 1``.
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    x, y = _as_arrays(steps, values)
    finite = np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
    count = y.size
    if count <= 2 * buckets:
        return x, y
    # Bucket i holds points [edges[i], edges[i+1]); all buckets hold `size` or `size+1`.
    edges = np.linspace(0, count, buckets + 1).astype(np.int64)
    size = int(np.min(np.diff(edges)))
    starts = edges[:-1]
    windows = sliding_window_view(y, size)
    low = np.empty(buckets, dtype=np.int64)
    high = np.empty(buckets, dtype=np.int64)
    # The first `size` points of every bucket as one 2-D block give vectorised argmin and
    # argmax; blocks of about CHUNK_POINTS keep each numpy call short, so a thread doing
    # this never holds the GIL long enough to stall a GUI thread.
    per_chunk = max(CHUNK_POINTS // size, 1)
    for first in range(0, buckets, per_chunk):
        part = starts[first : first + per_chunk]
        block = windows[part]
        low[first : first + part.size] = part + np.argmin(block, axis=1)
        high[first : first + part.size] = part + np.argmax(block, axis=1)
    # Fold in each bucket's one extra point, where it has one.
    extra = edges[1:] - 1
    has_extra = (edges[1:] - starts) > size
    low = np.where(has_extra & (y[extra] < y[low]), extra, low)
    high = np.where(has_extra & (y[extra] > y[high]), extra, high)
    keep = np.unique(np.concatenate([low, high]))  # sorted: original order, no repeats
    return x[keep], y[keep]


def visible_slice(steps: FloatArray, left: float, right: float) -> slice:
    """The index range of sorted ``steps`` that falls in ``[left, right]``, plus one
    neighbour on each side so lines still reach the plot's edges."""
    start = int(np.searchsorted(steps, left, side="left"))
    stop = int(np.searchsorted(steps, right, side="right"))
    return slice(max(start - 1, 0), min(stop + 1, steps.size))


__all__ = ["FloatArray", "minmax_decimate", "visible_slice"]
