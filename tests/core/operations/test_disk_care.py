"""The warden's disk duties: a live run's periodic checkpoints pruned as it goes, and one
``disk_low`` event per episode of low space."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.operations import checkpoint_retention, disk_care, disk_space, warden
from ravelab.core.operations.duties import WardenContext
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config


def test_a_run_keeps_only_its_last_periodic_checkpoints_with_nobody_watching(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    monkeypatch.setenv(warden.IDLE_ENV, "0")
    launcher = make_manager(follow=False)
    experiment_id = launcher.start_training(
        run_config(dataset_id, max_steps=40, save_every=5, val_every=10)
    )
    checkpoint_retention.set_retention(db, experiment_id, 2)
    process = subprocess.Popen([sys.executable, "-m", "ravelab.core.operations.warden", db.path])
    assert process.wait(timeout=120) == 0  # it exits once the run is settled and pruned
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "completed"
    names = sorted(p.name for p in Path(record.run_dir or "").rglob("*.ckpt"))
    periodic = [name for name in names if name.startswith("epoch_")]
    assert periodic == ["epoch_35.ckpt", "epoch_40.ckpt"], names
    assert "best.ckpt" in names


def test_low_disk_is_told_once_per_episode(
    db: Database, make_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = {"bytes": 10 * 10**9}
    monkeypatch.setattr(disk_space, "free_bytes", lambda folder: free["bytes"])
    db.set_setting(disk_care.LOW_SETTING, "5")
    duty = disk_care.DiskDuty()
    manager = make_manager(follow=False)
    clock = {"now": 1000.0}

    def tick(with_duty: disk_care.DiskDuty = duty) -> None:
        clock["now"] += 60
        with_duty.tick(WardenContext(db=db, manager=manager, now=clock["now"]))

    def events() -> list[tuple[str, str]]:
        return [tuple(r) for r in db.query_tuples("SELECT key, title FROM events")]

    tick()
    assert events() == []
    free["bytes"] = 4 * 10**9
    tick()
    tick()
    tick(disk_care.DiskDuty())  # a restarted warden reads the episode back
    assert len(events()) == 1 and "Disk low: 4.0 GB free" in events()[0][1]
    free["bytes"] = 7 * 10**9  # above the limit but not by half: the same episode
    tick()
    free["bytes"] = 4 * 10**9
    tick()
    assert len(events()) == 1
    free["bytes"] = 8 * 10**9  # recovered
    tick()
    free["bytes"] = 1 * 10**9
    tick()
    assert len(events()) == 2
    # A damaged record of the episode starts a new one: one message too many, never a
    # key told before reused (which would silence every later episode).
    db.set_setting("disk_low_episode:" + events()[0][0].split(":")[2], "garbage")
    tick()
    assert len(events()) == 3 and len({key for key, _ in events()}) == 3


def test_space_estimates() -> None:
    small = disk_space.checkpoint_bytes("v2_small")
    assert small == 176_000_000
    assert disk_space.checkpoint_bytes("my/custom.gin") == disk_space.checkpoint_bytes("v2")
    assert disk_space.checkpoint_bytes("v2", measured=5) == 5
    needed = disk_space.run_bytes("v2_small", max_steps=100, save_every=10, keep_periodic=3)
    assert needed == 5 * small + disk_space.LOGS_BYTES
    check = disk_space.SpaceCheck(Path("/runs"), free_bytes=10, needed_bytes=needed)
    assert not check.enough and "free under /runs" in (check.warning() or "")
    assert disk_space.SpaceCheck(Path("/x"), None, 1).warning() is None
    assert disk_space.free_bytes("/no/such/folder/at/all") is not None  # its parents count


def test_a_run_config_is_checked_against_the_free_space(tmp_path: Path) -> None:
    config = {"config": "v2", "max_steps": 2_000_000}  # RAVE saves every 500k: 4 periodic
    check = disk_space.check_run_space(config, tmp_path / "runs", keep_periodic=None)
    assert check.needed_bytes == 6 * 700_000_000 + disk_space.LOGS_BYTES
    kept = disk_space.check_run_space(config, tmp_path / "runs", keep_periodic=1)
    assert kept.needed_bytes == 3 * 700_000_000 + disk_space.LOGS_BYTES
    odd = disk_space.check_run_space({"max_steps": "x", "config": None}, tmp_path, None)
    assert odd.needed_bytes == 2 * 700_000_000 + disk_space.LOGS_BYTES
