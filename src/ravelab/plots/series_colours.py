"""Colours and line styles of the series of a training plot, one run or several overlaid.

Two rules: within a panel no two series share a colour, and when runs are overlaid each
run keeps its colour in every panel. So with one run each metric of a panel takes the
next colour of the palette; with several, a run takes a palette colour (its place in
the selection) and its metrics in a panel take shades of it, lighter and darker in turn
(their line styles differ as well, so a shade need not be told apart on its own).
Plain data (``#rrggbb`` strings), no matplotlib: the app and the CLI share it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Run = TypeVar("Run", bound=Hashable)

#: Tableau's ten colours (matplotlib's default cycle), as hex strings.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LineStyle = str | tuple[int, tuple[int, ...]]
#: Line styles of a run's metrics in a panel when runs are overlaid (matplotlib's names,
#: then dash patterns: on and off lengths in points): six that tell apart at a glance.
LINE_STYLES: tuple[LineStyle, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 3)))
#: How far each further metric of a run moves from the run's colour: towards white
#: (positive) or black (negative), as a share of the way.
_SHADES = (0.0, -0.3, 0.35, -0.5, 0.5, -0.15, 0.2)


def run_colour(index: int) -> str:
    """The colour of the ``index``-th run of a selection."""
    return PALETTE[index % len(PALETTE)]


def shade(colour: str, amount: float) -> str:
    """``colour`` moved ``amount`` of the way to white (> 0) or black (< 0)."""
    amount = max(-1.0, min(1.0, amount))
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    moved = [round(c + (target - c) * abs(amount)) for c in channels]
    return "#" + "".join(f"{c:02x}" for c in moved)


def series_styles(
    runs: Sequence[Run], metrics: Sequence[str]
) -> dict[tuple[Run, str], tuple[str, LineStyle]]:
    """``(run, metric) -> (colour, line style)`` for the series of one panel.

    Args:
        runs: the runs shown, in selection order (a run's place picks its colour).
        metrics: the panel's metrics, in their shown order.
    """
    styles: dict[tuple[Run, str], tuple[str, LineStyle]] = {}
    used: set[str] = set()
    for r, run in enumerate(runs):
        for m, metric in enumerate(metrics):
            style: LineStyle
            if len(runs) == 1:
                colour = run_colour(m)
                style = "-"
            else:
                colour = shade(run_colour(r), _SHADES[m % len(_SHADES)])
                style = LINE_STYLES[m % len(LINE_STYLES)]
            # More series than distinct colours: a colour of its own anyway (never a
            # repeat), spread over the colour cube by a golden-ratio step.
            step = len(used)
            while colour in used:
                step += 1
                colour = f"#{(step * 0x9E3779) & 0xFFFFFF:06x}"
            used.add(colour)
            styles[(run, metric)] = (colour, style)
    return styles


__all__ = ["LINE_STYLES", "PALETTE", "LineStyle", "run_colour", "series_styles", "shade"]
