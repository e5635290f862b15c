"""`ravelab checkpoints` (list, --keep, --prune, --dry-run) and `ravelab disk`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ravelab.db import Database
from ravelab.db import experiments as rows


def _run_with_checkpoints(db_file: Path, tmp_path: Path) -> tuple[int, Path]:
    with Database(db_file) as db:
        experiment_id = rows.insert_experiment(
            db, name="long", project_id=1, dataset_id=None, config={"config": "v2_small"}
        )
        run_dir = tmp_path / "runs" / "0001-long"
        folder = run_dir / "long_0123456789" / "version_0" / "checkpoints"
        folder.mkdir(parents=True)
        for index, name in enumerate(["epoch_5.ckpt", "epoch_10.ckpt", "epoch_15.ckpt"]):
            (folder / name).write_bytes(b"x" * 1000)
            os.utime(folder / name, (100 + index, 100 + index))
        (folder / "best.ckpt").write_bytes(b"b" * 1000)
        rows.update_fields(
            db, experiment_id, run_dir=str(run_dir), status="completed", ended_at="2026-01-01"
        )
    return experiment_id, folder


def test_keep_and_prune_with_a_dry_run_first(cli: Any, tmp_path: Path) -> None:
    experiment_id, folder = _run_with_checkpoints(tmp_path / "cli.db", tmp_path)
    code, out, _ = cli("checkpoints", str(experiment_id))
    assert code == 0 and "4 checkpoint(s), 4.0 kB; keeps every periodic" in out
    code, out, _ = cli("checkpoints", str(experiment_id), "--prune")
    assert code == 0 and "nothing to prune" in out
    code, out, _ = cli("checkpoints", str(experiment_id), "--keep", "1", "--prune", "--dry-run")
    assert code == 0 and "would remove 2 periodic checkpoint(s), 2.0 kB" in out
    assert len(list(folder.iterdir())) == 4
    code, out, _ = cli("checkpoints", str(experiment_id))
    assert "keeps every periodic" in out  # a dry run stores nothing
    code, out, _ = cli("checkpoints", str(experiment_id), "--keep", "1")
    assert code == 0 and "keeps best, latest and the last 1 periodic" in out
    assert len(list(folder.iterdir())) == 4  # setting it removes nothing by itself
    code, out, _ = cli("disk", "--json")
    report = json.loads(out)
    assert report["prunable_bytes"] == 2000 and report["runs"][0]["keep_periodic"] == 1
    code, out, _ = cli("checkpoints", str(experiment_id), "--prune", "--json")
    assert code == 0 and len(json.loads(out)["removed"]) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt", "epoch_15.ckpt"]
    code, out, _err = cli("disk")
    assert code == 0 and "runs folder" in out and "long" in out


def test_bad_values_are_one_line_errors(cli: Any, tmp_path: Path) -> None:
    experiment_id, _ = _run_with_checkpoints(tmp_path / "cli.db", tmp_path)
    for args in (["--keep", "-2"], ["--keep", "lots"], ["--dry-run"]):
        code, out, err = cli("checkpoints", str(experiment_id), *args)
        assert code == 4 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("settings", "set", "keep_periodic_checkpoints", "x")
    assert code == 4 and "keep" in err
    code, _, err = cli("settings", "set", "disk_low_gb", "-1")
    assert code == 4 and "disk_low_gb" in err
    code, out, _ = cli("settings", "set", "keep_periodic_checkpoints", "3")
    assert code == 0
    code, out, _ = cli("checkpoints", str(experiment_id))
    assert "the last 3 periodic" in out


def test_train_keeps_its_retention_and_warns_when_space_is_short(
    cli: Any, tmp_path: Path, dataset_dir: Path, monkeypatch: Any
) -> None:
    from ravelab.core.operations import disk_space

    code, _, err = cli("dataset", "add", str(dataset_dir), "--name", "d")
    assert code == 0, err
    code, out, err = cli(
        "train", "--dataset", "d", "--name", "r", "--max-steps", "20", "--gpu", "-1",
        "--keep", "lots",
    )  # fmt: skip
    assert code == 4 and "keep 'lots'" in err
    code, out, _ = cli("list", "--json")
    assert json.loads(out) == []  # refused before anything was created
    monkeypatch.setattr(disk_space, "free_bytes", lambda folder: 1000)
    code, out, err = cli(
        "train", "--dataset", "d", "--name", "r", "--max-steps", "20", "--gpu", "-1",
        "--keep", "2", "--follow",
    )  # fmt: skip
    assert code == 0, err
    assert "warning: only 1.0 kB free under" in err
    code, out, _ = cli("checkpoints", "r")
    assert "the last 2 periodic" in out


def test_a_dry_run_of_keep_default_says_what_the_real_prune_does(cli: Any, tmp_path: Path) -> None:
    experiment_id, _ = _run_with_checkpoints(tmp_path / "cli.db", tmp_path)
    run = str(experiment_id)
    assert cli("checkpoints", run, "--keep", "all")[0] == 0
    assert cli("settings", "set", "keep_periodic_checkpoints", "1")[0] == 0
    code, out, _ = cli("checkpoints", run, "--keep", "default", "--prune", "--dry-run", "--json")
    assert code == 0 and len(json.loads(out)["remove"]) == 2
    code, out, _ = cli("checkpoints", run, "--keep", "default", "--prune", "--json")
    assert code == 0 and len(json.loads(out)["removed"]) == 2
    code, out, _ = cli("checkpoints", run, "--keep", "3", "--json")
    assert json.loads(out) == {"experiment_id": experiment_id, "keep_periodic": 3}
