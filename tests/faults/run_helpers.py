"""Helpers of the run-lifecycle fault tests: the `ravelab` CLI as real processes, the
test-only pause points, and the check that a run's points are exactly what its trainer
printed (none lost, none doubled)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import wait_until

#: The double's step lines (`step: i loss: x lr: y`): deterministic, so a run's points
#: can be checked against what it printed and against an undisturbed run.
_STEP_LINE = re.compile(rb"^step: (\d+) loss: ([0-9.]+) lr: ", re.MULTILINE)


def cli_env(rave: Path, **extra: str) -> dict[str, str]:
    """The environment of a `ravelab` subprocess: the rave double, quick step lines."""
    env = dict(os.environ)
    env["RAVELAB_RAVE"] = str(rave)
    env.setdefault("FAKE_RAVE_STEP_LINES", "40")
    env.update(extra)
    return env


def train_args(db_path: Path, name: str, *more: str) -> list[str]:
    """`python -m ravelab --db DB train ...` for a small CPU run of the double."""
    return [
        sys.executable,
        "-m",
        "ravelab",
        "--db",
        str(db_path),
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
    ]


def ravelab(db_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `ravelab` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "ravelab", "--db", str(db_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def gate_env(gate: Path, variable: str, point: str) -> dict[str, str]:
    """The environment that pauses a process at a test-only fault point until ``gate``."""
    return {variable: point, f"{variable}_GATE": str(gate)}


def wait_reached(gate: Path, proc: subprocess.Popen[Any] | None = None) -> None:
    """Wait until a process paused at the fault point of ``gate`` (failing at once if
    ``proc``, which should get there, ended instead)."""

    def reached() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended ({proc.returncode}) before {gate.name}")
        return Path(f"{gate}.reached").exists()

    wait_until(reached, timeout=60, what=f"{gate} reached")


def printed_points(run_dir: Path) -> list[tuple[int, float]]:
    """The (step, loss) pairs the double printed on stdout, in order."""
    data = (run_dir / "stdout.log").read_bytes() if (run_dir / "stdout.log").exists() else b""
    return [(int(step), float(loss)) for step, loss in _STEP_LINE.findall(data)]


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
