"""Fixtures for the desktop app's tests: a manager over the `rave` double, a registered
dataset, isolated QSettings, and widgets that are cleaned up before the database closes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings

from ravelab.core.runs.training_manager import TrainingManager
from tests.helpers import run_config


@pytest.fixture(autouse=True)
def quick_rave(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `rave` double replays a run in about a second (tests may slow it down)."""
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")


@pytest.fixture
def manager(make_manager: Callable[..., TrainingManager]) -> TrainingManager:
    """A manager as the app makes it: runs are followed in child processes."""
    return make_manager(follow_out_of_process=True)


@pytest.fixture
def page(qtbot: Any, manager: TrainingManager) -> Iterator[Any]:
    """The Training page over ``manager``, shown at 1400 x 900 (a test may resize it);
    cleaned up after the test."""
    from ravelab.gui.app_signals import AppSignals
    from ravelab.gui.training_page import TrainingPage

    shown = TrainingPage(manager, AppSignals())
    qtbot.addWidget(shown)
    shown.resize(1400, 900)
    shown.show()
    yield shown
    shown.cleanup()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ravelab-gui.ini"), QSettings.Format.IniFormat)


def training_config(dataset_id: int, name: str = "run", **extra: Any) -> dict[str, Any]:
    """A small config the double runs in about a second: ``tests.helpers.run_config`` with
    RAVE's own phase length and default workers, as a user's wizard run has them."""
    config = run_config(dataset_id, name)
    del config["workers"], config["overrides"]
    config.update(extra)
    return config


def save_screenshot(widget: Any, name: str) -> None:
    """Render ``widget`` (it must paint); keep the picture under ``$RAVELAB_SCREENSHOTS``
    when set (``RAVELAB_SCREENSHOTS=docs/screenshots`` refreshes the README's pictures)."""
    import os

    picture = widget.grab()
    assert not picture.isNull()
    folder = os.environ.get("RAVELAB_SCREENSHOTS")
    if folder:
        picture.save(str(Path(folder) / name))
