"""merged.log: the supervisor's one stream in arrival order (real runs of the fake ``rave``),
bars kept as their last state, a record per attempt; the reader's increments."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.merged_log import (
    BAR_REWRITE_S,
    MERGED_LOG,
    MergedLogReader,
    MergedLogWriter,
    parse_record,
)
from ravelab.core.runs.run_files import STDERR_LOG, STDOUT_LOG
from tests.helpers import run_config, wait_until


class _Clock:
    def __init__(self) -> None:
        self.now = 1_795_672_257.0

    def __call__(self) -> float:
        return self.now


def _append(run_dir: Path, name: str, data: bytes) -> None:
    with open(run_dir / name, "ab") as handle:
        handle.write(data)


def _records(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / MERGED_LOG).read_text(encoding="utf-8").splitlines()
    return [(r.stream + ("~" if r.bar else ""), r.text) for r in map(parse_record, lines)]


def test_lines_in_arrival_order_and_bars_as_their_last_state(tmp_path: Path) -> None:
    _append(tmp_path, STDOUT_LOG, b"an earlier attempt's line\n")  # not this attempt's
    clock = _Clock()
    writer = MergedLogWriter(tmp_path, clock=clock)
    writer.start_attempt({"attempt": 1})
    _append(tmp_path, STDERR_LOG, b"E1126 05:50:56.752771 1 resource_reader.py:55] Path not\n")
    writer.poll()
    # tqdm draws "\r" + state: a state is whole once the next redraw begins.
    _append(tmp_path, STDOUT_LOG, b"train set: 19 examples\n\rEpoch 0:  25%|##  | 1/4\rEp")
    writer.poll()
    assert _records(tmp_path)[-1] == ("stdout~", "Epoch 0:  25%|##  | 1/4")
    size = (tmp_path / MERGED_LOG).stat().st_size
    for step in range(2, 4):  # redraws rewrite the tail: the file does not grow
        clock.now += BAR_REWRITE_S
        _append(tmp_path, STDOUT_LOG, f"och 0:  {step * 25}%|##  | {step}/4\rEp".encode())
        writer.poll()
        assert (tmp_path / MERGED_LOG).stat().st_size == size
    _append(tmp_path, STDERR_LOG, b"Traceback (most recent call last):\n")
    writer.poll()
    _append(tmp_path, STDOUT_LOG, b"och 0: 100%|####| 4/4\nhalf a li")
    writer.end_attempt({"attempt": 1, "exit_code": 1})
    assert _records(tmp_path) == [
        ("run", '{"attempt": 1}'),
        ("stderr", "E1126 05:50:56.752771 1 resource_reader.py:55] Path not"),
        ("stdout", "train set: 19 examples"),
        ("stdout", "Epoch 0:  75%|##  | 3/4"),  # the bar as it stood when stderr printed
        ("stderr", "Traceback (most recent call last):"),
        ("stdout", "Epoch 0: 100%|####| 4/4"),
        ("stdout", "half a li"),
        ("run", '{"attempt": 1, "exit_code": 1}'),
    ]


def test_within_one_poll_the_stream_written_last_goes_last(tmp_path: Path) -> None:
    writer = MergedLogWriter(tmp_path)
    _append(tmp_path, STDERR_LOG, b"HPU available: False, using: 0 HPUs\n")
    _append(tmp_path, STDOUT_LOG, b"loading state from file x.ckpt\n")
    os.utime(tmp_path / STDERR_LOG, ns=(10**18, 10**18))
    os.utime(tmp_path / STDOUT_LOG, ns=(10**18 + 2_000_000, 10**18 + 2_000_000))
    writer.poll()
    _append(tmp_path, STDOUT_LOG, b"selected gpu: []\n")
    _append(tmp_path, STDERR_LOG, b"a warning\n")
    os.utime(tmp_path / STDOUT_LOG, ns=(10**18 + 5_000_000, 10**18 + 5_000_000))
    os.utime(tmp_path / STDERR_LOG, ns=(10**18 + 9_000_000, 10**18 + 9_000_000))
    writer.poll()
    assert [text for _, text in _records(tmp_path)] == [
        "HPU available: False, using: 0 HPUs",
        "loading state from file x.ckpt",
        "selected gpu: []",
        "a warning",
    ]


def test_a_new_attempt_appends_and_ends_a_torn_record(tmp_path: Path) -> None:
    (tmp_path / MERGED_LOG).write_bytes(b"2026-12-03T12:48:21.123Z out~ Epoch 3: 10%|\n2026-12")
    writer = MergedLogWriter(tmp_path)
    writer.start_attempt({"attempt": 2})
    writer.end_attempt({"attempt": 2, "exit_code": 0})
    records = MergedLogReader(tmp_path).read(final=True)
    assert [(r.stream, r.text) for r in records.records] == [
        ("stdout", "Epoch 3: 10%|"),  # a bar left by a killed supervisor: its last state
        ("stdout", "2026-12"),  # what is not a record is shown, not lost
        ("run", '{"attempt": 2}'),
        ("run", '{"attempt": 2, "exit_code": 0}'),
    ]
    assert records.bars == []


def test_the_reader_holds_the_bar_being_drawn_back(tmp_path: Path) -> None:
    clock = _Clock()
    writer = MergedLogWriter(tmp_path, clock=clock)
    reader = MergedLogReader(tmp_path)
    _append(tmp_path, STDOUT_LOG, b"one\nEpoch 0:  25%|\r\r")
    writer.poll()
    found = reader.read()
    assert [r.text for r in found.records] == ["one"]
    assert [(r.text, r.bar) for r in found.bars] == [("Epoch 0:  25%|", True)]
    clock.now += BAR_REWRITE_S
    _append(tmp_path, STDOUT_LOG, b"Epoch 0:  50%|\r\r")
    writer.poll()
    found = reader.read()
    assert found.records == [] and [r.text for r in found.bars] == ["Epoch 0:  50%|"]
    _append(tmp_path, STDOUT_LOG, b"Epoch 0: 100%|\ntwo\n")
    writer.poll()
    found = reader.read()
    assert [r.text for r in found.records] == ["Epoch 0: 100%|", "two"] and found.bars == []


def test_the_reader_starts_near_the_end_on_a_whole_record(tmp_path: Path) -> None:
    writer = MergedLogWriter(tmp_path)
    _append(tmp_path, STDOUT_LOG, b"".join(b"line %d\n" % i for i in range(1000)))
    writer.poll()
    size = (tmp_path / MERGED_LOG).stat().st_size
    texts = [r.text for r in MergedLogReader(tmp_path, start_back_bytes=size // 2).read().records]
    assert texts[-1] == "line 999" and 400 < len(texts) < 600
    assert texts == [f"line {i}" for i in range(1000 - len(texts), 1000)]


def test_a_foreign_line_longer_than_a_read_is_cut_and_the_reader_moves_on(
    tmp_path: Path,
) -> None:
    # merged.log is untrusted: 3 MiB without a line end, then a good record.
    good = b"2026-12-03T10:00:00.000Z out after\n"
    (tmp_path / MERGED_LOG).write_bytes(b"x" * (3 * 1024 * 1024) + b"\n" + good)
    reader = MergedLogReader(tmp_path)
    texts: list[str] = []
    for _ in range(10):  # bounded: the old reader never moved past the long line
        found = reader.read(max_bytes=1024 * 1024)
        texts += [r.text for r in found.records]
        if not found.more:
            break
    assert not found.more
    assert len(texts) == 2 and texts[0] == "x" * (1024 * 1024) and texts[1] == "after"


def test_a_read_that_ends_at_the_end_of_the_file_says_there_is_no_more(tmp_path: Path) -> None:
    record = b"2026-12-03T10:00:00.000Z out one\n"
    (tmp_path / MERGED_LOG).write_bytes(record)
    found = MergedLogReader(tmp_path).read(max_bytes=len(record))
    assert [r.text for r in found.records] == ["one"] and not found.more


@pytest.mark.parametrize("planted", ["folder", "link"])
def test_a_bad_merged_log_stops_the_merging_not_the_caller(tmp_path: Path, planted: str) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not ravelab's\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if planted == "folder":
        (run_dir / MERGED_LOG).mkdir()
    else:
        (run_dir / MERGED_LOG).symlink_to(elsewhere)
    _append(run_dir, STDOUT_LOG, b"")
    writer = MergedLogWriter(run_dir)
    writer.start_attempt({"attempt": 1})
    _append(run_dir, STDOUT_LOG, b"a line\n")
    writer.poll()
    writer.end_attempt({})
    assert writer.error is not None and MERGED_LOG in writer.error
    assert elsewhere.read_text() == "not ravelab's\n"


def test_a_real_run_resumed_after_a_crash(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setenv("FAKE_RAVE_CRASH_AT", "200")
    monkeypatch.setenv("FAKE_RAVE_CRASH", "oom")
    manager = make_manager()
    experiment_id = manager.start_training(run_config(dataset_id, max_steps=300))
    first = manager.wait(experiment_id, timeout=120)
    assert first["status"] == "failed"
    run_dir = Path(first["run_dir"])
    monkeypatch.delenv("FAKE_RAVE_CRASH_AT")
    wait_until(lambda: not manager.processes_live(experiment_id), timeout=60, what="the end")
    manager.resume_training(experiment_id)
    assert manager.wait(experiment_id, timeout=120)["status"] == "completed"

    records = MergedLogReader(run_dir).read(max_bytes=1 << 30, final=True)
    assert records.bars == []
    events = [json.loads(r.text) for r in records.records if r.stream == "run"]
    assert [e.get("attempt") for e in events] == [1, 1, 2, 2]
    assert "exit_code" in events[1] and events[1]["exit_code"] != 0
    assert events[2]["resumed_from"].endswith(".ckpt") and events[2]["step"] > 0
    texts = [(r.stream, r.text) for r in records.records]
    # Every line of the two files is there, once (bars as their last state).
    for name, stream in ((STDOUT_LOG, "stdout"), (STDERR_LOG, "stderr")):
        for line in (run_dir / name).read_bytes().decode().split("\n"):
            if "\r" not in line and "\x1b" not in line and line.strip():
                assert (stream, line.rstrip()) in texts, line
    oom = texts.index(("stderr", next(t for s, t in texts if "CUDA out of memory" in t)))
    assert texts.index(("stdout", "train set: 19 examples")) < oom
    assert any("Epoch" in t and "%|" in t for _, t in texts)
    merged_size = (run_dir / MERGED_LOG).stat().st_size
    stdout_size = os.path.getsize(run_dir / STDOUT_LOG)
    assert merged_size < stdout_size + os.path.getsize(run_dir / STDERR_LOG)
