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
from ravelab.db.records import (
    DatasetRecord,
    ExperimentRecord,
    JobRecord,
    ModelRecord,
    ProjectRecord,
)

__all__ = [
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
    "DiskFullError",
    "ExperimentRecord",
    "JobRecord",
    "ModelRecord",
    "ProjectRecord",
    "StorageUnavailableError",
]
