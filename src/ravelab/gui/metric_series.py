"""``SeriesCache``: a run's metric histories as bounded summaries, read from the database.

Qt-free; ``MetricsPlot``'s worker thread owns one. Each history is kept as a
``ravelab.plots.summary.MinMaxSummary``: the lowest and highest point of a few thousand
step ranges, so memory stays flat however long the run (a run logging 10,000 points a
second would otherwise grow the app by megabytes a minute), and drawing it shows what
drawing every point would. With a core whose ``TrainingManager.get_metric_history``
takes ``after_step`` only the points added since the last read are read, so following a
run costs what it adds; with one that also takes ``until_step``, ``detail`` reads one
range at full resolution, for a zoomed view. Otherwise each history is read whole, with
the collector paused (``gc_paused``). Given ``get_columns``
(``TrainingManager.get_metric_columns``), points are read as arrays, with no Python
object per point: less time holding the interpreter lock that the GUI thread waits for.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ravelab.gui.interpreter import gc_paused
from ravelab.plots.decimate import FloatArray
from ravelab.plots.series import history_arrays
from ravelab.plots.summary import DEFAULT_BUCKETS, MinMaxSummary

History = Callable[..., list[tuple[int, float]]]
Columns = Callable[..., Any]  # -> ravelab.db.point_blocks.Columns (the GUI stays off db)


def _takes(get_history: History, parameter: str) -> bool:
    try:
        return parameter in inspect.signature(get_history).parameters
    except (TypeError, ValueError):
        return False


def supports_after_step(get_history: History) -> bool:
    """True when ``get_history(experiment_id, name, after_step=...)`` is available."""
    return _takes(get_history, "after_step")


class SeriesCache:
    """Metric histories of one run, kept up to date by ``refresh``.

    Args:
        get_history: ``TrainingManager.get_metric_history``.
        experiment_id: the run.
        buckets: step ranges each summary keeps (memory per metric is about
            ``5 * 8 * buckets`` bytes).
        get_columns: ``TrainingManager.get_metric_columns``, read instead of
            ``get_history`` when given (same arguments, arrays instead of tuples).
    """

    def __init__(
        self,
        get_history: History,
        experiment_id: int,
        buckets: int = DEFAULT_BUCKETS,
        get_columns: Columns | None = None,
    ) -> None:
        self._get_history = get_history
        self._get_columns = get_columns
        self.experiment_id = experiment_id
        self.buckets = buckets
        self.incremental = supports_after_step(get_history)
        self.ranged = self.incremental and _takes(get_history, "until_step")
        self._series: dict[str, MinMaxSummary] = {}
        self._read_to: dict[str, int] = {}  # the last step read, NaN or not

    def refresh(self, names: Iterable[str]) -> dict[str, tuple[FloatArray, FloatArray]]:
        """The summarised histories of ``names``, completed from the database now."""
        result = {}
        for name in names:
            if self.incremental:
                summary = self._series.setdefault(name, MinMaxSummary(self.buckets))
                after = self._read_to.get(name)
                steps, values = self._read(name, after_step=after)
                if steps.size:
                    summary.extend(steps, values)
                    self._read_to[name] = int(steps[-1])
            else:
                summary = self._series[name] = MinMaxSummary(self.buckets)
                with gc_paused():  # the list of tuples dies right here
                    summary.extend(*history_arrays(self._get_history(self.experiment_id, name)))
            result[name] = summary.points()
        return result

    def count(self, name: str) -> int:
        """Points read so far for ``name`` (all of them, not just those kept)."""
        summary = self._series.get(name)
        return 0 if summary is None else summary.count

    def step_width(self, names: Iterable[str]) -> float:
        """The widest step range among the summaries of ``names`` (1 while short)."""
        return max((self._series[n].step_width for n in names if n in self._series), default=1)

    def detail(self, name: str, first: float, last: float) -> tuple[FloatArray, FloatArray]:
        """The points of ``name`` with ``first <= step <= last``, at full resolution (read
        from the database now; empty when the core cannot read a range)."""
        if not self.ranged:
            return history_arrays([])
        return self._read(name, after_step=math.floor(first) - 1, until_step=math.ceil(last))

    def _read(self, name: str, **steps: int | None) -> tuple[FloatArray, FloatArray]:
        """(steps, values) as float64 arrays, from the columns reader if there is one."""
        if self._get_columns is not None:
            columns = self._get_columns(self.experiment_id, name, **steps)
            return (
                np.asarray(columns.steps, dtype=np.float64),
                np.array(columns.values, dtype=np.float64),
            )
        with gc_paused():
            points = self._get_history(self.experiment_id, name, **steps)
            return history_arrays(points)
