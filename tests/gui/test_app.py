"""``python -m ravelab.gui``: the entry point opens the window over the database given.

(``main`` itself runs ``QApplication.exec``, which a test must not: once an application's
loop has been told to quit, every later event loop of the process returns at once.)
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ravelab.gui import app

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


def test_start_opens_the_window_over_the_database_given(
    qtbot: QtBot,
    tmp_path: Path,
    rave_double: Path,
    monkeypatch: pytest.MonkeyPatch,
    restored_interpreter: None,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # QSettings stay here
    session = app.start(
        [
            "--db",
            str(tmp_path / "app.db"),
            "--rave",
            str(rave_double),
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    assert isinstance(session, app.AppSession)
    try:
        qtbot.addWidget(session.window)
        assert session.window.isVisible() and session.window.windowTitle() == "ravelab"
        assert str(tmp_path / "app.db") in session.window.db_label.text()
        assert session.manager.runs_dir == tmp_path / "runs"
        assert session.manager.follow_out_of_process  # runs are parsed outside the app
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        session.close()
    assert (tmp_path / "app.db").exists()


def test_an_unusable_database_is_said_not_shown_as_a_traceback(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restored_interpreter: None
) -> None:
    errors: list[str] = []
    monkeypatch.setattr(app.QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text))
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("this is not sqlite " * 100)
    assert app.main(["--db", str(not_a_db)]) == 1
    assert "not a ravelab database" in errors[0] or "not a database" in errors[0]
