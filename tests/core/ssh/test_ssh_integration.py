"""SSH runs against a real OpenSSH server on this machine (`.ci/ssh.sh up`), with a second
Unix user whose own ravelab is installed by `ravelab remote setup`: train, follow, stop at a
checkpoint, resume, export and pull the model, a cut connection, and bad input. A remote
run must look exactly like the same run done locally (the same points, no more, no less).

Skipped when the server is not up; `.ci/run` starts it and sets RAVELAB_REQUIRE_SSH=1.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli, run_config, wait_until
from tests.ssh_remote import kill_remote_runs, remote_processes, remote_rave_double, shared_folder
from tests.ssh_server import (
    SshServer,
    kill_ssh_clients,
    run_as_remote,
    start_sshd,
    stop_sshd,
)

pytestmark = [pytest.mark.ssh, pytest.mark.slow]

REMOTE_HOME = Path("/home/ravelab-remote")


@pytest.fixture
def remote_runs(ssh_exclusive: SshServer) -> Iterator[str]:
    """A runs folder of this test's own on the remote (relative to its home); whatever the
    test leaves running there is killed, and the folder removed, afterwards."""
    relative = f"ravelab/test-runs/{uuid.uuid4().hex[:10]}"
    yield relative
    absolute = str(REMOTE_HOME / relative)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not remote_processes(absolute), timeout=30, what="remote runs end")
    left = kill_remote_runs(absolute)
    run_as_remote(ssh_exclusive, ["rm", "-rf", "--", absolute])
    assert not left, f"the test left remote processes running: {left}"


def _add_remote(db: Any, server: SshServer, rave: Path, runs: str, name: str = "gpu") -> None:
    from ravelab.core.ssh.remotes import add_remote

    add_remote(db, name, server.host, ssh_config=str(server.config), runs_dir=runs, rave=str(rave))


def _add_remote_acting_on_launch(
    db: Any, server: SshServer, rave: Path, runs: str, name: str, action: str
) -> None:
    """A remote whose Python runs ravelab's as usual, then does ``action`` (a shell
    command) once a launch has been carried out: kill its ssh session, or hold the answer."""
    from ravelab.core.ssh.remotes import add_remote

    wrapper = shared_folder() / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'{REMOTE_HOME}/ravelab/venv/bin/python "$@"\n'
        "status=$?\n"
        f'case " $* " in *" launch "*) {action} ;; esac\n'
        "exit $status\n"
    )
    wrapper.chmod(0o755)
    add_remote(
        db, name, server.host, ssh_config=str(server.config), runs_dir=runs,
        python=str(wrapper), rave=str(rave),
    )  # fmt: skip


def _points(db: Any, experiment_id: int) -> list[tuple[str, int, float]]:
    from ravelab.db import experiments as rows

    found = []
    for name in rows.metric_names(db, experiment_id):
        if not name.startswith("gpu/"):
            found += [
                (name, step, value) for step, value in rows.metric_history(db, experiment_id, name)
            ]
    return sorted(found)


def test_remote_run_equals_the_local_run(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
) -> None:
    _add_remote(db, ssh_exclusive, remote_ready, remote_runs)
    manager = make_manager()
    local = manager.start_training(run_config(dataset_id, "here", max_steps=60))
    remote = manager.start_training(
        run_config(
            dataset_id, "there", max_steps=60, executor="ssh", executor_options={"remote": "gpu"}
        )
    )
    assert manager.wait(local, timeout=120)["status"] == "completed"
    ended = manager.wait(remote, timeout=180)
    assert ended["status"] == "completed", ended
    record = manager.get_record(remote)
    run_dir = Path(record.run_dir)
    assert (run_dir / "remote.json").is_file() and (run_dir / "remote.log").is_file()
    assert _points(db, remote) == _points(db, local) != []
    checkpoints = manager.list_checkpoints(remote)
    assert checkpoints and all(not Path(c["path"]).exists() for c in checkpoints)
    log = (run_dir / "remote.log").read_text()
    assert "agent launch" in log and "rsync" in log
    remote_dir = REMOTE_HOME / remote_runs / run_dir.name
    for name in ("stdout.log", "stderr.log", "merged.log"):
        assert (run_dir / name).read_bytes() == (remote_dir / name).read_bytes(), name


def test_cli_stop_at_checkpoint_resume_export(
    db_path: Path,
    db: Any,
    dataset_id: int,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
    runs_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = remote_rave_double(shared_folder(), FAKE_RAVE_TIME_SCALE="0.3")
    _add_remote(db, ssh_exclusive, slow, remote_runs, name="slow")
    monkeypatch.setenv("RAVELAB_RUNS_DIR", str(runs_dir))
    base = ["--db", str(db_path)]
    code, out, err = run_cli(
        capsys, *base, "train", "--dataset", str(dataset_id), "--name", "far", "--remote", "slow",
        "--config", "v2_small", "--max-steps", "4000", "--gpu", "-1", "--val-every", "20",
    )  # fmt: skip
    assert code == 0, err
    from ravelab.core.runs.training_manager import TrainingManager

    manager = TrainingManager(db, runs_dir=runs_dir, poll_interval=0.1)
    try:
        wait_until(lambda: manager.get_record(1).progress.step >= 20, timeout=120, what="steps")
        code, out, err = run_cli(capsys, *base, "stop", "far", "--at-checkpoint")
        assert code == 0, err
        ended = manager.wait(1, timeout=180)
        assert ended["status"] == "stopped"
        before = manager.list_checkpoints(1)
        assert before
        code, out, err = run_cli(capsys, *base, "resume", "far", "--max-steps", "4000")
        assert code == 0, err
        wait_until(lambda: manager.get_record(1).status == "running", timeout=60, what="resumed")
        code, out, err = run_cli(capsys, *base, "stop", "far")
        assert code == 0, err
        assert manager.wait(1, timeout=180)["status"] == "stopped"
        code, out, err = run_cli(capsys, *base, "export", "far", "--checkpoint", "best")
        assert "model 1:" in out, out + err
        from ravelab.db import jobs as job_rows

        models = job_rows.list_models(db)
        assert len(models) == 1 and Path(models[0].path).is_file()
        assert Path(models[0].path).is_relative_to(runs_dir)
    finally:
        manager.shutdown()


def test_cut_connection_loses_and_repeats_nothing(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
) -> None:
    slow = remote_rave_double(shared_folder(), FAKE_RAVE_TIME_SCALE="0.15")
    _add_remote(db, ssh_exclusive, slow, remote_runs)
    manager = make_manager()
    local = manager.start_training(run_config(dataset_id, "here", max_steps=60))
    remote = manager.start_training(
        run_config(
            dataset_id, "there", max_steps=60, executor="ssh", executor_options={"remote": "gpu"}
        )
    )
    wait_until(lambda: manager.get_record(remote).progress.step >= 5, timeout=120, what="steps")
    stop_sshd(ssh_exclusive)
    try:
        kill_ssh_clients(ssh_exclusive)
        process = manager.active_processes[remote]
        # While the remote cannot be reached the run is neither lost nor taken for ended.
        wait_until(
            lambda: manager.get_record(remote).status == "running" and process.poll() is not None,
            timeout=30,
        )
        assert manager.get_record(remote).ended_at is None
    finally:
        start_sshd(ssh_exclusive)
    assert manager.wait(local, timeout=120)["status"] == "completed"
    assert manager.wait(remote, timeout=240)["status"] == "completed"
    assert _points(db, remote) == _points(db, local) != []


def test_paths_with_spaces_and_quotes(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
) -> None:
    odd = f'{remote_runs}/it\'s a "run" $HOME folder'
    _add_remote(db, ssh_exclusive, remote_ready, odd)
    manager = make_manager()
    run = manager.start_training(
        run_config(dataset_id, "odd", executor="ssh", executor_options={"remote": "gpu"})
    )
    assert manager.wait(run, timeout=120)["status"] == "completed"
    assert (REMOTE_HOME / odd).is_dir()


def test_remote_without_ravelab_is_refused_and_leaves_nothing(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_runs: str,
    ssh_exclusive: SshServer,
    runs_dir: Path,
) -> None:
    from ravelab.core.errors import LaunchError
    from ravelab.core.ssh.remotes import add_remote

    add_remote(
        db, "bare", ssh_exclusive.host, ssh_config=str(ssh_exclusive.config),
        runs_dir=remote_runs, python="no/such/python",
    )  # fmt: skip
    manager = make_manager()
    with pytest.raises(LaunchError, match="remote setup bare"):
        manager.start_training(
            run_config(dataset_id, "x", executor="ssh", executor_options={"remote": "bare"})
        )
    assert manager.list_records() == []
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []
    assert not (REMOTE_HOME / remote_runs).exists()


@pytest.mark.parametrize("problem", ["unknown host", "refused key", "changed host key"])
def test_connection_problems_in_words(
    problem: str,
    db_path: Path,
    db: Any,
    ssh_exclusive: SshServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = ssh_exclusive.config.read_text()
    if problem == "unknown host":
        config = config.replace("127.0.0.1", "no-such-host.invalid")
        expected = "unknown host"
    elif problem == "refused key":
        import subprocess

        key = tmp_path / "stranger"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        config = config.replace(str(ssh_exclusive.key), str(key))
        expected = "refused the login"
    else:
        import subprocess

        key = tmp_path / "other_host"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        line = ssh_exclusive.known_hosts.read_text().split()[0]
        known = tmp_path / "known_hosts"
        known.write_text(f"{line} {key.with_suffix('.pub').read_text().split()[0]} "
                         f"{key.with_suffix('.pub').read_text().split()[1]}\n")  # fmt: skip
        config = config.replace(str(ssh_exclusive.known_hosts), str(known))
        expected = "has CHANGED"
    custom = tmp_path / "ssh_config"
    custom.write_text(config)
    code, out, err = run_cli(
        capsys, "--db", str(db_path), "remote", "add", "r", ssh_exclusive.host,
        "--ssh-config", str(custom),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(capsys, "--db", str(db_path), "remote", "check", "r")
    assert code == 9
    assert expected in out + err
    assert "Traceback" not in out + err


@pytest.fixture
def tiny_remote_disk() -> Iterator[Path]:
    """A 1 MiB filesystem the remote user owns (a tmpfs; needs root, else skipped)."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    folder = shared_folder("ravelab-tiny-")
    mounted = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=1m,mode=0755,uid=ravelab-remote",
            "tmpfs",
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def test_a_full_remote_disk_is_said_and_leaves_nothing(
    db: Any,
    make_manager: Any,
    remote_ready: Path,
    ssh_exclusive: SshServer,
    tiny_remote_disk: Path,
    runs_dir: Path,
    tmp_path: Path,
) -> None:
    import shutil

    from ravelab.core.datasets import register_dataset
    from ravelab.core.errors import LaunchError
    from tests.fake_rave import FIXTURES
    from tests.helpers import write_lmdb

    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(FIXTURES / "dataset-prep" / "metadata.yaml", big / "metadata.yaml")
    write_lmdb(big, 200, value_size=16384)  # about 3 MiB: more than the remote's 1 MiB
    dataset = register_dataset(db, big, "big").id
    _add_remote(db, ssh_exclusive, remote_ready, str(tiny_remote_disk / "runs"))
    manager = make_manager()
    with pytest.raises(LaunchError, match="no space left"):
        manager.start_training(
            run_config(dataset, "far", executor="ssh", executor_options={"remote": "gpu"})
        )
    assert manager.list_records() == []
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []
    left = sorted(str(p.relative_to(tiny_remote_disk)) for p in tiny_remote_disk.rglob("*"))
    assert left in ([], ["runs"], ["runs", "runs/datasets"]), left


def test_a_lost_launch_answer_keeps_the_run(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
) -> None:
    """The connection dies right after the launch was carried out there: the run is not
    undone (its dataset is not removed under it), it is followed and completes."""
    _add_remote_acting_on_launch(
        db, ssh_exclusive, remote_ready, remote_runs, "flaky", "kill -9 $PPID"
    )
    manager = make_manager()
    run = manager.start_training(
        run_config(
            dataset_id, "far", max_steps=60, executor="ssh", executor_options={"remote": "flaky"}
        )
    )
    assert manager.wait(run, timeout=120)["status"] == "completed"
    assert _points(db, run) != []


def test_a_run_whose_remote_folder_is_gone_ends(
    db: Any,
    dataset_id: int,
    make_manager: Any,
    remote_runs: str,
    ssh_exclusive: SshServer,
) -> None:
    slow = remote_rave_double(shared_folder(), FAKE_RAVE_TIME_SCALE="0.3")
    _add_remote(db, ssh_exclusive, slow, remote_runs)
    manager = make_manager()
    run = manager.start_training(
        run_config(
            dataset_id, "far", max_steps=4000, executor="ssh", executor_options={"remote": "gpu"}
        )
    )
    wait_until(lambda: manager.get_record(run).progress.step >= 1, timeout=120, what="steps")
    remote_dir = REMOTE_HOME / remote_runs / Path(manager.get_record(run).run_dir).name
    kill_remote_runs(str(remote_dir))
    run_as_remote(ssh_exclusive, ["rm", "-rf", "--", str(remote_dir)])
    ended = manager.wait(run, timeout=120)
    assert ended["status"] == "failed" and "is gone from gpu" in ended["reason"], ended


def test_a_launcher_killed_after_sending_the_launch_leaves_a_followed_run(
    db_path: Path,
    db: Any,
    dataset_id: int,
    remote_ready: Path,
    remote_runs: str,
    ssh_exclusive: SshServer,
    runs_dir: Path,
) -> None:
    """`ravelab train` is killed while its launch's answer is on the way: the run it
    started there is adopted by the next command and followed to its end, never called
    "never started"."""
    import os
    import signal
    import subprocess
    import sys

    _add_remote_acting_on_launch(
        db, ssh_exclusive, remote_ready, remote_runs, "slowanswer", "sleep 30"
    )
    env = {**os.environ, "RAVELAB_RUNS_DIR": str(runs_dir)}
    command = subprocess.Popen(
        [sys.executable, "-m", "ravelab", "--db", str(db_path), "train", "--dataset",
         str(dataset_id), "--name", "far", "--remote", "slowanswer", "--config", "v2_small",
         "--max-steps", "60", "--gpu", "-1"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    remote_root = str(REMOTE_HOME / remote_runs)
    try:
        wait_until(lambda: remote_processes(remote_root), timeout=60, what="the remote run")
    finally:
        os.killpg(command.pid, signal.SIGKILL)
        command.wait()
    from ravelab.core.runs.training_manager import TrainingManager

    manager = TrainingManager(db, runs_dir=runs_dir, poll_interval=0.1)
    try:
        ended = manager.wait(1, timeout=120)
        assert ended["status"] == "completed", ended
        assert _points(db, 1) != []
    finally:
        manager.shutdown()
