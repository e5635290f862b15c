"""The run supervisor as its own process (``python -m ravelab.core.runs.supervisor``): it
starts the trainer with the run's environment and stdin, logs its two streams byte for
byte, writes ``supervisor.json`` and ``exit.json``, walks a stop through SIGINT, SIGTERM
and SIGKILL, and ends what the trainer left in its process group."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from ravelab.core.runs.run_files import (
    EXIT_FILE,
    RUN_MARKER_ENV,
    STDERR_LOG,
    STDOUT_LOG,
    SUPERVISOR_FILE,
    ExitRecord,
    LaunchSpec,
    SupervisorInfo,
    marker_value,
)
from ravelab.core.runs.stop_stages import StopStage
from tests.helpers import wait_until

SUPERVISOR = [sys.executable, "-m", "ravelab.core.runs.supervisor"]


def _launch(run_dir: Path, script: str, **spec: object) -> None:
    run_dir.mkdir(exist_ok=True)
    trainer = run_dir / "trainer.py"
    trainer.write_text(textwrap.dedent(script))
    LaunchSpec(argv=[sys.executable, str(trainer)], cwd=str(run_dir), **spec).write(run_dir)  # type: ignore[arg-type]


def _supervise(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SUPERVISOR, str(run_dir)], capture_output=True, text=True, timeout=60)


def test_the_trainer_runs_with_the_runs_environment_and_its_end_is_written(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    _launch(
        run_dir,
        """
        import json, os, sys
        answer = sys.stdin.read()
        print(json.dumps({name: os.environ.get(name) for name in
                          ("RAVELAB_RUN_DIR", "PYTHONUNBUFFERED", "EXTRA")}))
        sys.stdout.write("answer=" + answer)
        sys.stderr.buffer.write(b"\\r 50%|##   | \\xff\\n")
        sys.exit(3)
        """,
        env={"EXTRA": "from launch.json"},
        stdin_text="y\n",
    )
    done = _supervise(run_dir)
    assert done.returncode == 0, done.stderr
    first, second = (run_dir / STDOUT_LOG).read_text().splitlines()
    assert json.loads(first) == {
        RUN_MARKER_ENV: marker_value(run_dir),
        "PYTHONUNBUFFERED": "1",
        "EXTRA": "from launch.json",
    }
    assert second == "answer=y"
    assert (run_dir / STDERR_LOG).read_bytes() == b"\r 50%|##   | \xff\n"  # byte for byte
    ended = ExitRecord.read(run_dir)
    assert ended is not None and not ended.damaged
    assert (ended.exit_code, ended.signal, ended.stop_requested, ended.error) == (
        3,
        None,
        False,
        None,
    )
    info = SupervisorInfo.read(run_dir)
    assert info is not None and info.problem is None
    assert info.trainer_pid is not None and info.trainer_pgid == info.trainer_pid
    assert info.supervisor_pid is not None and info.host


def test_a_trainer_that_cannot_start_ends_the_run_with_why(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    LaunchSpec(argv=[str(tmp_path / "no-such-rave"), "train"], cwd=str(run_dir)).write(run_dir)
    done = _supervise(run_dir)
    assert done.returncode == 127
    ended = ExitRecord.read(run_dir)
    assert ended is not None and ended.exit_code == 127 and not ended.damaged
    assert ended.error is not None and ended.error.startswith("could not start ")
    assert "no-such-rave" in ended.error
    assert (run_dir / STDERR_LOG).read_text().startswith("ravelab: could not start ")
    assert not (run_dir / SUPERVISOR_FILE).exists()


def test_without_a_launch_file_nothing_starts_and_exit_json_says_so(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    done = _supervise(run_dir)
    assert done.returncode == 2 and "launch.json is missing" in done.stderr
    ended = ExitRecord.read(run_dir)
    assert ended is not None and ended.exit_code == 127
    assert ended.error is not None and "launch.json is missing" in ended.error
    usage = subprocess.run(SUPERVISOR, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")


_STUBBORN = """
import signal, sys, time
seen = []
def note(signum, frame):
    seen.append(signal.Signals(signum).name)
    print("got", seen[-1], flush=True)
    if signal.Signals(signum).name == {ends_on!r}:
        sys.exit(0)
for name in ("SIGINT", "SIGTERM"):
    signal.signal(getattr(signal, name), note)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _stop_when_ready(run_dir: Path) -> subprocess.Popen[str]:
    supervisor = subprocess.Popen(
        [*SUPERVISOR, str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: (run_dir / SUPERVISOR_FILE).exists(), what="supervisor.json")
    log = run_dir / STDOUT_LOG
    wait_until(lambda: "ready" in log.read_text(), what="the trainer's handlers")
    supervisor.send_signal(signal.SIGTERM)
    return supervisor


def test_a_stop_asks_the_trainer_with_sigint_first(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _launch(run_dir, _STUBBORN.format(ends_on="SIGINT"))
    supervisor = _stop_when_ready(run_dir)
    _, stderr = supervisor.communicate(timeout=60)
    assert supervisor.returncode == 0
    assert (run_dir / STDOUT_LOG).read_text().splitlines() == ["ready", "got SIGINT"]
    ended = ExitRecord.read(run_dir)
    assert ended is not None and (ended.exit_code, ended.stop_requested) == (0, True)
    assert "stop requested (SIGTERM)" in stderr


def test_a_trainer_deaf_to_stops_is_terminated_then_killed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # It notes SIGINT and SIGTERM and goes on: with no grace time, SIGKILL ends it.
    _launch(run_dir, _STUBBORN.format(ends_on="nothing"), int_grace_s=0, term_grace_s=0)
    supervisor = _stop_when_ready(run_dir)
    _, stderr = supervisor.communicate(timeout=60)
    assert supervisor.returncode == 0
    lines = (run_dir / STDOUT_LOG).read_text().splitlines()
    assert lines[0] == "ready" and lines[1] == "got SIGINT"
    ended = ExitRecord.read(run_dir)
    assert ended is not None and ended.stop_requested
    assert (ended.exit_code, ended.signal) == (-9, StopStage.KILLED.signal.name)
    assert stderr.index("sent SIGINT") < stderr.index("sent SIGTERM") < stderr.index("sent SIGKILL")


def test_what_the_trainer_leaves_in_its_group_is_ended(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _launch(
        run_dir,
        """
        import subprocess, sys
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(worker.pid, flush=True)
        """,
    )
    done = _supervise(run_dir)
    assert done.returncode == 0, done.stderr
    worker = int((run_dir / STDOUT_LOG).read_text())
    ended = ExitRecord.read(run_dir)
    assert ended is not None and ended.exit_code == 0
    gone = not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
    assert gone, "the trainer's worker outlived the run"
    assert (run_dir / EXIT_FILE).exists()
