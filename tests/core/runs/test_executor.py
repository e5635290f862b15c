"""The local executor with real detached supervisors: a run is alive while any process of
it lives and ended once they are gone, a stop reaches the trainer through its supervisor,
and a run folder's ``supervisor.json`` naming a process that is not the run's is never
believed (nor that process signalled)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from ravelab.core.runs.executor import (
    ExecutorState,
    LocalExecutor,
    RunHandle,
    is_live_supervisor,
    newest_checkpoint_time,
    pick_supervisor,
    run_processes,
    signallable_trainer,
    stop_run_processes,
    trainer_identity,
)
from ravelab.core.runs.process_identity import HOST, identify
from ravelab.core.runs.run_files import (
    STDOUT_LOG,
    SUPERVISOR_FILE,
    ExitRecord,
    LaunchSpec,
    create_run_dir,
    write_json_atomic,
)
from tests.helpers import wait_until

# Waits for a file named "go" in its folder (or a SIGINT), then ends.
_TRAINER = """
import os, signal, sys, time
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
print("ready", flush=True)
while not os.path.exists("go"):
    time.sleep(0.05)
"""


def _launch(tmp_path: Path) -> tuple[LocalExecutor, Path, RunHandle]:
    run_dir = create_run_dir(tmp_path / "runs", "demo")
    (run_dir / "trainer.py").write_text(textwrap.dedent(_TRAINER))
    executor = LocalExecutor()
    spec = LaunchSpec(argv=[sys.executable, "trainer.py"], cwd=str(run_dir))
    handle = executor.launch(run_dir, spec)
    wait_until(lambda: "ready" in _read(run_dir / STDOUT_LOG), what="the trainer")
    return executor, run_dir, handle


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _ended(run_dir: Path) -> ExitRecord:
    return wait_until(lambda: ExitRecord.read(run_dir), what="exit.json")


def test_a_run_lives_until_its_processes_end(tmp_path: Path) -> None:
    executor, run_dir, handle = _launch(tmp_path)
    assert handle.executor == "local" and handle.supervisor is not None
    assert handle.supervisor.host == HOST and is_live_supervisor(handle.supervisor)
    assert executor.state(run_dir, handle) == ExecutorState(alive=True)
    trainer = trainer_identity(run_dir)
    assert trainer is not None and signallable_trainer(run_dir) == trainer[1]
    processes = run_processes(run_dir)
    assert {p.pid for p in processes} >= {handle.supervisor.pid, trainer[0].pid}
    assert pick_supervisor(processes) == handle.supervisor
    (run_dir / "go").touch()
    assert _ended(run_dir).exit_code == 0
    wait_until(lambda: executor.state(run_dir, handle).alive is False, what="the run's end")
    assert not is_live_supervisor(handle.supervisor)
    assert stop_run_processes(run_dir) is False  # nothing is left to stop


def test_a_stop_reaches_the_trainer_through_its_supervisor(tmp_path: Path) -> None:
    executor, run_dir, handle = _launch(tmp_path)
    assert executor.request_stop(run_dir, handle) is True
    ended = _ended(run_dir)
    assert (ended.exit_code, ended.stop_requested) == (130, True)  # it got SIGINT first
    wait_until(lambda: not run_processes(run_dir), what="the run's processes to end")
    assert executor.request_stop(run_dir, handle) is False  # nothing is left to stop


def test_a_supervisor_file_naming_another_process_is_not_believed(tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path / "runs", "copied")
    me = identify(os.getpid())
    assert me is not None
    write_json_atomic(
        run_dir / SUPERVISOR_FILE,
        {
            "supervisor_pid": me.pid,
            "trainer_pid": me.pid,  # this test's own process: alive, but not the run's
            "trainer_pgid": os.getpgid(me.pid),
            "trainer_start_time": me.start_time,
            "host": HOST,
        },
    )
    assert trainer_identity(run_dir) is not None
    assert signallable_trainer(run_dir) is None
    executor = LocalExecutor()
    assert executor.state(run_dir, RunHandle("local")).alive is False
    assert stop_run_processes(run_dir) is False  # nothing signalled: this test lives on
    assert psutil.Process(me.pid).is_running()


def test_nothing_known_of_a_run_is_neither_alive_nor_ended(tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path / "runs", "unknown")
    assert LocalExecutor().state(run_dir, RunHandle("local")).alive is None
    assert trainer_identity(run_dir) is None and pick_supervisor([]) is None
    assert newest_checkpoint_time(run_dir) == 0.0


def test_the_trainer_numbers_gpus_as_nvml_does_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    printing = [sys.executable, "-c", "import os; print(os.environ.get('CUDA_DEVICE_ORDER'))"]
    for given, expected in ((None, "PCI_BUS_ID"), ("FASTEST_FIRST", "FASTEST_FIRST")):
        if given is None:
            monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
        else:
            monkeypatch.setenv("CUDA_DEVICE_ORDER", given)
        run_dir = create_run_dir(tmp_path / "runs", f"order-{expected}")
        LocalExecutor().launch(run_dir, LaunchSpec(argv=printing, cwd=str(run_dir)))
        _ended(run_dir)
        assert _read(run_dir / STDOUT_LOG).strip() == expected
