"""Schema migrations, applied in order; ``PRAGMA user_version`` counts the applied ones.

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Migration = Callable[[sqlite3.Connection], None]


def _v1_initial(conn: sqlite3.Connection) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute(
        """
        CREATE TABLE projects (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  TEXT NOT NULL
        )"""
    )
    conn.execute("INSERT INTO projects(id, name, created_at) VALUES (1, 'Default', ?)", (now,))
    conn.execute(
        """
        CREATE TABLE datasets (
            id          INTEGER PRIMARY KEY,
            project_id  INTEGER NOT NULL DEFAULT 1 REFERENCES projects(id),
            name        TEXT NOT NULL UNIQUE,
            path        TEXT NOT NULL,
            channels    INTEGER,
            sample_rate INTEGER,
            n_seconds   REAL,
            lazy        INTEGER NOT NULL DEFAULT 0,
            status      TEXT NOT NULL DEFAULT 'ready',
            reason      TEXT,
            created_at  TEXT NOT NULL
        )"""
    )
    conn.execute(
        """
        CREATE TABLE experiments (
            id                 INTEGER PRIMARY KEY,
            project_id         INTEGER NOT NULL DEFAULT 1 REFERENCES projects(id),
            name               TEXT NOT NULL UNIQUE,
            dataset_id         INTEGER REFERENCES datasets(id),
            config             TEXT NOT NULL DEFAULT '{}',
            status             TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'stopped')),
            created_at         TEXT NOT NULL,
            started_at         TEXT,
            completed_at       TEXT,
            metrics            TEXT NOT NULL DEFAULT '{}',
            progress           TEXT NOT NULL DEFAULT '{}',
            run_dir            TEXT,
            argv               TEXT,
            pid                INTEGER,
            pid_start_time     REAL,
            host               TEXT,
            exit_code          INTEGER,
            reason             TEXT,
            ended_at           TEXT,
            stop_requested_at  TEXT
        )"""
    )
    conn.execute("CREATE INDEX experiments_project ON experiments(project_id)")
    conn.execute(
        """
        CREATE TABLE metric_points (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            name           TEXT NOT NULL,
            step           INTEGER NOT NULL,
            value          REAL NOT NULL,
            wall_time      REAL NOT NULL,
            PRIMARY KEY (experiment_id, name, step)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """
        CREATE TABLE source_offsets (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            source         TEXT NOT NULL,
            offset         INTEGER NOT NULL,
            PRIMARY KEY (experiment_id, source)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """
        CREATE TABLE settings (
            key    TEXT PRIMARY KEY,
            value  TEXT NOT NULL
        )"""
    )


def _v2_run_artifacts(conn: sqlite3.Connection) -> None:
    """Executors (local, SLURM), run health, and what a run leaves besides scalars."""
    conn.execute("ALTER TABLE experiments ADD COLUMN executor TEXT NOT NULL DEFAULT 'local'")
    conn.execute("ALTER TABLE experiments ADD COLUMN job_id TEXT")
    conn.execute("ALTER TABLE experiments ADD COLUMN health TEXT NOT NULL DEFAULT 'ok'")
    conn.execute("ALTER TABLE experiments ADD COLUMN health_detail TEXT")
    conn.execute(
        """
        CREATE TABLE audio_clips (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            tag            TEXT NOT NULL,
            version        INTEGER NOT NULL,
            step           INTEGER NOT NULL,
            wall_time      REAL NOT NULL,
            sample_rate    REAL,
            path           TEXT NOT NULL,
            PRIMARY KEY (experiment_id, tag, version, step)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """
        CREATE TABLE run_texts (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            tag            TEXT NOT NULL,
            text           TEXT NOT NULL,
            PRIMARY KEY (experiment_id, tag)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """
        CREATE TABLE checkpoints (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            path           TEXT NOT NULL,
            step           INTEGER,
            size_bytes     INTEGER NOT NULL,
            modified_at    REAL NOT NULL,
            PRIMARY KEY (experiment_id, path)
        ) WITHOUT ROWID"""
    )


def _v3_jobs_and_models(conn: sqlite3.Connection) -> None:
    """Managed jobs besides training (preprocess, export), and exported models."""
    conn.execute(
        """
        CREATE TABLE jobs (
            id                 INTEGER PRIMARY KEY,
            kind               TEXT NOT NULL CHECK (kind IN ('preprocess', 'export')),
            dataset_id         INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
            experiment_id      INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
            status             TEXT NOT NULL
                CHECK (status IN ('running', 'completed', 'failed', 'stopped')),
            options            TEXT NOT NULL DEFAULT '{}',
            progress           TEXT NOT NULL DEFAULT '{}',
            run_dir            TEXT,
            argv               TEXT,
            pid                INTEGER,
            pid_start_time     REAL,
            host               TEXT,
            exit_code          INTEGER,
            reason             TEXT,
            created_at         TEXT NOT NULL,
            ended_at           TEXT,
            stop_requested_at  TEXT
        )"""
    )
    conn.execute(
        """
        CREATE TABLE models (
            id             INTEGER PRIMARY KEY,
            experiment_id  INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
            job_id         INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            path           TEXT NOT NULL UNIQUE,
            size_bytes     INTEGER NOT NULL,
            streaming      INTEGER NOT NULL,
            fidelity       REAL,
            checkpoint     TEXT,
            step           INTEGER,
            created_at     TEXT NOT NULL
        )"""
    )
    conn.execute("ALTER TABLE datasets ADD COLUMN job_id INTEGER REFERENCES jobs(id)")
    conn.execute("ALTER TABLE datasets ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE datasets ADD COLUMN num_signal INTEGER")
    conn.execute("ALTER TABLE experiments ADD COLUMN stop_at_checkpoint INTEGER NOT NULL DEFAULT 0")


def _v4_metric_blocks(conn: sqlite3.Connection) -> None:
    """Metric points in packed blocks (``ravelab.db.point_blocks``) instead of a row each.

    The points of ``metric_points`` are carried over metric by metric, then the table goes.
    A rowid table with an index, not WITHOUT ROWID: rows carry up to ~96 KB of blobs, and
    SQLite advises rowid tables for rows that large.
    """
    conn.execute(
        """
        CREATE TABLE metric_blocks (
            id             INTEGER PRIMARY KEY,
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            name           TEXT NOT NULL,
            first_step     INTEGER NOT NULL,
            last_step      INTEGER NOT NULL,
            count          INTEGER NOT NULL,
            steps          BLOB NOT NULL,
            vals           BLOB NOT NULL,
            walls          BLOB NOT NULL
        )"""
    )
    # Covering for the seeks (a metric's tail, the blocks of a step range): the blobs are
    # read only from the rows that are wanted.
    conn.execute(
        "CREATE UNIQUE INDEX metric_blocks_steps ON "
        "metric_blocks(experiment_id, name, first_step, last_step, count)"
    )
    cursor = conn.execute(
        "SELECT experiment_id, name, step, value, wall_time FROM metric_points "
        "ORDER BY experiment_id, name, step"
    )
    pending: list[tuple[Any, ...]] = []
    while batch := cursor.fetchmany(100_000):
        for row in batch:
            if pending and pending[-1][:2] != row[:2]:
                _carry_over(conn, pending)
                pending = []
            pending.append(row)
    _carry_over(conn, pending)
    conn.execute("DROP TABLE metric_points")


def _carry_over(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Store the points of one metric of one experiment (rows ordered by step) as blocks."""
    if not rows:
        return
    from ravelab.db import point_blocks  # NumPy: only for a database that has old points

    experiment_id = rows[0][0]
    for name, columns in point_blocks.group_points([row[1:] for row in rows]).items():
        point_blocks.insert_blocks(conn, experiment_id, name, columns)


def _v5_launch_owner(conn: sqlite3.Connection) -> None:
    """Who is launching a run or a job: the process that inserted the row (pid, start
    time, host) and until when its claim holds on another host. A row with no supervisor
    yet is "never started" only once this owner is provably gone."""
    for table in ("experiments", "jobs"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN launcher_pid INTEGER")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN launcher_start_time REAL")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN launcher_host TEXT")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN launch_lease_until REAL")


def _v6_listening(conn: sqlite3.Connection) -> None:
    """What listening needs: the steps of each event file's validations (RAVE numbers its
    ``audio_val`` clips by validation count, so clip *k* of a version is heard at the step of
    that version's *k*-th validation), and the check of an exported model."""
    conn.execute(
        """
        CREATE TABLE run_validations (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            version        INTEGER NOT NULL,
            step           INTEGER NOT NULL,
            wall_time      REAL NOT NULL,
            PRIMARY KEY (experiment_id, version, step)
        ) WITHOUT ROWID"""
    )
    conn.execute("ALTER TABLE models ADD COLUMN check_result TEXT")
    conn.execute("ALTER TABLE models ADD COLUMN checked_at TEXT")
    conn.execute("ALTER TABLE models ADD COLUMN torch_version TEXT")


def _v7_run_lifetime(conn: sqlite3.Connection) -> None:
    """A run's lifetime: notes, tags, archiving, whether ravelab created its run folder
    (only such a folder may be deleted with the run), and its attempts.

    ``run_attempts`` holds one row per attempt (the first launch, then each resume) with
    its start and end, so a run's duration is the time it trained, not the gaps between
    attempts. Triggers keep it, whoever writes ``experiments`` (any version of the code,
    any process): a new row opens attempt 1; ``ended_at`` going from empty to set closes
    the open attempt (a resume's claim undone before it launched anything gets back the
    end of the attempt before: its open attempt is dropped instead); going from set to
    empty (a resume's claim) opens the next attempt. Existing runs get one attempt
    spanning their recorded start and end.
    """
    conn.execute("ALTER TABLE experiments ADD COLUMN notes TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE experiments ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE experiments ADD COLUMN archived_at TEXT")
    conn.execute("ALTER TABLE experiments ADD COLUMN run_dir_created INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        """
        CREATE TABLE run_attempts (
            experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            attempt        INTEGER NOT NULL,
            started_at     TEXT NOT NULL,
            ended_at       TEXT,
            PRIMARY KEY (experiment_id, attempt)
        ) WITHOUT ROWID"""
    )
    now = "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
    conn.execute(
        f"""
        CREATE TRIGGER run_attempt_first AFTER INSERT ON experiments
        BEGIN
            INSERT INTO run_attempts(experiment_id, attempt, started_at, ended_at)
            VALUES (new.id, 1, COALESCE(new.started_at, new.created_at, {now}), new.ended_at);
        END"""
    )
    conn.execute(
        """
        CREATE TRIGGER run_attempt_end AFTER UPDATE OF ended_at ON experiments
        WHEN old.ended_at IS NULL AND new.ended_at IS NOT NULL
        BEGIN
            DELETE FROM run_attempts WHERE experiment_id = new.id AND ended_at IS NULL
                AND EXISTS (SELECT 1 FROM run_attempts p WHERE p.experiment_id = new.id
                            AND p.ended_at = new.ended_at);
            UPDATE run_attempts SET ended_at = new.ended_at
                WHERE experiment_id = new.id AND ended_at IS NULL;
        END"""
    )
    conn.execute(
        f"""
        CREATE TRIGGER run_attempt_next AFTER UPDATE OF ended_at ON experiments
        WHEN old.ended_at IS NOT NULL AND new.ended_at IS NULL
        BEGIN
            INSERT INTO run_attempts(experiment_id, attempt, started_at)
            SELECT new.id, COALESCE(MAX(attempt), 0) + 1, {now}
            FROM run_attempts WHERE experiment_id = new.id;
        END"""
    )
    conn.execute(
        "INSERT INTO run_attempts(experiment_id, attempt, started_at, ended_at) "
        "SELECT id, 1, COALESCE(started_at, created_at), "
        "CASE WHEN ended_at IS NULL THEN NULL ELSE COALESCE(completed_at, ended_at) END "
        "FROM experiments"
    )
    # Run folders ravelab created before this version: named <id>-<name> (or suffixed
    # -2, -3...) by the launch, never imported. An imported run's folder is the user's.
    rows = conn.execute(
        "SELECT id, name, run_dir, config FROM experiments WHERE run_dir IS NOT NULL"
    ).fetchall()
    for experiment_id, name, run_dir, config in rows:
        if _launch_made(experiment_id, name, run_dir, config):
            conn.execute(
                "UPDATE experiments SET run_dir_created = 1 WHERE id = ?", (experiment_id,)
            )


def _launch_made(experiment_id: int, name: str, run_dir: str, config: str) -> bool:
    """Whether ``run_dir`` is the folder a launch made for this run (by its name)."""
    try:
        imported = "imported_from" in json.loads(config or "{}")
    except (json.JSONDecodeError, TypeError):
        return False  # unknown: keep the folder
    if not os.path.isabs(str(run_dir)):
        return False  # relative to a directory nobody recorded: keep the folder
    base = f"{experiment_id:04d}-{name}"
    folder = os.path.basename(os.path.normpath(str(run_dir)))
    suffix = folder[len(base) :]
    return (
        not imported
        and folder.startswith(base)
        and (not suffix or (suffix[:1] == "-" and suffix[1:].isascii() and suffix[1:].isdigit()))
    )


def _v8_operations(conn: sqlite3.Connection) -> None:
    """Operations around long runs: the queue per device, notification channels, the
    events they are told about and the delivery of each event to each channel.

    ``run_queue`` holds a queued run (its row is ``queued`` and has no process yet): the
    device it waits for (``cuda:N`` or ``cpu``), its place, and what to do after it.
    ``events`` are keyed so that whoever notices an event first records it and nobody
    records it twice; ``deliveries`` hold one row per event and channel, with the tries.
    ``checkpoint_retention`` holds how many of a run's periodic checkpoints to keep (no
    row: the stored default, else all). ``events_since`` is when this schema came: runs
    that ended before it are history, not news.
    """
    conn.execute(
        """
        CREATE TABLE run_queue (
            experiment_id  INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
            device         TEXT NOT NULL,
            position       INTEGER NOT NULL,
            queued_at      TEXT NOT NULL,
            then_export    TEXT
        )"""
    )
    conn.execute("CREATE INDEX run_queue_device ON run_queue(device, position)")
    conn.execute(
        """
        CREATE TABLE notification_channels (
            id          INTEGER PRIMARY KEY,
            url         TEXT NOT NULL,
            events      TEXT NOT NULL DEFAULT '[]',
            created_at  TEXT NOT NULL
        )"""
    )
    conn.execute(
        """
        CREATE TABLE events (
            id             INTEGER PRIMARY KEY,
            key            TEXT NOT NULL UNIQUE,
            kind           TEXT NOT NULL,
            experiment_id  INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
            title          TEXT NOT NULL,
            body           TEXT NOT NULL DEFAULT '',
            created_at     TEXT NOT NULL
        )"""
    )
    conn.execute(
        """
        CREATE TABLE deliveries (
            event_id     INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            channel_id   INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
            state        TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_try_at  REAL NOT NULL DEFAULT 0,
            claimed_at   REAL,
            last_error   TEXT,
            sent_at      TEXT,
            PRIMARY KEY (event_id, channel_id)
        ) WITHOUT ROWID"""
    )
    conn.execute("CREATE INDEX deliveries_due ON deliveries(state, next_try_at)")
    conn.execute(
        """
        CREATE TABLE checkpoint_retention (
            experiment_id  INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
            keep_periodic  INTEGER CHECK (keep_periodic IS NULL OR keep_periodic >= 0)
        )"""
    )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('events_since', ?)", (now,))


def _v9_remotes(conn: sqlite3.Connection) -> None:
    """Machines that runs are sent to over SSH. A remote names an OpenSSH destination
    (host, user, port, identity file, an ssh config file) and where ravelab lives there
    (runs folder, Python, ``rave``); no password or secret is ever stored."""
    conn.execute(
        """
        CREATE TABLE remotes (
            name        TEXT PRIMARY KEY,
            host        TEXT NOT NULL,
            user        TEXT,
            port        INTEGER CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
            identity    TEXT,
            ssh_config  TEXT,
            runs_dir    TEXT NOT NULL,
            python      TEXT NOT NULL,
            rave        TEXT,
            created_at  TEXT NOT NULL
        )"""
    )


MIGRATIONS: list[Migration] = [
    _v1_initial,
    _v2_run_artifacts,
    _v3_jobs_and_models,
    _v4_metric_blocks,
    _v5_launch_owner,
    _v6_listening,
    _v7_run_lifetime,
    _v8_operations,
    _v9_remotes,
]
