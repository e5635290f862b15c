"""The projects repository on a real SQLite file: the default project is there from the
start, projects are created and renamed, and each project's runs and datasets counted."""

from __future__ import annotations

from ravelab.db import Database
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as experiment_rows
from ravelab.db import projects as project_rows


def test_the_default_project_comes_first_and_others_follow(db: Database) -> None:
    (default,) = project_rows.list_projects(db)
    assert default.id == project_rows.DEFAULT_PROJECT_ID and default.created_at
    new = project_rows.create_project(db, "drums")
    project_rows.rename_project(db, new, "percussion")
    assert [p.name for p in project_rows.list_projects(db)] == [default.name, "percussion"]
    renamed = project_rows.get_project(db, new)
    assert renamed is not None and renamed.name == "percussion"
    assert project_rows.get_project(db, new + 1) is None


def test_counts_hold_the_projects_with_runs_or_datasets(db: Database) -> None:
    empty = project_rows.create_project(db, "empty")
    busy = project_rows.create_project(db, "busy")
    dataset_rows.insert_dataset(
        db, name="d", path="/d", channels=1, sample_rate=44100, n_seconds=1.0, project_id=busy
    )
    for name, project in (("a", busy), ("b", busy), ("c", 1)):
        experiment_rows.insert_experiment(
            db, name=name, project_id=project, dataset_id=None, config={}
        )
    counts = project_rows.project_counts(db)
    assert counts == {busy: (2, 1), 1: (1, 0)}
    assert empty not in counts
