"""A run folder's files as hostile input, reader by reader: absurd numbers, huge lines,
folders and FIFOs where files belong. Each reader skips or cuts what is bad, says so, and
keeps reading the rest."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary

from ravelab.core.rave.checkpoint_scan import checkpoint_step
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.core.rave.gin_config import read_gin
from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.rave.trainer_numbers import MAX_STEP, digits_value
from ravelab.core.runs.log_tail import LogTail
from ravelab.core.runs.text_stream import LineSplitter
from ravelab.core.runs.training_process import UNREADABLE, TrainingProcess
from ravelab.core.tensorboard import events as tensorboard_events
from ravelab.core.tensorboard.events import EventFileFollower
from ravelab.db import Database, point_blocks
from ravelab.db import experiments as rows
from tests.helpers import tfrecord_frame as _frame


def test_digits_value_refuses_what_is_not_a_small_ascii_number() -> None:
    assert digits_value("123") == 123
    assert digits_value(str(MAX_STEP)) == MAX_STEP
    for text in ["", "-1", "1.5", "²", "١٢", "9" * 19, "9" * 5000, str(MAX_STEP + 1)]:
        assert digits_value(text) is None, text


def test_the_parser_skips_absurd_numbers_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    parser = OutputParser(max_steps=None, batch_size=4)
    assert parser.parse("step: 12 loss: 0.5").step == 12
    with caplog.at_level(logging.WARNING):
        for line in [
            "step: 99999999999999999999",
            "step: 99999999999999999999",
            "lr: 1e999 loss: 0.25",
            "epoch: " + "1" * 5000,
            "train set: 99999999999999999999999 examples",
            "Epoch 99999999999999999999:  50%|##| 2/4 [00:00<00:00,  2.00it/s]",
            "Epoch 1:  50%|##| 2/4 [00:00<00:00,  1.2.3it/s]",
            "Epoch 1:  50%|##| 99999999999999999999/4 [00:00<00:00,  2.00it/s]",
        ]:
            parsed = parser.parse(line)
            assert parsed.step is None or 0 <= parsed.step <= MAX_STEP
            assert all(math.isfinite(v) for v in parsed.metrics.values())
    assert parser.step == 12 and parser.train_examples is None
    assert parser.parse("lr: 1e999 loss: 0.25").metrics == {"loss": 0.25}
    warnings = [r.getMessage() for r in caplog.records if "out of range" in r.getMessage()]
    assert len([w for w in warnings if " step " in w]) == 1  # once per kind
    assert parser.skipped_values >= 7


def test_a_long_line_is_parsed_only_so_far_and_kept_whole_in_the_splitter_offsets() -> None:
    splitter = LineSplitter(max_line_bytes=1000)
    total = 0
    for _ in range(100):  # 10 MB without a line end, in 100 KB chunks
        assert splitter.feed(b"7" * 100_000) == []
        total += 100_000
        assert splitter.pending_bytes == total and len(splitter._pending) <= 1000
    (line,) = splitter.feed(b"\nstep: 3\n")[:1]
    assert line.text == "7" * 1000 and line.cut_bytes == total - 1000
    assert line.end_offset == total + 1
    assert splitter.offset == total + len(b"\nstep: 3\n")
    parser = OutputParser()
    assert parser.parse("step: " + "7" * 100_000).step is None


def test_gin_values_with_long_space_runs_and_huge_integers(tmp_path: Path) -> None:
    gin = tmp_path / "config.gin"
    gin.write_text(
        "PHASE_1_DURATION = " + "9" * 5000 + "\n"
        "SAMPLING_RATE = 44100   \n"
        "NOTE = a" + " " * 100_000 + "b\n"  # quadratic for the original lazy regex
        "N_CHANNELS =\n"
    )
    summary = read_gin(gin)
    assert summary.phase_1_duration is None
    assert summary.sampling_rate == 44100
    assert summary.macros["NOTE"] == "a" + " " * 100_000 + "b"
    assert summary.n_channels is None


def test_checkpoint_names_with_absurd_numbers(tmp_path: Path) -> None:
    run = tmp_path / "run_0123456789"
    good = run / "version_0" / "checkpoints"
    good.mkdir(parents=True)
    (good / ("epoch-epoch=" + "9" * 200 + ".ckpt")).write_bytes(b"x")
    (good / "best.ckpt").mkdir()  # a folder is no checkpoint
    odd = run / ("version_" + "9" * 200) / "checkpoints"
    odd.mkdir(parents=True)
    (odd / "epoch_1.ckpt").write_bytes(b"x")
    found = find_checkpoints(tmp_path)
    assert [c.path.name[:12] for c in found] == ["epoch-epoch="]
    process = TrainingProcess({"max_steps": 100, "batch_size": 4})
    process.parser.train_examples = 19
    process.parser.step = 40
    per_epoch = process.parser.batches_per_epoch
    assert per_epoch  # so the epoch number is read (and found too large)
    assert checkpoint_step(found[0], found, per_epoch, 40) == 40  # not (10**200 + 1) x 4


def test_a_log_viewer_skips_a_log_replaced_by_a_folder(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").mkdir()
    (tmp_path / "stderr.log").write_bytes(b"one\ntwo\n")
    tail = LogTail(tmp_path)
    assert [line.text for _stream, line in tail.read()] == ["one", "two"]
    assert "stdout.log" in tail.problems["stdout"]


def test_a_fifo_for_stdout_flags_the_run_and_the_rest_is_read(tmp_path: Path, db: Database) -> None:
    experiment_id = rows.insert_experiment(
        db, name="fifo", project_id=1, dataset_id=None, config={}, status="running"
    )
    os.mkfifo(tmp_path / "stdout.log")  # no writer: a plain open would block forever
    (tmp_path / "stderr.log").write_bytes(
        b"Traceback (most recent call last):\n  x\nValueError: boom\n"
    )
    process = TrainingProcess({}, db=db, experiment_id=experiment_id, run_dir=tmp_path)
    assert process.poll() is True
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.health == UNREADABLE
    assert "stdout.log" in (record.health_detail or "") and "FIFO" in (record.health_detail or "")
    assert record.progress.last_error == "ValueError: boom"
    assert rows.get_offsets(db, experiment_id)["stderr"] > 0
    # The file is a file again: the flag goes.
    os.unlink(tmp_path / "stdout.log")
    (tmp_path / "stdout.log").write_bytes(b"step: 5 loss: 0.5\n")
    process.poll()
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.health == "ok"
    assert rows.metric_history(db, experiment_id, "loss") == [(5, 0.5)]


def test_event_clips_and_texts_with_absurd_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tensorboard_events, "MAX_CLIP_BYTES", 1000)
    monkeypatch.setattr(tensorboard_events, "MAX_TEXT_CHARS", 10)
    big = Summary.Audio(sample_rate=44100, encoded_audio_string=b"R" * 2000)
    odd = Summary.Audio(
        sample_rate=1e300, num_channels=-3, length_frames=2**62, encoded_audio_string=b"RIFF"
    )
    text = Summary.Value(tag="config", metadata={"plugin_data": {"plugin_name": "text"}})
    text.tensor.dtype = 7
    text.tensor.string_val.append(b"x" * 50)
    events = [
        Event(step=1, wall_time=1.0, summary=Summary(value=[Summary.Value(tag="a", audio=big)])),
        Event(step=2, wall_time=1.0, summary=Summary(value=[Summary.Value(tag="a", audio=odd)])),
        Event(step=3, wall_time=float("nan"), summary=Summary(value=[text])),
        Event(step=4, wall_time=2.0, summary=Summary(value=[text])),
    ]
    path = tmp_path / "events.out.tfevents.x"
    path.write_bytes(b"".join(_frame(e.SerializeToString()) for e in events))
    batch = EventFileFollower(path).poll()
    (clip,) = batch.audio
    assert (clip.step, clip.sample_rate, clip.num_channels, clip.length_frames) == (2, 0, 0, 0)
    assert [(t.step, t.text) for t in batch.texts] == [(4, "x" * 10)]
    assert batch.rejected == 2


def test_storage_drops_points_it_cannot_hold(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        ("loss", 1, 0.5, 1.0),
        ("loss", 10**20, 0.5, 1.0),
        ("loss", -1, 0.5, 1.0),
        ("loss", 2, 0.25, float("nan")),
        ("lr", 3, 1e-3, 2.0),
    ]
    with caplog.at_level(logging.WARNING):
        groups = point_blocks.group_points(points)
    assert groups["loss"].steps.tolist() == [1]
    assert groups["lr"].steps.tolist() == [3]
    assert "cannot be stored" in caplog.text


def test_an_event_file_replaced_by_a_folder_flags_the_run(tmp_path: Path, db: Database) -> None:
    experiment_id = rows.insert_experiment(
        db, name="events", project_id=1, dataset_id=None, config={}, status="running"
    )
    version = tmp_path / "run_0123456789" / "version_0"
    version.mkdir(parents=True)
    bad = version / "events.out.tfevents.1"
    good = version / "events.out.tfevents.2"
    scalar = Summary(value=[Summary.Value(tag="loss", simple_value=0.5)])
    bad.write_bytes(_frame(Event(step=1, wall_time=1.0, summary=scalar).SerializeToString()))
    good.write_bytes(_frame(Event(step=2, wall_time=1.0, summary=scalar).SerializeToString()))
    process = TrainingProcess({}, db=db, experiment_id=experiment_id, run_dir=tmp_path)
    assert process._events is not None
    process._events._scan(force=True)  # both files known, then one is replaced
    bad.unlink()
    bad.mkdir()
    process.poll()
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.health == UNREADABLE
    assert "events.out.tfevents.1" in (record.health_detail or "")
    assert rows.metric_history(db, experiment_id, "loss") == [(2, 0.5)]  # the other is read


def test_a_scalar_with_a_huge_tag_is_skipped(tmp_path: Path) -> None:
    events = [
        Event(step=1, wall_time=1.0, summary=Summary(value=[Summary.Value(tag=t, simple_value=1)]))
        for t in ("ok", "x" * 100_000)
    ]
    path = tmp_path / "events.out.tfevents.x"
    path.write_bytes(b"".join(_frame(e.SerializeToString()) for e in events))
    batch = EventFileFollower(path).poll()
    assert [p[0] for p in batch.points] == ["ok"] and batch.rejected == 1
