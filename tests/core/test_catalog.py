"""The use cases both front ends share, decided once in the core: removing a dataset (with
its checks, in one transaction) and creating or renaming a project (with its name rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ravelab.core import dataset_catalog
from ravelab.core import projects as projects_core
from ravelab.core.dataset_catalog import DatasetBusyError, DatasetInUseError
from ravelab.core.errors import ConfigError
from ravelab.db import Database
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as rows


def _experiment(db: Database, dataset_id: int, name: str) -> int:
    return rows.insert_experiment(db, name=name, project_id=1, dataset_id=dataset_id, config={})


def test_a_dataset_in_use_stays_and_says_which_runs(db: Database, dataset_id: int) -> None:
    first, second = _experiment(db, dataset_id, "a"), _experiment(db, dataset_id, "b")
    with pytest.raises(DatasetInUseError, match=rf"experiment\(s\) {first}, {second}") as caught:
        dataset_catalog.remove_dataset(db, dataset_id)
    assert caught.value.experiments == [first, second]
    assert dataset_catalog.get_dataset(db, dataset_id) is not None


def test_a_dataset_being_preprocessed_stays(db: Database, dataset_id: int) -> None:
    dataset_rows.update_dataset(db, dataset_id, status="preprocessing")
    with pytest.raises(DatasetBusyError, match="still preprocessing"):
        dataset_catalog.remove_dataset(db, dataset_id)
    assert dataset_catalog.get_dataset(db, dataset_id) is not None


def test_removing_forgets_the_row_never_the_files(
    db: Database, dataset_id: int, dataset_dir: Path
) -> None:
    files = sorted(p.name for p in dataset_dir.iterdir())
    removed = dataset_catalog.remove_dataset(db, dataset_id)
    assert removed.id == dataset_id
    assert dataset_catalog.get_dataset(db, dataset_id) is None
    assert sorted(p.name for p in dataset_dir.iterdir()) == files
    with pytest.raises(ConfigError, match="not found"):
        dataset_catalog.remove_dataset(db, dataset_id)


def test_project_names_follow_one_set_of_rules(db: Database) -> None:
    project_id = projects_core.create_project(db, "  drums ")
    assert [p.name for p in projects_core.list_projects(db)][-1] == "drums"
    for bad, message in [("", "needs a name"), ("x" * 81, "at most 80"), ("drums", "exists")]:
        with pytest.raises(ConfigError, match=message):
            projects_core.create_project(db, bad)
    projects_core.rename_project(db, project_id, "drums")  # its own name is fine
    other = projects_core.create_project(db, "voice")
    with pytest.raises(ConfigError, match="exists already"):
        projects_core.rename_project(db, other, "drums")
    assert [p.name for p in projects_core.list_projects(db)][-2:] == ["drums", "voice"]
