"""The warden: one per database, follows and settles runs with nobody else watching, and
exits once idle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.operations import warden
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config, wait_until


def _start_warden(db_path: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ravelab.core.operations.warden", db_path])


def test_the_warden_settles_a_run_nobody_else_follows_and_then_exits(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    monkeypatch.setenv(warden.IDLE_ENV, "0")
    hold = runs_dir.parent / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    launcher = make_manager(follow=False)  # a one-shot CLI command: it follows nothing
    experiment_id = launcher.start_training(run_config(dataset_id))
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    process = _start_warden(db.path)
    wait_until(lambda: warden.warden_alive(db.path), timeout=30, what="the warden's lock")
    hold.touch()
    record = wait_until(
        lambda: (r := rows.get_experiment(db, experiment_id)) and r.ended_at and r,
        timeout=90,
        what="the warden to settle the run",
    )
    assert record.status == "completed"
    assert process.wait(timeout=60) == 0  # nothing left to do: it exits
    assert not warden.warden_alive(db.path)


def test_a_second_warden_of_the_same_database_exits_at_once(db: Database) -> None:
    with warden._held_lock(db.path) as taken:  # a warden "lives": this test holds its lock
        assert taken and warden.warden_alive(db.path)
        second = _start_warden(db.path)
        assert second.wait(timeout=60) == 0
    assert not warden.warden_alive(db.path)


def test_no_warden_is_started_without_work_or_when_turned_off(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(warden.ENABLE_ENV, "1")
    assert not warden.has_work(db)
    assert warden.ensure_warden(db) is False
    db.execute(
        "INSERT INTO experiments(name, status, created_at, pid) "
        "VALUES ('x', 'running', '2026-01-01T00:00:00+00:00', 1)"
    )
    assert warden.has_work(db)
    monkeypatch.setenv(warden.ENABLE_ENV, "0")
    assert warden.ensure_warden(db) is False
    with warden._held_lock(db.path):
        monkeypatch.setenv(warden.ENABLE_ENV, "1")
        assert warden.ensure_warden(db) is False  # one lives already
    assert not warden.ensure_warden(Database(":memory:"))


def test_a_failing_duty_never_stops_the_others(db: Database, make_manager: Any) -> None:
    calls: list[str] = []

    class Broken:
        name, interval_s = "broken", 0.0

        def tick(self, context: object) -> None:
            calls.append("broken")
            raise RuntimeError("boom")

        def busy(self, context: object) -> bool:
            raise RuntimeError("boom")

    class Fine:
        name, interval_s = "fine", 3600.0

        def tick(self, context: object) -> None:
            calls.append("fine")

        def busy(self, context: object) -> bool:
            return False

    loop = warden.Warden(db, make_manager(follow=False), [Broken(), Fine()], idle_s=0)
    loop.run_until_idle()
    # Each once, then once more in the last round before leaving (fine's hour is not up).
    assert calls == ["broken", "fine", "broken", "fine"]
    assert warden.load_duties(["no.such.module:Duty"]) == []


def test_a_database_reached_through_a_link_has_one_warden(db: Database, tmp_path: Path) -> None:
    link = tmp_path / "elsewhere.db"
    link.symlink_to(db.path)
    with warden._held_lock(db.path) as taken:
        assert taken and warden.warden_alive(link)
        with warden._held_lock(str(link)) as second:
            assert not second


def test_a_warden_whose_database_file_was_replaced_leaves(
    db: Database, make_manager: Any, tmp_path: Path
) -> None:
    class Busy:
        name, interval_s = "busy", 0.0

        def tick(self, context: object) -> None:
            pass

        def busy(self, context: object) -> bool:
            return True  # it would keep the warden forever

    loop = warden.Warden(db, make_manager(follow=False), [Busy()], idle_s=0)
    opened = warden._file_identity(db.path)
    loop.still_ours = lambda: warden._file_identity(db.path) == opened
    moved = tmp_path / "moved.db"
    Path(db.path).rename(moved)
    Path(db.path).write_bytes(b"")  # a new file at the same path
    loop.run_until_idle()
    assert loop.stopped
