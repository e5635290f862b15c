"""``ravelab train --queue [--then-export]`` and ``ravelab queue [move|remove]``, with
``list`` and ``show`` showing a queued run's place, against runs of the ``rave`` double."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from tests.helpers import wait_until


def _train(cli: Any, name: str, *flags: str) -> tuple[int, str, str]:
    return cli(
        "train", "--dataset", "ds", "--name", name, "--max-steps", "30", "--gpu", "-1", *flags
    )


def test_train_queue_list_move_remove(
    cli: Any, dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = tmp_path / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    assert cli("dataset", "add", str(dataset_dir), "--name", "ds")[0] == 0
    assert cli("queue")[1] == "no run is queued: queue one with `ravelab train ... --queue`\n"

    code, out, err = _train(cli, "first", "--queue")  # the CPU is free: it starts at once
    assert code == 0, err
    assert out.startswith("started run 1 'first' in ")
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    code, out, err = _train(cli, "second", "--queue", "--then-export")
    assert code == 0, err
    assert out.splitlines()[0] == (
        "queued run 2 'second': queued (1st on cpu), waiting for run 1 'first' to end"
    )
    code, out, err = _train(cli, "third", "--queue", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["status"], shown["run_dir"], shown["queue"]["label"]) == (
        "queued",
        None,
        "queued (2nd on cpu)",
    )

    code, out, _ = cli("queue")
    lines = out.splitlines()
    assert lines[0].startswith("DEVICE  POS  ID  NAME")
    assert lines[2].split()[:4] == ["cpu", "1", "2", "second"] and "best" in lines[2]
    assert lines[3].split()[:4] == ["cpu", "2", "3", "third"]
    assert "run 2 'second' (ahead in the queue)" in lines[3]
    listed = {run["name"]: run for run in json.loads(cli("list", "--json")[1])}
    assert listed["third"]["queue"]["rank"] == 2 and "queue" not in listed["first"]
    assert "queued (2nd on cpu)" in cli("list")[1]
    out = cli("show", "third")[1]
    assert "status      queued (2nd on cpu), waiting for run 2 'second' (ahead in the queue)" in out

    assert cli("queue", "move", "third", "--top")[1] == "run 3 'third' is now queued (1st on cpu)\n"
    assert cli("queue", "move", "3", "9")[1] == "run 3 'third' is now queued (2nd on cpu)\n"
    code, _, err = cli("queue", "move", "3")
    assert code == ExitCode.INVALID
    assert err == "ravelab: error: give either a POSITION (1 = next to start) or --top\n"
    code, _, err = cli("queue", "remove", "first")
    assert code == ExitCode.NOT_FOUND
    assert err == (
        "ravelab: error: run 1 'first' is not queued (it is running): "
        "`ravelab queue` lists the queued runs\n"
    )
    code, _, err = _train(cli, "cluster", "--queue", "--executor", "slurm")
    assert code == ExitCode.INVALID and "slurm's own queue" in err
    code, out, _ = cli("queue", "remove", "third")
    assert code == 0 and out == "removed queued run 3 'third' (it never started)\n"
    assert cli("stop", "second")[0] == 0  # stopped while queued: ended, kept
    runs = {run["name"]: run for run in json.loads(cli("list", "--json")[1])}
    assert sorted(runs) == ["first", "second"]
    assert (runs["second"]["status"], runs["second"]["reason"]) == (
        "stopped",
        "stopped while queued: it never started",
    )
    assert cli("queue", "--json")[1] == "[]\n"
    assert cli("stop", "first")[0] == 0
