"""The log viewer: bounded, tqdm redraws collapsed, stderr in colour, auto-scroll."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QTextCursor
from pytestqt.qtbot import QtBot

from ravelab.gui.log_reader import LogReader
from ravelab.gui.log_viewer import LIVE_CHUNK_LINES, STDERR_COLOUR, LogViewer
from tests.gui.records import make_record

pytestmark = pytest.mark.gui


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "stdout.log").write_bytes(b"")
    (folder / "stderr.log").write_bytes(b"")
    return folder


def _append(run_dir: Path, stream: str, data: bytes) -> None:
    with open(run_dir / f"{stream}.log", "ab") as handle:
        handle.write(data)


@pytest.fixture
def viewer(qtbot: QtBot) -> LogViewer:
    viewer = LogViewer(max_lines=100)
    qtbot.addWidget(viewer)
    viewer.resize(600, 300)
    viewer.show()
    yield viewer
    viewer.cleanup()


def _show(qtbot: QtBot, viewer: LogViewer, run_dir: Path, status: str = "running") -> None:
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.show_run(make_record(name="run", run_dir=str(run_dir), status=status))


def test_lines_are_bounded_by_the_block_count(
    qtbot: QtBot, viewer: LogViewer, run_dir: Path
) -> None:
    _append(run_dir, "stdout", b"".join(f"line {i}\n".encode() for i in range(5000)))
    _show(qtbot, viewer, run_dir)
    lines = viewer.line_texts()
    assert len(lines) == 100
    assert lines[0] == "line 4900" and lines[-1] == "line 4999"
    _append(run_dir, "stdout", b"".join(f"more {i}\n".encode() for i in range(250)))
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    lines = viewer.line_texts()
    assert viewer.text.document().blockCount() == 100
    shown = LIVE_CHUNK_LINES  # a live read shows the newest lines and a note
    assert lines[-1] == "more 249" and lines[-shown] == f"more {250 - shown}"
    assert lines[-shown - 1].startswith(f"[... {250 - shown} lines not shown")
    assert lines[0] == f"line {5000 - (100 - shown - 1)}"  # the oldest went


def test_tqdm_redraws_replace_the_last_line(qtbot: QtBot, viewer: LogViewer, run_dir: Path) -> None:
    _append(run_dir, "stdout", b"train set: 19 examples\nEpoch 0:  25%|##  | 1/4\rEpoch 0:  50%|")
    _append(run_dir, "stdout", b"#### | 2/4\rEpoch 0:  50%|#### | 2/4\r")
    _show(qtbot, viewer, run_dir)
    # (A "\r" at the very end waits for the next byte: it may be half of "\r\n".)
    assert viewer.line_texts() == ["train set: 19 examples", "Epoch 0:  50%|#### | 2/4"]

    # The next read continues the same bar: it replaces the line, across reads.
    _append(run_dir, "stdout", b"Epoch 0:  75%|######| 3/4\rEpoch 0: 100%|########| 4/4\n")
    _append(run_dir, "stdout", b"Epoch 1:  25%|##  | 1/4\rEpoch 1:  25%|##  | 1/4\r")
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert viewer.line_texts() == [
        "train set: 19 examples",
        "Epoch 0: 100%|########| 4/4",
        "Epoch 1:  25%|##  | 1/4",
    ]


def test_stderr_lines_are_coloured(qtbot: QtBot, viewer: LogViewer, run_dir: Path) -> None:
    _append(run_dir, "stdout", b"out 1\nout 2\n")
    _append(run_dir, "stderr", b"UserWarning: careful\n")
    _show(qtbot, viewer, run_dir)
    assert viewer.line_texts() == ["out 1", "out 2", "UserWarning: careful"]
    document = viewer.text.document()

    def colour(block: int) -> QColor:
        cursor = QTextCursor(document.findBlockByNumber(block))
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        return cursor.charFormat().foreground().color()

    assert colour(2) == QColor(STDERR_COLOUR)
    assert colour(0) != QColor(STDERR_COLOUR)


def test_auto_scroll_stops_when_scrolled_up_and_resumes_at_the_bottom(
    qtbot: QtBot, viewer: LogViewer, run_dir: Path
) -> None:
    _append(run_dir, "stdout", b"".join(f"line {i}\n".encode() for i in range(60)))
    _show(qtbot, viewer, run_dir)
    bar = viewer.text.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum() and viewer.following

    bar.setValue(0)  # the user scrolls up
    assert not viewer.following and viewer.end_button.isVisibleTo(viewer)
    _append(run_dir, "stdout", b"".join(f"next {i}\n".encode() for i in range(10)))
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert bar.value() == 0  # left where the user is reading

    bar.setValue(bar.maximum())  # back at the bottom: following again
    assert viewer.following and not viewer.end_button.isVisibleTo(viewer)
    _append(run_dir, "stdout", b"last\n")
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert bar.value() == bar.maximum()
    assert viewer.line_texts()[-1] == "last"


def test_an_ended_run_shows_its_unterminated_last_line(
    qtbot: QtBot, viewer: LogViewer, run_dir: Path
) -> None:
    _append(run_dir, "stdout", b"first\nno newline at the end")
    (run_dir / "exit.json").write_text('{"exit_code": 0}')
    _show(qtbot, viewer, run_dir, status="completed")
    assert viewer.line_texts() == ["first", "no newline at the end"]


def test_no_run_and_no_output_are_said(qtbot: QtBot, viewer: LogViewer, run_dir: Path) -> None:
    viewer.show_run(None)
    assert viewer.text.placeholderText() == "Select a run to see its log."
    assert not viewer.open_button.isEnabled()
    _show(qtbot, viewer, run_dir)
    assert viewer.line_texts() == []
    assert viewer.text.placeholderText() == "No output yet."
    assert viewer.open_button.isEnabled()


def test_the_reader_collapses_across_reads_and_bounds_its_chunks(run_dir: Path) -> None:
    reader = LogReader(run_dir, max_lines=3)
    _append(run_dir, "stdout", b"a\nb\nbar 1\rbar 2\r")
    chunk = reader.read()
    assert chunk.reset and not chunk.replace_last
    # "bar 2\r" waits: a "\r" at the very end may be half of "\r\n".
    assert chunk.lines == [("stdout", "a"), ("stdout", "b"), ("stdout", "bar 1")]
    _append(run_dir, "stdout", b"bar 3\r")
    _append(run_dir, "stderr", b"warning\n")
    chunk = reader.read()
    assert not chunk.reset and chunk.replace_last
    assert chunk.lines == [("stdout", "bar 2"), ("stderr", "warning")]  # bar 3 waits
    _append(run_dir, "stdout", b"".join(f"x{i}\n".encode() for i in range(10)))
    chunk = reader.read()
    assert not chunk.reset and not chunk.replace_last
    assert [text for _, text in chunk.lines] == ["x7", "x8", "x9"]  # the newest only
    assert chunk.skipped == 7  # "bar 3" (then replaced by x0) and x1..x6


def test_a_flood_shows_the_newest_lines_and_says_what_it_left_out(
    qtbot: QtBot, run_dir: Path
) -> None:
    viewer = LogViewer(max_lines=3000)
    qtbot.addWidget(viewer)
    viewer.show()
    _append(run_dir, "stdout", b"".join(f"early {i}\n".encode() for i in range(900)))
    _show(qtbot, viewer, run_dir)  # the first read shows up to max_lines, in slices
    assert len(viewer.line_texts()) == 900
    _append(run_dir, "stdout", b"".join(f"flood {i}\n".encode() for i in range(3000)))
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    lines = viewer.line_texts()
    shown = LIVE_CHUNK_LINES  # the newest lines of a live read, at most
    assert lines[899] == "early 899" and lines[-1] == "flood 2999"
    assert lines[900].startswith(f"[... {3000 - shown:,} lines not shown")
    assert lines[901] == f"flood {3000 - shown}" and len(lines) == 900 + 1 + shown
    viewer.cleanup()


def test_the_reader_starts_near_the_end_and_jumps_over_floods(run_dir: Path) -> None:
    from ravelab.gui import log_reader

    line = b"x" * 99 + b"\n"  # 100 bytes a line
    count = 2 * log_reader.INITIAL_BYTES // len(line)
    _append(run_dir, "stdout", line * count + b"last of the start\n")
    reader = LogReader(run_dir, max_lines=50_000)
    chunk = reader.read()
    texts = [text for _, text in chunk.lines]
    assert texts[-1] == "last of the start"
    assert len(texts) <= log_reader.INITIAL_BYTES // len(line) + 1  # not the whole file
    assert all(text == "x" * 99 for text in texts[:-1])  # no partial first line

    _append(run_dir, "stdout", line * (2 * log_reader.SKIP_ABOVE_BYTES // len(line)) + b"now\n")
    chunk = reader.read()
    assert chunk.skipped_bytes > log_reader.SKIP_ABOVE_BYTES
    assert chunk.lines[-1] == ("stdout", "now")
    assert all(text in ("now", "x" * 99) for _, text in chunk.lines)
