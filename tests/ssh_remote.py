"""What the SSH tests need on the remote side: the ``rave`` double where the remote user
can run it, a remote in a database, and cleaning up the remote's runs.

The remote user cannot read a test's temporary folders (pytest's are private) nor run
this interpreter (it may live in a private home): the double's package and the captures
it replays are copied to a world-readable folder, and its launcher runs the remote's
``python3``. Knobs of the double (``FAKE_RAVE_*``) are written into the launcher: ssh does
not carry this process's environment to the remote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.ssh_server import holding_server

_TESTS = Path(__file__).resolve().parent


def shared_folder(prefix: str = "ravelab-ssh-test-") -> Path:
    """A new folder under the system temp dir that every user can read."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


def remote_rave_double(folder: Path, **knobs: str) -> Path:
    """A ``rave`` double the remote user can run, in ``folder``; returns the launcher."""
    root = folder / "double"
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "__init__.py").write_text("", encoding="utf-8")
    shutil.copytree(
        _TESTS / "fake_rave",
        root / "tests" / "fake_rave",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        _TESTS / "fixtures" / "rave-2.3.1",
        root / "tests" / "fixtures" / "rave-2.3.1",
        dirs_exist_ok=True,
    )
    settings = "".join(f"os.environ.setdefault({k!r}, {v!r})\n" for k, v in knobs.items())
    launcher = folder / "rave"
    cli = root / "tests" / "fake_rave" / "rave_cli.py"
    launcher.write_text(
        "#!/usr/bin/env python3\n"
        "import os\nimport runpy\nimport sys\n"
        f"{settings}"
        f"sys.path.insert(0, {str(root)!r})\n"
        f"runpy.run_path({str(cli)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        extra = stat.S_IRGRP | stat.S_IROTH
        if path.is_dir() or path == launcher:
            extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        path.chmod(mode | extra)
    return launcher


def remote_processes(marker_prefix: str) -> list[psutil.Process]:
    """Live processes whose run marker lies under ``marker_prefix`` (a remote runs folder)."""
    found = []
    for process in psutil.process_iter(["pid", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            marker = process.environ().get("RAVELAB_RUN_DIR", "")
            if marker.startswith(marker_prefix):
                found.append(process)
    return found


def kill_remote_runs(marker_prefix: str) -> list[list[str]]:
    """Kill what a test left running on the remote (by run marker); their command lines."""
    left = remote_processes(marker_prefix)
    lines = []
    for process in left:
        with contextlib.suppress(psutil.Error, OSError):
            lines.append(process.cmdline())
            os.killpg(os.getpgid(process.pid), signal.SIGKILL)
    return lines


@pytest.fixture(scope="session")
def remote_ready(ssh_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The remote user's ravelab, installed by `remote setup` (once; again is quick), and a
    `rave` double it can run. Returns the double's launcher."""
    from ravelab.core.ssh.remote_setup import setup_remote
    from ravelab.core.ssh.remotes import Remote

    remote = Remote(name="setup", host=ssh_server.host, ssh_config=str(ssh_server.config))
    lines: list[str] = []
    # Alone on the server: a test that restarts sshd or cuts connections would break it.
    with holding_server(ssh_server):
        hello = setup_remote(remote, lines.append, rave=False)
    assert hello["fingerprint"], lines
    folder = shared_folder()
    return remote_rave_double(folder, FAKE_RAVE_TIME_SCALE="0.05")


def ssh_run_row(
    db: Any, dataset_id: int, folder: Path, remote: str, remote_dir: str, **fields: Any
) -> tuple[int, Path]:
    """An unended SSH run 'far' sent to ``remote`` (no process of it anywhere): its row
    and its local folder ``folder/0001-far`` naming ``remote_dir`` there; ``fields`` go
    to the row too."""
    from ravelab.core.ssh.executor import RemoteRun
    from ravelab.db import experiments as rows

    experiment_id = rows.insert_experiment(
        db,
        name="far",
        project_id=1,
        dataset_id=dataset_id,
        config={"executor": "ssh", "executor_options": {"remote": remote}, "channels": 1},
    )
    run = folder / "0001-far"
    run.mkdir(parents=True)
    RemoteRun(remote, remote_dir).write(run)
    rows.update_fields(db, experiment_id, run_dir=str(run), executor="ssh", **fields)
    return experiment_id, run
