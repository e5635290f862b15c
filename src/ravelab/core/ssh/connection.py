"""One remote's SSH connection: ssh and rsync argv lists, run with timeouts, failures in words.

ravelab uses the system's OpenSSH client, so the user's own setup holds: ``~/.ssh/config``
(or the remote's ssh config file), the agent, keys and ``known_hosts`` with host-key
checking as configured. It adds only:

* ``BatchMode=yes``: ssh never prompts. No password is asked for, typed or stored; a
  host whose key is unknown or changed is refused and the message says what to do.
* a ControlMaster per remote (socket in a short private folder, kept 60 s after the last
  use), so the many small commands of a followed run share one connection (~10 ms each
  instead of a new handshake).
* ``ServerAliveInterval``: a dead network is noticed in about half a minute, never hangs.

A remote command is an argv list joined with ``shlex.join`` for the remote's POSIX shell;
every OpenSSH failure exits 255, which is told apart from the remote command's own status.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.errors import SshError, SshUnreachableError
from ravelab.core.ssh.remotes import Remote

logger = logging.getLogger(__name__)

#: Seconds a quick remote command (state, stop) may take, connection included.
QUICK_TIMEOUT_S = 60.0
#: How long an idle master connection stays open after its last command.
CONTROL_PERSIST_S = 60
#: The exit status OpenSSH gives to every failure of its own.
SSH_FAILED = 255
#: The longest ControlPath a Unix socket takes (108 bytes, less what ssh appends).
_MAX_SOCKET_DIR = 60


@dataclass(frozen=True)
class Completed:
    """A finished remote command: its status and what it printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def control_dir() -> Path:
    """A private folder for the master sockets, short enough for a socket path."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    folder = base / f"ravelab-ssh-{os.getuid()}"
    if len(str(folder)) > _MAX_SOCKET_DIR:
        folder = Path("/tmp") / f"ravelab-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if (
        folder.is_symlink()
        or (folder.stat().st_mode & 0o077)
        or folder.stat().st_uid != os.getuid()
    ):
        raise SshError(
            f"{folder} must be a folder of yours that nobody else can read (it holds the "
            "ssh connection sockets): remove it and try again"
        )
    return folder


class Connection:
    """How to reach one remote with the system's ssh and rsync."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    # -- argv ------------------------------------------------------------------------------

    def ssh_options(self) -> list[str]:
        """Options common to ssh and rsync's ssh (``-F`` first: ssh wants it so)."""
        remote = self.remote
        options: list[str] = []
        if remote.ssh_config:
            options += ["-F", remote.ssh_config]
        if remote.port is not None:
            options += ["-p", str(remote.port)]
        if remote.identity:
            options += ["-i", remote.identity, "-o", "IdentitiesOnly=yes"]
        options += [
            "-o", "BatchMode=yes",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={control_dir()}/{self._master_key()}-%C",
            "-o", f"ControlPersist={CONTROL_PERSIST_S}",
            "-o", "ServerAliveInterval=10",
            "-o", "ServerAliveCountMax=3",
            "-o", "ConnectTimeout=8",
        ]  # fmt: skip
        return options

    def _master_key(self) -> str:
        """Short and distinct per remote setup: two remotes with the same host but another
        key or config file never share a master connection (ssh's own %C hashes only the
        host, port and user)."""
        import hashlib

        remote = self.remote
        text = "\0".join([remote.name, remote.ssh_config or "", remote.identity or ""])
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]

    def ssh_argv(self, command: Sequence[str]) -> list[str]:
        """``ssh ... DEST 'quoted command'`` for an argv list run by the remote shell."""
        return ["ssh", *self.ssh_options(), "--", self.remote.destination, shlex.join(command)]

    def rsync_rsh(self) -> str:
        """rsync's ``-e`` value: the same ssh with the same options, quoted."""
        return shlex.join(["ssh", *self.ssh_options()])

    def remote_path(self, path: str) -> str:
        """An rsync remote argument ``DEST:PATH`` (PATH absolute, kept literal by
        ``--protect-args``)."""
        remote = self.remote
        # rsync reads HOST:PATH up to the first colon: an IPv6 address goes in brackets
        # (which ssh itself would not resolve, so only here).
        host = f"[{remote.host}]" if ":" in remote.host else remote.host
        return f"{remote.user}@{host}:{path}" if remote.user else f"{host}:{path}"

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        command: Sequence[str],
        *,
        timeout: float = QUICK_TIMEOUT_S,
        stdin: str | None = None,
        log: Path | None = None,
    ) -> Completed:
        """Run an argv list on the remote; its own exit status is returned as is.

        Raises:
            SshError: ssh itself failed (255) or is missing; ``SshUnreachableError``
                when the remote cannot be reached now or did not answer in time.
        """
        if log is not None:
            log_command(log, ["ssh", self.remote.destination, *command])
        return self._run_local(self.ssh_argv(command), timeout=timeout, stdin=stdin)

    def rsync(
        self,
        arguments: Sequence[str],
        *,
        timeout: float,
        log: Path | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> Completed:
        """Run rsync over this connection; raises ``SshError`` when it fails.

        With ``on_progress``, rsync's overall progress (``--info=progress2``) is passed
        on as it changes, one line at a time (its ``--stats`` come back as usual).
        """
        argv = ["rsync", "--protect-args", "-e", self.rsync_rsh(), *arguments]
        if log is not None:
            log_command(log, ["rsync", *arguments])
        if on_progress is None:
            done = self._run_local(argv, timeout=timeout)
        else:
            done = self._run_with_progress(argv, timeout, on_progress)
        if done.returncode != 0:
            raise rsync_error(self.remote, done)
        return done

    def _run_with_progress(
        self, argv: list[str], timeout: float, on_progress: Callable[[str], None]
    ) -> Completed:
        """rsync with its progress lines (ended by \\r as often as \\n) read as they come."""
        if shutil.which(argv[0]) is None:
            raise SshError(f"{argv[0]} not found on this machine: install rsync")
        argv = [argv[0], "--info=progress2", "--no-human-readable", *argv[1:]]
        out: list[str] = []
        with subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            errors: list[bytes] = []
            reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()))  # type: ignore[union-attr]
            reader.start()
            killer = threading.Timer(timeout, proc.kill)
            killer.start()
            pending = b""
            try:
                while chunk := os.read(proc.stdout.fileno(), 4096):
                    pending += chunk
                    *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
                    for raw in lines:
                        text = raw.decode("utf-8", "replace").strip()
                        out.append(text)
                        if "%" in text:
                            on_progress(text)
                status = proc.wait()
            finally:
                killer.cancel()
                reader.join()
        stderr = b"".join(errors).decode("utf-8", "replace")
        return Completed(tuple(argv), status, "\n".join(out), stderr)

    def _run_local(self, argv: list[str], *, timeout: float, stdin: str | None = None) -> Completed:
        program = argv[0]
        if shutil.which(program) is None:
            raise SshError(
                f"{program} not found on this machine: install OpenSSH's client and rsync "
                "(apt install openssh-client rsync; on macOS both come with the system)"
            )
        started = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise SshUnreachableError(
                f"{self.remote.name} ({self.remote.destination}) did not answer in "
                f"{timeout:.0f} s: is the network up and the machine on?"
            ) from error
        except OSError as error:
            raise SshError(f"could not run {program}: {error.strerror or error}") from error
        logger.debug("%s: %.3f s, exit %s", program, time.monotonic() - started, proc.returncode)
        done = Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        if program == "ssh" and done.returncode == SSH_FAILED:
            raise ssh_error(self.remote, done.stderr)
        return done

    def stream(
        self, command: Sequence[str], *, timeout: float, on_line: Callable[[str], None]
    ) -> int:
        """Run a long remote command (an install), passing each line it prints to
        ``on_line`` as it comes; its exit status.

        Raises:
            SshError: as ``run``, and when it runs past ``timeout`` (it is then killed).
        """
        argv = self.ssh_argv(command)
        if shutil.which("ssh") is None:
            raise SshError("ssh not found on this machine: install OpenSSH's client")
        deadline = time.monotonic() + timeout
        tail: list[str] = []
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            killer = threading.Timer(timeout, proc.kill)
            killer.start()
            try:
                for line in proc.stdout:
                    tail = ([*tail, line])[-20:]
                    on_line(line.rstrip("\n"))
                status = proc.wait()
            finally:
                killer.cancel()
        if time.monotonic() > deadline:
            raise SshUnreachableError(
                f"`{shlex.join(command)}` on {self.remote.name} ran past {timeout:.0f} s: stopped"
            )
        if status == SSH_FAILED:
            raise ssh_error(self.remote, "".join(tail))
        return status

    def close(self) -> None:
        """Close the master connection, if one is open (never raises)."""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired, SshError):
            subprocess.run(
                ["ssh", *self.ssh_options(), "-O", "exit", "--", self.remote.destination],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
                check=False,
            )


def log_command(log: Path, argv: Sequence[str]) -> None:
    """Append a command to the run's ``remote.log`` (what ran on the remote, and when;
    the ssh options every command shares are left out)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {shlex.join(argv)}\n")
    except OSError as error:
        logger.debug("could not write %s: %s", log, error)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def ssh_error(remote: Remote, stderr: str) -> SshError:
    """What an OpenSSH failure (exit 255) means, in words, with what to do."""
    where = f"{remote.name} ({remote.destination}"
    where += f", port {remote.port})" if remote.port else ")"
    text = stderr
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or (
        "Host key for" in text and "has changed" in text
    ):
        return SshError(
            f"the host key of {where} has CHANGED since it was recorded in known_hosts: "
            "refused. It may be a reinstalled or re-rented machine, or an attack. Check the "
            f"new key with its owner, then remove the old one with `ssh-keygen -R {remote.host}` "
            f"and connect once by hand (`ssh {remote.destination}`)"
        )
    if "Host key verification failed" in text or ("No " in text and "host key is known" in text):
        return SshError(
            f"the host key of {where} is not known yet: connect once by hand "
            f"(`ssh {remote.destination}`), check the fingerprint and accept it, then try again"
        )
    if "Permission denied" in text:
        return SshError(
            f"{where} refused the login: add your public key to ~/.ssh/authorized_keys of "
            f"{remote.user or 'the user'} there, load it in your ssh agent, or give it with "
            "`ravelab remote add ... --identity FILE` (ravelab never asks for a password)"
        )
    if "Could not resolve hostname" in text or "Name or service not known" in text:
        return SshError(
            f"unknown host {remote.host!r} for {remote.name}: check the name, or its Host "
            "entry in ~/.ssh/config"
        )
    if "Connection refused" in text:
        return SshUnreachableError(
            f"{where} refused the connection: is sshd running there, on that port?"
        )
    unreachable = (
        "timed out",
        "No route to host",
        "Network is unreachable",
        "Connection reset",
        "Connection closed",
        "Broken pipe",
        "closed by remote host",
        "Timeout, server",
        "lost connection",
    )
    if any(marker in text for marker in unreachable):
        return SshUnreachableError(f"cannot reach {where} now: {_last_line(text)}")
    return SshError(f"ssh to {where} failed: {_last_line(text)}")


def rsync_error(remote: Remote, done: Completed) -> SshError:
    """An rsync failure in words (its ssh failures read as ssh's)."""
    text = done.stderr
    if done.returncode == SSH_FAILED or (
        "connection unexpectedly closed" in text
        and ("ssh:" in text or "Permission denied" in text or "Host key" in text)
    ):
        return ssh_error(remote, text)
    if "No space left on device" in text:
        return SshError(
            f"{remote.name} has no space left where the files go ({_last_line(text)}): "
            "free some space there (`ravelab remote check` shows the free space)"
        )
    if done.returncode in (12, 30, 35) and "connection unexpectedly closed" in text:
        return SshUnreachableError(f"the connection to {remote.name} broke: {_last_line(text)}")
    return SshError(f"rsync with {remote.name} failed (exit {done.returncode}): {_last_line(text)}")
