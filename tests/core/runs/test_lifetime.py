"""A run's lifetime (``core.runs.lifetime``): rename, notes, tags, archive, delete with or
without files, the resume point, and the duration as the sum of the attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.runs import lifetime
from ravelab.db import Database, RunStatus
from ravelab.db import experiments as rows
from tests.helpers import run_config


def _ended(db: Database, name: str = "a", run_dir: Path | None = None, created: bool = True) -> int:
    experiment_id = rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=None, config={}, status=RunStatus.COMPLETED
    )
    rows.update_fields(
        db,
        experiment_id,
        run_dir=str(run_dir) if run_dir else None,
        run_dir_created=int(created),
        ended_at=rows.utc_now(),
    )
    return experiment_id


def _count(db: Database, table: str, experiment_id: int) -> int:
    row = db.query_one(f"SELECT COUNT(*) FROM {table} WHERE experiment_id = ?", (experiment_id,))
    assert row is not None
    return int(row[0])


def test_rename_follows_the_name_rules_and_keeps_names_unique(db: Database) -> None:
    first, second = _ended(db, "first"), _ended(db, "second")
    assert lifetime.rename_run(db, first, "better-name").name == "better-name"
    with pytest.raises(ConfigError, match=r"'second' exists already \(run 2"):
        lifetime.rename_run(db, first, "second")
    with pytest.raises(ConfigError, match="not allowed"):
        lifetime.rename_run(db, first, "bad name/x")
    with pytest.raises(NotFoundError, match="experiment 99 not found"):
        lifetime.rename_run(db, 99, "x")
    assert rows.get_experiment(db, second).name == "second"  # type: ignore[union-attr]
    assert lifetime.rename_run(db, first, "better-name").name == "better-name"  # itself: fine


def test_notes_and_tags_are_checked_and_kept(db: Database) -> None:
    run = _ended(db)
    assert lifetime.set_run_notes(db, run, "  lr too high?\nsecond line ").notes == (
        "lr too high?\nsecond line"
    )
    with pytest.raises(ConfigError, match="at most"):
        lifetime.set_run_notes(db, run, "x" * (lifetime.MAX_NOTES + 1))
    record = lifetime.change_run_tags(db, run, add=["baseline", "drums", "Baseline"])
    assert record.tags == ("baseline", "drums")
    record = lifetime.change_run_tags(db, run, add=["v2"], remove=["DRUMS"])
    assert record.tags == ("baseline", "v2")
    for bad, message in (
        ("a,b", "comma"),
        ("x" * 65, "64 at most"),
        ("a\tb", "control"),
        (" ", "empty"),
    ):
        with pytest.raises(ConfigError, match=message):
            lifetime.change_run_tags(db, run, add=[bad])
    assert rows.get_experiment(db, run).tags == ("baseline", "v2")  # type: ignore[union-attr]
    assert lifetime.parse_tag_changes(["+a", "b", "-c"]) == (["a", "b"], ["c"])


def test_filter_finds_words_in_name_tags_and_notes(db: Database) -> None:
    run = _ended(db, "kick-drums")
    lifetime.change_run_tags(db, run, add=["baseline"])
    record = lifetime.set_run_notes(db, run, "Learning rate sweep")
    assert lifetime.matches_filter(record, "KICK sweep")
    assert lifetime.matches_filter(record, "tag:baseline")
    assert not lifetime.matches_filter(record, "tag:base")  # a tag word needs the whole tag
    assert not lifetime.matches_filter(record, "kick snare")


def test_archive_and_unarchive(db: Database) -> None:
    run = _ended(db)
    record = lifetime.set_run_archived(db, run, True)
    assert record.archived and record.archived_at is not None
    assert not lifetime.set_run_archived(db, run, False).archived


def test_delete_takes_everything_stored_with_the_run(db: Database, tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "0001-a"
    run_dir.mkdir(parents=True)
    (run_dir / "stdout.log").write_text("kept\n")
    run = _ended(db, run_dir=run_dir)
    rows.insert_points(db, run, [("loss", 1, 1.0, 0.0), ("loss", 2, 0.5, 1.0)])
    rows.set_offsets(db, run, {"stdout.log": 10})
    db.execute("INSERT INTO run_validations VALUES (?, 0, 5, 1.0)", (run,))
    db.execute("INSERT INTO run_texts VALUES (?, 'config', 'x')", (run,))
    deleted = lifetime.delete_run(db, run)
    assert deleted.record.id == run and deleted.folder is None
    assert rows.get_experiment(db, run) is None
    for table in (
        "metric_blocks",
        "source_offsets",
        "run_validations",
        "run_texts",
        "run_attempts",
    ):
        assert _count(db, table, run) == 0, table
    assert (run_dir / "stdout.log").read_text() == "kept\n"  # without --files: the folder stays


def test_delete_with_files_removes_only_a_folder_ravelab_created(
    db: Database, tmp_path: Path
) -> None:
    made = tmp_path / "runs" / "0001-a"
    (made / "x_abc" / "version_0").mkdir(parents=True)
    (made / "stdout.log").write_text("log\n")
    run = _ended(db, "a", made)
    users = tmp_path / "theirs"
    users.mkdir()
    imported = _ended(db, "imported", users, created=False)
    with pytest.raises(ConfigError, match="not created by ravelab"):
        lifetime.delete_run(db, imported, with_files=True)
    assert rows.get_experiment(db, imported) is not None and users.is_dir()
    deleted = lifetime.delete_run(db, run, with_files=True)
    assert deleted.folder == made and deleted.folder_problem is None
    assert not made.exists() and list((tmp_path / "runs").iterdir()) == []


def test_delete_with_files_refuses_a_folder_holding_another_runs_folder(
    db: Database, tmp_path: Path
) -> None:
    made = tmp_path / "runs" / "0001-a"
    inner = made / "a_abc"
    inner.mkdir(parents=True)
    run = _ended(db, "a", made)
    _ended(db, "inner", inner, created=False)
    with pytest.raises(ConfigError, match="holds what other rows record: run 2"):
        lifetime.delete_run(db, run, with_files=True)
    assert inner.is_dir() and rows.get_experiment(db, run) is not None


def test_delete_refuses_a_live_run_and_one_still_shutting_down(db: Database) -> None:
    live = rows.insert_experiment(db, name="live", project_id=1, dataset_id=None, config={})
    with pytest.raises(ConfigError, match=r"has not ended \(running\): stop it first"):
        lifetime.delete_run(db, live)
    ended = _ended(db, "ended")
    with pytest.raises(ConfigError, match="still shutting down"):
        lifetime.delete_run(db, ended, still_lives=lambda record: True)
    assert rows.get_experiment(db, live) and rows.get_experiment(db, ended)
    with pytest.raises(NotFoundError):
        lifetime.delete_run(db, 99)


def test_a_resumed_run_counts_its_attempts_not_the_gap(
    make_manager: Any, dataset_id: int, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    run = manager.start_training(run_config(dataset_id, max_steps=30))
    assert manager.wait(run, timeout=60)["status"] == "completed"
    record = rows.get_experiment(db, run)
    assert record is not None and record.run_dir_created and record.attempts == 1
    point = lifetime.resume_point(db, record)
    assert point is not None and point.path.suffix == ".ckpt"
    # The first attempt ended a day ago: the gap before the resume must not count.
    db.execute(
        "UPDATE run_attempts SET started_at = '2026-01-01T10:00:00+00:00', "
        "ended_at = '2026-01-01T10:10:00+00:00' WHERE experiment_id = ?",
        (run,),
    )
    manager.resume_training(run, max_steps=40)
    assert manager.wait(run, timeout=60)["status"] == "completed"
    record = rows.get_experiment(db, run)
    assert record is not None and record.attempts == 2 and record.attempt_started_at is None
    seconds = lifetime.run_seconds(record)
    assert seconds is not None and 600 <= seconds < 600 + 120


def test_an_imported_run_trained_for_the_span_it_logged_not_until_its_import(
    db: Database, tmp_path: Path
) -> None:
    from ravelab.core.jobs import importer
    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "outside")
    record = rows.get_experiment(db, importer.import_run(db, tmp_path / "outside"))
    assert record is not None
    # The genuine capture logged from 05:51:13 to 06:04:00: 12 min 47 s.
    assert lifetime.run_seconds(record) == pytest.approx(767, abs=1)


def test_delete_with_files_sees_a_model_through_a_linked_runs_folder(
    db: Database, tmp_path: Path
) -> None:
    from ravelab.db import jobs as job_rows

    real = tmp_path / "scratch" / "runs"
    (real / "0001-a" / "a_abc").mkdir(parents=True)
    (tmp_path / "runs").symlink_to(real, target_is_directory=True)
    model = real / "0001-a" / "a_abc" / "a_streaming.ts"  # stored resolved, as exports do
    model.write_bytes(b"ts")
    run = _ended(db, "a", tmp_path / "runs" / "0001-a")  # stored through the link
    job_rows.insert_model(
        db,
        experiment_id=None,
        job_id=None,
        path=str(model),
        size_bytes=2,
        streaming=True,
        fidelity=None,
        checkpoint=None,
        step=None,
    )
    with pytest.raises(ConfigError, match="holds what other rows record: model 1"):
        lifetime.delete_run(db, run, with_files=True)
    assert model.exists() and rows.get_experiment(db, run) is not None


def test_delete_with_files_refuses_a_folder_holding_a_dataset(db: Database, tmp_path: Path) -> None:
    from ravelab.db import datasets as dataset_rows

    made = tmp_path / "runs" / "0001-a"
    (made / "data").mkdir(parents=True)
    run = _ended(db, "a", made)
    dataset_rows.insert_dataset(
        db, name="d", path=str(made / "data"), channels=1, sample_rate=44100, n_seconds=1.0
    )
    with pytest.raises(ConfigError, match="dataset 1"):
        lifetime.delete_run(db, run, with_files=True)
    assert (made / "data").is_dir()


def test_a_relative_run_folder_is_never_deleted(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runs" / "0001-a").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    run = _ended(db, "a", None)
    rows.update_fields(db, run, run_dir="runs/0001-a")
    with pytest.raises(ConfigError, match="relative path"):
        lifetime.delete_run(db, run, with_files=True)
    assert (tmp_path / "runs" / "0001-a").is_dir() and rows.get_experiment(db, run) is not None


def test_a_failed_delete_puts_the_folder_back_and_an_interrupted_one_is_named(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tmp_path / "runs" / "0001-a"
    made.mkdir(parents=True)
    (made / "stdout.log").write_text("log\n")
    run = _ended(db, "a", made)

    def refuse(_db: Database, _id: int) -> bool:
        raise ConfigError("the disk is full")

    monkeypatch.setattr(rows, "delete_ended_experiment", refuse)
    with pytest.raises(ConfigError, match="disk is full"):
        lifetime.delete_run(db, run, with_files=True)
    assert (made / "stdout.log").exists() and rows.get_experiment(db, run) is not None
    monkeypatch.undo()
    # A delete killed after setting the folder aside: the next one names where it is.
    aside = made.with_name(".0001-a.deleting-1-1")
    made.rename(aside)
    with pytest.raises(ConfigError, match=r"interrupted.*deleting-1-1"):
        lifetime.delete_run(db, run, with_files=True)
    assert aside.is_dir() and rows.get_experiment(db, run) is not None


def test_hostile_notes_and_tags_are_refused_in_words(db: Database) -> None:
    run = _ended(db)
    for notes in ("\udcff bytes", "red \x1b[31m", "right-to-left \u202e"):
        with pytest.raises(ConfigError, match="notes"):
            lifetime.set_run_notes(db, run, notes)
    assert lifetime.set_run_notes(db, run, "line one\n\tline two").notes.startswith("line one")
    # NFC can lengthen a text: the stored length is what is checked.
    with pytest.raises(ConfigError, match="characters long"):
        lifetime.check_tag("\u0958" * 64)
    with pytest.raises(ConfigError, match="control character"):
        lifetime.check_tag("tag\u200e")
