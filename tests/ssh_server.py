"""The real OpenSSH server of `.ci/ssh.sh` for SSH integration tests, and helpers around it.

A test module uses it with ``from tests.ssh_server import ssh_server  # noqa: F401`` and asks
for the ``ssh_server`` fixture (an :class:`SshServer`). When the server is not up the tests
are skipped (start it with `.ci/ssh.sh up`), unless RAVELAB_REQUIRE_SSH=1 (CI), where that
is a failure.

The server is one for the whole machine: tests that cut connections (:func:`kill_ssh_clients`)
or restart sshd (:func:`restart_sshd`) disturb every other test talking to it. Such tests ask
for ``ssh_exclusive`` instead (the same server, held by one test at a time across xdist
workers, through a lock file in the state dir), and so do the tests they could disturb.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "ssh.sh"
REQUIRE_ENV = "RAVELAB_REQUIRE_SSH"
# The variable conftest's leftover guard looks for: a daemon started from a test must not
# carry it, or it would count as that test's leftover.
_TEST_MARKER = "RAVELAB_TEST_MARKER"


@dataclass(frozen=True)
class SshServer:
    """Where the server is and how to reach it (`ssh -F config host`)."""

    config: Path  # ssh_config with the `host` alias
    host: str
    user: str  # the remote user the alias logs in as
    port: int
    key: Path  # the client's private key
    known_hosts: Path
    state: Path  # the script's state dir
    sshd_log: Path


def _script_env(server: SshServer | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != _TEST_MARKER}
    if server is not None:
        env["RAVELAB_SSH_STATE"] = str(server.state)
        env["RAVELAB_SSH_PORT"] = str(server.port)
    return env


def _script(
    command: str, server: SshServer | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command],
        capture_output=True,
        text=True,
        env=_script_env(server),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def _parse_env(text: str) -> dict[str, str]:
    """`export NAME=value` lines (shell-quoted) into a dict."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


def find_server() -> SshServer | str:
    """The running server, or why there is none (a sentence)."""
    listed = _script("env")
    if listed.returncode != 0:
        return f"`.ci/ssh.sh env` exited {listed.returncode}: {listed.stderr.strip()}"
    env = _parse_env(listed.stdout)
    try:
        server = SshServer(
            config=Path(env["RAVELAB_SSH_CONFIG"]),
            host=env["RAVELAB_SSH_HOST"],
            user=env["RAVELAB_SSH_USER"],
            port=int(env["RAVELAB_SSH_PORT"]),
            key=Path(env["RAVELAB_SSH_KEY"]),
            known_hosts=Path(env["RAVELAB_SSH_KNOWN_HOSTS"]),
            state=Path(env["RAVELAB_SSH_STATE"]),
            sshd_log=Path(env["RAVELAB_SSH_SSHD_LOG"]),
        )
    except (KeyError, ValueError) as error:
        return f"`.ci/ssh.sh env` printed no usable {error}: {listed.stdout!r}"
    status = _status(server)
    if status.returncode == 3:
        return "the test SSH server is not running; start it with `.ci/ssh.sh up`"
    if status.returncode != 0:
        said = (status.stderr or status.stdout).strip()
        return (
            f"`.ci/ssh.sh status` exited {status.returncode} ({said}); "
            "start it with `.ci/ssh.sh up`"
        )
    return server


def _status(server: SshServer) -> subprocess.CompletedProcess[str]:
    """`.ci/ssh.sh status`, asked while no test holds the server alone: such a test may be
    restarting sshd, and that moment must not read as "no server" (the asking worker
    would skip every SSH test it runs)."""
    if not server.state.is_dir():
        return _script("status", server)
    with holding_server(server, exclusive=False):
        return _script("status", server)


@pytest.fixture(scope="session")
def ssh_server() -> SshServer:
    """The server started by `.ci/ssh.sh up`; skips (fails under RAVELAB_REQUIRE_SSH=1)
    when it is not up."""
    found = find_server()
    if isinstance(found, str):
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {found}")
        pytest.skip(found)
    return found


#: How many holds of the server this process has (see :func:`holding_server`).
_holds = 0


@contextlib.contextmanager
def holding_server(server: SshServer, *, exclusive: bool = True) -> Iterator[None]:
    """Hold the server: alone (tests that cut connections or restart sshd, and the
    remote's setup, which they would break), or shared (asking whether it runs). Across
    xdist workers through a lock file in the state dir; a process that already holds it
    holds it on (a test's fixtures nest)."""
    global _holds
    if _holds:
        _holds += 1
        try:
            yield
        finally:
            _holds -= 1
        return
    with (server.state / "tests.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        _holds = 1
        try:
            yield
        finally:
            _holds = 0


@pytest.fixture
def ssh_exclusive(ssh_server: SshServer) -> Iterator[SshServer]:
    """The server, for this test alone: waits for the other tests holding it to end."""
    # A lock file rather than xdist_group: the group does not reach the scheduler with the
    # pytest and xdist versions used here, so grouped tests still run side by side.
    with holding_server(ssh_server):
        yield ssh_server


def ssh_argv(server: SshServer, *options: str) -> list[str]:
    """`ssh -F <config> [options] <host>`: append the remote command (one string)."""
    return ["ssh", "-F", str(server.config), *options, server.host]


def run_as_remote(
    server: SshServer, argv: list[str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the remote user over a fresh connection (for a test's setup and
    inspection); the remote shell sees it quoted word by word."""
    return subprocess.run(
        [*ssh_argv(server), shlex.join(argv)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def _talks_to(process: psutil.Process, server: SshServer) -> bool:
    words = process.cmdline()
    if str(server.config) in words:
        return True
    if any(w == server.host or w.endswith("@" + server.host) for w in words):
        return True
    if any("127.0.0.1" in w for w in words) and any(str(server.port) in w for w in words):
        return True
    # A ControlMaster renames itself to `ssh: <ControlPath> [mux]`: known by its connection.
    connections = process.net_connections(kind="tcp")
    return any(c.raddr and tuple(c.raddr) == ("127.0.0.1", server.port) for c in connections)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_ssh_clients(server: SshServer, timeout: float = 10) -> list[int]:
    """SIGKILL this machine's ssh clients of ``server`` (direct connections, multiplexed
    commands and ControlMasters alike): the connection is cut as by a network failure.
    Returns the PIDs killed; each is gone when this returns."""
    victims = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "ssh":
            continue
        try:
            if _talks_to(process, server):
                process.kill()
                victims.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    # Not psutil.wait_procs: it would reap the test's own children, whose Popen would
    # then read exit 0 instead of -9. Dead here means gone or a zombie.
    deadline = time.monotonic() + timeout
    alive = [p for p in victims if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _alive(p)]
    if alive:
        raise AssertionError(f"ssh clients still alive after SIGKILL: {[p.pid for p in alive]}")
    return [p.pid for p in victims]


def _checked(command: str, server: SshServer) -> None:
    done = _script(command, server, timeout=180)
    if done.returncode != 0:
        raise AssertionError(
            f"`.ci/ssh.sh {command}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )


def stop_sshd(server: SshServer) -> None:
    """Stop the server and its open sessions (remote jobs keep running), as when the
    remote host's sshd dies."""
    _checked("stop", server)


def start_sshd(server: SshServer) -> None:
    """Start the server again and wait until it takes connections."""
    _checked("up", server)


def restart_sshd(server: SshServer) -> None:
    """Stop, then start the server: the network comes back after sshd died."""
    stop_sshd(server)
    start_sshd(server)
