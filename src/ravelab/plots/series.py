"""Metric histories as numpy arrays, converted in short steps.

``TrainingManager.get_metric_history`` returns a list of ``(step, value)`` tuples; one
``numpy.asarray`` call over a million of them holds the GIL for a quarter of a second,
which would freeze a GUI whose worker thread does it. Converting in chunks lets other
threads run in between.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ravelab.plots.decimate import CHUNK_POINTS, FloatArray


def history_arrays(
    points: Sequence[tuple[int, float]], chunk: int = CHUNK_POINTS
) -> tuple[FloatArray, FloatArray]:
    """``[(step, value), ...]`` -> ``(steps, values)`` as float64 arrays."""
    if not points:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy()
    parts = [
        np.asarray(points[start : start + chunk], dtype=np.float64)
        for start in range(0, len(points), chunk)
    ]
    table = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1])


__all__ = ["history_arrays"]
