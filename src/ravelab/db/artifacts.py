"""What a run leaves besides scalars: validation audio clips, text summaries, checkpoints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ravelab.db.database import Database


@dataclass(frozen=True)
class AudioClipRecord:
    """One validation audio clip saved as a file in the run folder."""

    tag: str
    version: int
    step: int
    wall_time: float
    sample_rate: float | None
    path: str


@dataclass(frozen=True)
class CheckpointRecord:
    """One checkpoint file RAVE wrote."""

    path: str
    step: int | None
    size_bytes: int
    modified_at: float


def insert_audio_clips(db: Database, experiment_id: int, clips: Iterable[AudioClipRecord]) -> None:
    """Record clips; a clip already recorded is kept."""
    rows = [
        (experiment_id, c.tag, c.version, c.step, c.wall_time, c.sample_rate, c.path) for c in clips
    ]
    if rows:
        db.executemany(
            "INSERT OR IGNORE INTO audio_clips(experiment_id, tag, version, step, wall_time, "
            "sample_rate, path) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def list_audio_clips(db: Database, experiment_id: int) -> list[AudioClipRecord]:
    """Clips in the order they were made."""
    rows = db.query(
        "SELECT tag, version, step, wall_time, sample_rate, path FROM audio_clips "
        "WHERE experiment_id = ? ORDER BY version, step",
        (experiment_id,),
    )
    return [AudioClipRecord(*row) for row in rows]


def insert_validations(
    db: Database, experiment_id: int, validations: Iterable[tuple[int, int, float]]
) -> None:
    """Record validations as (version, step, wall time); one already recorded is kept."""
    rows = [(experiment_id, version, step, wall) for version, step, wall in validations]
    if rows:
        db.executemany(
            "INSERT OR IGNORE INTO run_validations(experiment_id, version, step, wall_time) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )


def list_validations(db: Database, experiment_id: int) -> list[tuple[int, int, float]]:
    """Every recorded validation as (version, step, wall time), by version then step."""
    rows = db.query(
        "SELECT version, step, wall_time FROM run_validations WHERE experiment_id = ? "
        "ORDER BY version, step",
        (experiment_id,),
    )
    return [(int(v), int(s), float(w)) for v, s, w in rows]


def set_texts(db: Database, experiment_id: int, texts: dict[str, str]) -> None:
    """Store text summaries (the latest one of each tag wins)."""
    rows = [(experiment_id, tag, text) for tag, text in texts.items()]
    if rows:
        db.executemany(
            "INSERT INTO run_texts(experiment_id, tag, text) VALUES (?, ?, ?) "
            "ON CONFLICT(experiment_id, tag) DO UPDATE SET text = excluded.text",
            rows,
        )


def get_texts(db: Database, experiment_id: int) -> dict[str, str]:
    """Every text summary of a run, by tag."""
    rows = db.query("SELECT tag, text FROM run_texts WHERE experiment_id = ?", (experiment_id,))
    return {str(tag): str(text) for tag, text in rows}


def upsert_checkpoints(
    db: Database, experiment_id: int, checkpoints: Iterable[CheckpointRecord]
) -> None:
    """Record checkpoints; a rewritten file (best.ckpt) updates its row, keeping the step
    first recorded unless the file changed."""
    rows = [(experiment_id, c.path, c.step, c.size_bytes, c.modified_at) for c in checkpoints]
    if rows:
        db.executemany(
            "INSERT INTO checkpoints(experiment_id, path, step, size_bytes, modified_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(experiment_id, path) DO UPDATE SET "
            "step = CASE WHEN modified_at = excluded.modified_at THEN step ELSE excluded.step END,"
            " size_bytes = excluded.size_bytes, modified_at = excluded.modified_at",
            rows,
        )


def delete_missing_checkpoints(db: Database, experiment_id: int, present: Iterable[str]) -> None:
    """Forget checkpoints whose files are gone (RAVE replaces its rolling one)."""
    keep = set(present)
    for (path,) in db.query(
        "SELECT path FROM checkpoints WHERE experiment_id = ?", (experiment_id,)
    ):
        if path not in keep:
            db.execute(
                "DELETE FROM checkpoints WHERE experiment_id = ? AND path = ?",
                (experiment_id, path),
            )


def replace_checkpoints(
    db: Database, experiment_id: int, checkpoints: Iterable[CheckpointRecord]
) -> None:
    """Replace every checkpoint row of an experiment (call it inside ``db.atomic()``)."""
    db.execute("DELETE FROM checkpoints WHERE experiment_id = ?", (experiment_id,))
    upsert_checkpoints(db, experiment_id, checkpoints)


def list_checkpoints(db: Database, experiment_id: int) -> list[CheckpointRecord]:
    """Checkpoints ordered by modification time."""
    rows = db.query(
        "SELECT path, step, size_bytes, modified_at FROM checkpoints WHERE experiment_id = ? "
        "ORDER BY modified_at",
        (experiment_id,),
    )
    return [CheckpointRecord(*row) for row in rows]
