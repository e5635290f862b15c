"""Schema 7 (``db.migrations._v7_run_lifetime``): a version 6 file migrated (attempts
backfilled, the run folders ravelab made recognised), and the triggers that keep
``run_attempts`` whoever writes ``experiments``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ravelab.core.runs import lifetime
from ravelab.db import Database, RunStatus
from ravelab.db import experiments as rows
from ravelab.db.migrations import MIGRATIONS


def _ended(db: Database, name: str = "a") -> int:
    experiment_id = rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=None, config={}, status=RunStatus.COMPLETED
    )
    rows.update_fields(db, experiment_id, ended_at=rows.utc_now())
    return experiment_id


def test_duration_is_the_sum_of_the_attempts(db: Database) -> None:
    run = _ended(db)
    db.execute("DELETE FROM run_attempts WHERE experiment_id = ?", (run,))
    db.execute(
        "INSERT INTO run_attempts VALUES (?, 1, '2026-01-01T10:00:00+00:00', "
        "'2026-01-01T11:00:00+00:00'), (?, 2, '2026-01-03T10:00:00+00:00', "
        "'2026-01-03T10:30:00+00:00')",
        (run, run),
    )
    record = rows.get_experiment(db, run)
    assert record is not None and record.attempts == 2
    assert lifetime.run_seconds(record) == pytest.approx(5400.0)


def test_a_version_6_database_gets_attempts_and_knows_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, migration in enumerate(MIGRATIONS[:6], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO experiments(id, name, config, status, created_at, started_at, "
        "completed_at, ended_at, run_dir) VALUES "
        "(3, 'made', '{}', 'completed', 't', '2026-01-01T10:00:00+00:00', "
        "'2026-01-01T12:00:00+00:00', '2026-01-01T12:00:00+00:00', '/runs/0003-made-2'), "
        "(4, 'imp', '{\"imported_from\": \"/x\"}', 'completed', 't', NULL, NULL, 'e', "
        "'/x/0004-imp'), "
        "(5, 'live', '{}', 'running', '2026-01-02T10:00:00+00:00', NULL, NULL, NULL, "
        "'/runs/0005-other'), "
        "(6, 'rel', '{}', 'completed', 't', NULL, NULL, 'e', 'runs/0006-rel')"
    )
    conn.close()
    with Database(path) as db:
        assert db.schema_version == len(MIGRATIONS) >= 7
        made, imported, live = (rows.get_experiment(db, n) for n in (3, 4, 5))
        assert made and imported and live
        assert (made.run_dir_created, imported.run_dir_created, live.run_dir_created) == (
            True,
            False,
            False,
        )
        # A relative folder: relative to a directory nobody recorded, never deleted.
        relative = rows.get_experiment(db, 6)
        assert relative is not None and not relative.run_dir_created
        assert made.attempts == 1 and lifetime.run_seconds(made) == pytest.approx(7200.0)
        assert live.attempt_started_at == "2026-01-02T10:00:00+00:00"
        assert made.tags == () and made.notes == "" and not made.archived


def test_a_resume_claim_undone_leaves_no_attempt(db: Database) -> None:
    run = _ended(db)
    ended = rows.get_experiment(db, run).ended_at  # type: ignore[union-attr]
    rows.update_fields(db, run, ended_at=None, status=RunStatus.RUNNING)  # a resume's claim
    assert rows.get_experiment(db, run).attempts == 2  # type: ignore[union-attr]
    rows.update_fields(db, run, ended_at=ended, status=RunStatus.COMPLETED)  # given back
    record = rows.get_experiment(db, run)
    assert record is not None and record.attempts == 1 and record.attempt_started_at is None
