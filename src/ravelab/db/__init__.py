"""The data layer: one SQLite file (``Database``) and the repositories over its tables."""

from ravelab.db.database import Database
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
from ravelab.db.progress import ProgressUpdate, RunProgress
from ravelab.db.records import (
    DatasetRecord,
    ExperimentRecord,
    JobRecord,
    ModelRecord,
    ProjectRecord,
)
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
