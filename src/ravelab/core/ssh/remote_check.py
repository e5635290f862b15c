"""``ravelab remote check``: what works on a remote and what is missing, in words.

Each line is one thing a run there needs: the ssh login, rsync, the Python ravelab runs
with, ravelab itself (the same code as here), ``rave``, the GPUs and the free space of the
runs folder. A line that fails says what to do; later lines that need it are skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ravelab.core.display import human_bytes
from ravelab.core.errors import RavelabError
from ravelab.core.ssh.agent import source_fingerprint
from ravelab.core.ssh.connection import Connection
from ravelab.core.ssh.executor import ask_hello
from ravelab.core.ssh.remotes import Remote

#: Below this much free space in the runs folder the check warns (a run's checkpoints
#: and a copied dataset take several GB).
LOW_SPACE_BYTES = 10 * 1024**3


@dataclass(frozen=True)
class CheckLine:
    """One thing checked: ``ok`` (True), a warning (None) or missing (False)."""

    what: str
    ok: bool | None
    detail: str


@dataclass
class RemoteCheck:
    """Every line of a remote's check, and what its agent said (when it answered)."""

    remote: Remote
    lines: list[CheckLine] = field(default_factory=list)
    hello: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        """Whether a run can be sent there now."""
        return all(line.ok is not False for line in self.lines)


def check_remote(remote: Remote) -> RemoteCheck:
    """Check a remote (never raises for what the remote answers)."""
    import ravelab

    report = RemoteCheck(remote)
    say = report.lines.append
    connection = Connection(remote)
    started = time.monotonic()
    try:
        connection.run(["true"])
    except RavelabError as error:
        say(CheckLine("ssh", False, str(error)))
        return report
    say(
        CheckLine(
            "ssh",
            True,
            f"logged in as {remote.destination} ({time.monotonic() - started:.2f} s, key or agent)",
        )
    )
    try:
        rsync = connection.run(["rsync", "--version"])
        say(
            CheckLine("rsync", True, rsync.stdout.splitlines()[0] if rsync.stdout else "found")
            if rsync.returncode == 0
            else CheckLine("rsync", False, "rsync is missing there: install it (apt install rsync)")
        )
        python = connection.run([remote.python, "-c", "import sys; print(sys.version.split()[0])"])
    except RavelabError as error:
        say(CheckLine("python", False, str(error)))
        return report
    if python.returncode != 0:
        say(
            CheckLine(
                "python",
                False,
                f"{remote.python} does not run there: `ravelab remote setup {remote.name}` "
                "installs ravelab's environment (or give --python PATH)",
            )
        )
        return report
    say(CheckLine("python", True, f"{remote.python} (Python {python.stdout.strip()})"))
    try:
        hello = ask_hello(connection)
    except RavelabError as error:
        say(CheckLine("ravelab", False, str(error)))
        return report
    report.hello = hello
    same = hello.get("fingerprint") == source_fingerprint()
    say(
        CheckLine(
            "ravelab",
            bool(same),
            f"{hello.get('version')} (same code as here)"
            if same
            else f"{hello.get('version')} there runs other code than this machine's "
            f"{ravelab.__version__}: `ravelab remote setup {remote.name}` updates it",
        )
    )
    rave = hello.get("rave")
    say(
        CheckLine("rave", True, str(rave))
        if rave
        else CheckLine(
            "rave",
            False,
            f"{hello.get('rave_problem') or 'not found'}: `ravelab remote setup {remote.name}` "
            "installs it there (or give --rave PATH)",
        )
    )
    gpus = hello.get("gpus") or []
    if gpus:
        names = ", ".join(f"{g.get('index')}: {g.get('name')}" for g in gpus if isinstance(g, dict))
        say(CheckLine("GPUs", True, names))
    else:
        say(
            CheckLine(
                "GPUs",
                None,
                "no NVIDIA GPU found there: runs would train on the CPU (very slow); "
                + str(hello.get("gpus_problem") or "check the driver with nvidia-smi there"),
            )
        )
    free = hello.get("free_bytes")
    if isinstance(free, int):
        where = hello.get("runs_dir")
        say(
            CheckLine(
                "disk",
                None if free < LOW_SPACE_BYTES else True,
                f"{human_bytes(free)} free for {where}"
                + (
                    " (low: a run's checkpoints and its dataset take several GB)"
                    if free < LOW_SPACE_BYTES
                    else ""
                ),
            )
        )
    return report
