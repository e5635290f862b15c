"""`database_info` and `ravelab db info`, and the helpers the check and backup tests share
(tests/db/test_integrity.py, tests/db/test_backup.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db.maintenance import database_info
from tests.helpers import run_cli as _cli


def _filled(path: Path, runs: int = 3, points: int = 200) -> Path:
    with Database(path) as db:
        for i in range(runs):
            experiment = rows.insert_experiment(
                db, name=f"run{i}", project_id=1, dataset_id=None, config={}
            )
            rows.insert_points(
                db, experiment, [("loss", s, 1.0 / (s + 1), float(s)) for s in range(points)]
            )
    return path


def test_info_describes_the_file(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(db_path, runs=2, points=10)
    info = database_info(db_path)
    assert info.experiments == 2 and info.schema_version == info.known_schema_version
    assert info.size_bytes > 0 and info.journal_mode == "wal"
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "info", "--json")
    data: dict[str, Any] = json.loads(out)
    assert code == ExitCode.OK and data["experiments"] == 2
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "info")
    assert code == ExitCode.OK and "schema version" in out
