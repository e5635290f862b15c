"""``LogViewer``: the selected run's log, live, bounded, with tqdm's bar collapsed.

The GUI thread never reads the files: a ``LogReader`` does, in the viewer's worker
thread, when the run prints (``notify_output``) or when another run is shown
(``show_run``), and the viewer applies the ready ``LogChunk``: a tqdm redraw replaces
the last line, other lines are appended, stderr lines in red. ``setMaximumBlockCount``
bounds memory. The view follows the end of the log until the user scrolls up, and
follows again once they scroll back to the bottom.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFontDatabase,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.runs.log_tail import LOG_FILES
from ravelab.db import ExperimentRecord
from ravelab.gui.experiments_model import is_live
from ravelab.gui.log_reader import LogChunk, LogReader
from ravelab.gui.style import HINT_STYLE, TITLE_STYLE
from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)

#: Lines kept in the viewer (older ones scroll out; "Open full log" shows all).
DEFAULT_MAX_LINES = 5000
STDERR_COLOUR = "#c62828"
NOTE_COLOUR = "#757575"
#: Lines inserted per turn of the event loop (a few milliseconds' work).
SLICE_LINES = 50
#: Reads of a live log per second at most.
READS_PER_S = 4
#: Newest lines shown per read of a live log (the rest are counted in a note): 200 lines a
#: second is more than anyone reads, and every line inserted is layout work for the GUI
#: thread (with a run printing 10,000 lines a second, 200 per read instead of 50 raised
#: the 99th percentile of the event loop's stalls from about 20 to 25-30 ms).
LIVE_CHUNK_LINES = 50


class LogViewer(QWidget):
    """Shows one run's log.

    Args:
        parent: the parent widget.
        max_lines: lines kept (``QPlainTextEdit.setMaximumBlockCount``).

    Signals:
        chunk_applied(int): what was read was shown (how many lines; 0 when none).
    """

    chunk_applied = Signal(int)

    def __init__(self, parent: QWidget | None = None, max_lines: int = DEFAULT_MAX_LINES) -> None:
        super().__init__(parent)
        self.max_lines = max_lines
        self._runner = TaskRunner(self)
        self._reader: LogReader | None = None
        self._run_dir: Path | None = None
        self._generation = 0
        self._in_flight = False
        self._pending = False
        self._pending_final = False
        self._empty = True
        self._following = True
        self._next_read_at = 0.0
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.timeout.connect(lambda: self._request(final=False))

        self.title = QLabel("Log")
        self.title.setStyleSheet(TITLE_STYLE)
        self.paused_label = QLabel()
        self.paused_label.setStyleSheet(HINT_STYLE)
        self.end_button = QToolButton()
        self.end_button.setText("Follow")
        self.end_button.setToolTip("Scroll to the end and follow new lines")
        self.end_button.clicked.connect(self.scroll_to_end)
        self.end_button.hide()
        self.open_button = QToolButton()
        self.open_button.setText("Open full log")
        self.open_button.setToolTip(
            f"Open the run's whole stdout.log (the viewer keeps the last {max_lines:,} lines)"
        )
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.open_button)
        for stream, filename in LOG_FILES.items():
            action = menu.addAction(f"Open {filename}")
            action.triggered.connect(lambda _=False, s=stream: self.open_log(s))
        self.open_button.setMenu(menu)
        self.open_button.clicked.connect(lambda: self.open_log("stdout"))
        self.open_button.setEnabled(False)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addWidget(self.paused_label)
        header.addStretch(1)
        header.addWidget(self.end_button)
        header.addWidget(self.open_button)

        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setUndoRedoEnabled(False)  # an undo stack would grow without bound
        self.text.setMaximumBlockCount(max_lines)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Select a run to see its log.")
        self.text.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.text.verticalScrollBar().rangeChanged.connect(self._on_range_changed)

        self._formats = {"stdout": QTextCharFormat(), "stderr": QTextCharFormat()}
        self._formats["stderr"].setForeground(QColor(STDERR_COLOUR))
        self._formats["note"] = QTextCharFormat()
        self._formats["note"].setForeground(QColor(NOTE_COLOUR))
        self._formats["note"].setFontItalic(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.text, 1)

    # -- what is shown -------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path | None:
        """The folder of the run shown, or None."""
        return self._run_dir

    def show_run(self, experiment: ExperimentRecord | None) -> None:
        """Show a run's log (loaded in the background), or nothing for None."""
        run_dir = experiment.run_dir if experiment else None
        self._generation += 1
        self._pending = self._pending_final = False
        self._read_timer.stop()
        self._next_read_at = 0.0
        self.text.clear()
        self._empty = True
        self._following = True
        self._update_follow_controls()
        self._run_dir = Path(run_dir) if run_dir else None
        self.open_button.setEnabled(self._run_dir is not None)
        if experiment is None:
            self._reader = None
            self.title.setText("Log")
            self.text.setPlaceholderText("Select a run to see its log.")
            return
        self.title.setText(f"Log of {experiment.name}")
        if self._run_dir is None:
            self._reader = None
            self.text.setPlaceholderText("This run has no run folder, so no log.")
            return
        self.text.setPlaceholderText("Loading the log...")
        self._reader = LogReader(self._run_dir, self.max_lines, LIVE_CHUNK_LINES)
        self._request(final=not is_live(experiment))

    def notify_output(self) -> None:
        """The shown run wrote new lines: read them (coalesced with a read in flight)."""
        self._request(final=False)

    def notify_finished(self) -> None:
        """The shown run ended: read what is left, unterminated last lines included."""
        self._request(final=True)

    def line_texts(self) -> list[str]:
        """The lines shown (tests, copy)."""
        text = self.text.toPlainText()
        return text.split("\n") if text else []

    # -- reading in the background -------------------------------------------------------------

    def _request(self, final: bool) -> None:
        reader = self._reader
        if reader is None:
            return
        if self._in_flight:
            self._pending = True
            self._pending_final = self._pending_final or final
            return
        wait_ms = int((self._next_read_at - time.monotonic()) * 1000)
        if wait_ms > 0 and not final:
            # At most READS_PER_S reads: a log flowing fast still looks live.
            if not self._read_timer.isActive():
                self._read_timer.start(wait_ms)
            return
        self._read_timer.stop()
        self._next_read_at = time.monotonic() + 1 / READS_PER_S
        self._in_flight = True
        generation = self._generation
        self._runner.submit(
            lambda: reader.read(final),
            lambda chunk: self._on_chunk(generation, chunk),
            lambda error: self._on_error(generation, error),
        )

    def _on_chunk(self, generation: int, chunk: LogChunk) -> None:
        if generation != self._generation:
            self._in_flight = False
            self._next()
            return
        lines = list(chunk.lines)
        if chunk.reset and not self._empty:
            self.text.clear()
            self._empty = True
        if chunk.replace_last and lines and not self._empty:
            self._replace_last(*lines.pop(0))
        if chunk.skipped or chunk.skipped_bytes:
            amount = f"{chunk.skipped:,} lines" if chunk.skipped else ""
            if chunk.skipped_bytes:
                size = f"{chunk.skipped_bytes / 1024:,.0f} KB of output"
                amount = f"{amount} and {size}" if amount else size
            note = (
                f"[... {amount} not shown: the run prints faster than a viewer can show; "
                "“Open full log” has them all]"
            )
            lines.insert(0, ("note", note))
        self._drain(generation, chunk, lines, 0)

    def _drain(
        self, generation: int, chunk: LogChunk, lines: list[tuple[str, str]], start: int
    ) -> None:
        """Insert lines a slice at a time, letting the event loop run in between."""
        if generation != self._generation:
            self._in_flight = False
            self._next()
            return
        end = min(start + SLICE_LINES, len(lines))
        self._append(lines[start:end])
        if end < len(lines):
            # Bound to this widget: a slice still queued when it is deleted never runs.
            QTimer.singleShot(0, self, lambda: self._drain(generation, chunk, lines, end))
            return
        self._in_flight = False
        if chunk.more:
            self._pending = True
        if self._empty:
            self.text.setPlaceholderText(
                "No output yet." if not chunk.ended else "This run wrote no output."
            )
        self.chunk_applied.emit(len(chunk.lines))
        self._next()

    def _on_error(self, generation: int, error: BaseException) -> None:
        self._in_flight = False
        if generation == self._generation:
            self.text.setPlaceholderText(f"The log cannot be read: {error}")
        self._next()

    def _next(self) -> None:
        if self._pending:
            final = self._pending_final
            self._pending = self._pending_final = False
            self._request(final)

    # -- applying ------------------------------------------------------------------------------

    def _replace_last(self, stream: str, text: str) -> None:
        """A tqdm redraw: the last line becomes ``text``."""
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(text, self._formats.get(stream, self._formats["stdout"]))

    def _append(self, lines: list[tuple[str, str]]) -> None:
        if not lines:
            return
        cursor = QTextCursor(self.text.document())
        cursor.beginEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        start = 0
        while start < len(lines):
            stream = lines[start][0]
            end = start
            while end < len(lines) and lines[end][0] == stream:
                end += 1
            char_format = self._formats.get(stream, self._formats["stdout"])
            if not self._empty:
                cursor.insertBlock(QTextBlockFormat(), char_format)
            cursor.insertText("\n".join(text for _, text in lines[start:end]), char_format)
            self._empty = False
            start = end
        cursor.endEditBlock()
        if self._following:
            self._scroll_bottom()

    # -- following the end ---------------------------------------------------------------------

    def _scroll_bottom(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def scroll_to_end(self) -> None:
        """Jump to the last line and follow new ones again."""
        self._following = True
        self._scroll_bottom()
        self._update_follow_controls()

    def _on_scrolled(self, value: int) -> None:
        bar = self.text.verticalScrollBar()
        following = value >= bar.maximum() - 1
        if following != self._following:
            self._following = following
            self._update_follow_controls()

    def _on_range_changed(self, _minimum: int, _maximum: int) -> None:
        if self._following:
            self._scroll_bottom()

    @property
    def following(self) -> bool:
        """True while the view sticks to the end of the log."""
        return self._following

    def _update_follow_controls(self) -> None:
        self.paused_label.setText("" if self._following else "(auto-scroll paused)")
        self.end_button.setVisible(not self._following)

    # -- files ---------------------------------------------------------------------------------

    def open_log(self, stream: str = "stdout") -> bool:
        """Open a log file of the shown run in the desktop's viewer."""
        if self._run_dir is None:
            return False
        path = self._run_dir / LOG_FILES.get(stream, LOG_FILES["stdout"])
        target = path if path.exists() else self._run_dir
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))))

    def cleanup(self) -> None:
        """Stop reading (the widget is going away)."""
        self._reader = None
        self._generation += 1  # slices of a chunk still queued are dropped
        self._runner.shutdown()
