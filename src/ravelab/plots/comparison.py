"""One metric of one or more runs, overlaid: what ``ravelab plot`` renders.

Each run's series is smoothed (TensorBoard's debiased EMA, the raw series kept faint
behind it), min-max decimated to the axes' pixel width, drawn against the step or the
wall time, and marked with the run's phase boundary (RAVE's adversarial phase starts
after ``phase_1_duration`` steps) and its checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ravelab.plots.decimate import FloatArray, minmax_decimate
from ravelab.plots.smoothing import smooth

_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)
X_AXES = ("step", "time")


@dataclass
class RunSeries:
    """What to draw of one run."""

    label: str
    steps: FloatArray
    values: FloatArray
    wall_times: FloatArray | None = None
    phase_1_duration: int | None = None
    checkpoint_steps: list[int] = field(default_factory=list)


def _x_of(run: RunSeries, x_axis: str) -> FloatArray:
    if x_axis == "step":
        return run.steps
    if run.wall_times is None or run.wall_times.size == 0:
        raise ValueError(f"no wall times for {run.label!r}: plot by step instead")
    hours: FloatArray = (run.wall_times - run.wall_times[0]) / 3600.0
    return hours


def _x_at_step(run: RunSeries, x_axis: str, step: float) -> float | None:
    """Where a step falls on the x axis (for markers)."""
    if x_axis == "step":
        return step
    if run.steps.size == 0 or run.wall_times is None:
        return None
    index = int(np.searchsorted(run.steps, step))
    if index >= run.steps.size:
        return None
    return float((run.wall_times[index] - run.wall_times[0]) / 3600.0)


def render_metric_comparison(
    figure: Figure,
    runs: Sequence[RunSeries],
    *,
    metric: str,
    smoothing: float = 0.0,
    log_scale: bool = False,
    x_axis: str = "step",
    width_px: int | None = None,
) -> Axes:
    """Draw ``metric`` of every run into ``figure`` and return the axes.

    Raises:
        ValueError: a bad option (smoothing outside [0, 1), unknown x axis).
    """
    if x_axis not in X_AXES:
        raise ValueError(f"x axis {x_axis!r} is not one of {', '.join(X_AXES)}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing {smoothing} must be in [0, 1)")
    axes = figure.add_subplot(1, 1, 1)
    width = width_px or max(int(figure.get_figwidth() * figure.dpi), 100)
    for index, run in enumerate(runs):
        colour = _COLOURS[index % len(_COLOURS)]
        if run.steps.size == 0:
            axes.plot([], [], color=colour, label=f"{run.label} (no points)")
            continue
        x = _x_of(run, x_axis)
        if smoothing > 0:
            raw_x, raw_y = minmax_decimate(x, run.values, width)
            axes.plot(raw_x, raw_y, color=colour, alpha=0.25, linewidth=0.8, gid="raw")
            shown_x, shown_y = minmax_decimate(x, smooth(run.values, smoothing), width)
        else:
            shown_x, shown_y = minmax_decimate(x, run.values, width)
        axes.plot(shown_x, shown_y, color=colour, linewidth=1.4, label=run.label)
        phase = run.phase_1_duration
        if phase is not None and run.steps[0] <= phase <= run.steps[-1]:
            where = _x_at_step(run, x_axis, phase)
            if where is not None:
                axes.axvline(
                    where,
                    color=colour,
                    linestyle="--",
                    linewidth=0.9,
                    alpha=0.7,
                    gid="phase-boundary",
                )
        marks = [
            m for m in (_x_at_step(run, x_axis, s) for s in run.checkpoint_steps) if m is not None
        ]
        if marks:
            axes.plot(
                marks,
                [0.03] * len(marks),
                linestyle="none",
                marker="v",
                color=colour,
                markersize=6,
                clip_on=False,
                transform=axes.get_xaxis_transform(),
                gid="checkpoints",
            )
    if log_scale:
        axes.set_yscale("log")
    axes.set_xlabel("step" if x_axis == "step" else "hours since the first point")
    axes.set_ylabel(metric)
    title = metric + (f" (smoothing {smoothing:g})" if smoothing else "")
    axes.set_title(title, loc="left", fontsize="medium")
    axes.grid(True, alpha=0.3)
    if any(r.phase_1_duration for r in runs) or any(r.checkpoint_steps for r in runs):
        axes.plot([], [], color="gray", linestyle="--", label="phase 2 starts")
        axes.plot([], [], color="gray", marker="v", linestyle="none", label="checkpoint")
    axes.legend(loc="upper right", fontsize="small")
    return axes
