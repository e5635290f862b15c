"""The registered datasets as both front ends use them: listing, lookup, and removal.

Removal is decided here once, for the CLI and the app alike: a dataset runs were trained
on stays (their settings would lose their meaning), and so does one still being
preprocessed (its job writes the row when it ends). The checks and the delete are one
write transaction, so a run created meanwhile cannot slip between them. Only the row is
removed, never a file.
"""

from __future__ import annotations

from ravelab.core.errors import ConfigError
from ravelab.db import Database, DatasetRecord, DatasetStatus
from ravelab.db import datasets as dataset_rows
from ravelab.db.datasets import experiments_using, find_dataset, get_dataset

__all__ = [
    "DatasetBusyError",
    "DatasetInUseError",
    "check_removable",
    "experiments_using",
    "find_dataset",
    "get_dataset",
    "list_datasets",
    "remove_dataset",
]


class DatasetInUseError(ConfigError):
    """Runs were trained on the dataset: it stays while they exist."""

    def __init__(self, record: DatasetRecord, experiments: list[int]) -> None:
        self.experiments = experiments
        super().__init__(
            f"dataset {record.name!r} is used by experiment(s) "
            f"{', '.join(map(str, experiments))}: it stays so their settings stay meaningful"
        )


class DatasetBusyError(ConfigError):
    """The dataset is still being preprocessed."""

    def __init__(self, record: DatasetRecord) -> None:
        super().__init__(f"dataset {record.name!r} is still preprocessing")


def list_datasets(db: Database, project_id: int | None = None) -> list[DatasetRecord]:
    """Datasets ordered by id, optionally of one project."""
    return dataset_rows.list_datasets(db, project_id)


def check_removable(db: Database, record: DatasetRecord) -> None:
    """Raise why ``record`` cannot be removed now; return when it can.

    Raises:
        DatasetInUseError: runs were trained on it (their ids in ``experiments``).
        DatasetBusyError: it is still being preprocessed.
    """
    users = dataset_rows.experiments_using(db, record.id)
    if users:
        raise DatasetInUseError(record, users)
    if record.status == DatasetStatus.PREPROCESSING:
        raise DatasetBusyError(record)


def remove_dataset(db: Database, dataset_id: int) -> DatasetRecord:
    """Forget a dataset (its row only: its folder and files stay) and return what it was.

    Raises:
        ConfigError: no such dataset (removed meanwhile).
        DatasetInUseError, DatasetBusyError: see :func:`check_removable`.
    """
    with db.atomic():
        record = dataset_rows.get_dataset(db, dataset_id)
        if record is None:
            raise ConfigError(f"dataset {dataset_id} not found: it was removed meanwhile")
        check_removable(db, record)
        dataset_rows.delete_dataset(db, dataset_id)
    return record
