"""``PanelFigure``: the live plot's figure, one panel per metric group, runs overlaid.

The panels (``ravelab.core.metric_groups``: reconstruction, adversarial, latent, other,
learning rate) share the step axis; each has its own y axis, labelled with its unit, on
a log scale where the group's values span decades. Every series has a raw line and a
smoothed one (TensorBoard's EMA): with smoothing on, the raw line is drawn faint behind.
Colours come from ``ravelab.plots.series_colours``. Marks: RAVE's phase boundary
(dashed, "phase 2"), checkpoints at the foot of the top panel (a star for ``best``, a
triangle for the periodic ones) and where a run was resumed (dotted, "resumed").

Only the canvas's worker thread touches it (under the figure lock); the figure is laid
out again only when the set of panels changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import EngFormatter

from ravelab.core.metric_groups import GROUPS_BY_KEY, RECONSTRUCTION
from ravelab.gui.style import SCHEME
from ravelab.plots import figures
from ravelab.plots.decimate import FloatArray
from ravelab.plots.series_colours import LineStyle

Key = tuple[int, str]  # (run id, metric name)

#: How faint a raw line is drawn behind its smoothed line (fainter with runs overlaid).
RAW_ALPHA = 0.25
RAW_ALPHA_OVERLAID = 0.12
#: The learning-rate panel's height next to the others'.
LR_HEIGHT = 0.6
#: Panels whose y axis the "Log scale" box switches (the others have fixed scales or
#: negative values).
LOG_SWITCHED = frozenset({"reconstruction", "other"})
_MARK_GREY = SCHEME.plot_secondary
_EMPTY: FloatArray = np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint to mark: its step, its file, and whether it is RAVE's ``best``."""

    step: int
    path: str
    best: bool


@dataclass(frozen=True)
class RunMarks:
    """What to mark of one run (steps within its data only)."""

    phase_2_at: int | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    resumed_at: int | None = None


class PanelFigure:
    """The panels, lines and marks of the live plot's figure."""

    def __init__(self, figure: Figure) -> None:
        self.figure = figure
        self.panels: dict[str, Axes] = {}
        self.lines: dict[Key, Line2D] = {}
        self.smooth_lines: dict[Key, Line2D] = {}
        self.phase_lines: list[Line2D] = []
        self.resume_lines: list[Line2D] = []
        self.checkpoint_marks: dict[str, Line2D] = {}  # "best" / "periodic"
        self.labels: dict[Key, str] = {}  # each series' name in legends and readouts
        self._run_legend: Legend | None = None
        self._mark_texts: list[Text] = []
        self._marks_key: object = None
        self.version = 0  # bumped when the panels are laid out again
        self.layout(())

    # -- panels --------------------------------------------------------------------------------

    def layout(self, keys: Sequence[str], log_scale: bool = False) -> bool:
        """Lay out one panel per group key (in order; the reconstruction panel alone when
        none), dropping every line and mark. False when the panels were already these."""
        keys = tuple(keys) or (RECONSTRUCTION.key,)
        if tuple(self.panels) == keys:
            return False
        self.figure.clear()
        self.lines.clear()
        self.smooth_lines.clear()
        self._run_legend = None
        self.phase_lines, self.resume_lines, self._mark_texts = [], [], []
        self.checkpoint_marks = {}
        self._marks_key = None
        heights = [LR_HEIGHT if key == "lr" else 1.0 for key in keys]
        made = self.figure.subplots(
            len(keys), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights}
        )
        self.panels = {key: made[i][0] for i, key in enumerate(keys)}
        for key, axes in self.panels.items():
            group = GROUPS_BY_KEY[key]
            axes.set_title(group.title, loc="left", fontsize="small", color=SCHEME.plot_secondary)
            axes.set_ylabel(group.unit, fontsize="small")
            axes.grid(True, alpha=0.3)
            axes.tick_params(labelsize="small")
            if group.log or (log_scale and key in LOG_SWITCHED):
                axes.set_yscale("log")
            axes.tick_params(axis="x", labelbottom=False)
        bottom = self.panels[keys[-1]]
        bottom.tick_params(axis="x", labelbottom=True)
        bottom.set_xlabel("step", fontsize="small")
        bottom.xaxis.set_major_formatter(EngFormatter(sep=""))  # 250k, 1M
        self.version += 1
        return True

    @property
    def top(self) -> Axes:
        return next(iter(self.panels.values()))

    @property
    def bottom(self) -> Axes:
        return list(self.panels.values())[-1]

    def set_log_scale(self, log: bool) -> None:
        for key, axes in self.panels.items():
            if key in LOG_SWITCHED:
                axes.set_yscale("log" if log else "linear")

    def show_message(self, message: str | None) -> None:
        """A message in the top panel (an empty state), or none; step labels hidden
        while it shows."""
        for axes in self.panels.values():
            figures.show_message(axes, None)
        figures.show_message(self.top, message)
        self.bottom.tick_params(axis="x", which="both", labelbottom=not message)
        self.bottom.xaxis.label.set_visible(not message)

    # -- lines ---------------------------------------------------------------------------------

    def sync_lines(
        self,
        wanted: Mapping[Key, str],
        styles: Mapping[Key, tuple[str, LineStyle]],
        labels: Mapping[Key, str],
        smoothing: float,
    ) -> bool:
        """Make the lines those of ``wanted`` (key -> panel key), styled and labelled;
        True when lines came or went (legends to redo)."""
        changed = False
        for key in [k for k in self.lines if k not in wanted]:
            self.lines.pop(key).remove()
            self.smooth_lines.pop(key).remove()
            self.labels.pop(key, None)
            changed = True
        for key, panel in wanted.items():
            colour, style = styles[key]
            line = self.lines.get(key)
            if line is None:
                axes = self.panels[panel]
                (line,) = axes.plot(_EMPTY, _EMPTY, lw=1.0)
                (smooth,) = axes.plot(_EMPTY, _EMPTY, lw=1.4)
                for made in (line, smooth):
                    made.set_animated(True)  # redrawn over a saved background (blitting)
                self.lines[key], self.smooth_lines[key] = line, smooth
                changed = True
            smooth = self.smooth_lines[key]
            for made in (line, smooth):
                made.set_color(colour)
                made.set_linestyle(cast(Any, style))  # one of series_colours.LINE_STYLES
            if self.labels.get(key) != labels[key]:
                changed = True  # a renamed run: its legend entries change
            self.labels[key] = labels[key]
            line.set_label(f"_{labels[key]}")  # legends are made by update_legends
            smooth.set_label(f"_{labels[key]} (smoothed)")
        self.set_smoothing(smoothing)
        return changed

    def set_smoothing(self, smoothing: float) -> None:
        """Raw lines faint behind visible smoothed ones, or raw lines alone (0)."""
        overlaid = len({run for run, _ in self.lines}) > 1
        faint = RAW_ALPHA_OVERLAID if overlaid else RAW_ALPHA
        for key, line in self.lines.items():
            line.set_alpha(faint if smoothing > 0 else 1.0)
            self.smooth_lines[key].set_visible(smoothing > 0)

    def update_legends(self, runs: Mapping[int, tuple[str, str]] | None = None) -> None:
        """Legends beside the panels (never over the newest points). One run: each
        panel's series in their colours. Several (``runs``: id -> (name, colour)): each
        panel's metrics by line style, and the runs by colour above the top panel."""
        if self._run_legend is not None:
            self._run_legend.remove()
            self._run_legend = None
        for axes in self.panels.values():
            legend = axes.get_legend()
            if legend is not None:
                legend.remove()
            keys = [key for key, line in self.lines.items() if line.axes is axes]
            if not keys:
                continue
            if runs:
                styles = {key[1]: self.lines[key].get_linestyle() for key in keys}
                handles = [
                    Line2D([], [], color=SCHEME.plot_secondary, ls=ls, lw=1.4)
                    for ls in styles.values()
                ]
                labels = [figures.metric_label(name) for name in styles]
            else:
                handles = [Line2D([], [], color=self.lines[k].get_color(), lw=1.4) for k in keys]
                labels = [self.labels[k] for k in keys]
            axes.legend(
                handles,
                labels,
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
                # Two columns for a long list: a panel's height is not set by its legend.
                ncols=2 if len(labels) > 3 else 1,
                fontsize="x-small",
                frameon=False,
                borderaxespad=0.3,
            )
        if runs:
            # A legend of its own, added as an artist: the panel's legend stays its legend.
            handles = [Line2D([], [], color=colour, lw=2.0) for _, colour in runs.values()]
            self._run_legend = Legend(
                self.top,
                handles,
                [name for name, _ in runs.values()],
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                ncols=min(len(runs), 4),
                fontsize="small",
                frameon=False,
                borderaxespad=0.2,
            )
            self.top.add_artist(self._run_legend)

    # -- marks ---------------------------------------------------------------------------------

    def draw_marks(self, marks: Mapping[int, RunMarks], colours: Mapping[int, str]) -> bool:
        """Phase boundaries, checkpoints and resumes of each run (drawn again only when
        they change; a run's colour where runs are overlaid, grey for one run)."""
        key = (tuple(sorted(marks.items())), tuple(sorted(colours.items())), self.version)
        if key == self._marks_key:
            return False
        self._marks_key = key
        for artist in [*self.phase_lines, *self.resume_lines, *self._mark_texts]:
            artist.remove()
        for line in self.checkpoint_marks.values():
            line.remove()
        self.phase_lines, self.resume_lines, self._mark_texts = [], [], []
        self.checkpoint_marks = {}
        top = self.top
        best: list[tuple[int, str]] = []
        periodic: list[tuple[int, str]] = []
        labelled: set[tuple[int, str]] = set()
        for run, mark in marks.items():
            colour = colours.get(run, _MARK_GREY)
            for step, lines, style, text in (
                (mark.phase_2_at, self.phase_lines, "--", "phase 2"),
                (mark.resumed_at, self.resume_lines, ":", "resumed"),
            ):
                if step is None:
                    continue
                for axes in self.panels.values():
                    lines.append(axes.axvline(step, color=colour, ls=style, lw=0.9, alpha=0.8))
                if (step, text) in labelled:
                    continue  # overlaid runs with the same phase length: one label
                labelled.add((step, text))
                self._mark_texts.append(
                    top.text(
                        step,
                        1.0,
                        f" {text}",
                        transform=top.get_xaxis_transform(),
                        fontsize="x-small",
                        color=colour if len(colours) <= 1 else _MARK_GREY,
                        va="top",
                        ha="left",
                    )
                )
            for checkpoint in mark.checkpoints:
                (best if checkpoint.best else periodic).append((checkpoint.step, colour))
        for kind, found, marker, size in (
            ("periodic", periodic, "^", 6),
            ("best", best, "*", 10),
        ):
            if not found:
                continue
            found.sort()
            (line,) = top.plot(
                [step for step, _ in found],
                [0.04] * len(found),
                linestyle="none",
                marker=marker,
                markersize=size,
                color=found[0][1] if len(colours) <= 1 else _MARK_GREY,
                markeredgecolor=SCHEME.plot_background,
                markeredgewidth=0.5,
                clip_on=False,
                transform=top.get_xaxis_transform(),
                label=f"_{kind} checkpoints",
                zorder=3,
            )
            self.checkpoint_marks[kind] = line
        return True


def follow_limits(panels: Sequence[Axes], room: bool) -> None:
    """Fit the panels' limits to their data (they share x), keeping the current ones
    while they still fit (``room``: leave room for the points still to come)."""
    if not panels:
        return
    old = {axes: (axes.get_xlim(), axes.get_ylim()) for axes in panels}
    for axes in panels:
        _autoscale(axes)  # dataLim is current after it
    steps = [v for axes in panels for v in axes.dataLim.intervalx if np.isfinite(v)]
    first = panels[0]
    if steps:
        # auto=None: setting limits must not switch autoscaling off for the next fit.
        x_data = (min(steps), max(steps))
        x_fit = first.get_xlim()
        first.set_xlim(*sticky(old[first][0], x_fit, x_data, grow=True, room=room), auto=None)
    for axes in panels:
        y_data = tuple(axes.dataLim.intervaly)
        log = axes.get_yscale() == "log"
        y_fit = axes.get_ylim()
        axes.set_ylim(*sticky(old[axes][1], y_fit, y_data, log=log, room=room), auto=None)


def _autoscale(axes: Axes) -> None:
    """``figures.autoscale``, but a flat series (a constant learning rate, smoothed to
    within rounding of itself) gets limits around its value: matplotlib's own would be
    equal, a singular transform."""
    axes.relim(visible_only=True)
    low, high = axes.dataLim.intervaly
    flat = np.isfinite(low) and np.isfinite(high) and abs(high - low) <= 1e-9 * abs(high)
    if not flat or high == 0:
        figures.autoscale(axes)
        return
    axes.autoscale_view(scaley=False)
    value = float(high)
    if axes.get_yscale() == "log" and value > 0:
        floor = 10 ** np.floor(np.log10(value))
        axes.set_ylim(floor / 1.25, floor * 10 * 1.25, auto=None)
    else:
        axes.set_ylim(value - abs(value) * 0.05, value + abs(value) * 0.05, auto=None)


#: While following a run, limits move only when the data leave them or fill less than
#: 1 / STICKY_SLACK of them; then they are fitted again with HEADROOM to spare on the side
#: the steps grow towards. Unchanged limits let most frames reuse the saved background.
STICKY_SLACK = 1.3
HEADROOM = 0.25


def sticky(
    old: tuple[float, float],
    fit: tuple[float, float],
    data: tuple[float, float],
    grow: bool = False,
    log: bool = False,
    room: bool = True,
) -> tuple[float, float]:
    """``old`` while it contains ``data`` without being much wider than ``fit`` (the fitted
    limits), else ``fit`` (with room to grow, towards larger values when ``grow``)."""
    values = (*old, *fit, *data)
    if not all(np.isfinite(v) for v in values) or (log and min(values) <= 0):
        return fit
    o0, o1, f0, f1, d0, d1 = (float(np.log10(v)) if log else float(v) for v in values)
    span = f1 - f0
    if span <= 0:
        return fit
    # Without room (a run that has ended) the limits are the fit: headroom left from while
    # it was live goes at the next frame.
    slack = STICKY_SLACK if room else 1 + 1e-9
    if o0 <= d0 and d1 <= o1 and o1 - o0 <= slack * span:
        chosen = (o0, o1)
    elif not room:
        return fit
    elif grow:
        chosen = (f0, f1 + HEADROOM * span)
    else:
        chosen = (f0 - HEADROOM / 2 * span, f1 + HEADROOM / 2 * span)
    if log:
        return float(10 ** chosen[0]), float(10 ** chosen[1])
    return chosen
