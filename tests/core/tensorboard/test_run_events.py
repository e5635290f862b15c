"""TensorBoard ingestion inside the follow loop: genuine event files, growth, resume,
NaN, stalls, and `import-run` of the genuine run layout."""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.jobs.importer import import_run
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from tests.conftest import FIXTURES

V0 = "events.out.tfevents.1795672257.vm.29866.0"
V1 = "events.out.tfevents.1795672861.vm.14705.0"


def _expected_points() -> dict[str, dict[int, float]]:
    """Per tag, step -> value as TensorBoard read it; the earlier version (and within one
    file the first record) wins, as RAVE logs the last step again on resume."""
    capture = json.loads((FIXTURES / "tensorboard_capture_run.json").read_text())
    expected: dict[str, dict[int, float]] = {}
    for key in (f"version_0/{V0}", f"version_1/{V1}"):
        for tag, points in capture[key]["scalars"].items():
            for point in points:
                expected.setdefault(tag, {}).setdefault(point["step"], point["value"])
    return expected


def _make_run_layout(root: Path, versions: tuple[str, ...] = (V0, V1)) -> Path:
    """The genuine run folder as `rave train` left it (run_tree.txt), checkpoints as stubs."""
    run = root / "capture_65097e39f0"
    for index, name in enumerate(versions):
        version = run / f"version_{index}"
        (version / "checkpoints").mkdir(parents=True)
        shutil.copy(FIXTURES / name, version / name)
        (version / "hparams.yaml").write_text("{}\n")
    shutil.copy(FIXTURES / "config.gin", run / "config.gin")
    # Modification times from run_tree.txt (2026-11-26T05:51:32.14589 UTC is 1795672292.14).
    for relative, mtime in (
        ("version_0/checkpoints/best.ckpt", 1795672292.14589),
        ("version_0/checkpoints/epoch_100.ckpt", 1795672322.55514),
        ("version_0/checkpoints/epoch_300.ckpt", 1795672827.32205),
    ):
        path = run / relative
        path.write_bytes(b"ckpt")
        os.utime(path, (mtime, mtime))
    return run


def _new_experiment(db: Database, run_dir: Path, **config: Any) -> int:
    experiment = rows.insert_experiment(
        db,
        name="follow",
        project_id=1,
        dataset_id=None,
        config={"config": "v2_small", "overrides": ["PHASE_1_DURATION=150"], **config},
    )
    rows.update_fields(db, experiment, run_dir=str(run_dir))
    return experiment


def _stored(db: Database, experiment: int) -> dict[str, dict[int, float]]:
    return {
        name: dict(rows.metric_history(db, experiment, name))
        for name in rows.metric_names(db, experiment)
    }


def test_import_run_of_the_genuine_layout(db: Database, tmp_path: Path) -> None:
    run = _make_run_layout(tmp_path / "runs")
    experiment = import_run(db, tmp_path / "runs")
    record = rows.get_experiment(db, experiment)
    assert record is not None
    assert record.name == "capture" and record.status == "completed"
    assert record.ended_at is not None and "imported from" in (record.reason or "")
    stored = _stored(db, experiment)
    expected = _expected_points()
    for tag, points in expected.items():
        assert stored[tag].keys() == points.keys(), tag
        for step, value in points.items():
            assert stored[tag][step] == pytest.approx(value, rel=1e-6), (tag, step)
    # RAVE's fixed lr at every training logging step (49, 99, ...), phase 1 = 150 steps.
    assert sorted(stored["lr"]) == [49, 99, 149, 199, 249, 299]
    assert stored["lr"][49] == pytest.approx(1e-3 * (1 - 0.9 * 49 / 150))
    assert stored["lr"][199] == pytest.approx(1e-4)
    assert record.progress.step == 319  # the last record: validation at TB step 318
    clips = artifacts.list_audio_clips(db, experiment)
    assert [(c.version, c.step) for c in clips][:7] == [(0, s) for s in range(7)]
    assert all(Path(c.path).read_bytes()[:4] == b"RIFF" for c in clips)
    assert Path(clips[0].path).parent == run / "audio"
    texts = artifacts.get_texts(db, experiment)
    assert "dynamic_registration" in texts["config/text_summary"]
    assert "model/text_summary" in texts
    checkpoints = artifacts.list_checkpoints(db, experiment)
    assert [Path(c.path).name for c in checkpoints] == [
        "best.ckpt",
        "epoch_100.ckpt",
        "epoch_300.ckpt",
    ]
    assert [c.step for c in checkpoints] == [80, 100, 300]  # best after validation 79


def test_import_refuses_twice_and_says_what_is_wrong(db: Database, tmp_path: Path) -> None:
    _make_run_layout(tmp_path / "runs")
    import_run(db, tmp_path / "runs")
    with pytest.raises(ConfigError, match="a run named 'capture' exists already"):
        import_run(db, tmp_path / "runs")
    with pytest.raises(ConfigError, match="is imported already"):
        import_run(db, tmp_path / "runs", name="again")
    with pytest.raises(NotFoundError, match="holds no RAVE run"):
        import_run(db, tmp_path)
    with pytest.raises(NotFoundError, match="does not exist"):
        import_run(db, tmp_path / "missing")


def test_a_growing_event_file_is_followed_without_loss_or_duplicates(
    db: Database, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    target = run / "capture_65097e39f0" / "version_0" / V0
    target.parent.mkdir(parents=True)
    data = (FIXTURES / V0).read_bytes()
    experiment = _new_experiment(db, run)
    process = TrainingProcess(
        {"config": "v2_small", "overrides": ["PHASE_1_DURATION=150"]},
        db=db,
        experiment_id=experiment,
        run_dir=run,
    )
    cuts = [0, 5, 13, 1000, 4097, 250_000, 250_001, 900_000, len(data) - 3, len(data)]
    with open(target, "wb") as handle:
        for start, end in itertools.pairwise(cuts):
            handle.write(data[start:end])
            handle.flush()
            process.ingest()
    # A new follower from the stored offsets (the app restarted) adds nothing.
    TrainingProcess({"config": "v2_small"}, db=db, experiment_id=experiment, run_dir=run).ingest()
    stored = _stored(db, experiment)
    capture = json.loads((FIXTURES / "tensorboard_capture_run.json").read_text())
    for tag, points in capture[f"version_0/{V0}"]["scalars"].items():
        assert set(stored[tag]) == {p["step"] for p in points}, tag
    count = rows.count_points(db, experiment)
    process.ingest()
    assert rows.count_points(db, experiment) == count


def _write_scalars(path: Path, points: list[tuple[str, int, float]]) -> None:
    writer = EventFileWriter(str(path))
    for tag, step, value in points:
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]
        )
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0 + step, summary=summary))
    writer.close()


def test_nan_marks_the_run_broken(db: Database, tmp_path: Path) -> None:
    run = tmp_path / "run"
    folder = run / "nan_0123456789" / "version_0"
    folder.mkdir(parents=True)
    _write_scalars(
        folder,
        [
            ("fullband_spectral_distance", 49, 3.5),
            ("fullband_spectral_distance", 99, math.nan),
            ("loss_dis", 99, math.inf),
        ],
    )
    experiment = _new_experiment(db, run)
    process = TrainingProcess({"config": "v2"}, db=db, experiment_id=experiment, run_dir=run)
    health: list[tuple[str, str]] = []
    process.health_update.connect(lambda state, detail: health.append((state, detail)))
    process.ingest()
    record = rows.get_experiment(db, experiment)
    assert record is not None and record.health == "broken"
    assert record.health_detail == "nan in fullband_spectral_distance at step 99"
    assert health == [("broken", "nan in fullband_spectral_distance at step 99")]
    assert rows.metric_history(db, experiment, "fullband_spectral_distance") == [(49, 3.5)]
    assert rows.metric_history(db, experiment, "loss_dis") == []  # inf is no point either


class _AlwaysRunning:
    name = "local"

    def is_running(self, run_dir: Path, supervisor: object) -> bool:
        return True


def test_a_live_run_without_steps_becomes_stalled_then_recovers(
    db: Database, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    experiment = _new_experiment(db, run, max_steps=100, batch_size=4)
    process = TrainingProcess(
        {"max_steps": 100, "batch_size": 4},
        db=db,
        experiment_id=experiment,
        run_dir=run,
        executor=_AlwaysRunning(),  # type: ignore[arg-type]
        stalled_after_s=0.0,
    )
    states: list[str] = []
    process.health_update.connect(lambda state, detail: states.append(state))
    process.poll()
    assert rows.get_experiment(db, experiment).health == "stalled"  # type: ignore[union-attr]
    (run / "stdout.log").write_bytes(b"step: 5 loss: 0.5\n")
    process.poll()
    assert rows.get_experiment(db, experiment).health == "ok"  # type: ignore[union-attr]
    assert states == ["stalled", "ok"]
