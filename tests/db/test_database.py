"""The SQLite layer: creation, pragmas, migrations, transactions, concurrency."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ravelab.db import ConstraintError, Database, DatabaseTooNewError, StorageUnavailableError
from ravelab.db import experiments as rows
from ravelab.db.migrations import MIGRATIONS


def test_new_file_is_created_migrated_and_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ravelab.db"
    with Database(path) as db:
        assert path.exists()
        assert db.schema_version == len(MIGRATIONS)
        assert db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
        assert db.query_one("PRAGMA foreign_keys")[0] == 1  # type: ignore[index]
        assert db.query_one("PRAGMA busy_timeout")[0] >= 5000  # type: ignore[index]
        names = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"projects", "datasets", "experiments", "metric_blocks", "settings"} <= names


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DatabaseTooNewError, match=r"schema version 99.*upgrade ravelab"):
        Database(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageUnavailableError, match=r"junk\.db"):
        Database(path)


def test_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    with Database(path) as db:
        db.set_setting("rave_executable", "/x/rave")
    with Database(path) as db:
        assert db.get_setting("rave_executable") == "/x/rave"


def test_atomic_rolls_back_on_error_and_nests(db: Database) -> None:
    def fail_inside(key: str) -> None:
        with db.atomic():
            db.set_setting(key, "1")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside("a")
    assert db.get_setting("a") is None
    with db.atomic():
        db.set_setting("b", "1")
        with pytest.raises(RuntimeError):
            fail_inside("c")
    assert db.get_setting("b") == "1"
    assert db.get_setting("c") is None


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(ConstraintError, match="FOREIGNKEY"):
        rows.insert_experiment(db, name="x", project_id=999, dataset_id=None, config={})


_WRITER = """
import sys
from ravelab.db import Database
from ravelab.db import experiments as rows
db = Database(sys.argv[1])
exp = int(sys.argv[2]); start = int(sys.argv[3])
for batch in range(50):
    with db.atomic():
        rows.insert_points(db, exp, [("loss", start + batch * 20 + i, 0.1, 0.0) for i in range(20)])
        rows.set_offsets(db, exp, {"stdout": start + batch})
        rows.merge_metrics(db, exp, {"writer_" + sys.argv[3]: batch})
db.close()
"""


def test_two_processes_write_at_once(db: Database) -> None:
    exp = rows.insert_experiment(db, name="x", project_id=1, dataset_id=None, config={})
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, db.path, str(exp), str(start)])
        for start in (0, 100_000)
    ]
    # This process writes too, like the GUI would while two CLIs run.
    for index in range(50):
        rows.insert_points(db, exp, [("lr", index, 1e-4, 0.0)])
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert rows.count_points(db, exp) == 2 * 50 * 20 + 50
    record = rows.get_experiment(db, exp)
    assert record is not None
    assert record.metrics == {"writer_0": 49, "writer_100000": 49}
