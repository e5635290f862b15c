"""The data layer: one SQLite file (``Database``) and the repositories over its tables.

Names are loaded on first use (as in ``ravelab`` itself), so that a command that only
reads runs does not build every record type first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ravelab.lazy_names import load_name

_EXPORTS = {
    "Database": "ravelab.db.database",
    "CannotOpenError": "ravelab.db.errors",
    "ConstraintError": "ravelab.db.errors",
    "DatabaseBusyError": "ravelab.db.errors",
    "DatabaseDamagedError": "ravelab.db.errors",
    "DatabaseError": "ravelab.db.errors",
    "DatabaseIOError": "ravelab.db.errors",
    "DatabaseReadOnlyError": "ravelab.db.errors",
    "DatabaseTooNewError": "ravelab.db.errors",
    "DiskFullError": "ravelab.db.errors",
    "StorageUnavailableError": "ravelab.db.errors",
    "JobProgress": "ravelab.db.job_progress",
    "JobProgressUpdate": "ravelab.db.job_progress",
    "ProgressUpdate": "ravelab.db.progress",
    "RunProgress": "ravelab.db.progress",
    "DatasetRecord": "ravelab.db.dataset_records",
    "ExperimentRecord": "ravelab.db.records",
    "JobRecord": "ravelab.db.job_records",
    "ModelRecord": "ravelab.db.job_records",
    "ProjectRecord": "ravelab.db.dataset_records",
    "FINAL": "ravelab.db.vocabulary",
    "LIVE": "ravelab.db.vocabulary",
    "DatasetStatus": "ravelab.db.vocabulary",
    "Health": "ravelab.db.vocabulary",
    "RunStatus": "ravelab.db.vocabulary",
}

if TYPE_CHECKING:
    from ravelab.db.database import Database
    from ravelab.db.dataset_records import DatasetRecord, ProjectRecord
    from ravelab.db.errors import (
        CannotOpenError,
        ConstraintError,
        DatabaseBusyError,
        DatabaseDamagedError,
        DatabaseError,
        DatabaseIOError,
        DatabaseReadOnlyError,
        DatabaseTooNewError,
        DiskFullError,
        StorageUnavailableError,
    )
    from ravelab.db.job_progress import JobProgress, JobProgressUpdate
    from ravelab.db.job_records import JobRecord, ModelRecord
    from ravelab.db.progress import ProgressUpdate, RunProgress
    from ravelab.db.records import ExperimentRecord
    from ravelab.db.vocabulary import FINAL, LIVE, DatasetStatus, Health, RunStatus

__all__ = [
    "FINAL",
    "LIVE",
    "CannotOpenError",
    "ConstraintError",
    "Database",
    "DatabaseBusyError",
    "DatabaseDamagedError",
    "DatabaseError",
    "DatabaseIOError",
    "DatabaseReadOnlyError",
    "DatabaseTooNewError",
    "DatasetRecord",
    "DatasetStatus",
    "DiskFullError",
    "ExperimentRecord",
    "Health",
    "JobProgress",
    "JobProgressUpdate",
    "JobRecord",
    "ModelRecord",
    "ProgressUpdate",
    "ProjectRecord",
    "RunProgress",
    "RunStatus",
    "StorageUnavailableError",
]


def __getattr__(name: str) -> Any:
    return load_name(__name__, _EXPORTS, name, globals())
