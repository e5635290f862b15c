"""The app's colours: legible in both schemes, and the scheme follows what is asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from ravelab.gui import style

pytestmark = pytest.mark.gui

ROLES = (
    QPalette.ColorRole.Window,
    QPalette.ColorRole.Base,
    QPalette.ColorRole.AlternateBase,
)


def _backgrounds(palette: QPalette) -> list[str]:
    return [palette.color(role).name() for role in ROLES]


def _text_colours(scheme: style.Scheme) -> dict[str, str]:
    colours = {"hint": scheme.hint, "error": scheme.error, "warning": scheme.warning}
    colours["accent"] = scheme.accent
    colours.update(noise=scheme.log_noise, note=scheme.log_note, attempt=scheme.log_attempt)
    colours.update({f"status {name}": colour for name, colour in scheme.status.items()})
    return colours


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_text_colour_reaches_4_5_to_1_on_its_backgrounds(
    qapp: QApplication, dark: bool
) -> None:
    scheme = style.DARK if dark else style.LIGHT
    palette = style.dark_palette() if dark else qapp.style().standardPalette()
    backgrounds = _backgrounds(palette)
    backgrounds.append(scheme.wave_background)
    for name, colour in _text_colours(scheme).items():
        for background in backgrounds:
            ratio = style.contrast(colour, background)
            assert ratio >= 4.5, f"{name} {colour} on {background}: {ratio:.2f}"
    text = palette.color(QPalette.ColorRole.Text).name()
    assert all(style.contrast(text, b) >= 7 for b in backgrounds[:3])
    assert style.contrast(scheme.wave_active, scheme.wave_background) >= 3  # a graphic
    assert style.contrast(text, scheme.find_background) >= 4.5  # a match stays legible


def test_contrast_is_the_wcag_ratio() -> None:
    assert style.contrast("#000000", "#ffffff") == pytest.approx(21)
    assert style.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert style.contrast("#123456", "#123456") == pytest.approx(1)


@pytest.mark.parametrize("asked", ["dark", "light"])
def test_the_app_starts_in_the_scheme_asked_for(tmp_path: Path, asked: str) -> None:
    """A fresh process (the scheme is chosen once, at import) with an imported run shown:
    the app's palette, the widgets' and the plot's colours and, where screenshots are
    asked for, what the window looks like at 1024x640 and 1920x1080."""
    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "outside")
    shots = os.environ.get("RAVELAB_SCREENSHOTS", "")
    script = f"""
import time
from ravelab.cli.main import main
db = {str(tmp_path / "r.db")!r}
assert main(["--db", db, "import-run", {str(tmp_path / "outside")!r}]) == 0
from ravelab.gui import app
session = app.start(["--db", db, "--runs-dir", {str(tmp_path)!r}])
import matplotlib
from PySide6.QtGui import QPalette
from ravelab.gui import style
page = session.window.training_page
plot = page.metrics_plot
drawn = []
plot.data_loaded.connect(lambda _id: drawn.append(plot.canvas.frames))


def settle(until, seconds=60):
    # Sleeps let the canvas's worker thread render (it needs the interpreter too).
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        session.app.processEvents()
        time.sleep(0.01)


def fitted(plot):
    width, height = plot.figure.get_size_inches() * plot.figure.dpi
    size = plot.canvas.size()
    return round(width) == size.width() and round(height) == size.height()


settle(lambda: page.select_experiment(1))
settle(lambda: drawn and plot.canvas.frames > drawn[-1])
window = session.app.palette().color(QPalette.ColorRole.Window)
print(style.SCHEME.dark, window.lightness() < 128, matplotlib.rcParams["axes.facecolor"])
if {shots!r}:
    for width, height in ((1024, 640), (1920, 1080)):
        session.window.resize(width, height)
        # A frame drawn at the new size: the figure takes the canvas's size in the
        # canvas's worker, then the next frame is drawn at it.
        settle(lambda: fitted(plot))
        frames = plot.canvas.frames
        settle(lambda: plot.canvas.frames > frames, seconds=10)
        session.window.grab().save(f"{shots}/main_window_{asked}_{{width}}.png")
session.close()
"""
    env = dict(os.environ, RAVELAB_COLOR_SCHEME=asked, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    background = style.DARK.plot_background if asked == "dark" else "white"
    dark = str(asked == "dark")
    assert done.stdout.strip().splitlines()[-1] == f"{dark} {dark} {background}"


@pytest.mark.parametrize("scheme", [style.LIGHT, style.DARK], ids=["light", "dark"])
def test_plot_text_is_legible_on_the_plot(scheme: style.Scheme) -> None:
    for colour in (scheme.plot_text, scheme.plot_secondary):
        assert style.contrast(colour, scheme.plot_background) >= 4.5
    assert style.plot_params(scheme)["axes.facecolor"] == scheme.plot_background
