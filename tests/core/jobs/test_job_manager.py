"""Preprocess and export as managed jobs, through the real supervisor and the rave double
(extended from the genuine preprocess/export captures)."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.datasets import register_dataset
from ravelab.core.errors import ConfigError, DatasetError, NotFoundError
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import datasets as dataset_rows
from ravelab.db import jobs as job_rows
from tests.core.jobs.test_preprocess import fake_ffmpeg, write_wav

__all__ = ["fake_ffmpeg"]


@pytest.fixture
def manager(db: Database, rave_double: Path, tmp_path: Path) -> Iterator[TrainingManager]:
    manager = TrainingManager(
        db, rave=str(rave_double), runs_dir=tmp_path / "runs", poll_interval=0.05
    )
    yield manager
    manager.shutdown()


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    for index in range(20):
        write_wav(folder / f"clip_{index:02d}.wav", 5.0)
    return folder


@pytest.mark.usefixtures("fake_ffmpeg")
def _ten_steps(name: str, dataset_id: int) -> dict[str, Any]:
    """A 10-step run on the CPU, with the trainer's own validation and save intervals."""
    return {
        "name": name,
        "dataset_id": dataset_id,
        "config": "v2_small",
        "max_steps": 10,
        "batch_size": 4,
        "gpu": -1,
        "workers": 0,
    }


def test_dataset_create_runs_preprocess_and_registers_the_result(
    manager: TrainingManager, audio: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    job_id, dataset_id, report = manager.jobs.create_dataset([audio], "clips", num_signal=65536)
    assert report.kept_chunks == 20
    assert dataset_rows.get_dataset(db, dataset_id).status == "preprocessing"  # type: ignore[union-attr]
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "completed", job.reason
    assert job.progress.chunks == 20
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == "ready"
    assert dataset.n_seconds and dataset.n_seconds > 0
    assert dataset.sources == [str(audio.resolve())]
    assert "--nolazy" in job.argv and "--num_signal" in job.argv
    assert not any("free under" in warning for warning in report.warnings)
    # The new dataset trains right away.
    experiment = manager.start_training(_ten_steps("on-clips", dataset_id))
    assert manager.wait(experiment, timeout=60)["status"] == "completed"


@pytest.mark.usefixtures("fake_ffmpeg")
def test_a_dataset_too_big_for_the_disk_is_said_before_it_starts(
    manager: TrainingManager, audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.core.operations import disk_space

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setattr(disk_space, "free_bytes", lambda folder: 1000)
    job_id, _, report = manager.jobs.create_dataset([audio], "tight", num_signal=65536)
    # 20 chunks of 131,072 int16 samples: about 5.8 MB with LMDB's pages.
    (warning,) = [w for w in report.warnings if "free under" in w]
    assert "needs about 5.8 MB and only 1.0 kB is free" in warning and "--lazy" in warning
    assert manager.jobs.wait(job_id, timeout=60).status == "completed"  # a warning only


@pytest.mark.usefixtures("fake_ffmpeg")
def test_lazy_preprocess_answers_rave_on_stdin(
    manager: TrainingManager, audio: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    job_id, dataset_id, _ = manager.jobs.create_dataset(
        [audio], "lazy", num_signal=65536, lazy=True
    )
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "completed", job.reason
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.lazy and dataset.status == "ready"
    stdout = (Path(job.run_dir) / "stdout.log").read_text()  # type: ignore[arg-type]
    assert "(y/n)" in stdout


@pytest.mark.usefixtures("fake_ffmpeg")
def test_a_preprocess_that_writes_nothing_is_failed_with_the_reason(
    manager: TrainingManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    folder = tmp_path / "mp3s"
    folder.mkdir()
    for index in range(3):  # lengths unreadable here (no real ffprobe): not counted
        (folder / f"song{index}.mp3").write_bytes(b"ID3" + b"\0" * 100)
    job_id, dataset_id, report = manager.jobs.create_dataset([folder], "empty")
    assert any("could not be read" in w for w in report.warnings)
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "failed"
    assert job.reason is not None
    assert job.reason.startswith("rave preprocess exited 0 but wrote no usable dataset")
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == "failed"
    with pytest.raises(ConfigError, match="is not ready to train on"):
        manager.start_training({"name": "x", "dataset_id": dataset_id, "gpu": -1})


@pytest.mark.usefixtures("fake_ffmpeg")
def test_the_health_check_refuses_before_anything_starts(
    manager: TrainingManager, audio: Path, db: Database, tmp_path: Path
) -> None:
    with pytest.raises(DatasetError, match="no file is long enough"):
        manager.jobs.create_dataset([audio], "default-chunks")  # 5 s < 5.94 s chunks
    with pytest.raises(DatasetError, match="does not exist"):
        manager.jobs.create_dataset([tmp_path / "nowhere"], "missing")
    with pytest.raises(ConfigError, match="dataset name 'bad name' is not allowed"):
        manager.jobs.create_dataset([audio], "bad name")
    assert dataset_rows.list_datasets(db) == []
    assert job_rows.list_jobs(db) == []


def _train_with_checkpoints(
    manager: TrainingManager, dataset_id: int, name: str = "export-me"
) -> int:
    experiment = manager.start_training(
        {
            "name": name,
            "dataset_id": dataset_id,
            "config": "v2_small",
            "max_steps": 120,
            "batch_size": 4,
            "gpu": -1,
            "val_every": 40,
            "save_every": 100,
            "workers": 0,
            "n_signal": 65536,
        }
    )
    assert manager.wait(experiment, timeout=60)["status"] == "completed"
    return experiment


def test_export_records_the_model(
    manager: TrainingManager,
    dataset_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    dataset_id = register_dataset(db, dataset_dir, "synth").id
    experiment = _train_with_checkpoints(manager, dataset_id)
    job_id = manager.jobs.export_model(experiment, checkpoint="best", streaming=True, fidelity=0.9)
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "completed", job.reason
    (model,) = job_rows.list_models(db, experiment)
    path = Path(model.path)
    assert path.is_file() and path.name.endswith("_streaming.ts")
    assert model.streaming and model.fidelity == 0.9
    assert model.checkpoint is not None and model.checkpoint.endswith("best.ckpt")
    assert model.size_bytes == path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        info = json.loads(archive.read("fake_torchscript/info.json"))
    assert info["streaming"] is True
    # --output FILE, not streaming.
    target = tmp_path / "models" / "drums.ts"
    target.parent.mkdir()
    job = manager.jobs.wait(
        manager.jobs.export_model(experiment, checkpoint="latest", streaming=False, output=target),
        timeout=60,
    )
    assert job.status == "completed", job.reason
    assert target.is_file()
    assert len(job_rows.list_models(db, experiment)) == 2


def test_export_of_a_stereo_run_adds_n_channels(
    manager: TrainingManager, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    (dataset_dir / "metadata.yaml").write_text(
        "channels: 2\nlazy: false\nn_seconds: 56.47\nsr: 44100\n"
    )
    dataset_id = register_dataset(db, dataset_dir, "stereo").id
    experiment = _train_with_checkpoints(manager, dataset_id, "stereo-run")
    job = manager.jobs.wait(manager.jobs.export_model(experiment), timeout=60)
    assert job.status == "completed", job.reason
    assert job.options["stereo_config_fixed"] is True
    config = next(Path(manager.get_experiment(experiment)["run_dir"]).glob("*/config.gin"))  # type: ignore[index]
    assert "RAVE.n_channels = 2" in config.read_text()


def test_export_without_a_checkpoint_says_so_and_starts_nothing(
    manager: TrainingManager, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    dataset_id = register_dataset(db, dataset_dir, "synth").id
    experiment = manager.start_training(_ten_steps("short", dataset_id))
    manager.wait(experiment, timeout=60)
    with pytest.raises(NotFoundError, match="no best checkpoint"):
        manager.jobs.export_model(experiment)
    assert job_rows.list_jobs(db) == []


_HANGING_RAVE = """#!{python}
import sys, time
print("No valid file found in ['/data']. Aborting", flush=True)
sys.stderr.write("\\r0it [00:00, ?it/s]")
sys.stderr.flush()
time.sleep(600)  # what RAVE 2.3.1's preprocess does next: wait forever
"""


@pytest.mark.usefixtures("fake_ffmpeg")
def test_a_preprocess_that_would_hang_is_stopped_and_failed(
    db: Database, tmp_path: Path, audio: Path
) -> None:

    rave = tmp_path / "hanging-rave"
    rave.write_text(_HANGING_RAVE.format(python=sys.executable))
    rave.chmod(0o755)
    manager = TrainingManager(db, rave=str(rave), runs_dir=tmp_path / "runs", poll_interval=0.05)
    try:
        job_id, dataset_id, _ = manager.jobs.create_dataset([audio], "hangs", num_signal=65536)
        job = manager.jobs.wait(job_id, timeout=60)
    finally:
        manager.shutdown()
    assert job.status == "failed"
    assert job.reason is not None and job.reason.startswith("RAVE found no audio file")
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == "failed"


def test_a_job_folder_that_exists_already_is_never_touched(
    make_manager: Any,
    db: Database,
    dataset_id: int,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = _train_with_checkpoints(manager, dataset_id)
    foreign = runs_dir / "jobs" / "0001-export-export-me"  # another database's job 1
    foreign.mkdir(parents=True)
    (foreign / "stdout.log").write_text("another database's export\n")
    job_id = manager.jobs.export_model(experiment_id)
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "completed", job.reason
    assert job.run_dir == str(runs_dir / "jobs" / "0001-export-export-me-2")
    assert (foreign / "stdout.log").read_text() == "another database's export\n"
    assert [p.name for p in foreign.iterdir()] == ["stdout.log"]
    assert job_rows.get_job(db, job_id) is not None
