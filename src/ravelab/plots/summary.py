"""``MinMaxSummary``: a growing series kept in bounded memory, as a plot needs it.

A live plot of a run that logs 10,000 points a second cannot keep every point: its memory
would grow for days. It does not need them either: a plot ``W`` pixels wide shows, per
pixel column, a stroke from the column's lowest to its highest value
(:mod:`ravelab.plots.decimate`). So the summary splits the steps seen so far into at
most ``buckets`` ranges of equal width and keeps, per range, the point with the smallest
and the point with the largest value (their steps too, so the stroke sits where it
happened). When a step goes past the last range, the width doubles: neighbouring ranges
merge pairwise, keeping the smaller minimum and the larger maximum. The first and the
latest point are kept as they are, so the line starts and ends where the data does.

With ``buckets`` a few times the plot's width, drawing the summary's points (then
decimating them to the width) gives the picture that decimating every point would give:
no spike is lost, whatever the length of the run. Zooming far into the past needs the
points themselves again: read that range from the database (``until_step``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ravelab.plots.decimate import FloatArray

#: Ranges kept by default: 4 per pixel column of a 2,000-pixel plot.
DEFAULT_BUCKETS = 8192

_EMPTY: FloatArray = np.empty(0, dtype=np.float64)


class MinMaxSummary:
    """The lowest and highest point of each of at most ``buckets`` equal step ranges.

    Args:
        buckets: ranges kept (an even number, at least 2): memory is ``O(buckets)``.

    Raises:
        ValueError: ``buckets`` is odd or smaller than 2.
    """

    def __init__(self, buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 2 or buckets % 2:
            raise ValueError(f"buckets must be even and at least 2, not {buckets}")
        self.buckets = buckets
        self.count = 0  # points taken in (finite or not)
        self._origin = 0.0
        self._width = 1.0
        self._filled = np.zeros(buckets, dtype=bool)
        self._low_x = np.zeros(buckets)
        self._low_y = np.zeros(buckets)
        self._high_x = np.zeros(buckets)
        self._high_y = np.zeros(buckets)
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None

    @property
    def last_step(self) -> float | None:
        """The largest step taken in so far (finite values only), or None."""
        return None if self._last is None else self._last[0]

    @property
    def step_width(self) -> float:
        """Steps per range now (1 until the steps span more than ``buckets``)."""
        return self._width

    def extend(
        self, steps: npt.ArrayLike, values: npt.ArrayLike, *, counted: int | None = None
    ) -> None:
        """Take in points whose steps come after every step taken so far, in order.

        Points with a NaN or infinite value are counted but not kept (a plot cannot draw
        them). A step not after the last one is ignored.

        Args:
            steps: increasing steps.
            values: their values.
            counted: how many points these stand for (default: their number).
        """
        x = np.asarray(steps, dtype=np.float64).ravel()
        y = np.asarray(values, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"steps and values differ in length: {x.size} != {y.size}")
        self.count += x.size if counted is None else counted
        keep = np.isfinite(y) & np.isfinite(x)
        if self._last is not None:
            keep &= x > self._last[0]
        if not keep.all():
            x, y = x[keep], y[keep]
        if not x.size:
            return
        if self._first is None:
            self._first = (float(x[0]), float(y[0]))
            self._origin = float(x[0])
        self._last = (float(x[-1]), float(y[-1]))
        while x[-1] >= self._origin + self._width * self.buckets:
            self._double()
        index = ((x - self._origin) // self._width).astype(np.int64)
        np.clip(index, 0, self.buckets - 1, out=index)
        # Sorted by range, then value: the first of each range is its minimum, the last
        # its maximum (a stable sort keeps the earliest of equal values first).
        order = np.lexsort((y, index))
        ranges = index[order]
        starts = np.flatnonzero(np.r_[True, ranges[1:] != ranges[:-1]])
        ends = np.r_[starts[1:], ranges.size] - 1
        where = ranges[starts]
        low, high = order[starts], order[ends]
        self._merge(where, x[low], y[low], x[high], y[high])

    def _merge(
        self,
        where: npt.NDArray[np.int64],
        low_x: FloatArray,
        low_y: FloatArray,
        high_x: FloatArray,
        high_y: FloatArray,
    ) -> None:
        old = self._filled[where]
        take_low = ~old | (low_y < self._low_y[where])
        take_high = ~old | (high_y > self._high_y[where])
        self._low_x[where] = np.where(take_low, low_x, self._low_x[where])
        self._low_y[where] = np.where(take_low, low_y, self._low_y[where])
        self._high_x[where] = np.where(take_high, high_x, self._high_x[where])
        self._high_y[where] = np.where(take_high, high_y, self._high_y[where])
        self._filled[where] = True

    def _double(self) -> None:
        """Merge ranges pairwise: the same span in half the ranges, then twice the span."""
        half = self.buckets // 2
        filled = self._filled.reshape(half, 2)
        low_y = np.where(filled, self._low_y.reshape(half, 2), np.inf)
        high_y = np.where(filled, self._high_y.reshape(half, 2), -np.inf)
        pick_low = np.argmin(low_y, axis=1)  # ties: the earlier range
        pick_high = np.argmax(high_y, axis=1)
        rows = np.arange(half)
        new_low_x = self._low_x.reshape(half, 2)[rows, pick_low]
        new_low_y = low_y[rows, pick_low]
        new_high_x = self._high_x.reshape(half, 2)[rows, pick_high]
        new_high_y = high_y[rows, pick_high]
        new_filled = filled.any(axis=1)
        for array, head in (
            (self._low_x, new_low_x),
            (self._low_y, new_low_y),
            (self._high_x, new_high_x),
            (self._high_y, new_high_y),
            (self._filled, new_filled),
        ):
            array[:half] = head
            array[half:] = False if array.dtype == bool else 0.0
        self._width *= 2

    def points(self) -> tuple[FloatArray, FloatArray]:
        """The kept points in step order: the first point, each range's minimum and
        maximum, the latest point (each once)."""
        if self._first is None or self._last is None:
            return _EMPTY, _EMPTY
        filled = np.flatnonzero(self._filled)
        x = np.concatenate(
            ([self._first[0]], self._low_x[filled], self._high_x[filled], [self._last[0]])
        )
        y = np.concatenate(
            ([self._first[1]], self._low_y[filled], self._high_y[filled], [self._last[1]])
        )
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        distinct = np.r_[True, x[1:] != x[:-1]]  # a point that is both min and max: once
        return x[distinct], y[distinct]


__all__ = ["DEFAULT_BUCKETS", "MinMaxSummary"]
