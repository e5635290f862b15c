"""The test SSH server of `.ci/ssh.sh` end to end, through the helpers of tests/ssh_server.py:
commands run as the remote user, rsync both ways, a changed host key and a foreign key are
refused, a cut connection and a restarted sshd behave as the SSH tests expect.

Skipped when the server is not up (`.ci/ssh.sh up`), failed instead under RAVELAB_REQUIRE_SSH=1.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.ssh_server import (
    SshServer,
    find_server,
    kill_ssh_clients,
    restart_sshd,
    run_as_remote,
    ssh_argv,
    ssh_exclusive,  # noqa: F401
    ssh_server,  # noqa: F401
)

# Some tests cut the server's connections or restart it, which would break the sessions of
# the others: each takes the server alone (ssh_exclusive).
pytestmark = pytest.mark.ssh


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    return done.stdout


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", str(path)],
        check=True,
        timeout=30,
    )
    return path


def _remote_alive(server: SshServer, pid: str) -> bool:
    return run_as_remote(server, ["kill", "-0", pid]).returncode == 0


@pytest.fixture
def remote_dir(ssh_exclusive: SshServer) -> Iterator[str]:  # noqa: F811
    """A fresh folder in the remote user's home, removed afterwards (only that folder)."""
    made = _ok(
        run_as_remote(ssh_exclusive, ["sh", "-c", 'mktemp -d "$HOME/ravelab-sshtest.XXXXXX"'])
    )
    path = made.strip()
    assert path.startswith(f"/home/{ssh_exclusive.user}/ravelab-sshtest."), path
    yield path
    _ok(run_as_remote(ssh_exclusive, ["rm", "-rf", "--", path]))


def test_a_server_that_is_not_up_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAVELAB_SSH_STATE", "/tmp/ravelab-ssh-never-started")
    found = find_server()
    assert isinstance(found, str)
    assert "start it with `.ci/ssh.sh up`" in found


def test_commands_run_as_the_remote_user(ssh_exclusive: SshServer) -> None:  # noqa: F811
    out = _ok(run_as_remote(ssh_exclusive, ["sh", "-c", 'id -un; echo "$HOME"']))
    assert out.split() == [ssh_exclusive.user, f"/home/{ssh_exclusive.user}"]
    # Every word arrives as it was, spaces, quotes and `$` included.
    words = ["a b", "it's", "$HOME", ";", "*"]
    assert _ok(run_as_remote(ssh_exclusive, ["printf", "%s\\n", *words])).splitlines() == words
    assert run_as_remote(ssh_exclusive, ["sh", "-c", "exit 7"]).returncode == 7


def test_rsync_both_ways(ssh_exclusive: SshServer, remote_dir: str, tmp_path: Path) -> None:  # noqa: F811
    source = tmp_path / "out"
    (source / "sub").mkdir(parents=True)
    (source / "hello.txt").write_text("hello over ssh\n")
    (source / "sub" / "blob.bin").write_bytes(bytes(range(256)) * 512)
    rsh = f"ssh -F {ssh_exclusive.config}"
    target = f"{ssh_exclusive.host}:{remote_dir}/copy/"

    subprocess.run(["rsync", "-a", "-e", rsh, f"{source}/", target], check=True, timeout=60)
    owners = _ok(
        run_as_remote(ssh_exclusive, ["stat", "-c", "%U %s", f"{remote_dir}/copy/hello.txt"])
    )
    assert owners.split() == [ssh_exclusive.user, "15"]

    back = tmp_path / "back"
    subprocess.run(["rsync", "-a", "-e", rsh, target, f"{back}/"], check=True, timeout=60)
    assert (back / "hello.txt").read_text() == "hello over ssh\n"
    assert (back / "sub" / "blob.bin").read_bytes() == (source / "sub" / "blob.bin").read_bytes()


def test_a_changed_host_key_is_refused(ssh_exclusive: SshServer, tmp_path: Path) -> None:  # noqa: F811
    other = _keygen(tmp_path / "other_host_key")
    algorithm, key = other.with_suffix(".pub").read_text().split()[:2]
    host_field = ssh_exclusive.known_hosts.read_text().split()[0]
    known = tmp_path / "known_hosts"
    known.write_text(f"{host_field} {algorithm} {key}\n")

    done = subprocess.run(
        [*ssh_argv(ssh_exclusive, "-S", "none", "-o", f"UserKnownHostsFile={known}"), "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert done.returncode == 255, done.stderr
    assert (
        "REMOTE HOST IDENTIFICATION HAS CHANGED" in done.stderr
        or "Host key verification failed" in done.stderr
    ), done.stderr


def test_a_key_that_is_not_authorized_is_refused(ssh_exclusive: SshServer, tmp_path: Path) -> None:  # noqa: F811
    stranger = _keygen(tmp_path / "stranger")
    # `-i` would add a key next to the config's: a copy of the config swaps it instead.
    config = tmp_path / "ssh_config"
    lines = ssh_exclusive.config.read_text().splitlines()
    swapped = [
        f"    IdentityFile {stranger}" if line.split()[:1] == ["IdentityFile"] else line
        for line in lines
    ]
    assert swapped != lines
    config.write_text("\n".join(swapped) + "\n")

    done = subprocess.run(
        ["ssh", "-F", str(config), "-S", "none", ssh_exclusive.host, "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert done.returncode == 255, done.stderr
    assert "Permission denied" in done.stderr
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{stranger}.pub"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()[1]
    wait_until(
        lambda: fingerprint in ssh_exclusive.sshd_log.read_text(errors="replace"),
        what="the refused key's fingerprint in sshd's log",
    )


def test_kill_ssh_clients_cuts_the_connection(ssh_exclusive: SshServer) -> None:  # noqa: F811
    remote_pid = ""
    with subprocess.Popen(
        [*ssh_argv(ssh_exclusive), "echo $$; exec sleep 300"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as client:
        try:
            assert client.stdout is not None
            remote_pid = client.stdout.readline().strip()
            assert remote_pid.isdigit(), remote_pid
            killed = kill_ssh_clients(ssh_exclusive)
            assert client.pid in killed
            assert client.wait(timeout=30) == -9
            # Without a pty the remote command outlives its connection.
            assert _remote_alive(ssh_exclusive, remote_pid)
        finally:
            if client.poll() is None:
                client.kill()
            if remote_pid.isdigit():
                run_as_remote(ssh_exclusive, ["kill", "-KILL", remote_pid])


def test_restart_sshd_keeps_remote_jobs(ssh_exclusive: SshServer) -> None:  # noqa: F811
    started = run_as_remote(
        ssh_exclusive, ["sh", "-c", "setsid nohup sleep 300 >/dev/null 2>&1 </dev/null & echo $!"]
    )
    job = _ok(started).strip()
    assert job.isdigit(), job
    try:
        before = (ssh_exclusive.state / "sshd.pid").read_text().strip()
        restart_sshd(ssh_exclusive)
        after = (ssh_exclusive.state / "sshd.pid").read_text().strip()
        assert after != before
        assert _remote_alive(ssh_exclusive, job)
    finally:
        run_as_remote(ssh_exclusive, ["kill", "-KILL", job])
    wait_until(lambda: not _remote_alive(ssh_exclusive, job), what=f"remote job {job} to end")
