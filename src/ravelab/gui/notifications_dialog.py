"""The Notifications dialog: the channels ravelab tells about run events, in the app.

The same calls as ``ravelab notify add | list | remove | test``: a channel is an apprise
URL (checked when added; shown only masked) with the events it wants. A test message is
sent in a worker (it may wait up to 30 s on a slow service), never on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.errors import RavelabError
from ravelab.core.operations import notifications
from ravelab.db import Database, DatabaseError
from ravelab.gui.style import ERROR_STYLE, HINT_STYLE
from ravelab.gui.tables import read_only_table
from ravelab.gui.workers import TaskRunner

#: What each event kind means, as the checkboxes say it.
EVENT_LABELS = {
    "completed": "Run completed",
    "failed": "Run failed (with its reason)",
    "nonfinite": "A loss became NaN or infinite",
    "stalled": "Run stalled (no step for a while)",
    "phase2": "Phase 2 (adversarial) started",
    "best_validation": "New best validation (at most every 30 min)",
    "queue_started": "The queue started the next run",
    "export_finished": "Export finished",
    "disk_low": "Disk space low",
}

_COLUMNS = ("ID", "URL", "Events", "Sent", "Pending", "Failed", "Last error")


class NotificationsDialog(QDialog):
    """Lists, adds, removes and tests notification channels."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.setWindowTitle("Notifications")
        self.setMinimumWidth(760)
        self._runner = TaskRunner(self)
        self.channels: list[notifications.Channel] = []

        explain = QLabel(
            "ravelab tells these channels about your runs, even with the app closed. A "
            "channel is any URL apprise understands: ntfy://topic, discord://id/token, "
            "slack://..., tgram://bot/chat, mailto://user:pass@example.com, "
            "json://host/path (a webhook), dbus:// (this desktop)."
        )
        explain.setWordWrap(True)
        explain.setStyleSheet(HINT_STYLE)

        self.table = read_only_table(_COLUMNS, stretch=1, min_height=120)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.remove_button = QPushButton("Remove")
        self.test_button = QPushButton("Send test message")
        self.remove_button.clicked.connect(self.remove_selected)
        self.test_button.clicked.connect(self.test_selected)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(self.test_button)
        row_buttons.addWidget(self.remove_button)
        row_buttons.addStretch(1)

        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("ntfy://my-topic")
        self.url_edit.setAccessibleName("Channel URL")
        self.url_edit.returnPressed.connect(self.add_channel)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_channel)
        url_row = QHBoxLayout()
        url_row.addWidget(QLabel("URL:"))
        url_row.addWidget(self.url_edit, 1)
        url_row.addWidget(self.add_button)
        self.event_boxes: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        for index, kind in enumerate(notifications.event_kinds()):
            box = QCheckBox(EVENT_LABELS.get(kind, kind))
            box.setChecked(True)
            self.event_boxes[kind] = box
            grid.addWidget(box, index // 3, index % 3)
        add_group = QGroupBox("Add a channel")
        add_layout = QVBoxLayout(add_group)
        add_layout.addLayout(url_row)
        add_layout.addWidget(QLabel("Tell it about:"))
        add_layout.addLayout(grid)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addWidget(self.table, 1)
        layout.addLayout(row_buttons)
        layout.addWidget(add_group)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.reload()

    # -- reading ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the channels again (with their counts and last errors)."""
        try:
            self.channels = notifications.list_channels(self.db)
        except DatabaseError as error:
            self._say(str(error), error=True)
            return
        self.table.setRowCount(len(self.channels))
        for row, channel in enumerate(self.channels):
            values = (
                str(channel.id),
                channel.url,
                ", ".join(channel.events) or "all",
                str(channel.sent),
                str(channel.pending),
                str(channel.failed),
                channel.last_error or "",
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        self._update_buttons()

    def selected_channel(self) -> notifications.Channel | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.channels):
            return None
        return self.channels[rows[0].row()]

    def select_channel(self, channel_id: int) -> bool:
        for row, channel in enumerate(self.channels):
            if channel.id == channel_id:
                self.table.selectRow(row)
                return True
        return False

    def chosen_events(self) -> list[str]:
        """The ticked kinds; every kind ticked is stored as "all" (so kinds added later
        are wanted too)."""
        chosen = [kind for kind, box in self.event_boxes.items() if box.isChecked()]
        return [] if len(chosen) == len(self.event_boxes) else chosen

    # -- actions ---------------------------------------------------------------------------

    def add_channel(self) -> bool:
        """Add the typed URL with the ticked events; whether it was added."""
        if not any(box.isChecked() for box in self.event_boxes.values()):
            self._say("Tick at least one event to tell this channel about.", error=True)
            return False
        try:
            channel = notifications.add_channel(self.db, self.url_edit.text(), self.chosen_events())
        except (RavelabError, DatabaseError) as error:
            self._say(str(error), error=True)
            return False
        self.url_edit.clear()
        self.reload()
        self.select_channel(channel.id)
        self._say(f"Channel {channel.id} added: {channel.url}")
        return True

    def confirm_remove(self, channel: notifications.Channel) -> bool:
        answer = QMessageBox.question(
            self,
            "Remove channel?",
            f"Remove channel {channel.id} ({channel.url})? Its pending messages are dropped.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> bool:
        channel = self.selected_channel()
        if channel is None or not self.confirm_remove(channel):
            return False
        try:
            notifications.remove_channel(self.db, channel.id)
        except (RavelabError, DatabaseError) as error:
            self._say(str(error), error=True)
            return False
        self.reload()
        self._say(f"Channel {channel.id} removed.")
        return True

    def test_selected(self) -> None:
        """Send a test message to the selected channel, in a worker."""
        channel = self.selected_channel()
        if channel is None or self._runner.busy:
            return
        self.test_button.setEnabled(False)
        self._say(f"Sending a test message to channel {channel.id}...")
        db, channel_id = self.db, channel.id
        self._runner.submit(
            lambda: notifications.send_test(db, channel_id),
            self._on_tested,
            lambda error: self._tested_with(str(error), None),
        )

    @property
    def testing(self) -> bool:
        return self._runner.busy

    def _on_tested(self, results: list[notifications.SendReport]) -> None:
        result = results[0]
        self._tested_with(result.error, result.channel_id)

    def _tested_with(self, error: str | None, channel_id: int | None) -> None:
        self._update_buttons()
        if error is None:
            self._say(f"Test message sent to channel {channel_id}.")
        else:
            self._say(f"Test message failed: {error}", error=True)

    def _update_buttons(self) -> None:
        selected = self.selected_channel() is not None
        self.remove_button.setEnabled(selected)
        self.test_button.setEnabled(selected and not self._runner.busy)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def done(self, result: int) -> None:
        self._runner.shutdown()
        super().done(result)


__all__ = ["EVENT_LABELS", "NotificationsDialog"]
