"""Metric points stored as packed blocks: one row holds consecutive points of one metric.

A row per point made storing the bottleneck of ingestion: binding five parameters and
inserting one B-tree row per point costs 3-5 us in Python's ``sqlite3``, more than reading
and decoding the point from its event file (the goal: a million points ingested ten
times faster than TensorBoard's ``EventAccumulator`` loads them). A row of
``metric_blocks`` holds up to :data:`BLOCK_POINTS` points of one metric as three packed
arrays, little-endian:

- ``steps``  int64, strictly increasing within the block;
- ``vals``   float64 (the values; never NaN, which a row-per-point table could not hold either);
- ``walls``  float64 wall times (Unix seconds);

with the block's ``first_step``, ``last_step`` and ``count`` beside them for seeking. The
blocks of one metric never overlap in steps, so "a point already stored is kept as is"
still holds, point by point, as with the old primary key (experiment, name, step).

Writing: a batch is grouped by metric with NumPy (no Python loop per point). New points
that all come after the metric's last block are appended; small blocks at the tail are
merged like a binary counter (a block absorbs the blocks before it while they are not
larger than it), so a live run that adds one point per poll keeps O(log n) small blocks and
each point is rewritten a handful of times at most. Points that fall among stored ones (a
run read again after a crash, a resumed run logging its last step again) are merged with
the blocks they overlap, stored points winning.

Reading decodes blobs with ``numpy.frombuffer`` (no copy) and trims to the asked range.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from ravelab.db.errors import CHECK_HINT, RESTORE_HINT, DatabaseDamagedError

if TYPE_CHECKING:  # the migrations (imported by database) use this module
    from ravelab.db.database import Database

__all__ = [
    "BLOCK_POINTS",
    "Columns",
    "group_points",
    "insert_blocks",
    "pack_blocks",
    "read_columns",
    "store_columns",
]

BLOCK_POINTS = 4096
"""Most points in one block: 96 KB of blobs, so a read that needs a few points of a block
decodes little more than it needs, and a rewritten tail block stays small."""

_TAIL_BLOCKS = 32
"""Tail blocks looked at when appending: more than the binary counter ever leaves below
:data:`BLOCK_POINTS` (about log2(4096) = 12)."""

logger = logging.getLogger(__name__)

_STEP = np.dtype("<i8")
_FLOAT = np.dtype("<f8")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Columns:
    """Points of one metric as parallel arrays, ordered by step, one point per step."""

    steps: IntArray
    values: FloatArray
    walls: FloatArray

    def __len__(self) -> int:
        return len(self.steps)

    def take(self, selector: Any) -> Columns:
        """The points picked by an index array, a boolean mask or a slice."""
        return Columns(self.steps[selector], self.values[selector], self.walls[selector])


def _empty() -> Columns:
    return Columns(np.empty(0, _STEP), np.empty(0, _FLOAT), np.empty(0, _FLOAT))


def _first_per_step(columns: Columns) -> Columns:
    """Sort by step, keeping the first point (in input order) of every step."""
    steps = columns.steps
    if len(steps) < 2 or bool(np.all(steps[1:] > steps[:-1])):
        return columns
    order = np.argsort(steps, kind="stable")
    ordered = columns.take(order)
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = ordered.steps[1:] != ordered.steps[:-1]
    return ordered.take(keep)


def _storable(row: Sequence[Any]) -> bool:
    """Whether one ``(name, step, value, wall_time)`` row fits the packed columns."""
    try:
        name, step, value, wall = row
        return (
            isinstance(name, str)
            and isinstance(step, int | np.integer)
            and 0 <= int(step) < 2**63
            and isinstance(float(value), float)
            and math.isfinite(float(wall))
        )
    except (TypeError, ValueError, OverflowError):
        return False


def _warn_unstorable(count: int) -> None:
    logger.warning("skipping %d metric point(s) whose step or wall time cannot be stored", count)


def group_points(points: Iterable[Sequence[Any]]) -> dict[str, Columns]:
    """Group ``(name, step, value, wall_time)`` rows by metric name.

    Each metric's points come back sorted by step with the first one of each step kept (as
    ``INSERT OR IGNORE`` under a primary key on the step would). NaN values are dropped: a
    ``REAL NOT NULL`` column never held them, and a run's NaN is recorded as its health.
    So are rows whose step is negative or beyond int64 and rows whose wall time is not
    finite (with a warning): one bad row never keeps the others from being stored.
    """
    rows = points if isinstance(points, list | tuple) else list(points)
    count = len(rows)
    if not count:
        return {}
    try:
        steps = np.fromiter(map(itemgetter(1), rows), _STEP, count)
        values = np.fromiter(map(itemgetter(2), rows), _FLOAT, count)
        walls = np.fromiter(map(itemgetter(3), rows), _FLOAT, count)
    except (OverflowError, TypeError, ValueError):
        # A step beyond int64 (or not a number): keep the rows that can be stored.
        rows = [row for row in rows if _storable(row)]
        _warn_unstorable(count - len(rows))
        if not rows:
            return {}
        count = len(rows)
        steps = np.fromiter(map(itemgetter(1), rows), _STEP, count)
        values = np.fromiter(map(itemgetter(2), rows), _FLOAT, count)
        walls = np.fromiter(map(itemgetter(3), rows), _FLOAT, count)
    names = list(map(itemgetter(0), rows))
    sane = (steps >= 0) & np.isfinite(walls)
    if not sane.all():
        # A negative step or a NaN wall time is no point (the readers check first; this
        # is the last guard before storage).
        _warn_unstorable(count - int(sane.sum()))
        keep = np.flatnonzero(sane)
        steps, values, walls = steps[keep], values[keep], walls[keep]
        names = [names[index] for index in keep.tolist()]
        count = len(names)
        if not count:
            return {}
    distinct = sorted(set(names))
    everything = Columns(steps, values, walls)
    groups: dict[str, Columns] = {}
    if len(distinct) == 1:
        groups[distinct[0]] = everything
    else:
        code = {name: index for index, name in enumerate(distinct)}
        codes = np.fromiter(map(code.__getitem__, names), np.intp, count)
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(distinct)))
        start = 0
        for name, end in zip(distinct, bounds.tolist(), strict=True):
            groups[name] = everything.take(order[start:end])
            start = end
    result = {}
    for name, columns in groups.items():
        finite = ~np.isnan(columns.values)
        if not finite.all():
            columns = columns.take(finite)
        if len(columns):
            result[str(name)] = _first_per_step(columns)
    return result


def pack_blocks(columns: Columns) -> list[tuple[int, int, int, bytes, bytes, bytes]]:
    """Split sorted points into blocks of at most :data:`BLOCK_POINTS`, packed for a row:
    ``(first_step, last_step, count, steps, vals, walls)``."""
    blocks = []
    for start in range(0, len(columns), BLOCK_POINTS):
        piece = columns.take(slice(start, start + BLOCK_POINTS))
        blocks.append(
            (
                int(piece.steps[0]),
                int(piece.steps[-1]),
                len(piece),
                piece.steps.astype(_STEP, copy=False).tobytes(),
                piece.values.astype(_FLOAT, copy=False).tobytes(),
                piece.walls.astype(_FLOAT, copy=False).tobytes(),
            )
        )
    return blocks


def _unpack(path: str, rows: Sequence[Sequence[Any]]) -> Columns:
    """Columns from ``(steps, vals, walls)`` blobs of blocks in step order.

    Raises:
        DatabaseDamagedError: a block is not three blobs of 8-byte items of one length
            (bytes another program wrote; SQLite's own checks cannot see them).
    """
    if not rows:
        return _empty()
    for steps, values, walls in rows:
        if not (
            isinstance(steps, bytes)
            and isinstance(values, bytes)
            and isinstance(walls, bytes)
            and len(steps) % 8 == 0
            and len(steps) == len(values) == len(walls)
        ):
            raise DatabaseDamagedError(
                f"database {path} holds a damaged block of metric points in metric_blocks; "
                f"{CHECK_HINT}, then {RESTORE_HINT}"
            )
    if len(rows) == 1:
        steps, values, walls = rows[0]
    else:
        steps, values, walls = (b"".join(map(itemgetter(i), rows)) for i in range(3))
    return Columns(
        np.frombuffer(steps, _STEP), np.frombuffer(values, _FLOAT), np.frombuffer(walls, _FLOAT)
    )


def _concat(parts: Sequence[Columns]) -> Columns:
    return Columns(
        np.concatenate([p.steps for p in parts]),
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.walls for p in parts]),
    )


class _Writer(Protocol):
    """A ``Database``, or the ``sqlite3.Connection`` a migration gets."""

    def executemany(self, sql: str, rows: Any, /) -> Any: ...


def insert_blocks(target: _Writer, experiment_id: int, name: str, columns: Columns) -> None:
    """Insert sorted points of one metric as new blocks (no check against stored ones)."""
    target.executemany(
        "INSERT INTO metric_blocks(experiment_id, name, first_step, last_step, count, "
        "steps, vals, walls) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(experiment_id, name, *block) for block in pack_blocks(columns)],
    )


def _replace(
    db: Database, experiment_id: int, name: str, ids: Sequence[int], columns: Columns
) -> None:
    """Delete the blocks ``ids`` and store ``columns`` (which include their points)."""
    if ids:
        marks = ",".join("?" * len(ids))
        db.execute(f"DELETE FROM metric_blocks WHERE id IN ({marks})", tuple(ids))
    insert_blocks(db, experiment_id, name, columns)


def store_columns(db: Database, experiment_id: int, name: str, columns: Columns) -> None:
    """Store one metric's new points (sorted, one per step); stored points are kept as is.

    Call it inside ``db.atomic()``: the tail it reads must not change before it writes.
    """
    if not len(columns):
        return
    tail = db.query_tuples(
        "SELECT id, first_step, last_step, count FROM metric_blocks "
        "WHERE experiment_id = ? AND name = ? ORDER BY first_step DESC LIMIT ?",
        (experiment_id, name, _TAIL_BLOCKS),
    )
    if not tail or int(columns.steps[0]) > tail[0][2]:
        _append(db, experiment_id, name, columns, tail)
    else:
        _merge(db, experiment_id, name, columns)


def _append(
    db: Database,
    experiment_id: int,
    name: str,
    columns: Columns,
    tail: Sequence[Sequence[Any]],
) -> None:
    """Append points that all come after the stored ones, merging small tail blocks."""
    absorbed: list[int] = []
    total = len(columns)
    if total < BLOCK_POINTS:
        for block_id, _first, _last, count in tail:
            if count > total or count + total > BLOCK_POINTS:
                break
            absorbed.append(block_id)
            total += count
    if absorbed:
        stored = db.query_tuples(
            f"SELECT steps, vals, walls FROM metric_blocks WHERE id IN "
            f"({','.join('?' * len(absorbed))}) ORDER BY first_step",
            tuple(absorbed),
        )
        columns = _concat([_unpack(db.path, stored), columns])
    _replace(db, experiment_id, name, absorbed, columns)


def _merge(db: Database, experiment_id: int, name: str, columns: Columns) -> None:
    """Add points that fall among stored ones: the blocks they overlap are rewritten."""
    low, high = int(columns.steps[0]), int(columns.steps[-1])
    overlapping = db.query_tuples(
        "SELECT id, steps, vals, walls FROM metric_blocks WHERE experiment_id = ? "
        "AND name = ? AND first_step <= ? AND last_step >= ? ORDER BY first_step",
        (experiment_id, name, high, low),
    )
    if overlapping:
        stored = _unpack(db.path, [row[1:] for row in overlapping])
        fresh = ~np.isin(columns.steps, stored.steps, assume_unique=True)
        if not fresh.any():
            return
        merged = _concat([stored, columns.take(fresh)])
        columns = merged.take(np.argsort(merged.steps, kind="stable"))
    _replace(db, experiment_id, name, [row[0] for row in overlapping], columns)


def read_columns(
    db: Database,
    experiment_id: int,
    name: str,
    after_step: int | None = None,
    until_step: int | None = None,
) -> Columns:
    """One metric's points ordered by step: only those after ``after_step`` and up to
    ``until_step`` when given. Only the blocks that hold such points are read."""
    sql = "SELECT steps, vals, walls FROM metric_blocks WHERE experiment_id = ? AND name = ?"
    params: list[object] = [experiment_id, name]
    if after_step is not None:
        sql += " AND last_step > ?"
        params.append(after_step)
    if until_step is not None:
        sql += " AND first_step <= ?"
        params.append(until_step)
    columns = _unpack(db.path, db.query_tuples(sql + " ORDER BY first_step", tuple(params)))
    steps = columns.steps
    start = 0 if after_step is None else int(np.searchsorted(steps, after_step, "right"))
    end = len(steps) if until_step is None else int(np.searchsorted(steps, until_step, "right"))
    if start or end < len(steps):
        columns = columns.take(slice(start, end))
    return columns
