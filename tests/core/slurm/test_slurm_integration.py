"""SlurmExecutor against a real SLURM: runs of the `rave` double submitted with sbatch.

Needs a cluster that answers `scontrol ping` and shares this machine's filesystem (CI:
`.ci/slurm.sh up`, a single node on this machine). Without one the module is skipped,
unless RAVELAB_REQUIRE_SLURM=1 (CI), where that is a failure.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import LaunchError
from ravelab.core.runs.run_files import (
    EXIT_FILE,
    STDERR_LOG,
    SUPERVISOR_FILE,
    DamagedFileError,
    load_json,
)
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.core.slurm.executor import SlurmExecutor, check_cluster
from ravelab.core.slurm.settings import SlurmSettings
from ravelab.core.slurm.states import JobInfo
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import assert_reattached_run_completes, run_config, wait_until

# One at a time, whatever the worker: they share the one-node cluster (a test fills the
# node on purpose), so side by side they would queue behind each other and time out. The
# xdist_group mark does not reach the scheduler with pytest 9 and xdist 3.8: the lock
# (``one_test_at_a_time``) is what holds.
pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

REQUIRE_ENV = "RAVELAB_REQUIRE_SLURM"


@dataclass(frozen=True)
class Cluster:
    partition: str  # the default partition
    cpus: int  # CPUs of its biggest node
    min_job_age: int  # seconds a finished job stays in squeue


def _command(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}`: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def _find_cluster() -> Cluster | str:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed here (no sinfo or sbatch on PATH)"
    try:
        ping = _command("scontrol", "ping")
        if "is UP" not in ping:
            return f"the SLURM controller does not answer ({ping.strip().splitlines()[0]})"
        partitions = _command("sinfo", "--noheader", "--format=%P|%c|%a").split()
        config = _command("scontrol", "show", "config")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return f"SLURM does not answer ({str(error).strip().splitlines()[0]})"
    up = [p.split("|") for p in partitions if p.endswith("|up")]
    default = [name for name, _, _ in up if name.endswith("*")]
    if not default:
        return f"no default partition that is up: {partitions}"
    age = re.search(r"MinJobAge\s*=\s*(\d+)", config)
    cpus = max(int(c.rstrip("+")) for _, c, _ in up)
    return Cluster(default[0].rstrip("*"), cpus, int(age.group(1)) if age else 300)


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Cluster:
    found = _find_cluster()
    if isinstance(found, str):
        message = f"{found}: start a single-node test cluster with `.ci/slurm.sh up` (as root)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {message}")
        pytest.skip(message)
    return found


@pytest.fixture(autouse=True)
def one_test_at_a_time(cluster: Cluster) -> Iterator[None]:
    """Holds the cluster for this test: the other workers' SLURM tests wait on the lock
    until this one and its jobs are gone (its other fixtures end inside it)."""
    lock_path = Path(tempfile.gettempdir()) / f"ravelab-slurm-tests-{os.getuid()}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def executor() -> SlurmExecutor:
    # exit.json is on a local disk here: no need to wait long for it to show.
    return SlurmExecutor(SlurmSettings(), exit_file_grace_s=2.0)


@pytest.fixture
def make_manager(
    db: Database, rave_double: Path, tmp_path: Path, executor: SlurmExecutor
) -> Iterator[Any]:
    managers: list[TrainingManager] = []

    def make(**kwargs: Any) -> TrainingManager:
        options: dict[str, Any] = {
            "executors": {"slurm": SlurmExecutor(SlurmSettings(), exit_file_grace_s=2.0)}
            if kwargs.pop("fresh_executor", False)
            else {"slurm": executor},
            "rave": str(rave_double),
            "runs_dir": tmp_path / "runs",
            "poll_interval": 0.05,
        }
        options.update(kwargs)
        manager = TrainingManager(db, **options)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.shutdown()
    # Cancel what is left, so no job (and none of its processes) outlives the test.
    jobs = [row["job_id"] for row in db.query("SELECT job_id FROM experiments") if row["job_id"]]
    if jobs:
        subprocess.run(["scancel", *jobs], capture_output=True, timeout=15, check=False)
        wait_until(lambda: all(_ended(executor.query(job)) for job in jobs), 30, "jobs gone")
    executor.wait_stopped(15)


def _written(path: Path) -> dict[str, Any] | None:
    """A JSON file of ravelab's once it is complete (None while missing or half written)."""
    try:
        return load_json(path)
    except DamagedFileError:
        return None


def _ended(info: JobInfo | None) -> bool:
    return info is None or info.final


def _config(dataset: int, name: str = "run", **extra: Any) -> dict[str, Any]:
    """The core tests' run, submitted to SLURM."""
    return run_config(dataset, name, **{"executor": "slurm", **extra})


def _final_state(executor: SlurmExecutor, job: str, run_dir: Path) -> str:
    """SLURM's own word on how a job ended (squeue while it remembers, then sacct -c)."""

    def final() -> str | None:
        info = executor.query(job) or executor.accounting(job)
        return info.state if info is not None and info.final else None

    return wait_until(final, 30, f"SLURM job {job} to end")


def test_the_cluster_check_sees_the_partition(cluster: Cluster, tmp_path: Path) -> None:
    shared = tmp_path / "not yet" / "runs"  # created with the first run
    check = check_cluster(SlurmSettings(partition=cluster.partition, runs_dir=str(shared)))
    assert check.ok, check.problems
    assert check.controller is not None and "is UP" in check.controller
    assert any(line.startswith(f"{cluster.partition}*|up|") for line in check.partitions)
    (tmp_path / "a-file").touch()
    blocked = tmp_path / "a-file" / "runs"
    bad = check_cluster(SlurmSettings(partition="no-such-partition", runs_dir=str(blocked)))
    assert not bad.ok
    assert "no-such-partition" in bad.problems[0]
    assert f"{blocked} (slurm.runs_dir) cannot be written" in bad.problems[1]


def test_a_run_completes_on_slurm(
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    cluster: Cluster,
    executor: SlurmExecutor,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    options = {"partition": cluster.partition, "time": "10", "cpus": 1}
    experiment_id = manager.start_training(_config(dataset_id, executor_options=options))
    experiment = manager.wait(experiment_id, timeout=60)

    assert experiment["status"] == "completed", experiment["reason"]
    assert experiment["exit_code"] == 0 and experiment["reason"] is None
    assert experiment["executor"] == "slurm" and experiment["pid"] is None
    job = experiment["job_id"]
    assert job and job.isdigit()
    assert experiment["progress"]["step"] == 20
    run_dir = Path(experiment["run_dir"])
    script = (run_dir / "slurm-job.sh").read_text()  # kept for the user to read
    assert f"#SBATCH --partition={cluster.partition}\n" in script
    assert "#SBATCH --time=10\n" in script and "#SBATCH --cpus-per-task=1\n" in script
    assert list(run_dir.glob("run_*/version_0/events.out.tfevents.*"))
    assert (run_dir / f"slurm-{job}.out").exists()
    assert _final_state(executor, job, run_dir) == "COMPLETED"


def test_a_failing_run_fails_with_the_reason(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, executor: SlurmExecutor
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setenv("FAKE_RAVE_CRASH", "error")
    monkeypatch.setenv("FAKE_RAVE_CRASH_AT", "5")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300))
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "failed"
    assert experiment["exit_code"] == 1
    assert "RuntimeError: fake failure" in experiment["reason"]
    # The supervisor ran to its end: the job itself completed.
    assert _final_state(executor, experiment["job_id"], Path(experiment["run_dir"])) == "COMPLETED"


def test_stopping_a_running_job_stops_rave_gracefully(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, executor: SlurmExecutor
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    manager = make_manager()
    submitted = time.monotonic()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300))
    job = manager.get_experiment(experiment_id)["job_id"]
    running = wait_until(
        lambda: (executor.query(job) or JobInfo(job, "?")).state == "RUNNING", 30, "RUNNING"
    )
    print(f"\nsbatch -> RUNNING: {time.monotonic() - submitted:.2f} s")
    assert running
    started = threading.Event()
    process = manager.active_processes[experiment_id]
    process.step_update.connect(lambda step, total: started.set())
    assert started.wait(60), "the run never reached its first step"
    assert manager.get_experiment(experiment_id)["status"] == "running"

    assert manager.stop_training(experiment_id) is True
    assert manager.get_experiment(experiment_id)["status"] == "stopped"
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "stopped"
    assert experiment["reason"] == "stopped by the user"
    assert experiment["exit_code"] == 0  # RAVE exits 0 after SIGINT
    run_dir = Path(experiment["run_dir"])
    assert "Detected KeyboardInterrupt" in (run_dir / STDERR_LOG).read_text()
    assert "stop requested (SIGINT)" in (run_dir / f"slurm-{job}.out").read_text()
    assert _final_state(executor, job, run_dir) == "COMPLETED"
    assert manager.stop_training(experiment_id) is False


def test_a_pending_job_is_queued_with_slurms_reason_and_can_be_cancelled(
    make_manager: Any,
    dataset_id: int,
    db: Database,
    cluster: Cluster,
    executor: SlurmExecutor,
) -> None:
    manager = make_manager()
    too_many = {"cpus": cluster.cpus + 1}  # more CPUs than any node has: PENDING for ever
    experiment_id = manager.start_training(_config(dataset_id, executor_options=too_many))
    record = wait_until(
        lambda: (
            (r := rows.get_experiment(db, experiment_id))
            and r.status == "queued"
            and (r.reason or "").startswith("PENDING (")
            and r
        ),
        15,
        "status queued with SLURM's reason",
    )
    assert record.reason.startswith("PENDING (PartitionConfig): the job asks for more")
    assert record.ended_at is None

    assert manager.stop_training(experiment_id) is True
    experiment = manager.wait(experiment_id, timeout=30)
    assert experiment["status"] == "stopped"
    assert experiment["ended_at"] is not None
    run_dir = Path(experiment["run_dir"])
    assert not (run_dir / SUPERVISOR_FILE).exists()  # it never ran
    assert _final_state(executor, experiment["job_id"], run_dir) == "CANCELLED"


def test_a_job_waiting_for_resources_shows_why_then_runs(
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    cluster: Cluster,
    executor: SlurmExecutor,
    tmp_path: Path,
) -> None:
    """SLURM gives the reason a moment after the submission (None, then Resources): the
    experiment's reason follows it, and the run starts once the node is free."""
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    blocker = _command(
        "sbatch",
        "--parsable",
        f"--cpus-per-task={cluster.cpus}",
        "--job-name=ravelab-test-blocker",
        f"--output={tmp_path / 'blocker.out'}",
        "--wrap=sleep 900",  # cancelled below; long enough for a slow scheduler
    ).strip()
    try:
        wait_until(lambda: (executor.query(blocker) or JobInfo("", "?")).state == "RUNNING", 120)
        manager = make_manager()
        experiment_id = manager.start_training(_config(dataset_id))
        statuses: list[tuple[str, str]] = []
        manager.active_processes[experiment_id].status_update.connect(
            lambda status, detail: statuses.append((status, detail))
        )
        record = wait_until(
            lambda: (
                (r := rows.get_experiment(db, experiment_id))
                and (r.reason or "").startswith("PENDING (Resources)")
                and r
            ),
            # SLURM names the reason at its next scheduling pass: up to a minute on a
            # busy machine (sched_interval), not at once.
            180,
            "the reason Resources",
        )
        assert record.status == "queued"
        assert record.reason == "PENDING (Resources): waiting for free resources"
    finally:
        _command("scancel", blocker)
    experiment = manager.wait(experiment_id, timeout=180)  # it starts at a scheduling pass
    assert experiment["status"] == "completed"
    assert experiment["reason"] is None
    assert "running" in [status for status, _ in statuses]


def test_a_new_manager_reattaches_to_a_running_job(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    # The trainer holds at step 5 until the new manager exists: it cannot end first.
    hold = Path(str(db.path)).parent / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    first = make_manager()
    experiment_id = first.start_training(_config(dataset_id, max_steps=60))
    wait_until(
        lambda: rows.get_experiment(db, experiment_id).progress.step > 3,  # type: ignore[union-attr]
        timeout=60,
        what="steps recorded by the first manager",
    )
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    first.shutdown()  # the app closes; the job goes on
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.ended_at is None and record.job_id

    second = make_manager(fresh_executor=True)  # as after a restart: nothing in memory
    hold.touch()
    assert_reattached_run_completes(second, experiment_id, timeout=60)


def test_stop_at_the_next_checkpoint_then_resume_as_a_new_job(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, executor: SlurmExecutor
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.05")
    manager = make_manager()
    config = _config(dataset_id, max_steps=300, val_every=40, save_every=100)
    experiment_id = manager.start_training(config)
    process = manager.active_processes[experiment_id]
    started = threading.Event()
    process.step_update.connect(lambda step, total: started.set() if step >= 2 else None)
    assert started.wait(60), "the run never reached step 2"
    assert manager.stop_training(experiment_id, at_checkpoint=True)
    assert manager.get_experiment(experiment_id)["status"] == "running"  # until the checkpoint
    first = manager.wait(experiment_id, timeout=90)
    assert first["status"] == "stopped"
    assert 40 <= first["progress"]["step"] < 300
    assert any(c["kind"] == "best" for c in manager.list_checkpoints(experiment_id))
    first_job = first["job_id"]
    run_dir = Path(first["run_dir"])
    assert (
        "stop requested at the next checkpoint" in (run_dir / f"slurm-{first_job}.out").read_text()
    )

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager.resume_training(experiment_id, max_steps=340)
    second = manager.wait(experiment_id, timeout=60)
    assert second["status"] == "completed", second["reason"]
    assert second["job_id"] != first_job  # a new job, in the same run folder
    assert "--ckpt" in second["argv"]
    assert second["progress"]["resumes"] == 1
    assert (run_dir / f"slurm-{second['job_id']}.out").exists()
    assert "--ckpt" in (run_dir / "launch.json").read_text()
    assert _final_state(executor, first_job, run_dir) == "COMPLETED"


def test_a_job_forgotten_by_squeue_is_settled_from_sacct(
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    cluster: Cluster,
    executor: SlurmExecutor,
) -> None:
    if cluster.min_job_age > 60:
        pytest.skip(
            f"MinJobAge is {cluster.min_job_age} s: squeue would remember the job too long "
            "(.ci/slurm.sh sets 2)"
        )
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    first = make_manager()
    experiment_id = first.start_training(_config(dataset_id, max_steps=300))
    record = wait_until(
        lambda: (r := rows.get_experiment(db, experiment_id)) and r.progress.step and r,
        timeout=60,
        what="the first step",
    )
    first.shutdown()
    job = record.job_id
    run_dir = Path(record.run_dir)  # type: ignore[arg-type]
    # Kill the supervisor and the trainer as the OOM killer would: no exit.json. (Not
    # `scancel --signal=KILL`: SLURM treats that as a plain cancel, SIGTERM first.)
    supervisor = wait_until(lambda: _written(run_dir / SUPERVISOR_FILE), what="supervisor.json")
    os.kill(supervisor["supervisor_pid"], signal.SIGKILL)
    os.killpg(supervisor["trainer_pgid"], signal.SIGKILL)
    wait_until(lambda: executor.query(job) is None, cluster.min_job_age + 60, "squeue to forget")
    assert not (run_dir / EXIT_FILE).exists()
    assert (executor.accounting(job) or JobInfo(job, "?")).state == "FAILED"  # from sacct -c

    second = make_manager(follow=False, fresh_executor=True)
    experiment = second.get_experiment(experiment_id)
    assert experiment["status"] == "failed"
    assert experiment["reason"] == (
        f"SLURM job {job} FAILED, killed by signal 9; see slurm-{job}.out in the run folder"
    )


def test_a_refused_submission_leaves_nothing(
    make_manager: Any, dataset_id: int, db: Database, tmp_path: Path
) -> None:
    manager = make_manager()
    with pytest.raises(LaunchError, match=r"sbatch refused the job: .*partition"):
        manager.start_training(
            _config(dataset_id, executor_options={"partition": "no-such-partition"})
        )
    assert manager.list_experiments() == []
    assert not list((tmp_path / "runs").iterdir())
