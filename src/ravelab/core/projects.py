"""Checking a project id before anything is created in it."""

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
