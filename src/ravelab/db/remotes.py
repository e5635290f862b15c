"""Remotes: the SSH machines runs are sent to (the SQL of the ``remotes`` table).

Values arrive checked by ``ravelab.core.ssh.remotes``; what is read back is still checked
there before any of it reaches an ssh command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ravelab.db.database import Database
from ravelab.db.errors import ConstraintError
from ravelab.db.experiments import utc_now


@dataclass(frozen=True)
class RemoteRow:
    """A stored remote, as written (relative remote paths are relative to the remote home)."""

    name: str
    host: str
    user: str | None
    port: int | None
    identity: str | None
    ssh_config: str | None
    runs_dir: str
    python: str
    rave: str | None
    created_at: str


class DuplicateRemoteError(ValueError):
    """A remote of that name exists already."""


_COLUMNS = "name, host, user, port, identity, ssh_config, runs_dir, python, rave, created_at"


def insert_remote(db: Database, row: RemoteRow) -> None:
    """Store a new remote.

    Raises:
        DuplicateRemoteError: the name is taken.
    """
    try:
        db.execute(
            f"INSERT INTO remotes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.name,
                row.host,
                row.user,
                row.port,
                row.identity,
                row.ssh_config,
                row.runs_dir,
                row.python,
                row.rave,
                row.created_at or utc_now(),
            ),
        )
    except ConstraintError as error:
        raise DuplicateRemoteError(f"a remote named {row.name!r} exists already") from error


def get_remote(db: Database, name: str) -> RemoteRow | None:
    """The remote of that name, or None."""
    found = db.query_one(f"SELECT {_COLUMNS} FROM remotes WHERE name = ?", (name,))
    return None if found is None else RemoteRow(*tuple(found))


def list_remotes(db: Database) -> list[RemoteRow]:
    """Every remote, by name."""
    return [
        RemoteRow(*tuple(row)) for row in db.query(f"SELECT {_COLUMNS} FROM remotes ORDER BY name")
    ]


def delete_remote(db: Database, name: str) -> bool:
    """Forget a remote; whether one was forgotten."""
    return db.execute("DELETE FROM remotes WHERE name = ?", (name,)).rowcount > 0


def unended_runs_on(db: Database, name: str) -> list[tuple[int, str]]:
    """The (id, name) of unended SSH runs sent to the remote ``name``."""
    rows = db.query_tuples(
        "SELECT id, name FROM experiments WHERE ended_at IS NULL AND executor = 'ssh' "
        "AND json_valid(config) AND json_extract(config, '$.executor_options.remote') = ? "
        "ORDER BY id",
        (name,),
    )
    return [(int(i), str(n)) for i, n in rows]


def abandon_runs_on(db: Database, name: str, reason: str) -> list[int]:
    """End the unended SSH runs sent to remote ``name`` as failed with ``reason`` (their
    machine is gone for good); the ids ended."""
    ids = [i for i, _ in unended_runs_on(db, name)]
    now = utc_now()
    for experiment_id in ids:
        db.execute(
            "UPDATE experiments SET status = 'failed', reason = ?, ended_at = ?, "
            "completed_at = ? WHERE id = ? AND ended_at IS NULL",
            (reason, now, now, experiment_id),
        )
    return ids
