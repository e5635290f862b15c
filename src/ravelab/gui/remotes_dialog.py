"""The Remotes dialog: the SSH machines runs can train on, in the app.

The same calls as ``ravelab remote add | list | remove | check``: a remote is a name for
``[user@]host`` (port, identity file, runs folder, ``rave`` there), checked by the core when
added; removing one is refused while runs sent there have not ended. Check logs in over
ssh and asks the remote's ravelab what it has: it runs in a worker (a slow network may take
a while), never on the GUI thread. Installing ravelab there stays in the terminal
(``ravelab remote setup NAME``): it streams a long install the dialog does not follow.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.errors import RavelabError
from ravelab.core.ssh.remote_check import CheckLine, RemoteCheck, check_remote
from ravelab.core.ssh.remotes import (
    DEFAULT_RUNS_DIR,
    Remote,
    add_remote,
    list_remotes,
    remove_remote,
)
from ravelab.db import Database, DatabaseError, RunStatus
from ravelab.gui.style import (
    ERROR_COLOUR,
    ERROR_STYLE,
    HINT_STYLE,
    STATUS_COLOURS,
    TITLE_STYLE,
    WARNING_COLOUR,
)
from ravelab.gui.tables import read_only_table
from ravelab.gui.workers import TaskRunner

_COLUMNS = ("Name", "Destination", "Runs folder")
_CHECK_COLUMNS = ("", "Checked", "Detail")
#: A check line's word, by its ``ok`` value (True, a warning None, missing False).
CHECK_WORDS = {True: "ok", None: "warning", False: "MISSING"}


def check_colour(ok: bool | None) -> str:
    """The colour of a check line's word."""
    if ok is None:
        return WARNING_COLOUR
    return STATUS_COLOURS[RunStatus.COMPLETED] if ok else ERROR_COLOUR


class RemotesDialog(QDialog):
    """Lists, adds, removes and checks SSH remotes.

    Signals:
        check_finished(str): a check of that remote ended (its lines are shown).
    """

    check_finished = Signal(str)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.setWindowTitle("Remotes")
        self.setMinimumWidth(780)
        self._runner = TaskRunner(self)
        self.remotes: list[Remote] = []
        #: The last check shown (None before one ends).
        self.last_check: RemoteCheck | None = None

        explain = QLabel(
            "Runs can train on another machine over SSH: choose it in the new-training "
            "wizard's \u201cRun on\u201d. ravelab uses this computer's ssh and rsync, with your "
            "keys or agent (no password prompt); the dataset is copied there once, and "
            "metrics, logs and clips come back as they are written."
        )
        explain.setWordWrap(True)
        explain.setStyleSheet(HINT_STYLE)

        self.table = read_only_table(_COLUMNS)
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.setup_hint = QLabel()
        self.setup_hint.setWordWrap(True)
        self.setup_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setup_hint.setStyleSheet(HINT_STYLE)

        self.check_button = QPushButton("Check")
        self.check_button.setToolTip(
            "Log in over ssh and see what a run there needs: rsync, Python, ravelab, rave, "
            "GPUs, free space"
        )
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget this remote (nothing on it is touched)")
        self.check_button.clicked.connect(self.check_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(self.check_button)
        row_buttons.addWidget(self.remove_button)
        row_buttons.addStretch(1)

        self.check_table = read_only_table(
            _CHECK_COLUMNS, selectable=False, stretch=2, min_height=120
        )
        self.check_table.setWordWrap(True)
        self.check_table.hide()
        self.check_title = QLabel()
        self.check_title.setStyleSheet(TITLE_STYLE)
        self.check_title.hide()

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. lab-gpu")
        self.name_edit.setToolTip("How ravelab names the remote: letters, digits, '.', '_', '-'")
        self.destination_edit = QLineEdit()
        self.destination_edit.setPlaceholderText("user@host, host, or an ssh config alias")
        self.port_box = QSpinBox()
        self.port_box.setRange(0, 65535)
        self.port_box.setSpecialValueText("ssh's default (22 or your ssh config)")
        self.port_box.setMinimumWidth(260)
        self.port_box.setMaximumWidth(320)
        self.identity_edit = QLineEdit()
        self.identity_edit.setPlaceholderText("optional: a private key file on this computer")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._choose_identity)
        identity_row = QHBoxLayout()
        identity_row.setContentsMargins(0, 0, 0, 0)
        identity_row.addWidget(self.identity_edit, 1)
        identity_row.addWidget(browse)
        self.runs_dir_edit = QLineEdit()
        self.runs_dir_edit.setPlaceholderText(f"{DEFAULT_RUNS_DIR} (in the remote home)")
        self.rave_edit = QLineEdit()
        self.rave_edit.setPlaceholderText(
            "optional: the rave there (else the one `ravelab remote setup` installs)"
        )
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_from_form)
        for edit in (self.name_edit, self.destination_edit):
            edit.returnPressed.connect(self.add_from_form)
        add_group = QGroupBox("Add a remote")
        form = QFormLayout(add_group)
        form.addRow("Name:", self.name_edit)
        form.addRow("[user@]host:", self.destination_edit)
        form.addRow("Port:", self.port_box)
        form.addRow("Identity file:", identity_row)
        form.addRow("Runs folder:", self.runs_dir_edit)
        form.addRow("rave path:", self.rave_edit)
        add_row = QHBoxLayout()
        add_row.addStretch(1)
        add_row.addWidget(self.add_button)
        form.addRow(add_row)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.setup_hint)
        layout.addLayout(row_buttons)
        layout.addWidget(self.check_title)
        # A check's lines (long details, wrapped) need the room more than the few remotes.
        layout.addWidget(self.check_table, 3)
        layout.addWidget(add_group)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.reload()

    # -- reading ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the remotes again."""
        try:
            self.remotes = list_remotes(self.db)
        except (RavelabError, DatabaseError) as error:
            self._say(str(error), error=True)
            return
        self.table.setRowCount(len(self.remotes))
        for row, remote in enumerate(self.remotes):
            port = f", port {remote.port}" if remote.port else ""
            values = (remote.name, f"{remote.destination}{port}", remote.runs_dir)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        self._on_selection()

    def selected_remote(self) -> Remote | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.remotes):
            return None
        return self.remotes[rows[0].row()]

    def select_remote(self, name: str) -> bool:
        for row, remote in enumerate(self.remotes):
            if remote.name == name:
                self.table.selectRow(row)
                return True
        return False

    # -- actions ---------------------------------------------------------------------------

    def add_from_form(self) -> Remote | None:
        """Add the remote the form describes (the core checks every field); the new
        remote, or None with the reason shown."""
        port = self.port_box.value() or None
        try:
            remote = add_remote(
                self.db,
                self.name_edit.text().strip(),
                self.destination_edit.text().strip(),
                port=port,
                identity=self.identity_edit.text().strip() or None,
                runs_dir=self.runs_dir_edit.text().strip() or None,
                rave=self.rave_edit.text().strip() or None,
            )
        except (RavelabError, DatabaseError) as error:
            self._say(str(error), error=True)
            return None
        for edit in (
            self.name_edit,
            self.destination_edit,
            self.identity_edit,
            self.runs_dir_edit,
            self.rave_edit,
        ):
            edit.clear()
        self.port_box.setValue(0)
        self.reload()
        self.select_remote(remote.name)
        self._say(
            f"Remote {remote.name} added ({remote.destination}). Check it, then install "
            f"ravelab there with `ravelab remote setup {remote.name}` if it is missing."
        )
        return remote

    def confirm_remove(self, remote: Remote) -> bool:
        answer = QMessageBox.question(
            self,
            "Remove remote?",
            f"Forget the remote {remote.name} ({remote.destination})? Nothing on that "
            "machine is touched.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> bool:
        """Forget the selected remote (after asking); refused, with the core's reason,
        while runs there have not ended."""
        remote = self.selected_remote()
        if remote is None or not self.confirm_remove(remote):
            return False
        try:
            remove_remote(self.db, remote.name)
        except (RavelabError, DatabaseError) as error:
            self._say(str(error), error=True)
            return False
        self.reload()
        self._say(f"Remote {remote.name} removed.")
        return True

    def check_selected(self) -> None:
        """Check the selected remote in a worker; ``check_finished`` tells when it ends."""
        remote = self.selected_remote()
        if remote is None or self._runner.busy:
            return
        self.check_button.setEnabled(False)
        self._say(f"Checking {remote.name} ({remote.destination})...")
        self._runner.submit(
            lambda: check_remote(remote),
            self._on_checked,
            lambda error: self._check_failed(remote, error),
        )

    @property
    def checking(self) -> bool:
        return self._runner.busy

    def _on_checked(self, report: RemoteCheck) -> None:
        self.last_check = report
        self._show_lines(report.remote, report.lines)
        name = report.remote.name
        if report.ready:
            self._say(f"{name} is ready: runs can train there.")
        else:
            self._say(f"{name} is not ready: see what is MISSING above.", error=True)
        self._on_selection()
        self.check_finished.emit(name)

    def _check_failed(self, remote: Remote, error: BaseException) -> None:
        # check_remote answers for what the remote says; this is ravelab's own failure.
        self._show_lines(remote, [CheckLine("check", False, str(error))])
        self._say(f"The check of {remote.name} failed: {error}", error=True)
        self._on_selection()
        self.check_finished.emit(remote.name)

    def _show_lines(self, remote: Remote, lines: list[CheckLine]) -> None:
        self.check_title.setText(f"Check of {remote.name} ({remote.destination}):")
        self.check_title.show()
        self.check_table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            word = QTableWidgetItem(CHECK_WORDS[line.ok])
            word.setForeground(QColor(check_colour(line.ok)))
            font = word.font()
            font.setBold(True)
            word.setFont(font)
            detail = QTableWidgetItem(line.detail)
            detail.setToolTip(line.detail)
            for column, item in enumerate((word, QTableWidgetItem(line.what), detail)):
                self.check_table.setItem(row, column, item)
        self.check_table.show()
        self.check_table.resizeRowsToContents()

    def check_text(self) -> list[str]:
        """The check table's rows as shown: ``word  what: detail``."""
        table = self.check_table

        def cell(row: int, column: int) -> str:
            item = table.item(row, column)
            return item.text() if item is not None else ""

        return [
            f"{cell(row, 0)}  {cell(row, 1)}: {cell(row, 2)}" for row in range(table.rowCount())
        ]

    def _choose_identity(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Identity file (private key)")
        if path:
            self.identity_edit.setText(path)

    def _on_selection(self) -> None:
        remote = self.selected_remote()
        self.remove_button.setEnabled(remote is not None)
        self.check_button.setEnabled(remote is not None and not self._runner.busy)
        name = remote.name if remote is not None else "NAME"
        self.setup_hint.setText(
            f"Install ravelab there with `ravelab remote setup {name}` (in a terminal: it "
            "installs ravelab and RAVE in the remote home), then Check."
        )

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def done(self, result: int) -> None:
        # A check may wait on a slow network: its result is dropped, the dialog closes now.
        self._runner.shutdown(wait_ms=0)
        super().done(result)


__all__ = ["CHECK_WORDS", "RemotesDialog", "check_colour"]
