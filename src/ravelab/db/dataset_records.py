"""The dataset records the repositories return: a project and a preprocessed dataset,
one frozen dataclass per row."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from ravelab.db.json_values import parse_json


@dataclass(frozen=True)
class ProjectRecord:
    """A project groups datasets and experiments."""

    id: int
    name: str
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ProjectRecord:
        return cls(id=row["id"], name=row["name"], created_at=row["created_at"])


@dataclass(frozen=True)
class DatasetRecord:
    """A preprocessed RAVE dataset (an LMDB folder with ``metadata.yaml``)."""

    id: int
    project_id: int
    name: str
    path: str
    channels: int | None
    sample_rate: int | None
    n_seconds: float | None
    lazy: bool
    status: str
    reason: str | None
    created_at: str
    job_id: int | None = None
    sources: list[str] = field(default_factory=list)
    num_signal: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> DatasetRecord:
        return cls(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            path=row["path"],
            channels=row["channels"],
            sample_rate=row["sample_rate"],
            n_seconds=row["n_seconds"],
            lazy=bool(row["lazy"]),
            status=row["status"],
            reason=row["reason"],
            created_at=row["created_at"],
            job_id=row["job_id"],
            sources=parse_json(row["sources"], []),
            num_signal=row["num_signal"],
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
