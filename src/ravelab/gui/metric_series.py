"""``SeriesCache``: a run's metric histories as numpy arrays, read from the database.

Qt-free; ``MetricsPlot``'s worker thread owns one. With a core whose
``TrainingManager.get_metric_history`` takes ``after_step`` it reads only the points
added since the last read and appends them (amortised: the arrays grow by doubling), so
following a run costs what it adds, not what it has. With the current core it reads each
history whole, with the collector paused (``gc_paused``), and converts it in chunks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ravelab.gui.interpreter import gc_paused
from ravelab.plots.decimate import FloatArray
from ravelab.plots.series import history_arrays

History = Callable[..., list[tuple[int, float]]]


def supports_after_step(get_history: History) -> bool:
    """True when ``get_history(experiment_id, name, after_step=...)`` is available."""
    try:
        return "after_step" in inspect.signature(get_history).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class _Growing:
    """Steps and values with room to grow."""

    steps: FloatArray = field(default_factory=lambda: np.empty(1024))
    values: FloatArray = field(default_factory=lambda: np.empty(1024))
    size: int = 0

    def extend(self, steps: FloatArray, values: FloatArray) -> None:
        needed = self.size + steps.size
        if needed > self.steps.size:
            capacity = max(needed, 2 * self.steps.size)
            self.steps = np.resize(self.steps, capacity)
            self.values = np.resize(self.values, capacity)
        self.steps[self.size : needed] = steps
        self.values[self.size : needed] = values
        self.size = needed

    def view(self) -> tuple[FloatArray, FloatArray]:
        """The data so far, as views: later points go past their end (or into a new
        buffer), so a renderer may keep reading them while this grows."""
        return self.steps[: self.size], self.values[: self.size]


class SeriesCache:
    """Metric histories of one run, kept up to date by ``refresh``.

    Args:
        get_history: ``TrainingManager.get_metric_history``.
        experiment_id: the run.
    """

    def __init__(self, get_history: History, experiment_id: int) -> None:
        self._get_history = get_history
        self.experiment_id = experiment_id
        self.incremental = supports_after_step(get_history)
        self._series: dict[str, _Growing] = {}

    def refresh(self, names: Iterable[str]) -> dict[str, tuple[FloatArray, FloatArray]]:
        """The histories of ``names``, read (or completed) from the database now."""
        result = {}
        for name in names:
            if self.incremental:
                series = self._series.setdefault(name, _Growing())
                after = int(series.steps[series.size - 1]) if series.size else None
                with gc_paused():
                    points = self._get_history(self.experiment_id, name, after_step=after)
                    steps, values = history_arrays(points)
                    del points
                series.extend(steps, values)
                result[name] = series.view()
            else:
                with gc_paused():  # the list of tuples dies right here
                    result[name] = history_arrays(self._get_history(self.experiment_id, name))
        return result
