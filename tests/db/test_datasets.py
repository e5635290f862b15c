"""The datasets repository on a real SQLite file: rows found by id, name and path, a row
whose figures another program wrote wrong reads them as unknown, and removing a row
never touches its folder."""

from __future__ import annotations

from pathlib import Path

from ravelab.db import Database, DatasetStatus
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as experiment_rows
from ravelab.db import projects as project_rows


def _insert(db: Database, name: str, path: str, project_id: int = 1) -> int:
    return dataset_rows.insert_dataset(
        db,
        name=name,
        path=path,
        channels=2,
        sample_rate=48000,
        n_seconds=12.5,
        lazy=True,
        project_id=project_id,
        sources=["/audio/a.wav", "/audio/b.flac"],
        num_signal=131072,
    )


def test_a_dataset_is_found_by_id_name_and_path(db: Database) -> None:
    dataset_id = _insert(db, "drums", "/data/drums")
    record = dataset_rows.get_dataset(db, dataset_id)
    assert record is not None and record.status == DatasetStatus.READY
    assert (record.channels, record.sample_rate, record.n_seconds) == (2, 48000, 12.5)
    assert record.lazy is True and record.num_signal == 131072 and record.reason is None
    assert record.sources == ["/audio/a.wav", "/audio/b.flac"]
    assert dataset_rows.find_dataset(db, name="drums") == record
    assert dataset_rows.find_dataset(db, path="/data/drums") == record
    assert dataset_rows.find_dataset(db, name="voice") is None
    assert dataset_rows.find_dataset(db) is None and dataset_rows.get_dataset(db, 99) is None


def test_datasets_are_listed_by_id_and_by_project(db: Database) -> None:
    other = project_rows.create_project(db, "other")
    first = _insert(db, "a", "/data/a")
    second = _insert(db, "b", "/data/b", project_id=other)
    third = _insert(db, "c", "/data/c")
    assert [d.id for d in dataset_rows.list_datasets(db)] == [first, second, third]
    assert [d.id for d in dataset_rows.list_datasets(db, 1)] == [first, third]
    assert [d.id for d in dataset_rows.list_datasets(db, other)] == [second]


def test_figures_written_wrong_by_another_program_read_as_unknown(db: Database) -> None:
    dataset_id = _insert(db, "odd", "/data/odd")
    db.execute(
        "UPDATE datasets SET channels = 'two', sample_rate = 0, n_seconds = -3, "
        "num_signal = 1.5 WHERE id = ?",
        (dataset_id,),
    )
    record = dataset_rows.get_dataset(db, dataset_id)
    assert record is not None
    assert (record.channels, record.sample_rate, record.n_seconds, record.num_signal) == (
        None,
        None,
        None,
        None,
    )


def test_an_update_writes_lists_as_json(db: Database) -> None:
    dataset_id = _insert(db, "grow", "/data/grow")
    dataset_rows.update_dataset(
        db, dataset_id, status=DatasetStatus.FAILED, reason="no audio", sources=["/x.wav"]
    )
    dataset_rows.update_dataset(db, dataset_id)  # nothing to write
    record = dataset_rows.get_dataset(db, dataset_id)
    assert record is not None and record.status == DatasetStatus.FAILED
    assert (record.reason, record.sources) == ("no audio", ["/x.wav"])


def test_the_runs_using_a_dataset_and_its_removal(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "synth"
    (folder / "sub").mkdir(parents=True)
    (folder / "data.mdb").write_bytes(b"\0" * 1000)
    (folder / "sub" / "metadata.yaml").write_bytes(b"x" * 24)
    dataset_id = _insert(db, "synth", str(folder))
    runs = [
        experiment_rows.insert_experiment(
            db, name=name, project_id=1, dataset_id=dataset_id, config={}
        )
        for name in ("one", "two")
    ]
    assert dataset_rows.experiments_using(db, dataset_id) == runs
    for run in runs:
        experiment_rows.delete_experiment(db, run)
    dataset_rows.delete_dataset(db, dataset_id)
    assert dataset_rows.get_dataset(db, dataset_id) is None
    assert (folder / "data.mdb").exists()  # the row goes, never the files
