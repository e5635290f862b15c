"""Projects: checking an id before anything is created in it, listing, creating and
renaming them (one set of name rules for every front end)."""

from __future__ import annotations

from ravelab.core.errors import ConfigError
from ravelab.core.names import shown
from ravelab.core.numbers import parse_id
from ravelab.db import Database, ProjectRecord
from ravelab.db import projects as project_rows


def require_project(db: Database, project_id: object) -> ProjectRecord:
    """The project ``project_id`` names.

    Raises:
        ConfigError: not a project number, or no such project (naming it and saying how to
            list the projects), so an unknown project never reaches an INSERT.
    """
    number = parse_id(project_id)
    if number is None:
        raise ConfigError(
            f"project id must be a project's number (1, 2, ...), not {shown(project_id)}"
        )
    record = project_rows.get_project(db, number)
    if record is None:
        raise ConfigError(
            f"project {number} not found: `ravelab projects` lists the projects "
            f"(the default project is {project_rows.DEFAULT_PROJECT_ID})"
        )
    return record


#: The project every run and dataset belongs to unless told otherwise.
DEFAULT_PROJECT_ID = project_rows.DEFAULT_PROJECT_ID

#: The longest project name (a project selector shows it whole).
MAX_PROJECT_NAME = 80


def list_projects(db: Database) -> list[ProjectRecord]:
    """All projects ordered by id (the default project first)."""
    return project_rows.list_projects(db)


def project_counts(db: Database) -> dict[int, tuple[int, int]]:
    """``{project id: (experiments, datasets)}`` for projects that hold any."""
    return project_rows.project_counts(db)


def project_name_problem(db: Database, name: str, ignore_id: int | None = None) -> str | None:
    """Why ``name`` cannot name a project (other than ``ignore_id``), or None when it can."""
    if not name:
        return "A project needs a name."
    if len(name) > MAX_PROJECT_NAME:
        return f"Use at most {MAX_PROJECT_NAME} characters."
    for project in project_rows.list_projects(db):
        if project.name == name and project.id != ignore_id:
            return f"A project named {name!r} exists already."
    return None


def create_project(db: Database, name: str) -> int:
    """Create a project named ``name`` (stripped) and return its id.

    Raises:
        ConfigError: the name is empty, too long or taken (checked in the insert's own
            transaction, so two creations of one name cannot both pass).
    """
    name = name.strip()
    with db.atomic():
        problem = project_name_problem(db, name)
        if problem is not None:
            raise ConfigError(problem)
        return project_rows.create_project(db, name)


def rename_project(db: Database, project_id: int, name: str) -> None:
    """Rename a project to ``name`` (stripped).

    Raises:
        ConfigError: the name is empty, too long or another project's.
    """
    name = name.strip()
    with db.atomic():
        problem = project_name_problem(db, name, ignore_id=project_id)
        if problem is not None:
            raise ConfigError(problem)
        project_rows.rename_project(db, project_id, name)
