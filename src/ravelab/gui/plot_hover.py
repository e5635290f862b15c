"""What the live plot says under the mouse: the step and every shown series' value there.

The figure lives in the canvas's worker thread; hovering is handled on the GUI thread and
must never wait for a frame. So after each frame the worker leaves a ``Geometry`` (where
each panel sits in the canvas, its limits and scale) and the series it drew (``Shown``:
the visible points before decimation, raw and smoothed), both replaced whole; the GUI
thread maps the mouse to a step with them and looks the values up. No Qt, no figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ravelab.plots.decimate import FloatArray

Key = tuple[int, str]


@dataclass(frozen=True)
class PanelGeometry:
    """One panel: its key, its box in widget pixels (top-left origin), limits, scale."""

    key: str
    left: float
    top: float
    right: float
    bottom: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log: bool

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.top <= y <= self.bottom

    def step_at(self, x: float) -> float:
        share = (x - self.left) / max(self.right - self.left, 1e-9)
        return self.xlim[0] + share * (self.xlim[1] - self.xlim[0])

    def x_of(self, step: float) -> float:
        share = (step - self.xlim[0]) / ((self.xlim[1] - self.xlim[0]) or 1.0)
        return self.left + share * (self.right - self.left)

    def y_of(self, value: float) -> float:
        low, high = self.ylim
        if self.log and value > 0 and low > 0 and high > 0:
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        share = (value - low) / ((high - low) or 1.0)
        return self.bottom - share * (self.bottom - self.top)


@dataclass(frozen=True)
class Geometry:
    """Every panel of the last frame."""

    panels: tuple[PanelGeometry, ...] = ()

    def panel_at(self, x: float, y: float) -> PanelGeometry | None:
        return next((p for p in self.panels if p.contains(x, y)), None)

    def panel(self, key: str) -> PanelGeometry | None:
        return next((p for p in self.panels if p.key == key), None)


@dataclass(frozen=True)
class ShownSeries:
    """A series as drawn in the last frame: its visible points, raw and smoothed."""

    panel: str
    label: str
    steps: FloatArray
    values: FloatArray
    smoothed: tuple[FloatArray, FloatArray] | None  # its own steps: a point per column


def value_at(
    steps: FloatArray, values: FloatArray, step: float, reach: float = math.inf
) -> float | None:
    """The value of the point nearest ``step``, or None when no point is within
    ``reach`` steps (a metric that starts later, or has ended)."""
    if steps.size == 0:
        return None
    index = int(np.searchsorted(steps, step))
    candidates = [i for i in (index - 1, index) if 0 <= i < steps.size]
    nearest = min(candidates, key=lambda i: abs(float(steps[i]) - step))
    if abs(float(steps[nearest]) - step) > reach:
        return None
    return float(values[nearest])


def _number(value: float) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4g}"


def values_at(
    step: float,
    shown: Mapping[Key, ShownSeries],
    order: Sequence[str],
    reach: float = math.inf,
) -> list[tuple[str, str, str]]:
    """``(panel, label, value)`` of every series with a point within ``reach`` of
    ``step`` (its smoothed value where a smoothed line is drawn), panels in ``order``."""
    found = []
    for panel in order:
        for series in shown.values():
            if series.panel != panel:
                continue
            steps, values = series.steps, series.values
            if series.smoothed is not None:
                steps, values = series.smoothed
            # A smoothed point stands for a column: the raw points decide whether the
            # series has data near the step at all.
            if value_at(series.steps, series.values, step, reach) is None:
                continue
            value = value_at(steps, values, step)
            if value is not None:
                found.append((panel, series.label, _number(value)))
    return found


def step_text(step: float) -> str:
    """``step 12,345``: a step as an integer with thousands separators."""
    return f"step {max(0, round(step)):,}"


def readout(
    step: float,
    shown: Mapping[Key, ShownSeries],
    order: Sequence[str],
    reach: float = math.inf,
) -> str:
    """``step 12,345 · validation 3.21 · ...``: the step and each series' value there."""
    values = values_at(step, shown, order, reach)
    return " · ".join([step_text(step), *(f"{label} {value}" for _, label, value in values)])


def checkpoint_near(
    geometry: Geometry,
    x: float,
    y: float,
    checkpoints: Sequence[tuple[int, str, bool]],
    reach_px: float = 6.0,
) -> tuple[int, str, bool] | None:
    """The checkpoint (step, file, best) whose mark at the foot of the top panel is
    within ``reach_px`` of the mouse, or None."""
    if not geometry.panels:
        return None
    top = geometry.panels[0]
    if not (top.left - reach_px <= x <= top.right + reach_px):
        return None
    foot = top.bottom - 0.04 * (top.bottom - top.top)
    if abs(y - foot) > 2 * reach_px:
        return None
    near = [(abs(top.x_of(c[0]) - x), c) for c in checkpoints]
    near = [item for item in near if item[0] <= reach_px]
    return min(near)[1] if near else None


__all__ = [
    "Geometry",
    "PanelGeometry",
    "ShownSeries",
    "checkpoint_near",
    "readout",
    "step_text",
    "value_at",
    "values_at",
]
