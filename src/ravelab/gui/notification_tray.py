"""NotificationTray: each event recorded while the app is open, shown on the desktop.

Events are recorded by the warden (or any ravelab process) in the database; the tray
asks for events newer than the last one it saw every two seconds, in a worker (a read by
id on the events table, cheap). Only events newer than the app's start are shown. Where
the desktop has a system tray (``QSystemTrayIcon.isSystemTrayAvailable()``) each one is a
tray message; ``event_shown`` says it too, for the status bar, tray or not.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QSystemTrayIcon, QWidget

from ravelab.core.operations import notifications
from ravelab.db import Database
from ravelab.gui.workers import TaskRunner

#: How often the events table is asked for new events (milliseconds).
POLL_INTERVAL_MS = 2000
#: How long a tray message stays up (milliseconds).
MESSAGE_MS = 10_000


class NotificationTray(QObject):
    """Shows new events in the system tray (see the module).

    Args:
        db: the app's database.
        window: the main window (shown again from the tray's menu).
    """

    #: "title: body" of each event shown.
    event_shown = Signal(str)
    #: The tray menu's "Notification settings..." was chosen.
    settings_requested = Signal()

    def __init__(self, db: Database, window: QWidget) -> None:
        super().__init__(window)
        self.db = db  # the window is this object's parent: no reference kept (no cycle)
        self.shown: list[notifications.RecentEvent] = []
        self._last_id = notifications.last_event_id(db)
        self._runner = TaskRunner(self)
        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = self._make_icon(window)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def _make_icon(self, window: QWidget) -> QSystemTrayIcon:
        picture = window.windowIcon()
        if picture.isNull():
            style = QApplication.style()
            picture = style.standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
        icon = QSystemTrayIcon(QIcon(picture), self)
        icon.setToolTip("ravelab")
        menu = QMenu(window)
        menu.addAction("Show ravelab", self._show_window)
        menu.addAction("Notification settings...", self.settings_requested.emit)
        icon.setContextMenu(menu)
        icon.activated.connect(lambda *_: self._show_window())
        icon.show()
        return icon

    def _show_window(self) -> None:
        window = self.parent()
        if isinstance(window, QWidget):
            window.showNormal()
            window.raise_()
            window.activateWindow()

    def poll(self) -> None:
        """Ask for events newer than the last one seen (in a worker)."""
        if self._runner.busy:
            return
        db, after = self.db, self._last_id
        self._runner.submit(
            lambda: notifications.recent_events(db, after), self._show, lambda _: None
        )

    def _show(self, events: list[notifications.RecentEvent]) -> None:
        for event in events:
            if event.id <= self._last_id:
                continue
            self._last_id = event.id
            self.shown.append(event)
            if self.icon is not None:
                self.icon.showMessage(
                    event.title,
                    event.body or event.title,
                    QSystemTrayIcon.MessageIcon.Information,
                    MESSAGE_MS,
                )
            self.event_shown.emit(f"{event.title}: {event.body}" if event.body else event.title)

    def cleanup(self) -> None:
        """Stop polling and take the icon off the tray."""
        self._timer.stop()
        self._runner.shutdown()
        if self.icon is not None:
            self.icon.hide()


__all__ = ["NotificationTray"]
