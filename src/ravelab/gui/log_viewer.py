"""``LogViewer``: the selected run's log, live, bounded, with tqdm's bar collapsed.

The GUI thread never reads the files: a ``LogReader`` does, in the viewer's worker
thread, when the run prints (``notify_output``) or when another run is shown
(``show_run``), and the viewer applies the ready ``LogChunk``: a tqdm redraw replaces
the last line, other lines are appended. ``setMaximumBlockCount`` bounds memory. The
view follows the end of the log until the user scrolls up, and follows again once they
scroll back to the bottom; a new attempt (a resume) makes it follow again by itself.

A run with a ``merged.log`` shows both streams in arrival order, each line by its kind:
errors (tracebacks, CUDA out of memory...) in red, plain lines normal, and consecutive
harmless noise (gin's search, absl, warnings, the profiler table) folded under one muted
line ("12 harmless lines (gin, warnings)") that a click unfolds; each attempt opens with
a separator. An older run (two files only) shows stderr in red, as before.

Folding hides blocks (``QTextBlock.setVisible``): a group's lines carry ``NOISE_STATE``
and its summary line ``SUMMARY_STATE`` (``QTextBlock.userState``). A find bar (Ctrl+F)
highlights matches and steps through them (unfolding a group that hides one); a Wrap
toggle and "Copy all" (every line, folded ones too) sit in the header.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QKeySequence,
    QMouseEvent,
    QShortcut,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.runs.log_lines import noise_summary
from ravelab.core.runs.log_tail import LOG_FILES
from ravelab.core.runs.merged_log import MERGED_LOG
from ravelab.db import ExperimentRecord
from ravelab.gui.experiments_model import is_live
from ravelab.gui.log_reader import LogChunk, LogReader
from ravelab.gui.style import HINT_STYLE, SCHEME, TITLE_STYLE
from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)

#: Lines kept in the viewer (older ones scroll out; "Open full log" shows all).
DEFAULT_MAX_LINES = 5000
STDERR_COLOUR = SCHEME.error
ERROR_COLOUR = STDERR_COLOUR
NOTE_COLOUR = SCHEME.log_note
NOISE_COLOUR = SCHEME.log_noise
ATTEMPT_COLOUR = SCHEME.log_attempt
FIND_COLOUR = SCHEME.find_background
#: ``QTextBlock.userState`` of a folded noise line, and of a group's summary line.
NOISE_STATE = 7001
SUMMARY_STATE = 7002
#: Matches highlighted at most (each is an extra selection the view paints).
MAX_HIGHLIGHTS = 2000
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
        for stream, filename in {**LOG_FILES, "merged": MERGED_LOG}.items():
            action = menu.addAction(f"Open {filename}")
            action.triggered.connect(lambda _=False, s=stream: self.open_log(s))
        self.open_button.setMenu(menu)
        self.open_button.clicked.connect(lambda: self.open_log("stdout"))
        self.open_button.setEnabled(False)

        self.find_button = QToolButton()
        self.find_button.setText("Find")
        self.find_button.setToolTip("Find in the log (Ctrl+F)")
        self.find_button.clicked.connect(self.show_find_bar)
        self.wrap_button = QToolButton()
        self.wrap_button.setText("Wrap")
        self.wrap_button.setCheckable(True)
        self.wrap_button.setToolTip("Wrap long lines")
        self.wrap_button.toggled.connect(self.set_wrap)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy all")
        self.copy_button.setToolTip(
            "Copy every line shown, folded ones too (Ctrl+C copies the selection)"
        )
        self.copy_button.clicked.connect(self.copy_all)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addWidget(self.paused_label)
        header.addStretch(1)
        header.addWidget(self.end_button)
        header.addWidget(self.find_button)
        header.addWidget(self.wrap_button)
        header.addWidget(self.copy_button)
        header.addWidget(self.open_button)

        self.find_edit = QLineEdit()
        self.find_edit.setPlaceholderText("Find in the log")
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.textChanged.connect(self._on_find_text)
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_count = QLabel()
        self.find_count.setStyleSheet(HINT_STYLE)
        self.find_count.setMinimumWidth(self.fontMetrics().horizontalAdvance("999,999 matches"))
        find_previous = QToolButton()
        find_previous.setText("Previous")
        find_previous.setToolTip("Previous match (Shift+Enter)")
        find_previous.clicked.connect(self.find_previous)
        find_next = QToolButton()
        find_next.setText("Next")
        find_next.setToolTip("Next match (Enter)")
        find_next.clicked.connect(self.find_next)
        find_close = QToolButton()
        find_close.setText("Close")
        find_close.setToolTip("Close the find bar (Esc)")
        find_close.clicked.connect(self.hide_find_bar)
        self.find_bar = QWidget()
        find_layout = QHBoxLayout(self.find_bar)
        find_layout.setContentsMargins(0, 0, 0, 0)
        find_layout.addWidget(self.find_edit, 1)
        find_layout.addWidget(self.find_count)
        find_layout.addWidget(find_previous)
        find_layout.addWidget(find_next)
        find_layout.addWidget(find_close)
        self.find_bar.hide()
        QShortcut(
            QKeySequence(Qt.Modifier.SHIFT | Qt.Key.Key_Return),
            self.find_edit,
            self.find_previous,
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        QShortcut(
            QKeySequence(Qt.Key.Key_Escape),
            self.find_bar,
            self.hide_find_bar,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        QShortcut(
            QKeySequence(QKeySequence.StandardKey.Find),
            self,
            self.show_find_bar,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

        self.text = _LogText(self._selection_text)
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
        for style in ("plain", "progress"):
            self._formats[style] = QTextCharFormat()
        self._formats["error"] = QTextCharFormat(self._formats["stderr"])
        self._formats["noise"] = QTextCharFormat()
        self._formats["noise"].setForeground(QColor(NOISE_COLOUR))
        self._formats["summary"] = QTextCharFormat(self._formats["noise"])
        self._formats["summary"].setFontItalic(True)
        self._formats["attempt"] = QTextCharFormat()
        self._formats["attempt"].setForeground(QColor(ATTEMPT_COLOUR))
        self._formats["attempt"].setFontWeight(QFont.Weight.Bold)
        # The noise group still open at the end of the log: its summary line and sources.
        self._tail_summary: QTextCursor | None = None
        self._tail_sources: Counter[str] = Counter()
        self._summaries_due: list[tuple[QTextCursor, bool, str]] = []
        self._find_matches = 0
        self.text.viewport().installEventFilter(self)
        self.text.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.text.customContextMenuRequested.connect(self._context_menu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.find_bar)
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
        self._clear()
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
            self._clear()
        if chunk.drop_last and not self._empty:
            self._drop_last(chunk.drop_last)
        if chunk.new_attempt and not chunk.reset:
            # A resume: show the new attempt and follow it, wherever the user had scrolled.
            self._following = True
            self._update_follow_controls()
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
        if self._following:
            self._scroll_bottom()
        if self.find_bar.isVisible() and self.find_edit.text():
            self._highlight()  # new lines may match too (a few reads a second at most)
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

    def _clear(self) -> None:
        self.text.clear()
        self._empty = True
        self._tail_summary = None
        self._tail_sources.clear()

    def _drop_last(self, count: int) -> None:
        """Remove the last ``count`` lines (bars drawn by the previous chunk)."""
        document = self.text.document()
        if count >= document.blockCount():
            self._clear()
            return
        cursor = QTextCursor(document.findBlockByNumber(document.blockCount() - count - 1))
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()

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
            texts = [text for _, text in lines[start:end]]
            if stream.startswith("noise"):
                self._append_noise(cursor, stream.partition(":")[2], texts)
            else:
                self._tail_summary = None  # a line that is not noise closes the group
                char_format = self._formats.get(stream, self._formats["stdout"])
                if not self._empty:
                    cursor.insertBlock(QTextBlockFormat(), char_format)
                cursor.insertText("\n".join(texts), char_format)
                self._empty = False
            start = end
        cursor.endEditBlock()
        # The summaries change after the edit block, each an edit of its own line: in it,
        # a line far above the end would make Qt lay out every line down to the end.
        for summary, expanded, text in self._summaries_due:
            self._set_summary(summary.block(), expanded, text)
        self._summaries_due.clear()
        if self._following:
            self._scroll_bottom()

    def _append_noise(self, cursor: QTextCursor, source: str, texts: list[str]) -> None:
        """Fold noise lines under the open group's summary (a new one when none is open)."""
        document = self.text.document()
        if self._tail_summary is not None and self._tail_summary.block().userState() != (
            SUMMARY_STATE
        ):
            self._tail_summary = None  # its summary scrolled out (the block count is bounded)
        if self._tail_summary is None:
            if not self._empty:
                cursor.insertBlock(QTextBlockFormat(), self._formats["summary"])
            cursor.insertText("", self._formats["summary"])
            summary = cursor.block()
            summary.setUserState(SUMMARY_STATE)
            self._tail_sources = Counter()
            self._empty = False
        else:
            summary = self._tail_summary.block()
        summary_number = summary.blockNumber()
        expanded = self._expanded(summary)
        cursor.insertBlock(QTextBlockFormat(), self._formats["noise"])
        first = cursor.blockNumber()
        cursor.insertText("\n".join(texts), self._formats["noise"])
        block = document.findBlockByNumber(first)
        while block.isValid() and block.blockNumber() <= cursor.blockNumber():
            block.setUserState(NOISE_STATE)
            _set_visible(block, expanded)
            block = block.next()
        self._tail_sources[source] += len(texts)
        summary = document.findBlockByNumber(summary_number)
        # Made once lines follow the summary: a cursor on the last block would move into
        # the next block inserted there. It follows the summary as the top is trimmed.
        self._tail_summary = QTextCursor(summary)
        text = noise_summary(dict(self._tail_sources))
        self._summaries_due.append((QTextCursor(summary), expanded, text))

    def _set_summary(self, summary: QTextBlock, expanded: bool, text: str) -> None:
        arrow = "▾" if expanded else "▸"
        cursor = QTextCursor(summary)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(f"{arrow} {text}", self._formats["summary"])

    @staticmethod
    def _expanded(summary: QTextBlock) -> bool:
        return summary.text().startswith("▾")

    def toggle_group(self, summary: QTextBlock) -> None:
        """Fold or unfold the noise group under a summary line."""
        if summary.userState() != SUMMARY_STATE:
            return
        expanded = not self._expanded(summary)
        block = summary.next()
        while block.isValid() and block.userState() == NOISE_STATE:
            _set_visible(block, expanded)
            block = block.next()
        self._set_summary(summary, expanded, summary.text()[2:])
        document = self.text.document()
        document.markContentsDirty(summary.position(), block.position() - summary.position())
        self.text.viewport().update()

    def _summary_of(self, block: QTextBlock) -> QTextBlock | None:
        """The summary line of the group a folded noise line belongs to."""
        while block.isValid() and block.userState() == NOISE_STATE:
            block = block.previous()
        return block if block.isValid() and block.userState() == SUMMARY_STATE else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.text.viewport()
            and event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
            and not self.text.textCursor().hasSelection()
        ):
            block = self.text.cursorForPosition(event.position().toPoint()).block()
            if block.userState() == SUMMARY_STATE:
                self.toggle_group(block)
                return True
        return super().eventFilter(watched, event)

    def visible_line_texts(self) -> list[str]:
        """The lines a user sees (folded noise left out; tests)."""
        found = []
        block = self.text.document().firstBlock()
        while block.isValid():
            if block.isVisible() and not (self._empty and not block.text()):
                found.append(block.text())
            block = block.next()
        return found

    def line_styles(self) -> list[tuple[str, str]]:
        """Each visible line's text and what it is shown as (tests): ``summary``, ``noise``,
        ``error`` (red), ``attempt`` or ``plain``."""
        colours = {
            QColor(ERROR_COLOUR).name(): "error",
            QColor(NOISE_COLOUR).name(): "noise",
            QColor(ATTEMPT_COLOUR).name(): "attempt",
        }
        found = []
        block = self.text.document().firstBlock()
        while block.isValid():
            if block.isVisible() and block.text():
                if block.userState() == SUMMARY_STATE:
                    style = "summary"
                else:
                    colour = block.charFormat().foreground().color().name()
                    it = block.begin()
                    if not it.atEnd():
                        colour = it.fragment().charFormat().foreground().color().name()
                    style = colours.get(colour, "plain")
                found.append((block.text(), style))
            block = block.next()
        return found

    # -- find, wrap, copy ----------------------------------------------------------------------

    def show_find_bar(self) -> None:
        """Open the find bar (Ctrl+F), its text selected."""
        self.find_bar.show()
        self.find_edit.setFocus()
        self.find_edit.selectAll()
        self._highlight()

    def hide_find_bar(self) -> None:
        """Close the find bar and clear the highlights."""
        self.find_bar.hide()
        self.text.setExtraSelections([])
        self.text.setFocus()

    def _on_find_text(self, _text: str) -> None:
        self._highlight()
        self.find_next(from_start=True)

    def _highlight(self) -> None:
        """Highlight every match of the find text (up to MAX_HIGHLIGHTS)."""
        needle = self.find_edit.text()
        selections: list[QTextEdit.ExtraSelection] = []
        document = self.text.document()
        count = 0
        if needle:
            highlight = QTextCharFormat()
            highlight.setBackground(QColor(FIND_COLOUR))
            cursor = document.find(needle, 0)
            while not cursor.isNull():
                count += 1
                if len(selections) < MAX_HIGHLIGHTS:
                    selection = QTextEdit.ExtraSelection()
                    selection.cursor = cursor
                    selection.format = highlight
                    selections.append(selection)
                cursor = document.find(needle, cursor)
        self._find_matches = count
        self.text.setExtraSelections(selections)
        if not needle:
            self.find_count.setText("")
        else:
            self.find_count.setText(f"{count:,} match{'es' if count != 1 else ''}")

    def find_next(self, from_start: bool = False) -> bool:
        """Select the next match (wrapping around); False when there is none."""
        return self._find(backward=False, from_start=from_start)

    def find_previous(self) -> bool:
        """Select the previous match (wrapping around); False when there is none."""
        return self._find(backward=True, from_start=False)

    def _find(self, backward: bool, from_start: bool) -> bool:
        needle = self.find_edit.text()
        if not needle:
            return False
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        document = self.text.document()
        start = self.text.textCursor()
        if from_start:
            start = QTextCursor(document)
        found = document.find(needle, start, flags)
        if found.isNull():  # wrap around
            wrap = QTextCursor(document)
            if backward:
                wrap.movePosition(QTextCursor.MoveOperation.End)
            found = document.find(needle, wrap, flags)
        if found.isNull():
            return False
        block = found.block()
        if not block.isVisible():
            summary = self._summary_of(block)
            if summary is not None:
                self.toggle_group(summary)
        self._following = False
        self._update_follow_controls()
        self.text.setTextCursor(found)
        self.text.ensureCursorVisible()
        self._highlight()
        return True

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines at the view's width, or scroll sideways."""
        mode = (
            QPlainTextEdit.LineWrapMode.WidgetWidth if wrap else QPlainTextEdit.LineWrapMode.NoWrap
        )
        self.text.setLineWrapMode(mode)
        if self.wrap_button.isChecked() != wrap:
            self.wrap_button.setChecked(wrap)

    def all_text(self) -> str:
        """Every line shown, folded noise included, summary lines left out."""
        found = []
        block = self.text.document().firstBlock()
        while block.isValid():
            if block.userState() != SUMMARY_STATE:
                found.append(block.text())
            block = block.next()
        return "\n".join(found) if not self._empty else ""

    def copy_all(self) -> None:
        """Put every line on the clipboard."""
        QGuiApplication.clipboard().setText(self.all_text())

    def selected_text(self) -> str:
        """The selection as lines, folded lines in it included, summary lines left out."""
        cursor = self.text.textCursor()
        if not cursor.hasSelection():
            return ""
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        document = self.text.document()
        block = document.findBlock(start)
        found = []
        while block.isValid() and block.position() <= end:
            if block.userState() != SUMMARY_STATE:
                offset = block.position()
                found.append(block.text()[max(start - offset, 0) : max(end - offset, 0)])
            block = block.next()
        return "\n".join(found)

    def _selection_text(self) -> str:
        return self.selected_text()

    def copy_selection(self) -> None:
        """Put the selected lines on the clipboard (as Ctrl+C does)."""
        self.text.copy()

    def _context_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        copy = menu.addAction("Copy", self.copy_selection)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setEnabled(self.text.textCursor().hasSelection())
        menu.addAction("Select all", self.text.selectAll)
        menu.addSeparator()
        menu.addAction("Copy all", self.copy_all)
        menu.addAction("Find...", self.show_find_bar)
        wrap = menu.addAction("Wrap lines")
        wrap.setCheckable(True)
        wrap.setChecked(self.wrap_button.isChecked())
        wrap.toggled.connect(self.set_wrap)
        menu.exec(self.text.viewport().mapToGlobal(position))

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
        name = MERGED_LOG if stream == "merged" else LOG_FILES.get(stream, LOG_FILES["stdout"])
        path = self._run_dir / name
        target = path if path.exists() else self._run_dir
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))))

    def cleanup(self) -> None:
        """Stop reading (the widget is going away)."""
        self._reader = None
        self._generation += 1  # slices of a chunk still queued are dropped
        self._runner.shutdown()


def _set_visible(block: QTextBlock, visible: bool) -> None:
    """Show or hide a line (a hidden block takes no height in the view)."""
    block.setVisible(visible)
    block.setLineCount(max(1, block.layout().lineCount()) if visible else 0)


class _LogText(QPlainTextEdit):
    """The log's text: what a copy or a drag takes is the selected lines, folded ones
    included, without the groups' summary lines (they are not part of the log)."""

    def __init__(self, selection_text: Callable[[], str]) -> None:
        super().__init__()
        self._selection_text = selection_text

    def createMimeDataFromSelection(self) -> QMimeData:
        data = QMimeData()
        data.setText(self._selection_text())
        return data
