"""Fault injection: runs whose output or event files are damaged or hostile.

Each test lets the `rave` double finish a run next to an undisturbed run of the same
replay, damages the first run's files before anything has read them (the way a broken
trainer, a full disk or a careless user would), then lets a one-shot ``ravelab list``
re-attach both. It asserts the runs' true status and reason, that the command and the
other run are unaffected, and that every good metric point is stored once (the same
points as the undisturbed run's), and no bad one.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary

from ravelab.core.jobs import importer
from ravelab.core.rave.trainer_numbers import MAX_STEP
from ravelab.core.runs.run_files import EXIT_FILE, STDOUT_LOG
from ravelab.core.runs.training_process import UNREADABLE, TrainingProcess
from ravelab.core.tensorboard.events import find_event_files
from ravelab.core.tensorboard.tfrecord import read_records
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from tests.helpers import run_config, wait_until
from tests.helpers import tfrecord_frame as _frame

pytestmark = pytest.mark.faults


#: ``finished_pair(**config)``: (damaged, undisturbed), each as (experiment id, run folder).
FinishedPair = Callable[..., tuple[tuple[int, Path], tuple[int, Path]]]


@pytest.fixture
def finished_pair(
    make_manager: Any, dataset_id: int, db: Database, monkeypatch: pytest.MonkeyPatch
) -> FinishedPair:
    """Start two runs of the same replay (at full speed) and wait until both have ended,
    neither read yet: ``finished_pair(**config)`` gives (damaged, undisturbed)."""

    def start(**config: Any) -> tuple[tuple[int, Path], tuple[int, Path]]:
        monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0")
        manager = make_manager(follow=False)
        runs = []
        for name in ("damaged", "undisturbed"):
            experiment_id = manager.start_training(run_config(dataset_id, name=name, **config))
            record = rows.get_experiment(db, experiment_id)
            assert record is not None and record.run_dir is not None
            runs.append((experiment_id, Path(record.run_dir)))
        for _experiment_id, run_dir in runs:
            wait_until(lambda d=run_dir: (d / EXIT_FILE).exists(), 60, "the run's exit record")
        return runs[0], runs[1]

    return start


def _ravelab_list(db_path: Path) -> subprocess.CompletedProcess[str]:
    """``ravelab list`` in its own process (re-attaching settles the runs that ended)."""
    return subprocess.run(
        [sys.executable, "-m", "ravelab", "--db", str(db_path), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )


def _points(db: Database, experiment_id: int) -> dict[str, list[tuple[int, float]]]:
    return {
        name: rows.metric_history(db, experiment_id, name)
        for name in rows.metric_names(db, experiment_id)
    }


def _settled(db: Database, experiment_id: int) -> Any:
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.ended_at is not None, "the run was not settled"
    return record


def _scalar(tag: str, step: int, wall: float, value: float = 1.0) -> bytes:
    summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    return _frame(Event(step=step, wall_time=wall, summary=summary).SerializeToString())


def _check_list_and_undisturbed(
    db_path: Path, db: Database, undisturbed: int
) -> dict[str, list[tuple[int, float]]]:
    done = _ravelab_list(db_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "damaged" in done.stdout and "undisturbed" in done.stdout
    record = _settled(db, undisturbed)
    assert (record.status, record.reason, record.health) == ("completed", None, "ok")
    points = _points(db, undisturbed)
    assert points and all(points.values())
    return points


def test_stdout_log_replaced_by_a_folder(
    finished_pair: FinishedPair,
    db: Database,
    db_path: Path,
) -> None:
    (damaged, damaged_dir), (undisturbed, _) = finished_pair(max_steps=120)
    (damaged_dir / STDOUT_LOG).rename(damaged_dir / "stdout.log.moved")
    (damaged_dir / STDOUT_LOG).mkdir()

    expected = _check_list_and_undisturbed(db_path, db, undisturbed)
    record = _settled(db, damaged)
    # The trainer succeeded: that is the run's status; what went wrong is its health.
    assert (record.status, record.reason, record.exit_code) == ("completed", None, 0)
    assert record.health == UNREADABLE
    assert "stdout.log" in (record.health_detail or "")
    assert "folder" in (record.health_detail or "")
    # The losses live in the event files: every one of them is there, once.
    assert _points(db, damaged) == expected
    assert (damaged_dir / "stdout.log.moved").is_file()  # nothing deleted


def test_hostile_lines_in_stdout(
    finished_pair: FinishedPair,
    db: Database,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "60")
    (damaged, damaged_dir), (undisturbed, _) = finished_pair()
    log = damaged_dir / STDOUT_LOG
    lines = log.read_bytes().splitlines(keepends=True)
    hostile = [
        b"step: 99999999999999999999\n",  # overflows int64
        b"lr: 1e999\n",  # infinite
        b"Epoch 99999999999999999999999:  50%|#| 2/4 [00:00<00:00,  2.00it/s]\r",
        b"train set: 99999999999999999999999 examples\n",
        b"9" * 40_000 + b"%|" + b"9" * 10 + b"\n",  # the quadratic bar head, before
        b"step: " + b"7" * 50_000 + b"\n",
        b"epoch: " + b"1" * 5_000 + b"\n",
    ]
    log.write_bytes(b"".join(lines[:30] + hostile + lines[30:]))

    expected = _check_list_and_undisturbed(db_path, db, undisturbed)
    record = _settled(db, damaged)
    assert (record.status, record.reason, record.health) == ("completed", None, "ok")
    assert _points(db, damaged) == expected
    assert 0 <= record.progress.step <= MAX_STEP
    assert record.progress.train_examples is None


def test_event_file_with_absurd_numbers_garbage_and_a_torn_record(
    finished_pair: FinishedPair,
    db: Database,
    db_path: Path,
) -> None:
    (damaged, damaged_dir), (undisturbed, _) = finished_pair(max_steps=120)
    (events,) = find_event_files(damaged_dir)
    audio = Summary.Audio(
        sample_rate=float("nan"), num_channels=2**40, length_frames=-5, encoded_audio_string=b"RIFF"
    )
    audio_event = Event(
        step=7, wall_time=1.8e9, summary=Summary(value=[Summary.Value(tag="a", audio=audio)])
    )
    absurd = [
        _scalar("loss_gen", 2**63 - 1, 1.8e9),
        _scalar("loss_gen", -1, 1.8e9),
        _scalar("loss_gen", 130, float("nan")),
        _scalar("loss_gen", 131, -1.0),
        _scalar("loss_gen", 132, 1e300),
        _frame(audio_event.SerializeToString()),
        random.Random(7).randbytes(3000),  # garbage: framing lost, then found again
        _scalar("loss_gen", 2**62, 1.8e9),
        _scalar("loss_gen", 140, 1.8e9)[:-7],  # torn: the writer died mid-record
    ]
    with open(events, "ab") as handle:
        handle.write(b"".join(absurd))

    expected = _check_list_and_undisturbed(db_path, db, undisturbed)
    record = _settled(db, damaged)
    assert (record.status, record.reason, record.health) == ("completed", None, "ok")
    assert _points(db, damaged) == expected
    assert record.progress.step == rows.get_experiment(db, undisturbed).progress.step
    # The clip is kept; its absurd sample rate is not.
    (clip,) = [c for c in artifacts.list_audio_clips(db, damaged) if c.tag == "a"]
    assert clip.sample_rate is None and clip.step == 7


def test_truncated_event_file(
    finished_pair: FinishedPair,
    db: Database,
    db_path: Path,
) -> None:
    (damaged, damaged_dir), (undisturbed, _) = finished_pair(max_steps=120)
    (events,) = find_event_files(damaged_dir)
    data = events.read_bytes()
    cut = len(data) * 2 // 3 + 5  # inside a record, most likely
    events.write_bytes(data[:cut])
    # What a record-by-record read of the whole records before the cut holds.
    with open(events, "rb") as handle:
        kept = read_records(handle, max_bytes=2**40).records
    wanted: dict[str, set[int]] = {}
    for found in kept:
        event = Event()
        event.ParseFromString(found.data)
        for value in event.summary.value:
            if value.HasField("simple_value") and math.isfinite(value.simple_value):
                wanted.setdefault(value.tag, set()).add(event.step)

    expected = _check_list_and_undisturbed(db_path, db, undisturbed)
    record = _settled(db, damaged)
    assert (record.status, record.reason) == ("completed", None)
    got = _points(db, damaged)
    for name, points in got.items():
        # No point twice, none the undisturbed run does not have.
        assert len({step for step, _ in points}) == len(points)
        assert set(points) <= set(expected[name])
        if name != "lr":
            assert {step for step, _ in points} == wanted[name]
    assert set(got) - {"lr"} == set(wanted)


def test_a_failing_poll_flags_the_run_backs_off_and_loses_nothing(
    make_manager: Any,
    finished_pair: FinishedPair,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (damaged, damaged_dir), (undisturbed, _) = finished_pair(max_steps=120)
    reference = make_manager(follow=False, reattach=False)  # the damaged run is left unread
    assert reference.wait(undisturbed, timeout=60)["status"] == "completed"
    record = rows.get_experiment(db, damaged)
    assert record is not None
    # A long poll interval: the retry waits at least 2 x 600 s, so it cannot come by itself.
    process = TrainingProcess(
        record.config, db=db, experiment_id=damaged, run_dir=damaged_dir, poll_interval=600
    )
    calls = []
    real_insert = rows.insert_points

    def failing_once(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OverflowError("a value the store refused")
        real_insert(*args)

    monkeypatch.setattr(rows, "insert_points", failing_once)
    assert process.poll() is False  # failed: nothing raised
    after_failure = rows.get_experiment(db, damaged)
    assert after_failure is not None
    assert after_failure.health == UNREADABLE
    assert "OverflowError" in (after_failure.health_detail or "")
    assert rows.get_offsets(db, damaged) == {}  # nothing stored, nothing skipped
    assert process.poll() is False and len(calls) == 1  # backing off: not tried again yet
    process._retry_at = 0.0  # the back-off is over
    while not process.is_done:
        process.poll()
    final = _settled(db, damaged)
    assert (final.status, final.health) == ("completed", "ok")
    assert _points(db, damaged) == _points(db, undisturbed)


def test_an_import_is_all_or_nothing(
    finished_pair: FinishedPair,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (_damaged, damaged_dir), _ = finished_pair(max_steps=60)
    (folder,) = [p.parent for p in damaged_dir.glob("*/config.gin")]
    (events,) = find_event_files(damaged_dir)
    with open(events, "ab") as handle:
        handle.write(_scalar("regularization", 200, float("nan")))  # skipped, not fatal
    before = len(rows.list_experiments(db))

    def failing(*args: Any) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(importer, "_estimate_checkpoint_steps", failing)
    with pytest.raises(RuntimeError):
        importer.import_run(db, folder, name="imported")
    assert len(rows.list_experiments(db)) == before  # no half-imported row
    assert rows.find_experiment_by_name(db, "imported") is None

    monkeypatch.undo()
    experiment_id = importer.import_run(db, folder, name="imported")
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "completed"
    assert record.started_at is not None and record.completed_at is not None
    points = _points(db, experiment_id)
    assert points and 200 not in {step for step, _ in points["regularization"]}


def test_one_shot_commands_settle_an_ended_run_whose_reading_keeps_failing(
    finished_pair: FinishedPair,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (damaged, damaged_dir), _ = finished_pair(max_steps=60)

    def always_failing(*args: Any) -> None:
        raise ValueError("a value the store always refuses")

    monkeypatch.setattr(rows, "insert_points", always_failing)
    record = rows.get_experiment(db, damaged)
    assert record is not None
    for attempt in range(1, 4):  # three commands, each polling once in its own follower
        process = TrainingProcess(record.config, db=db, experiment_id=damaged, run_dir=damaged_dir)
        assert process.poll() is False
        current = rows.get_experiment(db, damaged)
        assert current is not None and current.health == UNREADABLE
        assert current.progress.read_failures == attempt
        assert (current.ended_at is not None) == (attempt == 3)
    final = _settled(db, damaged)
    assert (final.status, final.exit_code) == ("completed", 0)
    assert "ValueError" in (final.health_detail or "")
