"""Metric points in packed blocks: the same answers as a row per point, in far fewer rows."""

from __future__ import annotations

import itertools
import math
import random
import sqlite3
from pathlib import Path

import pytest

from ravelab.db import Database, point_blocks
from ravelab.db import experiments as rows
from ravelab.db.migrations import MIGRATIONS


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "blocks.db")
    yield database  # type: ignore[misc]
    database.close()


def _experiment(db: Database, name: str = "run") -> int:
    return rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=None, config={"config": "v2"}
    )


def _blocks(db: Database, experiment: int) -> list[tuple[str, int, int, int]]:
    return [
        tuple(row)
        for row in db.query_tuples(
            "SELECT name, first_step, last_step, count FROM metric_blocks "
            "WHERE experiment_id = ? ORDER BY name, first_step",
            (experiment,),
        )
    ]


def test_group_points_sorts_each_metric_and_keeps_the_first_point_of_a_step() -> None:
    groups = point_blocks.group_points(
        [
            ("b", 5, 1.0, 10.0),
            ("a", 3, 2.0, 11.0),
            ("b", 2, 3.0, 12.0),
            ("b", 5, 4.0, 13.0),  # a second point at step 5: the first one stays
            ("a", 1, math.nan, 14.0),  # NaN is not a point
        ]
    )
    assert sorted(groups) == ["a", "b"]
    assert groups["a"].steps.tolist() == [3] and groups["a"].values.tolist() == [2.0]
    assert groups["b"].steps.tolist() == [2, 5]
    assert groups["b"].values.tolist() == [3.0, 1.0]
    assert groups["b"].walls.tolist() == [12.0, 10.0]


def test_points_come_back_exactly_with_infinities_and_ints(db: Database) -> None:
    experiment = _experiment(db)
    points = [("loss", 0, 0.1, 1.5), ("loss", 1, math.inf, 2.5), ("loss", 2, 3, 3.5)]
    rows.insert_points(db, experiment, points)
    assert rows.metric_history(db, experiment, "loss") == [(0, 0.1), (1, math.inf), (2, 3.0)]
    columns = rows.metric_columns(db, experiment, "loss")
    assert columns.walls.tolist() == [1.5, 2.5, 3.5]
    assert rows.count_points(db, experiment) == 3
    assert rows.metric_names(db, experiment) == ["loss"]


def test_one_point_per_poll_keeps_few_blocks(db: Database) -> None:
    experiment = _experiment(db)
    for step in range(3000):
        with db.atomic():
            rows.insert_points(db, experiment, [("loss", step, float(step), 0.0)])
    blocks = _blocks(db, experiment)
    # A binary counter: 3000 = 2048 + 512 + 256 + 128 + 32 + 16 + 8 -> 7 blocks.
    assert [count for *_, count in blocks] == [2048, 512, 256, 128, 32, 16, 8]
    steps = [step for step, _ in rows.metric_history(db, experiment, "loss")]
    assert steps == list(range(3000))


def test_large_batches_are_split_into_bounded_blocks(db: Database) -> None:
    experiment = _experiment(db)
    count = 3 * point_blocks.BLOCK_POINTS + 5
    rows.insert_points(db, experiment, [("loss", s, float(s), 0.0) for s in range(count)])
    counts = [c for *_, c in _blocks(db, experiment)]
    assert max(counts) == point_blocks.BLOCK_POINTS and sum(counts) == count


def test_stored_points_win_and_a_second_read_adds_nothing(db: Database) -> None:
    experiment = _experiment(db)
    rows.insert_points(db, experiment, [("loss", s, 1.0, 0.0) for s in range(0, 100, 2)])
    before = _blocks(db, experiment)
    rows.insert_points(db, experiment, [("loss", s, 9.0, 0.0) for s in range(0, 100, 2)])
    assert _blocks(db, experiment) == before  # nothing new: nothing rewritten
    rows.insert_points(db, experiment, [("loss", s, 9.0, 0.0) for s in range(0, 101)])
    history = dict(rows.metric_history(db, experiment, "loss"))
    assert len(history) == 101
    assert all(history[s] == (1.0 if s % 2 == 0 and s < 100 else 9.0) for s in range(101))


@pytest.mark.slow
def test_random_batches_match_a_row_per_point_table(db: Database) -> None:
    """Any order of batches gives what INSERT OR IGNORE under (name, step) gives."""
    experiment = _experiment(db)
    reference = sqlite3.connect(":memory:")
    reference.execute(
        "CREATE TABLE p (name TEXT, step INTEGER, value REAL, wall REAL, PRIMARY KEY (name, step))"
    )
    rng = random.Random(4)
    for _ in range(300):
        size = rng.choice([1, 2, 5, 40, 700, 5000])
        start = rng.choice([rng.randrange(0, 20_000), 20_000 + rng.randrange(0, 100)])
        batch = [
            (rng.choice("abc"), start + rng.randrange(0, 2 * size), rng.random(), rng.random())
            for _ in range(size)
        ]
        with db.atomic():
            rows.insert_points(db, experiment, batch)
        reference.executemany("INSERT OR IGNORE INTO p VALUES (?, ?, ?, ?)", batch)
    for name in "abc":
        expected = reference.execute(
            "SELECT step, value FROM p WHERE name = ? ORDER BY step", (name,)
        ).fetchall()
        assert rows.metric_history(db, experiment, name) == expected
        assert rows.metric_history(db, experiment, name, after_step=9_000, until_step=9_500) == [
            point for point in expected if 9_000 < point[0] <= 9_500
        ]
    blocks = _blocks(db, experiment)
    for (name, _, last, _), (next_name, first, _, _) in itertools.pairwise(blocks):
        assert name != next_name or last < first  # the blocks of a metric never overlap


def test_ranges_are_trimmed_inside_blocks(db: Database) -> None:
    experiment = _experiment(db)
    count = 5 * point_blocks.BLOCK_POINTS
    rows.insert_points(db, experiment, [("loss", s, float(s), 0.0) for s in range(count)])
    tail = rows.metric_history(db, experiment, "loss", after_step=count - 3)
    assert tail == [(count - 2, count - 2.0), (count - 1, count - 1.0)]
    assert point_blocks.read_columns(db, experiment, "loss", 10, 12).steps.tolist() == [11, 12]
    assert rows.metric_history(db, experiment, "loss", after_step=count) == []


def test_deleting_an_experiment_deletes_its_blocks(db: Database) -> None:
    experiment = _experiment(db)
    rows.insert_points(db, experiment, [("loss", 1, 1.0, 0.0)])
    rows.delete_experiment(db, experiment)
    assert db.query_one("SELECT COUNT(*) FROM metric_blocks")[0] == 0  # type: ignore[index]


def test_a_version_3_database_keeps_its_points(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, migration in enumerate(MIGRATIONS[:3], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO experiments(id, project_id, name, config, status, created_at) "
        "VALUES (7, 1, 'old', '{}', 'completed', '2026-01-01')"
    )
    old = [(7, "loss", s, s / 2, 100.0 + s) for s in range(10_000)]
    old += [(7, "lr", s, 1e-4, 100.0 + s) for s in range(0, 10_000, 100)]
    conn.execute("BEGIN")  # one transaction, not a commit (and a sync) per point
    conn.executemany("INSERT INTO metric_points VALUES (?, ?, ?, ?, ?)", old)
    conn.execute("COMMIT")
    conn.close()
    with Database(path) as db:
        assert db.schema_version == len(MIGRATIONS)
        assert rows.metric_names(db, 7) == ["loss", "lr"]
        assert rows.count_points(db, 7) == 10_100
        assert rows.metric_history(db, 7, "loss") == [(s, s / 2) for s in range(10_000)]
        assert rows.metric_columns(db, 7, "lr").walls.tolist() == [
            100.0 + s for s in range(0, 10_000, 100)
        ]
        tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "metric_points" not in tables
