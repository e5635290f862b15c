"""How many of a run's periodic checkpoints to keep (``checkpoint_retention``)."""

from __future__ import annotations

import json

from ravelab.db.database import Database

#: The stored default for runs that have no retention of their own (absent: keep all).
DEFAULT_SETTING = "keep_periodic_checkpoints"


def get_own_retention(db: Database, experiment_id: int) -> tuple[bool, int | None]:
    """Whether the run has a retention of its own, and it (None: keep all)."""
    row = db.query_one(
        "SELECT keep_periodic FROM checkpoint_retention WHERE experiment_id = ?",
        (experiment_id,),
    )
    if row is None:
        return False, None
    value = row[0]
    return True, value if isinstance(value, int) and value >= 0 else None


def set_own_retention(db: Database, experiment_id: int, keep: int | None) -> None:
    """Give the run a retention of its own (None: keep all, whatever the default)."""
    db.execute(
        "INSERT INTO checkpoint_retention(experiment_id, keep_periodic) VALUES (?, ?) "
        "ON CONFLICT(experiment_id) DO UPDATE SET keep_periodic = excluded.keep_periodic",
        (experiment_id, keep),
    )


def clear_own_retention(db: Database, experiment_id: int) -> None:
    """Let the run follow the default again."""
    db.execute("DELETE FROM checkpoint_retention WHERE experiment_id = ?", (experiment_id,))


def exported_checkpoints(db: Database, experiment_id: int) -> list[str]:
    """The checkpoints the run's exported models were made from, and those an export of
    the run that has not ended is reading (its job's ``options.checkpoint``)."""
    found = [
        str(path)
        for (path,) in db.query_tuples(
            "SELECT checkpoint FROM models WHERE experiment_id = ? AND checkpoint IS NOT NULL",
            (experiment_id,),
        )
    ]
    for (options,) in db.query_tuples(
        "SELECT options FROM jobs WHERE experiment_id = ? AND kind = 'export' "
        "AND (status = 'running' OR ended_at IS NULL)",
        (experiment_id,),
    ):
        try:
            checkpoint = json.loads(str(options)).get("checkpoint")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(checkpoint, str) and checkpoint:
            found.append(checkpoint)
    return found
