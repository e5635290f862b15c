"""Stopping a run whose supervisor is gone: a detached stopper finds the run's processes
by their marker, walks SIGINT, SIGTERM and SIGKILL through their groups with the run's
grace times, and records the stop in ``exit.json`` (never over one that is there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ravelab.core.runs.executor import run_processes, stop_run_processes
from ravelab.core.runs.run_files import (
    EXIT_FILE,
    RUN_MARKER_ENV,
    ExitRecord,
    LaunchSpec,
    create_run_dir,
    marker_value,
)
from tests.helpers import wait_until

# An orphaned trainer: notes the signals it gets; ends on the one named, else goes on.
_TRAINER = """
import signal, sys, time
def note(signum, frame):
    print(signal.Signals(signum).name, flush=True)
    if signal.Signals(signum).name == sys.argv[1]:
        sys.exit(0)
for name in ("SIGINT", "SIGTERM"):
    signal.signal(getattr(signal, name), note)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _orphan(tmp_path: Path, ends_on: str) -> tuple[Path, subprocess.Popen[bytes], Path]:
    """A run folder and a trainer of it left without its supervisor (its own group).

    A trainer that ends on SIGINT gets a long grace: with none, SIGTERM may arrive while
    it is already exiting, when Python has put the default handlers back (it then dies of
    SIGTERM, -15, on a loaded machine). A deaf one gets none, so SIGKILL follows at once.
    """
    run_dir = create_run_dir(tmp_path / "runs", "orphan")
    grace = 120.0 if ends_on == "SIGINT" else 0.0
    LaunchSpec(argv=["rave"], cwd=str(run_dir), int_grace_s=grace, term_grace_s=0).write(run_dir)
    script = tmp_path / "trainer.py"
    script.write_text(textwrap.dedent(_TRAINER))
    out = tmp_path / "trainer.out"
    with open(out, "wb") as handle:
        trainer = subprocess.Popen(
            [sys.executable, str(script), ends_on],
            env={**os.environ, RUN_MARKER_ENV: marker_value(run_dir)},
            stdout=handle,
            process_group=0,
        )
    wait_until(lambda: b"ready" in out.read_bytes(), what="the trainer's handlers")
    return run_dir, trainer, out


def test_an_orphaned_trainer_is_interrupted_and_the_stop_recorded(tmp_path: Path) -> None:
    run_dir, trainer, out = _orphan(tmp_path, ends_on="SIGINT")
    assert stop_run_processes(run_dir) is True
    assert trainer.wait(timeout=60) == 0
    assert out.read_text().splitlines() == ["ready", "SIGINT"]
    ended = wait_until(lambda: ExitRecord.read(run_dir), what="exit.json")
    assert (ended.exit_code, ended.signal, ended.stop_requested) == (None, None, True)
    wait_until(lambda: not run_processes(run_dir), what="the stopper to end")


def test_a_trainer_deaf_to_stops_is_killed(tmp_path: Path) -> None:
    run_dir, trainer, out = _orphan(tmp_path, ends_on="nothing")
    assert stop_run_processes(run_dir) is True
    assert trainer.wait(timeout=60) == -9  # no grace time in launch.json: SIGKILL follows
    assert out.read_text().splitlines()[:2] == ["ready", "SIGINT"]
    ended = wait_until(lambda: ExitRecord.read(run_dir), what="exit.json")
    assert ended.stop_requested and ended.exit_code is None


def test_an_exit_the_supervisor_wrote_is_kept(tmp_path: Path) -> None:
    run_dir, trainer, _ = _orphan(tmp_path, ends_on="SIGINT")
    # The supervisor recorded the end before it died (the trainer's group lived on).
    ExitRecord(0, None, False, 1700000000.0).write(run_dir)
    before = (run_dir / EXIT_FILE).read_text()
    done = subprocess.run(
        [sys.executable, "-m", "ravelab.core.runs.run_stopper", str(run_dir)],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "sent SIGINT" in done.stderr
    assert trainer.wait(timeout=60) == 0
    assert (run_dir / EXIT_FILE).read_text() == before
    assert json.loads(before)["exit_code"] == 0


def test_a_stopper_without_a_run_folder_says_how_to_call_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ravelab.core.runs.run_stopper"],
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.startswith("usage:")
