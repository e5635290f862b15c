"""The run records the repositories return (a frozen dataclass per row): a training run
(``ExperimentRecord``) and who is launching it (``LaunchOwner``). Datasets and projects
are in :mod:`ravelab.db.dataset_records`, jobs and models in :mod:`ravelab.db.job_records`:
a command that reads runs only does not build those classes. They can still be imported
from here, as before they moved (loaded when asked for)."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ravelab.db.json_values import parse_json
from ravelab.db.progress import RunProgress
from ravelab.db.vocabulary import Health, RunStatus
from ravelab.lazy_names import load_name

if TYPE_CHECKING:
    from ravelab.db.dataset_records import DatasetRecord, ProjectRecord
    from ravelab.db.job_records import JobRecord, ModelRecord

#: The records that live in their own modules now, by name.
_MOVED = {
    "DatasetRecord": "ravelab.db.dataset_records",
    "ProjectRecord": "ravelab.db.dataset_records",
    "JobRecord": "ravelab.db.job_records",
    "ModelRecord": "ravelab.db.job_records",
}

__all__ = [
    "DatasetRecord",
    "ExperimentRecord",
    "JobRecord",
    "LaunchOwner",
    "ModelRecord",
    "ProjectRecord",
]


def __getattr__(name: str) -> Any:
    return load_name(__name__, _MOVED, name, globals())


def _tags(text: str | None) -> tuple[str, ...]:
    """A stored tag list; anything else reads as no tags."""
    value = parse_json(text, [])
    if not isinstance(value, list):
        return ()
    return tuple(tag for tag in value if isinstance(tag, str))


def _seconds(value: object) -> float:
    """A stored sum of seconds (a finite number, not negative); anything else is 0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(0.0, float(value))
    return 0.0


@dataclass(frozen=True)
class LaunchOwner:
    """The process launching a run (``experiments.launcher_*``): its pid, start time and
    host, and until when (epoch seconds) its claim holds where its liveness cannot be
    checked (another host)."""

    pid: int
    start_time: float
    host: str
    lease_until: float


@dataclass(frozen=True)
class ExperimentRecord:
    """One training run (the original API's experiments table)."""

    id: int
    project_id: int
    name: str
    dataset_id: int | None
    config: dict[str, Any]
    status: RunStatus
    created_at: str
    started_at: str | None
    completed_at: str | None
    metrics: dict[str, Any]
    progress: RunProgress
    run_dir: str | None
    argv: list[str]
    pid: int | None
    pid_start_time: float | None
    host: str | None
    exit_code: int | None
    reason: str | None
    ended_at: str | None
    stop_requested_at: str | None
    executor: str = "local"
    job_id: str | None = None
    health: Health = Health.OK
    health_detail: str | None = None
    stop_at_checkpoint: bool = False
    dataset_name: str | None = field(default=None)
    #: Free text the user wrote about the run.
    notes: str = ""
    #: Short labels (printable, no commas), in the order they were added.
    tags: tuple[str, ...] = ()
    #: When the run was archived (hidden from lists by default); None: not archived.
    archived_at: str | None = None
    #: Whether ravelab created the run folder (only then may it delete it with the run).
    run_dir_created: bool = False
    #: How many attempts (the first launch, then each resume) are recorded.
    attempts: int = 0
    #: Seconds the ended attempts trained, in all.
    attempts_seconds: float = 0.0
    #: When the attempt that has not ended began (None: every attempt ended).
    attempt_started_at: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ExperimentRecord:
        keys = row.keys()
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            dataset_id=row["dataset_id"],
            config=parse_json(row["config"], {}),
            status=RunStatus(row["status"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            metrics=parse_json(row["metrics"], {}),
            progress=RunProgress.from_json(parse_json(row["progress"], {})),
            run_dir=row["run_dir"],
            argv=parse_json(row["argv"], []),
            pid=row["pid"],
            pid_start_time=row["pid_start_time"],
            host=row["host"],
            exit_code=row["exit_code"],
            reason=row["reason"],
            ended_at=row["ended_at"],
            stop_requested_at=row["stop_requested_at"],
            executor=row["executor"],
            job_id=row["job_id"],
            health=Health.parse(row["health"]),
            health_detail=row["health_detail"],
            stop_at_checkpoint=bool(row["stop_at_checkpoint"]),
            dataset_name=row["dataset_name"] if "dataset_name" in keys else None,
            notes=str(row["notes"] or "") if "notes" in keys else "",
            tags=_tags(row["tags"]) if "tags" in keys else (),
            archived_at=row["archived_at"] if "archived_at" in keys else None,
            run_dir_created=bool(row["run_dir_created"]) if "run_dir_created" in keys else False,
            attempts=int(row["attempts"] or 0) if "attempts" in keys else 0,
            attempts_seconds=_seconds(row["attempts_seconds"])
            if "attempts_seconds" in keys
            else 0.0,
            attempt_started_at=row["attempt_started_at"] if "attempt_started_at" in keys else None,
        )

    @property
    def archived(self) -> bool:
        """Whether the run is archived (hidden from lists unless asked for)."""
        return self.archived_at is not None

    def trained_seconds(self, now: datetime | None = None) -> float | None:
        """How long the run trained: the sum of its attempts' spans (a resumed run's gaps
        between attempts do not count), the open attempt up to ``now``. None when unknown
        (no attempt recorded: the span from start to completion is the caller's best guess).
        An imported run's attempts are its import: its own logged times say more."""
        if self.attempts == 0 or self.config.get("imported_from"):
            return None
        total = self.attempts_seconds
        if self.attempt_started_at is not None:
            # An ended run whose last attempt stayed open (written by a process that
            # knew no attempts) ends with the run.
            try:
                start = datetime.fromisoformat(self.attempt_started_at)
                stop = (
                    datetime.fromisoformat(self.ended_at)
                    if self.ended_at is not None
                    else (now or datetime.now(UTC))
                )
            except ValueError:
                return total
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            if stop.tzinfo is None:
                stop = stop.replace(tzinfo=UTC)
            total += max(0.0, (stop - start).total_seconds())
        return total

    def as_dict(self) -> dict[str, Any]:
        """The original API's experiment dict (config and metrics decoded) plus the extra
        columns, and ``dataset``: its dataset's name; plain strings and the progress JSON as
        stored, as the original dict API gave."""
        data = asdict(self)
        data.update(
            status=str(self.status),
            health=str(self.health),
            progress=self.progress.as_dict(),
            dataset=self.dataset_name,
            tags=list(self.tags),
            trained_seconds=self.trained_seconds(),
        )
        return data
