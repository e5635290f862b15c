"""Projects: groups of datasets and experiments (the original API's ``project_id``)."""

from __future__ import annotations

from ravelab.db.database import Database
from ravelab.db.dataset_records import ProjectRecord
from ravelab.db.experiments import utc_now

DEFAULT_PROJECT_ID = 1


def list_projects(db: Database) -> list[ProjectRecord]:
    """All projects ordered by id (the default project first)."""
    return [ProjectRecord.from_row(row) for row in db.query("SELECT * FROM projects ORDER BY id")]


def get_project(db: Database, project_id: int) -> ProjectRecord | None:
    """One project, or None."""
    row = db.query_one("SELECT * FROM projects WHERE id = ?", (project_id,))
    return None if row is None else ProjectRecord.from_row(row)


def create_project(db: Database, name: str) -> int:
    """Create a project and return its id."""
    cursor = db.execute("INSERT INTO projects(name, created_at) VALUES (?, ?)", (name, utc_now()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def rename_project(db: Database, project_id: int, name: str) -> None:
    """Rename a project."""
    db.execute("UPDATE projects SET name = ? WHERE id = ?", (name, project_id))


def project_counts(db: Database) -> dict[int, tuple[int, int]]:
    """``{project id: (experiments, datasets)}`` for projects that hold any."""
    counts: dict[int, list[int]] = {}
    for column, table in enumerate(("experiments", "datasets")):
        rows = db.query(f"SELECT project_id, COUNT(*) FROM {table} GROUP BY project_id")
        for project_id, count in rows:
            counts.setdefault(int(project_id), [0, 0])[column] = int(count)
    return {key: (value[0], value[1]) for key, value in counts.items()}
