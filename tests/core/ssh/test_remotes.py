"""Remotes: every field checked on the way in and out, no secret stored, removal refused
while runs there have not ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.ssh import remotes


def test_add_get_list_remove(db: Any, tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("k")
    remote = remotes.add_remote(
        db, "lab", "me@gpu.example.org", port=2200, identity=str(key), runs_dir="~/runs"
    )
    assert remote.destination == "me@gpu.example.org" and remote.runs_dir == "runs"
    assert remotes.get_remote(db, "lab") == remote
    assert [r.name for r in remotes.list_remotes(db)] == ["lab"]
    remotes.remove_remote(db, "lab")
    with pytest.raises(NotFoundError, match="no remote named 'lab'"):
        remotes.get_remote(db, "lab")


@pytest.mark.parametrize(
    ("name", "destination", "options", "message"),
    [
        ("-x", "host", {}, "remote name"),
        ("ok", "-oProxyCommand=x", {}, "host"),
        ("ok", "bad user@host", {}, "user name"),
        ("ok", "host", {"port": 0}, "port"),
        ("ok", "host", {"port": 70000}, "port"),
        ("ok", "host", {"identity": "/no/such/key"}, "identity file"),
        ("ok", "host", {"runs_dir": "-rf"}, "cannot start with '-'"),
        ("ok", "host", {"runs_dir": "~other/x"}, "another user's home"),
        ("ok", "host", {"python": "a\nb"}, "python"),
    ],
)
def test_bad_values_are_refused_in_words(
    db: Any, name: str, destination: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        remotes.add_remote(db, name, destination, **options)
    assert remotes.list_remotes(db) == []


def test_a_name_is_taken_once(db: Any) -> None:
    remotes.add_remote(db, "lab", "host")
    with pytest.raises(ConfigError, match="exists already"):
        remotes.add_remote(db, "lab", "other")


def _unended_run_on(db: Any, dataset_id: int, remote: str) -> None:
    """An SSH run sent to ``remote`` that has not ended (id 1)."""
    from ravelab.db import experiments as rows

    rows.insert_experiment(
        db,
        name="far",
        project_id=1,
        dataset_id=dataset_id,
        config={"executor": "ssh", "executor_options": {"remote": remote}},
    )
    rows.update_fields(db, 1, executor="ssh")


def test_removal_refused_while_a_run_there_has_not_ended(db: Any, dataset_id: int) -> None:
    remotes.add_remote(db, "lab", "host")
    _unended_run_on(db, dataset_id, "lab")
    with pytest.raises(ConfigError, match="runs that have not ended"):
        remotes.remove_remote(db, "lab")
    assert remotes.get_remote(db, "lab").host == "host"


def test_a_gone_machines_runs_can_be_abandoned(db: Any, dataset_id: int) -> None:
    remotes.add_remote(db, "rented", "host")
    _unended_run_on(db, dataset_id, "rented")
    assert remotes.remove_remote(db, "rented", abandon_runs=True) == [1]
    from ravelab.db import experiments as rows

    record = rows.get_experiment(db, 1)
    assert record is not None and record.status == "failed" and record.ended_at is not None
    assert "abandoned" in (record.reason or "")
    assert remotes.list_remotes(db) == []
