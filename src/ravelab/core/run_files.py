"""The files ravelab keeps in a run folder, and how they are written.

A run folder holds, next to what RAVE writes (``<name>_<hash>/version_N/...``):

* ``launch.json``: what the supervisor must start (argv, environment, cwd, stop timeouts).
* ``supervisor.json``: the supervisor's and the trainer's pid, process group and start time.
* ``stdout.log`` / ``stderr.log``: the trainer's two streams, byte for byte.
* ``exit.json``: written once, atomically, when the trainer has ended.
* ``supervisor.log``: the supervisor's own messages (normally empty).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LAUNCH_FILE = "launch.json"
SUPERVISOR_FILE = "supervisor.json"
EXIT_FILE = "exit.json"
STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
SUPERVISOR_LOG = "supervisor.log"

#: Seconds the trainer gets after SIGINT before SIGTERM, and after SIGTERM before SIGKILL.
DEFAULT_INT_GRACE_S = 20.0
DEFAULT_TERM_GRACE_S = 10.0


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when it is missing or not (yet) valid."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class LaunchSpec:
    """What a supervisor starts."""

    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    stdin_text: str | None = None  # written to the trainer's stdin (e.g. ``y\\n``)
    int_grace_s: float = DEFAULT_INT_GRACE_S
    term_grace_s: float = DEFAULT_TERM_GRACE_S

    def write(self, run_dir: Path) -> None:
        write_json_atomic(run_dir / LAUNCH_FILE, asdict(self))

    @classmethod
    def read(cls, run_dir: Path) -> LaunchSpec:
        data = read_json(run_dir / LAUNCH_FILE)
        if data is None:
            raise FileNotFoundError(f"{run_dir / LAUNCH_FILE} is missing or unreadable")
        return cls(
            argv=[str(arg) for arg in data["argv"]],
            cwd=str(data["cwd"]),
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            stdin_text=data.get("stdin_text"),
            int_grace_s=float(data.get("int_grace_s", DEFAULT_INT_GRACE_S)),
            term_grace_s=float(data.get("term_grace_s", DEFAULT_TERM_GRACE_S)),
        )


@dataclass(frozen=True)
class ExitRecord:
    """How a trainer ended (``exit.json``)."""

    exit_code: int | None
    signal: str | None
    stop_requested: bool
    ended_at: float
    error: str | None = None

    @classmethod
    def read(cls, run_dir: Path) -> ExitRecord | None:
        data = read_json(run_dir / EXIT_FILE)
        if data is None:
            return None
        code = data.get("exit_code")
        return cls(
            exit_code=None if code is None else int(code),
            signal=data.get("signal"),
            stop_requested=bool(data.get("stop_requested", False)),
            ended_at=float(data.get("ended_at", 0.0)),
            error=data.get("error"),
        )

    def write(self, run_dir: Path) -> None:
        write_json_atomic(run_dir / EXIT_FILE, asdict(self))
