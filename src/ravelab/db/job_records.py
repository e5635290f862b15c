"""The job records the repositories return: a managed job (preprocess, export) and an
exported model, one frozen dataclass per row."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ravelab.db.json_values import parse_json
from ravelab.db.vocabulary import RunStatus

if TYPE_CHECKING:
    from ravelab.db.job_progress import JobProgress


def _job_progress(data: Any) -> JobProgress:
    # Imported here: a list of models never builds a job's progress.
    from ravelab.db.job_progress import JobProgress

    return JobProgress.from_json(data)


@dataclass(frozen=True)
class JobRecord:
    """A managed job besides training: ``rave preprocess`` or ``rave export``."""

    id: int
    kind: str
    dataset_id: int | None
    experiment_id: int | None
    status: RunStatus
    options: dict[str, Any]
    progress: JobProgress
    run_dir: str | None
    argv: list[str]
    pid: int | None
    pid_start_time: float | None
    host: str | None
    exit_code: int | None
    reason: str | None
    created_at: str
    ended_at: str | None
    stop_requested_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        return cls(
            id=row["id"],
            kind=row["kind"],
            dataset_id=row["dataset_id"],
            experiment_id=row["experiment_id"],
            status=RunStatus(row["status"]),
            options=parse_json(row["options"], {}),
            progress=_job_progress(parse_json(row["progress"], {})),
            run_dir=row["run_dir"],
            argv=parse_json(row["argv"], []),
            pid=row["pid"],
            pid_start_time=row["pid_start_time"],
            host=row["host"],
            exit_code=row["exit_code"],
            reason=row["reason"],
            created_at=row["created_at"],
            ended_at=row["ended_at"],
            stop_requested_at=row["stop_requested_at"],
        )

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values: the status a plain string, the progress JSON as
        stored (``ravelab jobs --json``)."""
        return {**asdict(self), "status": str(self.status), "progress": self.progress.as_dict()}


@dataclass(frozen=True)
class ModelRecord:
    """An exported TorchScript model (``.ts``) and where it came from."""

    id: int
    experiment_id: int | None
    job_id: int | None
    path: str
    size_bytes: int
    streaming: bool
    fidelity: float | None
    checkpoint: str | None
    step: int | None
    created_at: str
    #: The export check (``ravelab.core.rave.model_check``) as JSON text; None: not checked.
    check_result: str | None = None
    checked_at: str | None = None
    #: ``torch.__version__`` of the environment that exported the model, when known.
    torch_version: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ModelRecord:
        return cls(
            id=row["id"],
            experiment_id=row["experiment_id"],
            job_id=row["job_id"],
            path=row["path"],
            size_bytes=row["size_bytes"],
            streaming=bool(row["streaming"]),
            fidelity=row["fidelity"],
            checkpoint=row["checkpoint"],
            step=row["step"],
            created_at=row["created_at"],
            check_result=row["check_result"],
            checked_at=row["checked_at"],
            torch_version=row["torch_version"],
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
