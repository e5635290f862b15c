"""The app over a damaged database: the file opens, re-attaching runs reads a damaged
page, and the user gets the one-line message in a dialog, not a traceback."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui import app
from tests.db.damage import garble_rows_of

pytestmark = pytest.mark.gui


@pytest.fixture
def restored_interpreter() -> Iterator[None]:
    """``start`` tunes the interpreter for the app; put it back for the other tests."""
    switch_interval = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    yield
    sys.setswitchinterval(switch_interval)
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_a_damaged_page_found_while_re_attaching_is_said_in_a_dialog(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restored_interpreter: None
) -> None:
    path = tmp_path / "app.db"
    with Database(path) as db:
        for i in range(3):
            rows.insert_experiment(db, name=f"run{i}", project_id=1, dataset_id=None, config={})
    garble_rows_of(path, "experiments")
    errors: list[str] = []
    monkeypatch.setattr(app.QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text))

    assert app.main(["--db", str(path)]) == 1

    (message,) = errors
    assert "is damaged" in message and "`ravelab db check`" in message and "\n" not in message
