"""The app's notifications: the settings dialog (add, test, remove a channel, events
ticked) reached from the main window's menu, and new events shown by the tray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ravelab.core.operations import notifications
from ravelab.core.operations.events import EventKind, record_event
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.main_window import MainWindow
from ravelab.gui.notifications_dialog import NotificationsDialog
from tests.core.operations.notify_servers import webhook_server
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot, manager: TrainingManager, settings: QSettings) -> Iterator[MainWindow]:
    shown = MainWindow(manager, settings, confirm_close=False)
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.cleanup()


def test_add_test_and_remove_a_channel_in_the_dialog(
    qtbot: QtBot, window: MainWindow, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[NotificationsDialog] = []
    monkeypatch.setattr(NotificationsDialog, "exec", lambda self: opened.append(self) or 0)
    assert window.notifications_action.text() == "&Notifications..."
    window.notifications_action.trigger()
    (dialog,) = opened
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 0 and not dialog.remove_button.isEnabled()

    dialog.url_edit.setText("foo://nothing")
    assert not dialog.add_channel()
    assert "unknown notification URL" in dialog.status.text()
    with webhook_server() as server:
        dialog.url_edit.setText(server.url.replace("json://", "json://me:s3cret@"))
        for kind, box in dialog.event_boxes.items():
            box.setChecked(kind in ("completed", "failed", "stalled"))
        assert dialog.add_channel()
        assert dialog.table.rowCount() == 1 and dialog.url_edit.text() == ""
        url_cell = dialog.table.item(0, 1).text()
        assert "s3cret" not in url_cell and url_cell.startswith("json://me:")
        (channel,) = notifications.list_channels(db)
        assert channel.events == ("completed", "failed", "stalled")
        dialog.resize(900, 560)
        dialog.show()
        qtbot.waitExposed(dialog)
        save_screenshot(dialog, "notifications_dialog.png")

        assert dialog.test_button.isEnabled()
        dialog.test_selected()
        qtbot.waitUntil(lambda: "sent to channel" in dialog.status.text(), timeout=60_000)
        assert server.titles() == ["ravelab: test message"]

    monkeypatch.setattr(dialog, "confirm_remove", lambda channel: True)
    assert dialog.remove_selected()
    assert dialog.table.rowCount() == 0 and notifications.list_channels(db) == []
    dialog.close()


def test_every_event_ticked_is_stored_as_all(qtbot: QtBot, db: Database) -> None:
    dialog = NotificationsDialog(db)
    qtbot.addWidget(dialog)
    assert dialog.chosen_events() == []
    for box in dialog.event_boxes.values():
        box.setChecked(False)
    dialog.url_edit.setText("json://127.0.0.1:9/hook")
    assert not dialog.add_channel() and "Tick at least one" in dialog.status.text()
    dialog.close()


def test_the_tray_shows_only_events_newer_than_the_app(
    qtbot: QtBot, db: Database, manager: TrainingManager, settings: QSettings
) -> None:
    record_event(db, EventKind.COMPLETED, "run:1:attempt:1", "Run 'before' completed")
    window = MainWindow(manager, settings, confirm_close=False)
    qtbot.addWidget(window)
    try:
        record_event(db, EventKind.FAILED, "run:2:attempt:1", "Run 'after' failed", "Killed")
        qtbot.waitUntil(lambda: bool(window.tray.shown), timeout=30_000)
        assert [event.title for event in window.tray.shown] == ["Run 'after' failed"]
        qtbot.waitUntil(
            lambda: "Run 'after' failed: Killed" in window.statusBar().currentMessage(),
            timeout=10_000,
        )
    finally:
        window.cleanup()
