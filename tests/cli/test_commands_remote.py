"""``ravelab remote add | list | remove`` and an SSH run in ``show``, without a server:
values refused in words (no traceback), nothing stored by a refused add, the place of a
remote run named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.ssh_remote import ssh_run_row


def test_add_list_remove(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", str(db_path)]
    code, out, err = run_cli(capsys, *base, "remote", "add", "lab", "me@gpu.example.org",
                             "--port", "2200", "--runs-dir", "~/scratch/runs")  # fmt: skip
    assert code == 0 and "remote check lab" in out, err
    code, out, _ = run_cli(capsys, *base, "remote", "list", "--json")
    [listed] = json.loads(out)
    assert listed["host"] == "gpu.example.org" and listed["runs_dir"] == "scratch/runs"
    code, out, _ = run_cli(capsys, *base, "remote", "remove", "lab")
    assert code == 0 and "untouched" in out
    code, out, _ = run_cli(capsys, *base, "remote", "list")
    assert "no remotes" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["b@d", "host"], "remote name"),
        (["lab", "-oProxyCommand=touch /tmp/x"], "cannot start with '-'"),
        (["lab", "host", "--port", "99999"], "port"),
        (["lab", "host", "--identity", "/no/such/key"], "identity file"),
    ],
)
def test_bad_values_in_words(
    db_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, _out, err = run_cli(capsys, "--db", str(db_path), "remote", "add", *args)
    assert code == 4 and words in err and "Traceback" not in err
    assert "no remotes" in run_cli(capsys, "--db", str(db_path), "remote", "list")[1]


def test_show_names_where_an_ssh_run_is(
    db_path: Path, db: Any, dataset_id: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ravelab.core.ssh.remotes import add_remote
    from ravelab.db import experiments as rows

    add_remote(db, "lab", "gpu.example.org")
    experiment_id, _run = ssh_run_row(
        db, dataset_id, tmp_path / "runs", "lab", "/home/me/ravelab/runs/0001-far"
    )
    rows.settle_unlaunched(db, experiment_id, rows.RunStatus.STOPPED, "kept for the test")
    code, out, err = run_cli(capsys, "--db", str(db_path), "show", "far")
    assert code == 0, err
    assert "runs on     lab:/home/me/ravelab/runs/0001-far" in out
