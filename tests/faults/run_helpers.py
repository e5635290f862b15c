"""Helpers of the run-lifecycle fault tests: the `ravelab` CLI as real processes, the
test-only pause points, long runs of the double started and waited on, and the check that
a run's points are exactly what its trainer printed (none lost, none doubled)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import trainer_identity
from ravelab.core.runs.process_identity import ProcessIdentity, is_alive
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config, wait_until

#: The double's step lines (`step: i loss: x lr: y`): deterministic, so a run's points
#: can be checked against what it printed and against an undisturbed run.
_STEP_LINE = re.compile(rb"^step: (\d+) loss: ([0-9.]+) lr: ", re.MULTILINE)


#: A run long enough to be stopped or killed mid-way (it is always stopped, never waited out).
LONG_RUN = {"FAKE_RAVE_STEP_LINES": "100000", "FAKE_RAVE_STEP_RATE": "100"}


def long_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the runs this test starts in-process long ones (:data:`LONG_RUN`)."""
    for name, value in LONG_RUN.items():
        monkeypatch.setenv(name, value)


def cli_env(rave: Path, **extra: str) -> dict[str, str]:
    """The environment of a `ravelab` subprocess: the rave double, quick step lines."""
    env = dict(os.environ)
    env["RAVELAB_RAVE"] = str(rave)
    env.setdefault("FAKE_RAVE_STEP_LINES", "40")
    env.update(extra)
    return env


def cli_args(db_path: Path, *args: str) -> list[str]:
    """`python -m ravelab --db DB ARGS...`."""
    return [sys.executable, "-m", "ravelab", "--db", str(db_path), *args]


def train_args(db_path: Path, name: str, *more: str) -> list[str]:
    """`python -m ravelab --db DB train ...` for a small CPU run of the double."""
    return cli_args(
        db_path,
        "train",
        "--dataset",
        "synth",
        "--name",
        name,
        "--config",
        "v2_small",
        "--max-steps",
        "1000",
        "--batch-size",
        "4",
        "--gpu",
        "-1",
        "--workers",
        "0",
        *more,
    )


def ravelab(db_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `ravelab` command to its end."""
    return subprocess.run(
        cli_args(db_path, *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ravelab_ok(db_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `ravelab` command that must succeed: exit code 0, no traceback."""
    done = ravelab(db_path, env, *args)
    no_traceback(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    return done


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def gate_env(gate: Path, variable: str, point: str) -> dict[str, str]:
    """The environment that pauses a process at a test-only fault point until ``gate``."""
    return {variable: point, f"{variable}_GATE": str(gate)}


def start_command(args: list[str], env: dict[str, str], *, output: bool) -> subprocess.Popen[str]:
    """Start a command without waiting for it. Its output is piped (text) for the test
    to read when ``output``, else dropped."""
    stream = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(args, env=env, stdout=stream, stderr=stream, text=True)


def start_paused(
    args: list[str], env: dict[str, str], gate: Path, point: str, *, output: bool
) -> subprocess.Popen[str]:
    """Start a command that pauses at the launch fault point ``point`` until ``gate``
    exists, and wait until it got there (``output`` as for :func:`start_command`)."""
    proc = start_command(
        args, {**env, **gate_env(gate, "RAVELAB_FAULT_LAUNCH", point)}, output=output
    )
    wait_reached(gate, proc)
    return proc


def wait_reached(gate: Path, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until a process paused at the fault point of ``gate`` (failing at once if
    ``proc``, which should get there, ended instead)."""

    def reached() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended ({proc.returncode}) before {gate.name}")
        return Path(f"{gate}.reached").exists()

    wait_until(reached, timeout=60, what=f"{gate} reached")


def step_points(data: bytes) -> list[tuple[int, float]]:
    """The (step, loss) pairs of the double's step lines in ``data``, in order."""
    return [(int(step), float(loss)) for step, loss in _STEP_LINE.findall(data)]


def printed_points(run_dir: Path) -> list[tuple[int, float]]:
    """The (step, loss) pairs the double printed on stdout, in order."""
    data = (run_dir / "stdout.log").read_bytes() if (run_dir / "stdout.log").exists() else b""
    return step_points(data)


def undisturbed_points(count: int) -> list[tuple[int, float]]:
    """What an undisturbed step-line run of ``count`` lines prints (the double's replay)."""
    return [(i, float(f"{0.1 + 2.0 / (1.0 + 0.05 * i):.4f}")) for i in range(1, count + 1)]


def assert_points_exact(db: Database, experiment_id: int) -> list[tuple[int, float]]:
    """The run's stored loss points are exactly what its trainer printed, and a prefix
    of an undisturbed run's: no point lost, none doubled."""
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.run_dir is not None
    printed = printed_points(Path(record.run_dir))
    stored = rows.metric_history(db, experiment_id, "loss")
    assert stored == printed, (stored[:5], printed[:5], len(stored), len(printed))
    assert printed == undisturbed_points(len(printed))
    return stored


def experiment(db: Database, experiment_id: int) -> Any:
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    return record


def start_run(
    make_manager: Any, db: Database, dataset_id: int, name: str, **config: Any
) -> tuple[Any, int, Path]:
    """Start a run of the double from a new manager that follows nothing (the test
    drives it): (manager, experiment id, run folder)."""
    manager = make_manager(follow=False)
    experiment_id = manager.start_training(run_config(dataset_id, name=name, **config))
    return manager, experiment_id, Path(experiment(db, experiment_id).run_dir)


def wait_some_points(run_dir: Path) -> None:
    """Wait until the run's trainer has printed a few step lines."""
    wait_until(lambda: len(printed_points(run_dir)) >= 3, timeout=60, what="a few steps")


def wait_training(run_dir: Path) -> tuple[ProcessIdentity, int]:
    """Wait until the run's supervisor has recorded its trainer (supervisor.json) and the
    trainer has printed a few steps; the trainer's identity and process group."""
    trainer = wait_until(lambda: trainer_identity(run_dir), what="supervisor.json")
    wait_some_points(run_dir)
    return trainer


def kill_supervisor(db: Database, experiment_id: int) -> Path:
    """SIGKILL the run's recorded supervisor and wait until it is gone; the run folder."""
    record = experiment(db, experiment_id)
    assert record.pid is not None and record.pid_start_time is not None
    supervisor = ProcessIdentity(record.pid, record.pid_start_time)
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: is_alive(supervisor) is False, timeout=30, what="supervisor gone")
    return Path(record.run_dir)
