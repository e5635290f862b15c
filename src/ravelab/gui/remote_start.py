"""Starting a run whose launch talks to another machine, without freezing the app.

An SSH run's launch sends the dataset first (minutes on a first copy over a slow link),
then starts the run there. ``run_while_waiting`` does such work in a background thread
while a small modal dialog says what is happening and the window keeps painting; it
returns the work's result (or raises its error) like a plain call, so callers stay simple.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from ravelab.gui.workers import TaskRunner

T = TypeVar("T")


class _Say(QObject):
    """Carries a line from the working thread to the dialog (queued to the GUI thread)."""

    line = Signal(str)


def run_while_waiting(parent: QWidget, text: str, work: Callable[[Callable[[str], None]], T]) -> T:
    """Run ``work(say)`` off the GUI thread behind a busy dialog; its result or its error.
    ``say(line)`` (callable from the working thread) shows ``line`` under ``text``."""
    dialog = QProgressDialog(text, "", 0, 0, parent)
    dialog.setWindowTitle("Starting the run")
    dialog.setCancelButton(None)  # a launch half done is not safe to abandon from here
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    runner = TaskRunner(parent)
    loop = QEventLoop()
    outcome: dict[str, object] = {}

    def done(result: T) -> None:
        outcome["result"] = result
        loop.quit()

    def failed(error: BaseException) -> None:
        outcome["error"] = error
        loop.quit()

    relay = _Say()
    relay.line.connect(
        lambda line: dialog.setLabelText(f"{text}\n{line}"), Qt.ConnectionType.QueuedConnection
    )
    dialog.show()
    runner.submit(lambda: work(relay.line.emit), done, failed)
    try:
        if not outcome:
            loop.exec()
    finally:
        dialog.close()
        dialog.deleteLater()
        runner.shutdown()
        runner.deleteLater()
        relay.deleteLater()
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    return outcome["result"]  # type: ignore[return-value]
