"""Colours and style sheets shared by the app's widgets, light or dark as the system is.

The scheme is chosen once, when this module is first imported: the app creates its
``QApplication`` (and, where asked, gives it a dark palette: :func:`apply_scheme`) before
it imports its widgets, so the constants below already match the palette they are drawn
on. ``RAVELAB_COLOR_SCHEME=dark`` (or ``light``) overrides what the platform says, for
desktops whose Qt theme does not report a dark scheme.

Every text colour reaches a contrast of at least 4.5:1 (WCAG AA) on the background it
is drawn on, in both schemes: :func:`contrast` and the tests check it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from ravelab.core.display import STOPPING
from ravelab.db import RunStatus

SCHEME_VARIABLE = "RAVELAB_COLOR_SCHEME"


@dataclass(frozen=True)
class Scheme:
    """The app's colours in one scheme (hex strings)."""

    dark: bool
    hint: str  # secondary text: hints, counts, empty states
    error: str  # errors next to fields, failed runs
    warning: str  # cautions (a model whose check is pending)
    accent: str  # an emphasis that is not a warning (the nearest clip)
    wave_active: str  # the playing waveform
    wave_idle: str  # the other waveform
    wave_background: str
    wave_grid: str
    playhead: str
    checkpoint_mark: str
    phase_mark: str
    plot_background: str  # the figure and its axes
    plot_text: str  # tick labels, axis labels
    plot_secondary: str  # panel titles, marks of several runs
    plot_grid: str
    log_noise: str  # harmless trainer output, folded
    log_note: str  # ravelab's own notes in a log
    log_attempt: str  # the separator of a resumed attempt
    find_background: str  # a search match behind the text
    status: dict[str, str] = field(default_factory=dict)  # a run's status -> its colour


LIGHT = Scheme(
    dark=False,
    hint="#5f5f5f",
    error="#c62828",
    warning="#bf360c",
    accent="#bf360c",
    wave_active="#1565c0",
    wave_idle="#607d8b",
    wave_background="#fafafa",
    wave_grid="#cfd8dc",
    playhead="#e53935",
    checkpoint_mark="#2e7d32",
    phase_mark="#ef6c00",
    plot_background="#ffffff",
    plot_text="#000000",
    plot_secondary="#4d4d4d",
    plot_grid="#b0b0b0",
    log_noise="#6b6b6b",
    log_note="#5f5f5f",
    log_attempt="#1565c0",
    find_background="#fff59d",
    status={
        RunStatus.RUNNING: "#1565c0",
        STOPPING: "#bf360c",
        RunStatus.QUEUED: "#6a1b9a",
        RunStatus.COMPLETED: "#2e7031",
        RunStatus.FAILED: "#c62828",
        RunStatus.STOPPED: "#616161",
    },
)

DARK = Scheme(
    dark=True,
    hint="#b0b0b0",
    error="#ef9a9a",
    warning="#ffb74d",
    accent="#ffb74d",
    wave_active="#90caf9",
    wave_idle="#90a4ae",
    wave_background="#202124",
    wave_grid="#3c4043",
    playhead="#ff8a80",
    checkpoint_mark="#a5d6a7",
    phase_mark="#ffb74d",
    plot_background="#1e1e1e",
    plot_text="#e0e0e0",
    plot_secondary="#b0b0b0",
    plot_grid="#4a4a4a",
    log_noise="#a0a0a0",
    log_note="#b0b0b0",
    log_attempt="#90caf9",
    find_background="#5d4c00",
    status={
        RunStatus.RUNNING: "#90caf9",
        STOPPING: "#ffb74d",
        RunStatus.QUEUED: "#ce93d8",
        RunStatus.COMPLETED: "#a5d6a7",
        RunStatus.FAILED: "#ef9a9a",
        RunStatus.STOPPED: "#bdbdbd",
    },
)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style, where the platform gives none."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e8e8e8",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.ToolTipBase: "#3c3c3c",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.PlaceholderText: "#9e9e9e",
        QPalette.ColorRole.Text: "#e8e8e8",
        QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e8e8e8",
        QPalette.ColorRole.BrightText: "#ff8a80",
        QPalette.ColorRole.Light: "#474747",
        QPalette.ColorRole.Midlight: "#3e3e3e",
        QPalette.ColorRole.Mid: "#2f2f2f",
        QPalette.ColorRole.Dark: "#1a1a1a",
        QPalette.ColorRole.Shadow: "#0d0d0d",
        QPalette.ColorRole.Highlight: "#2f65ca",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.LinkVisited: "#c58af9",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(disabled, role, QColor("#7a7a7a"))
    return palette


def _asked() -> str | None:
    value = os.environ.get(SCHEME_VARIABLE, "").strip().lower()
    return value if value in ("dark", "light") else None


def _platform_is_dark(app: QGuiApplication) -> bool:
    if app.styleHints().colorScheme() == Qt.ColorScheme.Dark:
        return True
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_scheme(app: QApplication) -> bool:
    """Give ``app`` the palette asked for by ``RAVELAB_COLOR_SCHEME`` where the
    platform's differs, and the app's plots the same scheme; True when the app is dark.
    Call before the widgets are imported."""
    asked = _asked()
    if asked == "light" and _platform_is_dark(app):
        app.setPalette(app.style().standardPalette())
    elif asked == "dark" and not _platform_is_dark(app):
        app.setPalette(dark_palette())
    dark = _platform_is_dark(app)
    if dark:
        import matplotlib

        # The app's process only: `ravelab plot` images keep matplotlib's defaults.
        # (rcParams' keys are typed as the literal names it knows: these are among them.)
        matplotlib.rcParams.update(cast("dict[Any, str]", plot_params(DARK)))
    return dark


def plot_params(scheme: Scheme) -> dict[str, str]:
    """matplotlib settings that draw a figure in ``scheme``'s colours."""
    return {
        "figure.facecolor": scheme.plot_background,
        "figure.edgecolor": scheme.plot_background,
        "savefig.facecolor": scheme.plot_background,
        "axes.facecolor": scheme.plot_background,
        "axes.edgecolor": scheme.plot_secondary,
        "axes.labelcolor": scheme.plot_text,
        "axes.titlecolor": scheme.plot_text,
        "text.color": scheme.plot_text,
        "xtick.color": scheme.plot_secondary,
        "ytick.color": scheme.plot_secondary,
        "xtick.labelcolor": scheme.plot_text,
        "ytick.labelcolor": scheme.plot_text,
        "grid.color": scheme.plot_grid,
        "legend.facecolor": scheme.plot_background,
        "legend.edgecolor": scheme.plot_grid,
    }


def _current() -> Scheme:
    # What is asked wins: apply_scheme gives the app that palette.
    asked = _asked()
    if asked is not None:
        return DARK if asked == "dark" else LIGHT
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return DARK if _platform_is_dark(app) else LIGHT
    return LIGHT


def luminance(colour: str) -> float:
    """The relative luminance (WCAG 2) of a ``#rrggbb`` colour."""
    channels = []
    for start in (1, 3, 5):
        value = int(colour[start : start + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


#: The scheme in use (see the module's docstring).
SCHEME = _current()

HINT_COLOUR = SCHEME.hint
HINT_STYLE = f"color: {HINT_COLOUR};"
ERROR_COLOUR = SCHEME.error
ERROR_STYLE = f"color: {ERROR_COLOUR};"
WARNING_COLOUR = SCHEME.warning
#: Section titles inside a page.
TITLE_STYLE = "font-weight: 600;"
#: A run's status -> its colour (text, dots and progress bars).
STATUS_COLOURS: dict[str, str] = SCHEME.status
#: A status this table does not know.
UNKNOWN_STATUS_COLOUR = SCHEME.hint
