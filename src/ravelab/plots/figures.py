"""The training figure: losses above, the learning rate below, sharing the step axis.

Every function draws into a ``Figure`` or ``Axes`` it is given and returns the artists
it made, so the desktop app can keep them and update them with ``set_data`` while a run
trains, and the CLI can render the same figure to a file with the Agg backend::

    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 5))
    render_training_figure(fig, {"loss": (steps, values)}, lr=(steps, rates), title="run")
    fig.savefig("run.png")

Never pyplot: it keeps global state and would pick a GUI backend of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import EngFormatter

from ravelab.plots.decimate import FloatArray, minmax_decimate

#: RAVE's losses worth watching (TensorBoard scalars), then the original API's regex metrics.
LOSS_METRICS = (
    "fullband_spectral_distance",
    "multiband_spectral_distance",
    "validation",
    "loss",
    "val_loss",
)
LR_METRIC = "lr"
#: Metrics that are not losses and never go on the loss plot by default.
NOT_LOSSES = frozenset({LR_METRIC, "step", "epoch"})

METRIC_LABELS = {
    "fullband_spectral_distance": "full-band spectral distance",
    "multiband_spectral_distance": "multi-band spectral distance",
    "validation": "validation",
    "loss": "loss",
    "val_loss": "validation loss",
    "lr": "learning rate",
}

_FIXED_COLOURS = {
    "fullband_spectral_distance": "tab:blue",
    "multiband_spectral_distance": "tab:orange",
    "validation": "tab:red",
    "loss": "tab:blue",
    "val_loss": "tab:red",
    "lr": "tab:purple",
}
_OTHER_COLOURS = ("tab:green", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")

EMPTY_GID = "empty-message"

Series = tuple[FloatArray, FloatArray]


def metric_label(name: str) -> str:
    """A metric's name for people (``val_loss`` -> ``validation loss``)."""
    return METRIC_LABELS.get(name, name.replace("_", " "))


def metric_colour(name: str) -> str:
    """A stable colour per metric, so a metric keeps its colour across runs."""
    colour = _FIXED_COLOURS.get(name)
    if colour is not None:
        return colour
    return _OTHER_COLOURS[sum(name.encode()) % len(_OTHER_COLOURS)]


def default_loss_metrics(available: Iterable[str]) -> list[str]:
    """The losses shown before the user picks: RAVE's, then the original API's, when present."""
    names = set(available)
    return [name for name in LOSS_METRICS if name in names]


@dataclass
class TrainingAxes:
    """The two axes of a training figure and the artists drawn in them."""

    figure: Figure
    loss: Axes
    lr: Axes
    lines: dict[str, Line2D] = field(default_factory=dict)
    lr_line: Line2D | None = None


def setup_training_figure(figure: Figure, title: str | None = None) -> TrainingAxes:
    """Clear ``figure`` and lay out the loss axes (2/3) over the learning-rate axes (1/3)."""
    figure.clear()
    loss, lr = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1], "hspace": 0.08}
    )
    loss.set_ylabel("loss")
    loss.grid(True, alpha=0.3)
    lr.set_ylabel("learning rate")
    lr.set_xlabel("step")
    lr.grid(True, alpha=0.3)
    # RAVE's schedule spans a decade (1e-3 to 1e-4): a log axis shows it as it is.
    lr.set_yscale("log")
    lr.xaxis.set_major_formatter(EngFormatter(sep=""))  # 250k, 1M: steps get large
    loss.tick_params(labelbottom=False)
    set_title(figure, title)
    return TrainingAxes(figure, loss, lr)


def set_title(figure: Figure, title: str | None) -> None:
    """The figure's title, top left (None or "" removes it)."""
    figure.suptitle(title or "", x=0.01, ha="left", fontsize="medium")


def draw_series(axes: Axes, name: str, x: FloatArray, y: FloatArray) -> Line2D:
    """Add one metric's line (labelled and coloured for ``name``) and return it."""
    (line,) = axes.plot(x, y, label=metric_label(name), color=metric_colour(name), lw=1.2)
    line.set_gid(name)
    return line


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


def update_legend(axes: Axes) -> None:
    """A legend for the labelled lines, or none when there are none."""
    handles = [line for line in axes.get_lines() if line.get_visible() and line.get_gid()]
    legend = axes.get_legend()
    if legend is not None:
        legend.remove()
    if handles:
        # Above the axes, in a row: a legend inside would hide the newest points, which
        # are what a user watching a run looks at.
        axes.legend(
            handles=handles,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=min(len(handles), 3),
            fontsize="small",
            frameon=False,
            borderaxespad=0.2,
        )


def show_steps(axes: TrainingAxes, visible: bool) -> None:
    """Show or hide the step labels (hidden while both plots are empty)."""
    axes.lr.tick_params(axis="x", which="both", labelbottom=visible)
    axes.lr.xaxis.label.set_visible(visible)


def axes_width_px(axes: Axes) -> int:
    """The axes' width in pixels (at least 1): the decimation bucket count."""
    return max(int(axes.get_window_extent().width), 1)


def render_training_figure(
    figure: Figure,
    losses: Mapping[str, Series],
    lr: Series | None = None,
    title: str | None = None,
    buckets: int | None = None,
) -> TrainingAxes:
    """Draw a whole training figure (for files and for the app's first draw).

    Args:
        figure: the figure to draw into (it is cleared first).
        losses: metric name -> (steps, values) for the loss axes.
        lr: (steps, learning rates) for the lower axes, if any.
        title: shown above the loss axes.
        buckets: decimate every series to this many buckets (default: the axes' width
            in pixels at the figure's dpi).

    Returns:
        The axes and the lines, keyed by metric name.
    """
    result = setup_training_figure(figure, title)
    width = buckets or axes_width_px(result.loss)
    for name, (x, y) in losses.items():
        dx, dy = minmax_decimate(x, y, width)
        result.lines[name] = draw_series(result.loss, name, dx, dy)
    if lr is not None and len(lr[0]):
        dx, dy = minmax_decimate(lr[0], lr[1], width)
        result.lr_line = draw_series(result.lr, LR_METRIC, dx, dy)
    has_losses = any(np.size(x) for x, _ in losses.values())
    show_message(result.loss, None if has_losses else "No loss points yet")
    show_message(result.lr, None if result.lr_line is not None else "No learning-rate points yet")
    show_steps(result, has_losses or result.lr_line is not None)
    update_legend(result.loss)
    autoscale(result.loss)
    autoscale(result.lr)
    return result


__all__ = [
    "EMPTY_GID",
    "LOSS_METRICS",
    "LR_METRIC",
    "METRIC_LABELS",
    "NOT_LOSSES",
    "Series",
    "TrainingAxes",
    "autoscale",
    "axes_width_px",
    "default_loss_metrics",
    "draw_series",
    "metric_colour",
    "metric_label",
    "render_training_figure",
    "set_title",
    "setup_training_figure",
    "show_message",
    "show_steps",
    "update_legend",
    "update_series",
]
