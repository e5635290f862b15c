"""The data layer: one SQLite file (``Database``) and the repositories over its tables."""

from ravelab.db.database import (
    Database,
    DatabaseError,
    DatabaseTooNewError,
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
    "Database",
    "DatabaseError",
    "DatabaseTooNewError",
    "DatasetRecord",
    "ExperimentRecord",
    "JobRecord",
    "ModelRecord",
    "ProjectRecord",
    "StorageUnavailableError",
]
