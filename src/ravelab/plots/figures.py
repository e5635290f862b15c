"""What the app's live plot and ``ravelab plot`` share of drawing a metric with matplotlib.

Metric names as people read them, a line's data replaced in place, limits fitted to the
data (a log axis spanning at least a decade), an empty state's message, a figure's title,
an axes' width in pixels (the decimation's bucket count). Each function works on a
``Figure``, ``Axes`` or ``Line2D`` it is given: no pyplot, which keeps global state and
would pick a GUI backend of its own. The live plot's panels are
``ravelab.gui.plot_panels``; the CLI's figure is ``ravelab.plots.comparison``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from ravelab.plots.decimate import FloatArray

LR_METRIC = "lr"

METRIC_LABELS = {
    "fullband_spectral_distance": "full-band spectral distance",
    "multiband_spectral_distance": "multi-band spectral distance",
    "validation": "validation",
    "loss": "loss",
    "val_loss": "validation loss",
    "lr": "learning rate",
    "gpu/utilization": "GPU utilisation (%)",
    "gpu/memory_used_mib": "GPU memory used (MiB)",
    "gpu/temperature_c": "GPU temperature (°C)",
    "gpu/power_w": "GPU power (W)",
    "gpu/run_memory_mib": "the run's GPU memory (MiB)",
}

EMPTY_GID = "empty-message"

Series = tuple[FloatArray, FloatArray]


def metric_label(name: str) -> str:
    """A metric's name for people (``val_loss`` -> ``validation loss``)."""
    return METRIC_LABELS.get(name, name.replace("_", " "))


def set_title(figure: Figure, title: str | None) -> None:
    """The figure's title, top left (None or "" removes it)."""
    figure.suptitle(title or "", x=0.01, ha="left", fontsize="medium")


def update_series(line: Line2D, x: FloatArray, y: FloatArray) -> None:
    """Give a line new data (the caller rescales and redraws)."""
    line.set_data(x, y)


def autoscale(axes: Axes) -> None:
    """Fit the view to the data of the lines drawn (after ``set_data``).

    A log axis spans at least one whole decade: a learning rate that has barely moved
    from 1e-3 then shows where it stands between RAVE's 1e-3 and 1e-4, not a magnified
    sliver with unreadable tick labels.
    """
    axes.relim(visible_only=True)
    axes.autoscale_view()
    if axes.get_yscale() != "log" or not axes.has_data():
        return
    low, high = axes.dataLim.intervaly
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0 or high <= 0:
        return
    if high / low < 10:
        floor = 10 ** np.floor(np.log10(low))
        ceiling = 10 ** np.ceil(np.log10(high))
        if ceiling <= floor:
            ceiling = floor * 10
        # auto=None: the next fit must still follow the data (the default, auto=False,
        # would freeze these limits once the data span more than a decade).
        axes.set_ylim(floor / 1.25, ceiling * 1.25, auto=None)


def show_message(axes: Axes, message: str | None) -> Text | None:
    """Show ``message`` centred in the axes (an empty state), or remove it with None.

    While a message shows, the axes' value labels are hidden: an empty plot's made-up
    scale would only confuse.
    """
    for text in list(axes.texts):
        if text.get_gid() == EMPTY_GID:
            text.remove()
    axes.tick_params(axis="y", which="both", labelleft=not message)
    if not message:
        return None
    text = axes.text(
        0.5,
        0.5,
        message,
        transform=axes.transAxes,
        ha="center",
        va="center",
        color="0.45",
        fontsize="medium",
        wrap=True,
    )
    text.set_gid(EMPTY_GID)
    return text


def axes_width_px(axes: Axes) -> int:
    """The axes' width in pixels (at least 1): the decimation bucket count."""
    return max(int(axes.get_window_extent().width), 1)


__all__ = [
    "EMPTY_GID",
    "LR_METRIC",
    "METRIC_LABELS",
    "Series",
    "autoscale",
    "axes_width_px",
    "metric_label",
    "set_title",
    "show_message",
    "update_series",
]
