"""Checkpoint retention: only RAVE's periodic checkpoints beyond the last N go, never a
link, a file outside the run, an exported or resumed-from checkpoint, best or latest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.operations import checkpoint_retention as retention
from ravelab.db import Database
from ravelab.db import experiments as rows


def _run(db: Database, tmp_path: Path, argv: list[str] | None = None) -> tuple[int, Path]:
    experiment_id = rows.insert_experiment(
        db, name="run", project_id=1, dataset_id=None, config={"config": "v2_small"}
    )
    run_dir = tmp_path / "runs" / f"{experiment_id:04d}-run"
    (run_dir / "run_abc0123456" / "version_0" / "checkpoints").mkdir(parents=True)
    rows.update_fields(db, experiment_id, run_dir=str(run_dir), argv=argv or ["rave", "train"])
    return experiment_id, run_dir / "run_abc0123456" / "version_0" / "checkpoints"


def _write(folder: Path, name: str, mtime: float, size: int = 10) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_only_the_oldest_periodic_checkpoints_beyond_the_retention_go(
    db: Database, tmp_path: Path
) -> None:
    experiment_id, folder = _run(db, tmp_path)
    best = _write(folder, "best.ckpt", 100)
    latest = _write(folder, "epoch-epoch=0009.ckpt", 101)
    periodic = [_write(folder, f"epoch_{k}.ckpt", 10 + k, size=k) for k in (1, 2, 3, 4)]
    odd = _write(folder, "epoch_5-v1.ckpt", 1)  # not RAVE's periodic name: kept
    plan = retention.prune_run(db, experiment_id, keep=2, dry_run=True)
    assert plan.dry_run and not plan.removed
    assert [c.path for c in plan.plan.remove] == periodic[:2]
    assert all(p.exists() for p in periodic)  # a dry run removes nothing
    assert retention.set_retention(db, experiment_id, 2) == 2
    result = retention.prune_run(db, experiment_id)
    assert result.removed == periodic[:2] and result.removed_bytes == 1 + 2
    assert [p.exists() for p in periodic] == [False, False, True, True]
    assert best.exists() and latest.exists() and odd.exists()
    assert not retention.prune_run(db, experiment_id).removed  # nothing more to do


def test_a_new_process_restarting_the_counter_is_ordered_by_time(
    db: Database, tmp_path: Path
) -> None:
    experiment_id, folder = _run(db, tmp_path)
    old = _write(folder, "epoch_9.ckpt", 10)
    resumed = folder.parent.parent / "version_1" / "checkpoints"
    resumed.mkdir(parents=True)
    newer = _write(resumed, "epoch_0.ckpt", 20)  # the counter restarted with the resume
    result = retention.prune_run(db, experiment_id, keep=1)
    assert result.removed == [old] and newer.exists()


def test_links_outside_files_and_protected_checkpoints_are_never_removed(
    db: Database, tmp_path: Path
) -> None:
    outside = tmp_path / "precious.ckpt"
    outside.write_bytes(b"user data")
    experiment_id, folder = _run(db, tmp_path)
    linked = folder / "epoch_1.ckpt"
    linked.symlink_to(outside)
    os.utime(linked, (5, 5), follow_symlinks=False)
    exported = _write(folder, "epoch_2.ckpt", 6)
    in_argv = _write(folder, "epoch_3.ckpt", 7)
    rows.update_fields(db, experiment_id, argv=["rave", "train", "--ckpt", str(in_argv)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    foreign = _write(elsewhere, "epoch_7.ckpt", 8)
    (folder.parent.parent / "version_2").mkdir()
    (folder.parent.parent / "version_2" / "checkpoints").symlink_to(elsewhere)
    db.execute(
        "INSERT INTO models(experiment_id, path, size_bytes, streaming, checkpoint, created_at) "
        "VALUES (?, '/m.ts', 1, 1, ?, '2026-01-01')",
        (experiment_id, str(exported)),
    )
    result = retention.prune_run(db, experiment_id, keep=0)
    assert result.removed == []
    assert outside.read_bytes() == b"user data" and linked.is_symlink()
    assert exported.exists() and in_argv.exists() and foreign.exists()
    reasons = {c.path.name: why for c, why in result.plan.protected}
    assert reasons == {
        "epoch_1.ckpt": "it is not a regular file",
        "epoch_7.ckpt": "it lies outside the run folder",
        "epoch_2.ckpt": "an export was made from it, or is reading it",
        "epoch_3.ckpt": "the current attempt resumed from it",
    }


def test_retention_values_default_and_errors(db: Database, tmp_path: Path) -> None:
    experiment_id, folder = _run(db, tmp_path)
    assert retention.effective_keep(db, experiment_id) is None  # RAVE's way: keep all
    db.set_setting("keep_periodic_checkpoints", "3")
    assert retention.effective_keep(db, experiment_id) == 3
    assert retention.set_retention(db, experiment_id, "all") is None  # its own choice wins
    assert retention.set_retention(db, experiment_id, "default") == 3
    db.set_setting("keep_periodic_checkpoints", "lots")  # damaged: never prune on it
    assert retention.effective_keep(db, experiment_id) is None
    for bad in ("-1", "two", "1.5", True, -3, "٣"):
        with pytest.raises(ConfigError, match="keep"):
            retention.set_retention(db, experiment_id, bad)
    with pytest.raises(NotFoundError):
        retention.set_retention(db, 999, 1)
    _write(folder, "epoch_1.ckpt", 1)
    relative = rows.insert_experiment(db, name="rel", project_id=1, dataset_id=None, config={})
    rows.update_fields(db, relative, run_dir="runs/rel")
    assert retention.prune_run(db, relative, keep=0).plan.remove == ()


def test_a_checkpoint_an_export_is_reading_stays(db: Database, tmp_path: Path) -> None:
    experiment_id, folder = _run(db, tmp_path)
    reading = _write(folder, "epoch_1.ckpt", 1)
    _write(folder, "epoch_2.ckpt", 2)
    db.execute(
        "INSERT INTO jobs(kind, experiment_id, status, options, created_at) "
        "VALUES ('export', ?, 'running', ?, '2026-01-01')",
        (experiment_id, f'{{"checkpoint": "{reading}"}}'),
    )
    assert retention.prune_run(db, experiment_id, keep=0).removed == [folder / "epoch_2.ckpt"]
    assert reading.exists()


def test_a_folder_swapped_for_a_link_after_the_plan_removes_nothing_outside(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id, folder = _run(db, tmp_path)
    _write(folder, "epoch_1.ckpt", 1)
    _write(folder, "epoch_2.ckpt", 2)
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("epoch_1.ckpt", "epoch_2.ckpt"):
        (victim / name).write_bytes(b"not ravelab's")
    planned = retention.plan_prune

    def plan_then_swap(*args: object, **kwargs: object) -> retention.PrunePlan:
        plan = planned(*args, **kwargs)  # type: ignore[arg-type]
        folder.rename(folder.with_name("moved"))
        folder.symlink_to(victim)  # the checkpoints folder now leads out of the run
        return plan

    monkeypatch.setattr(retention, "plan_prune", plan_then_swap)
    result = retention.prune_run(db, experiment_id, keep=0)
    assert result.removed == []
    assert sorted(p.name for p in victim.iterdir()) == ["epoch_1.ckpt", "epoch_2.ckpt"]
