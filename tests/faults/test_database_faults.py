"""The database under faults, with real processes: a full filesystem while a run is
followed, a damaged data page, and a backup while a follower writes.

The full-disk test mounts a 2 MiB tmpfs (root only; skipped with the reason otherwise) and
puts only the database there, so the run's folder keeps growing while the database cannot.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.datasets import register_dataset
from ravelab.core.runs.follow_child import DATABASE_EXIT_CODE
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, DiskFullError
from ravelab.db import experiments as rows
from ravelab.db.database import FAULT_KILL_ENV
from ravelab.db.maintenance import check_database
from tests.db.damage import garble_rows_of
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_env,
    experiment,
    no_traceback,
    printed_points,
    ravelab,
    step_points,
    train_args,
    undisturbed_points,
)
from tests.helpers import run_config, wait_until

pytestmark = pytest.mark.faults

#: Step lines of a run that is always stopped or paused, never waited out.
_LONG = {"FAKE_RAVE_STEP_LINES": "100000", "FAKE_RAVE_STEP_RATE": "200"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("a full filesystem needs root to mount a small tmpfs")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount command to make a small filesystem")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        done = subprocess.run(["umount", str(mount)], capture_output=True, check=False)
        if done.returncode != 0:  # still busy: detach it now, freed when the last file closes
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte; return the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def _follower(db_path: Path, experiment_id: int) -> subprocess.Popen[str]:
    """The app's follower child for a run, as the app starts it (stdin kept open)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ravelab.core.runs.follow_child",
            "--db",
            str(db_path),
            "--experiment",
            str(experiment_id),
            "--poll-interval",
            "0.05",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _end(child: subprocess.Popen[str], halt: bool = True, timeout: float = 60) -> tuple[int, str]:
    """Wait for a follower child to exit (``halt``: ask it to, by closing its stdin, as
    its parent does); return its exit status and stderr."""
    assert child.stdin is not None and child.stderr is not None
    if halt:
        with contextlib.suppress(OSError):
            child.stdin.close()
    code = child.wait(timeout)
    with contextlib.suppress(OSError):
        child.stdin.close()
    err = child.stderr.read()
    child.stderr.close()
    return code, err


def _caught_up(db: Database, experiment_id: int, run_dir: Path) -> bool:
    """The stored stdout offset is the log's end: everything printed so far is stored."""
    log = run_dir / "stdout.log"
    return log.exists() and rows.get_offsets(db, experiment_id).get("stdout") == (
        log.stat().st_size
    )


def _start(db: Database, rave: Path, runs: Path, dataset: Path, name: str) -> tuple[int, Path]:
    dataset_id = register_dataset(db, dataset, "synth").id
    manager = TrainingManager(db, rave=str(rave), runs_dir=runs, follow=False)
    experiment_id = manager.start_training(run_config(dataset_id, name=name, max_steps=100000))
    record = experiment(db, experiment_id)
    assert record.run_dir is not None
    return experiment_id, Path(record.run_dir)


def _stop_and_settle(db: Database, rave: Path, runs: Path, experiment_id: int) -> None:
    """Stop the run and follow it to its end from the stored offsets (a new manager
    re-attaches, as the next command would)."""
    manager = TrainingManager(db, rave=str(rave), runs_dir=runs, follow=False)
    manager.stop_training(experiment_id)
    final = manager.wait(experiment_id, timeout=90)
    assert final["status"] == "stopped", final["reason"]


def test_a_full_disk_while_a_run_is_followed_loses_and_doubles_nothing(
    small_disk: Path,
    tmp_path: Path,
    rave_double: Path,
    dataset_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in _LONG.items():
        monkeypatch.setenv(name, value)
    db_path = small_disk / "ravelab.db"
    runs = tmp_path / "runs"  # the run's files are not on the small disk: only the database
    db = Database(db_path)
    child: subprocess.Popen[str] | None = None
    experiment_id = None
    try:
        experiment_id, run_dir = _start(db, rave_double, runs, dataset_dir, "full-disk")
        child = _follower(db_path, experiment_id)
        wait_until(lambda: rows.count_points(db, experiment_id), timeout=60, what="points")

        def paused_with_an_empty_wal() -> bool:
            """The follower stopped between two polls, and the WAL emptied: its next
            write, after the disk is full, is certain to need new space."""
            assert child is not None
            child.send_signal(signal.SIGSTOP)
            with contextlib.closing(sqlite3.connect(db_path, timeout=0.2)) as conn:
                try:
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.OperationalError:  # it was stopped inside a transaction
                    busy = 1
            if busy == 0 and os.path.getsize(f"{db_path}-wal") == 0:
                return True
            child.send_signal(signal.SIGCONT)
            return False

        wait_until(paused_with_an_empty_wal, what="the follower paused between two polls")
        stored_before = rows.metric_history(db, experiment_id, "loss")
        filler = _fill(small_disk)
        printed = len(printed_points(run_dir))
        wait_until(lambda: len(printed_points(run_dir)) > printed, what="more lines to store")
        child.send_signal(signal.SIGCONT)

        code, err = _end(child, halt=False)  # it ends by itself, at its next write
        child = None
        no_traceback(err)
        lines = err.strip().splitlines()
        assert code == DATABASE_EXIT_CODE, err
        assert len(lines) == 1 and "disk full" in lines[0] and str(small_disk) in lines[0], err
        # Nothing of the failed poll was stored: points and offsets as before it.
        assert rows.metric_history(db, experiment_id, "loss") == stored_before

        # A command while the disk is full: it works, or says so in one line.
        listed = ravelab(db_path, cli_env(rave_double), "list")
        no_traceback(listed.stdout, listed.stderr)
        if listed.returncode != 0:
            assert listed.returncode == ExitCode.DATABASE, listed.stderr
            assert listed.stderr.count("\n") == 1 and "disk full" in listed.stderr
        # A write through the API: the error class, and nothing written.
        with pytest.raises(DiskFullError, match="free space on"):
            db.set_setting("probe", "x" * 3_000_000)

        filler.unlink()
        _stop_and_settle(db, rave_double, runs, experiment_id)
        assert db.get_setting("probe") is None
        stored = assert_points_exact(db, experiment_id)  # == printed, an undisturbed prefix
        assert len(stored) > len(stored_before)
        assert check_database(db_path).sound
    finally:
        if child is not None:
            child.send_signal(signal.SIGCONT)
            child.kill()
            _end(child)
        if experiment_id is not None and experiment(db, experiment_id).ended_at is None:
            with contextlib.suppress(Exception):
                # The disk may still be full: the stop itself must not need it.
                for leftover in small_disk.glob("filler"):
                    leftover.unlink()
                _stop_and_settle(db, rave_double, runs, experiment_id)
        db.close()


@pytest.mark.slow
def test_a_damaged_page_gives_every_command_one_line_naming_db_check(
    tmp_path: Path, rave_double: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "200")
    db_path = tmp_path / "ravelab.db"
    runs = tmp_path / "runs"
    with Database(db_path) as db:
        experiment_id, _ = _start(db, rave_double, runs, dataset_dir, "to-damage")
        manager = TrainingManager(db, rave=str(rave_double), runs_dir=runs, follow=False)
        assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    garble_rows_of(db_path, "experiments")  # the rows, not the file's or the page's header

    env = cli_env(rave_double)
    ref = str(experiment_id)
    for args in (["list"], ["show", ref], ["metrics", ref], ["logs", ref], ["stop", ref]):
        result = ravelab(db_path, env, *args)
        no_traceback(result.stdout, result.stderr)
        assert result.returncode == ExitCode.DATABASE, (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert "`ravelab db check`" in result.stderr, (args, result.stderr)
    child = _follower(db_path, experiment_id)
    code, err = _end(child, halt=False)
    no_traceback(err)
    assert code != 0 and err.count("\n") == 1 and "`ravelab db check`" in err, err

    checked = ravelab(db_path, env, "db", "check")
    assert checked.returncode == ExitCode.DATABASE
    assert "is damaged" in checked.stdout and "table experiments" in checked.stdout
    assert "ravelab db backup" in checked.stdout


def test_a_backup_while_a_follower_writes_holds_every_point_committed_before_it(
    tmp_path: Path, rave_double: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _LONG.items():
        monkeypatch.setenv(name, value)
    db_path = tmp_path / "ravelab.db"
    runs = tmp_path / "runs"
    copy = tmp_path / "backup.db"
    db = Database(db_path)
    child: subprocess.Popen[str] | None = None
    try:
        experiment_id, run_dir = _start(db, rave_double, runs, dataset_dir, "backed-up")
        child = _follower(db_path, experiment_id)
        wait_until(
            lambda: len(rows.metric_history(db, experiment_id, "loss")) >= 50,
            timeout=60,
            what="a first stretch of points",
        )
        committed = rows.metric_history(db, experiment_id, "loss")

        result = ravelab(db_path, cli_env(rave_double), "db", "backup", str(copy))

        no_traceback(result.stdout, result.stderr)
        assert result.returncode == 0, result.stderr
        assert "integrity check ok" in result.stdout
        assert check_database(copy).sound
        with Database(copy) as restored:
            saved = rows.metric_history(restored, experiment_id, "loss")
        assert saved[: len(committed)] == committed  # everything committed before it
        assert saved == undisturbed_points(len(saved))  # a whole prefix: no gap, no double
        # The follower kept writing: the live database goes past the copy.
        wait_until(
            lambda: len(rows.metric_history(db, experiment_id, "loss")) > len(saved),
            timeout=60,
            what="points after the backup",
        )
        code, err = _end(child)  # the follower stops between two polls
        child = None
        assert code == 0, err
        _stop_and_settle(db, rave_double, runs, experiment_id)
        stored = assert_points_exact(db, experiment_id)
        assert stored[: len(saved)] == saved
        assert len(printed_points(run_dir)) == len(stored)
    finally:
        if child is not None:
            child.kill()
            _end(child)
        db.close()


def test_a_backup_onto_a_full_disk_fails_in_one_line_and_leaves_nothing(
    small_disk: Path, tmp_path: Path, rave_double: Path
) -> None:
    db_path = tmp_path / "ravelab.db"
    with Database(db_path) as db:
        experiment_id = rows.insert_experiment(
            db, name="big", project_id=1, dataset_id=None, config={}
        )
        # About 3 MB of points: more than the small disk holds.
        points = [("loss", step, float(step), float(step)) for step in range(150_000)]
        rows.insert_points(db, experiment_id, points)
    copy = small_disk / "copy.db"

    result = ravelab(db_path, cli_env(rave_double), "db", "backup", str(copy))

    no_traceback(result.stdout, result.stderr)
    assert result.returncode == ExitCode.DATABASE, result.stderr
    assert result.stderr.count("\n") == 1 and "disk full" in result.stderr
    assert str(small_disk) in result.stderr
    assert list(small_disk.iterdir()) == []  # no copy, no temporary file
    assert check_database(db_path).sound


def _stored_matches_offset(db: Database, experiment_id: int, run_dir: Path) -> int:
    """The stored loss points are exactly the step lines before the stored stdout offset
    (points and offsets were committed together); return that offset."""
    offset = rows.get_offsets(db, experiment_id).get("stdout", 0)
    head = (run_dir / "stdout.log").read_bytes()[:offset]
    assert rows.metric_history(db, experiment_id, "loss") == step_points(head)
    return offset


def test_a_follower_killed_inside_a_transaction_leaves_nothing_of_it(
    tmp_path: Path, rave_double: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _LONG.items():
        monkeypatch.setenv(name, value)
    db_path = tmp_path / "ravelab.db"
    runs = tmp_path / "runs"
    db = Database(db_path)
    child: subprocess.Popen[str] | None = None
    try:
        experiment_id, run_dir = _start(db, rave_double, runs, dataset_dir, "cut-short")
        # Three polls commit; the fourth is killed after its writes, before its COMMIT.
        monkeypatch.setenv(FAULT_KILL_ENV, "4")
        child = _follower(db_path, experiment_id)
        code, err = _end(child, halt=False)
        child = None
        assert code == -signal.SIGKILL, err
        monkeypatch.delenv(FAULT_KILL_ENV)
        offset = _stored_matches_offset(db, experiment_id, run_dir)
        assert offset > 0  # the first polls' commits are there, whole
        assert check_database(db_path).sound
        _stop_and_settle(db, rave_double, runs, experiment_id)
        assert_points_exact(db, experiment_id)  # the next follower re-read the lost poll
    finally:
        if child is not None:
            child.kill()
            _end(child)
        db.close()


def test_train_on_a_full_disk_creates_nothing_and_says_so(
    small_disk: Path, tmp_path: Path, rave_double: Path, dataset_dir: Path
) -> None:
    db_path = small_disk / "ravelab.db"
    with Database(db_path) as db:
        register_dataset(db, dataset_dir, "synth")
    # Closed: its -wal and -shm files are gone, and opening it must make them anew.
    filler = _fill(small_disk)
    runs = tmp_path / "runs"
    env = cli_env(rave_double, RAVELAB_RUNS_DIR=str(runs))

    done = subprocess.run(
        train_args(db_path, "no-room"), env=env, capture_output=True, text=True, timeout=120
    )

    no_traceback(done.stdout, done.stderr)
    assert done.returncode == ExitCode.DATABASE, done.stderr
    assert done.stderr.count("\n") == 1 and "disk full" in done.stderr, done.stderr
    assert not runs.exists() or not any(runs.iterdir())  # no run folder, so no process
    filler.unlink()
    assert check_database(db_path).sound
    listed = ravelab(db_path, env, "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout
