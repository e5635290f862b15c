"""The log view over merged.log: a real run of the `rave` double that crashes and is
resumed (noise folded, errors red, a separator per attempt), following a new attempt,
bars replaced, find, wrap and copy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from ravelab.core.runs.merged_log import BAR_REWRITE_S, MergedLogWriter
from ravelab.core.runs.run_files import STDERR_LOG, STDOUT_LOG
from ravelab.gui.log_viewer import SUMMARY_STATE, LogViewer
from tests.gui.conftest import save_screenshot
from tests.gui.records import make_record
from tests.helpers import run_config, wait_until

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer(qtbot: QtBot) -> LogViewer:
    viewer = LogViewer(max_lines=2000)
    qtbot.addWidget(viewer)
    viewer.resize(900, 520)
    viewer.show()
    yield viewer
    viewer.cleanup()


def _show(qtbot: QtBot, viewer: LogViewer, run_dir: Path, status: str) -> None:
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.show_run(make_record(name="run", run_dir=str(run_dir), status=status))


def _summaries(viewer: LogViewer) -> list[Any]:
    found = []
    block = viewer.text.document().firstBlock()
    while block.isValid():
        if block.userState() == SUMMARY_STATE:
            found.append(block)
        block = block.next()
    return found


def test_a_crashed_and_resumed_run(
    qtbot: QtBot, viewer: LogViewer, make_manager: Any, dataset_id: int, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FAKE_RAVE_CRASH_AT", "200")
    monkeypatch.setenv("FAKE_RAVE_CRASH", "oom")
    manager = make_manager()
    experiment_id = manager.start_training(run_config(dataset_id, max_steps=300))
    first = manager.wait(experiment_id, timeout=120)
    assert first["status"] == "failed"
    monkeypatch.delenv("FAKE_RAVE_CRASH_AT")
    wait_until(lambda: not manager.processes_live(experiment_id), timeout=60, what="the end")
    manager.resume_training(experiment_id)
    assert manager.wait(experiment_id, timeout=120)["status"] == "completed"
    run_dir = Path(first["run_dir"])

    _show(qtbot, viewer, run_dir, "completed")
    styles = viewer.line_styles()
    texts = [text for text, _ in styles]
    separators = [text for text, style in styles if style == "attempt"]
    assert len(separators) == 2
    assert separators[0].startswith("— attempt 1, ")
    assert re.match(r"— attempt 2, resumed from step [0-9,]+, ", separators[1])
    oom = next(i for i, text in enumerate(texts) if "CUDA out of memory" in text)
    assert styles[oom][1] == "error"
    assert texts.index(separators[0]) < oom < texts.index(separators[1])
    assert ("train set: 19 examples", "plain") in styles
    summaries = [text for text, style in styles if style == "summary"]
    assert summaries and re.match(r"▸ \d+ harmless lines \(gin", summaries[0])
    assert not any("Path not found" in text for text in texts)  # folded away
    assert any("Path not found" in text for text in viewer.all_text().split("\n"))
    assert any(text.startswith("▸") and "profiler" in text for text in summaries)
    save_screenshot(viewer, "logview_attempts.png")
    viewer.text.verticalScrollBar().setValue(0)
    save_screenshot(viewer, "logview_top.png")

    first_group = _summaries(viewer)[0]
    viewer.toggle_group(first_group)
    assert any("Path not found" in text for text in viewer.visible_line_texts())
    assert viewer.visible_line_texts()[texts.index(summaries[0])].startswith("▾")
    viewer.text.verticalScrollBar().setValue(0)
    save_screenshot(viewer, "logview_unfolded.png")
    viewer.toggle_group(first_group)
    assert not any("Path not found" in text for text in viewer.visible_line_texts())

    # Find (Ctrl+F) unfolds the group that hides a match, and counts every match.
    viewer.activateWindow()
    qtbot.waitUntil(viewer.isActiveWindow, timeout=10_000)
    viewer.text.setFocus()
    qtbot.keyClick(viewer.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert viewer.find_bar.isVisible()
    viewer.find_edit.setText("Path not found")
    assert viewer.find_count.text().endswith("matches")
    assert "Path not found" in viewer.text.textCursor().selectedText()
    assert any("Path not found" in text for text in viewer.visible_line_texts())
    assert viewer.text.extraSelections()
    save_screenshot(viewer, "logview_find.png")
    first_match = viewer.text.textCursor().position()
    assert viewer.find_next() and viewer.text.textCursor().position() != first_match
    qtbot.keyClick(viewer.find_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.text.textCursor().position() == first_match  # Shift+Enter: previous
    qtbot.keyClick(viewer.find_edit, Qt.Key.Key_Escape)
    assert not viewer.find_bar.isVisible()
    assert not viewer.text.extraSelections()

    # Ctrl+C copies the selected lines, folded ones with them, never a summary line.
    cursor = viewer.text.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(
        _summaries(viewer)[0].next().next().position() + 5, cursor.MoveMode.KeepAnchor
    )
    viewer.text.setTextCursor(cursor)
    # (As Ctrl+C does: a Ctrl+C simulated by QTest here leaves Ctrl held in Qt's state,
    # and the table of a later test would then toggle its selection.)
    viewer.copy_selection()
    selected = QGuiApplication.clipboard().text().split("\n")
    assert selected[0] == separators[0] and "harmless" not in "".join(selected)
    assert "Path not found" in "".join(selected) or "system_path" in "".join(selected)
    assert len(selected[-1]) == 5

    viewer.copy_all()
    copied = QGuiApplication.clipboard().text()
    assert "Path not found" in copied and "train set: 19 examples" in copied
    assert "harmless lines" not in copied
    viewer.wrap_button.setChecked(True)
    assert viewer.text.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth
    viewer.wrap_button.setChecked(False)
    assert viewer.text.lineWrapMode() == QPlainTextEdit.LineWrapMode.NoWrap


class _Clock:
    def __init__(self) -> None:
        self.now = 1_795_672_257.0

    def __call__(self) -> float:
        self.now += BAR_REWRITE_S
        return self.now


def _append(run_dir: Path, name: str, data: bytes) -> None:
    with open(run_dir / name, "ab") as handle:
        handle.write(data)


def test_a_new_attempt_is_followed_and_bars_are_replaced(
    qtbot: QtBot, viewer: LogViewer, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    writer = MergedLogWriter(run_dir, clock=_Clock())
    writer.start_attempt({"attempt": 1})
    _append(run_dir, STDOUT_LOG, b"".join(b"line %d\n" % i for i in range(300)))
    _append(run_dir, STDOUT_LOG, b"\rEpoch 0:  25%|##  | 1/4\rE")
    writer.poll()
    _show(qtbot, viewer, run_dir, "running")
    assert viewer.visible_line_texts()[-1] == "Epoch 0:  25%|##  | 1/4"
    _append(run_dir, STDOUT_LOG, b"poch 0:  50%|#### | 2/4\r\r")
    writer.poll()
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert viewer.visible_line_texts()[-2:] == ["line 299", "Epoch 0:  50%|#### | 2/4"]
    _append(run_dir, STDERR_LOG, b"Traceback (most recent call last):\nValueError: boom\n")
    writer.end_attempt({"exit_code": 1})
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_finished()
    shown = viewer.visible_line_texts()
    assert shown[-4:] == [
        "Epoch 0:  50%|#### | 2/4",  # the bar's last state, once
        "Traceback (most recent call last):",
        "ValueError: boom",
        "attempt 1 ended (exit code 1)",
    ]

    bar = viewer.text.verticalScrollBar()
    bar.setValue(0)  # the user reads the top
    assert not viewer.following
    writer = MergedLogWriter(run_dir, clock=_Clock())
    (run_dir / "exit.0.json").write_text("{}")  # as a resume sets the first attempt's aside
    writer.start_attempt({"attempt": 2, "resumed_from": "/x/epoch_300.ckpt", "step": 300})
    _append(run_dir, STDOUT_LOG, b"loading state from file /x/epoch_300.ckpt\n")
    writer.poll()
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert viewer.following and bar.value() == bar.maximum()  # the new attempt is shown
    styles = viewer.line_styles()
    assert styles[-2][1] == "attempt" and styles[-2][0].startswith(
        "— attempt 2, resumed from step 300, "
    )
    assert styles[-1] == ("loading state from file /x/epoch_300.ckpt", "plain")
    assert ("ValueError: boom", "error") in styles

    # While the find bar is open, lines read later are counted and highlighted too.
    viewer.show_find_bar()
    viewer.find_edit.setText("loading state")
    assert viewer.find_count.text() == "1 match"
    _append(run_dir, STDOUT_LOG, b"loading state again\n")
    writer.poll()
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    assert viewer.find_count.text() == "2 matches" and len(viewer.text.extraSelections()) == 2


def test_a_run_from_before_merged_log_then_resumed(
    qtbot: QtBot, viewer: LogViewer, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _append(run_dir, STDOUT_LOG, b"train set: 19 examples\n")
    _append(run_dir, STDERR_LOG, b"E1126 05:50:56.752771 1 resource_reader.py:55] Path not found\n")
    (run_dir / "exit.json").write_text("{}")
    _show(qtbot, viewer, run_dir, "stopped")
    before = viewer.line_styles()
    assert before == [
        ("train set: 19 examples", "plain"),
        ("E1126 05:50:56.752771 1 resource_reader.py:55] Path not found", "error"),  # stderr
    ]
    (run_dir / "exit.json").rename(run_dir / "exit.0.json")  # as a resume does
    writer = MergedLogWriter(run_dir)
    writer.start_attempt({"attempt": 2, "resumed_from": "/x/epoch-epoch=0009.ckpt"})
    _append(run_dir, STDOUT_LOG, b"loading state from file /x/epoch-epoch=0009.ckpt\n")
    writer.poll()
    with qtbot.waitSignal(viewer.chunk_applied, timeout=30_000):
        viewer.notify_output()
    after = viewer.line_styles()
    assert after[:2] == before  # the first attempt stays as it was read
    assert after[2][1] == "attempt"
    assert after[2][0].startswith("— attempt 2, resumed from epoch-epoch=0009.ckpt, ")
    assert after[3:] == [("loading state from file /x/epoch-epoch=0009.ckpt", "plain")]
