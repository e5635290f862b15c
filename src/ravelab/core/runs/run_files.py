"""The files ravelab keeps in a run folder, and how they are written and read back.

A run folder holds, next to what RAVE writes (``<name>_<hash>/version_N/...``):

* ``launch.json``: what the supervisor must start (argv, environment, cwd, stop timeouts).
* ``supervisor.json``: the supervisor's and the trainer's pid, process group and start time.
* ``stdout.log`` / ``stderr.log``: the trainer's two streams, byte for byte.
* ``exit.json``: written once, atomically, when the trainer has ended.
* ``supervisor.log``: the supervisor's own messages (normally empty).
* ``slurm-job.sh``: a SLURM run's batch script.
* ``remote.json``, ``remote.log``, ``remote-checkpoints.json``: an SSH run's (see
  ``ravelab.core.ssh.executor``).

Everything read back is untrusted: a file may be missing, a folder, too large, not JSON,
or JSON with a wrong type or range in any field. The readers never raise on such a file:
they return None (missing), or a result that says which file and field is wrong
(:class:`DamagedFileError` for ``launch.json``, ``ExitRecord.error`` for ``exit.json``,
``SupervisorInfo.problem`` for ``supervisor.json``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.errors import LaunchError
from ravelab.core.rave.checkpoints import REMOTE_LISTING
from ravelab.core.runs.process_identity import processes_with_env

LAUNCH_FILE = "launch.json"
SUPERVISOR_FILE = "supervisor.json"
EXIT_FILE = "exit.json"
STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
SUPERVISOR_LOG = "supervisor.log"
SLURM_SCRIPT = "slurm-job.sh"
#: An SSH run's local folder mirrors the remote one and adds three files of its own.
REMOTE_FILE = "remote.json"  # which remote, and the run folder there
REMOTE_LOG = "remote.log"  # every command ravelab ran for the run over ssh, timed
REMOTE_CHECKPOINTS = REMOTE_LISTING  # the checkpoints there (not copied here)

#: The environment variable every process of a run carries (the supervisor, the trainer
#: and its children): the absolute run folder. It finds a run's processes when no file
#: says where they are (a supervisor killed before it wrote ``supervisor.json``).
RUN_MARKER_ENV = "RAVELAB_RUN_DIR"

#: Seconds the trainer gets after SIGINT before SIGTERM, and after SIGTERM before SIGKILL.
DEFAULT_INT_GRACE_S = 20.0
DEFAULT_TERM_GRACE_S = 10.0

#: ravelab's own JSON files are a few hundred bytes: anything far larger is not one.
_MAX_JSON_BYTES = 1 << 20
_MAX_GRACE_S = 24 * 3600.0
_MAX_PID = 1 << 31


#: How a reason about one of these files begins (then the file, the field, what is wrong).
DAMAGED_PREFIX = "damaged run file: "

#: How many suffixed names (``-2``, ``-3``, ...) a new run folder may try when taken.
_MAX_FOLDER_TRIES = 1000

logger = logging.getLogger(__name__)


class DamagedFileError(ValueError):
    """A run file exists but cannot be used; the message names the file and the field."""


def create_run_dir(runs_dir: Path, base: str) -> Path:
    """Create a new run folder exclusively: ``base``, else ``base-2``, ``base-3``...

    A folder that exists already (left by another database, or another database's live
    run sharing the runs folder) is never reused and never touched.
    """
    runs_dir = Path(os.path.abspath(runs_dir))  # stored and used as a marker: never relative
    runs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _MAX_FOLDER_TRIES + 1):
        candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        if attempt > 1:
            logger.warning("%s exists already: this run uses %s", runs_dir / base, candidate)
        return candidate
    raise LaunchError(
        f"{runs_dir / base} and {_MAX_FOLDER_TRIES - 1} suffixed names exist already: "
        "choose another name or runs folder"
    )


def remove_created_run_dir(run_dir: Path) -> None:
    """Undo a failed launch: remove the files the launch wrote into the folder it created,
    then the folder if it is empty. Anything else found there stays."""
    for name in (LAUNCH_FILE, SUPERVISOR_LOG, SLURM_SCRIPT, REMOTE_FILE, REMOTE_LOG):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink(missing_ok=True)
    try:
        run_dir.rmdir()
    except OSError:
        logger.warning("kept %s: it holds files the failed launch did not write", run_dir)


def fault_point(env_name: str, point: str) -> None:
    """A test-only hook: when ``env_name`` is ``point`` and ``<env_name>_GATE=PATH`` is
    set, touch ``PATH.reached`` and wait until ``PATH`` exists, so a test can kill this
    process exactly here. Without both variables it does nothing."""
    gate_name = os.environ.get(f"{env_name}_GATE")
    if os.environ.get(env_name) != point or not gate_name:
        return
    gate = Path(gate_name)
    Path(f"{gate}.reached").touch()
    while not gate.exists():
        time.sleep(0.02)


def marker_value(run_dir: Path) -> str:
    """The value of :data:`RUN_MARKER_ENV` for a run folder (absolute, not resolved:
    the same string whoever computes it)."""
    return os.path.abspath(run_dir)


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
        Path(tmp).unlink(missing_ok=True)  # the temporary file this call created
        raise


def load_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from one of ravelab's files; None when the file does not exist.

    Raises:
        DamagedFileError: it exists but is no JSON object (a folder, unreadable, too
            large, not UTF-8, not JSON, or JSON of another type).
    """
    try:
        if path.is_dir():
            raise DamagedFileError(f"{path.name} is a folder, not a file")
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DamagedFileError(f"{path.name} cannot be read: {error.strerror or error}") from None
    if size > _MAX_JSON_BYTES:
        raise DamagedFileError(f"{path.name} is {size} bytes: too large to be ravelab's")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DamagedFileError(f"{path.name} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise DamagedFileError(f"{path.name} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise DamagedFileError(f"{path.name} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise DamagedFileError(f"{path.name} holds a {type(data).__name__}, not a JSON object")
    return data


# -- field checks: each names the file and the field, and says what was expected ----------


def _where(file: str, key: str, value: object, present: bool = True) -> str:
    if not present:
        return f"{file}: {key} is missing"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{file}: {key} is {shown}"


def pid_field(data: dict[str, Any], key: str, file: str) -> int:
    """A positive pid from a field."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _MAX_PID:
        where = _where(file, key, value, key in data)
        raise DamagedFileError(f"{where}, expected a positive integer (pid)")
    return value


def time_field(data: dict[str, Any], key: str, file: str) -> float:
    """A finite, non-negative time (seconds since the epoch) from a field."""
    value = data.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        where = _where(file, key, value, key in data)
        raise DamagedFileError(f"{where}, expected a time in seconds")
    return float(value)


def _optional_str(data: dict[str, Any], key: str, file: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DamagedFileError(f"{_where(file, key, value)}, expected text")
    return value


def _grace(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= _MAX_GRACE_S
    ):
        raise DamagedFileError(
            f"{_where(LAUNCH_FILE, key, value)}, expected seconds from 0 to {_MAX_GRACE_S:.0f}"
        )
    return float(value)


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
        """Read and check ``launch.json``.

        Raises:
            FileNotFoundError: it is missing.
            DamagedFileError: it is damaged (the message names the field).
        """
        data = load_json(run_dir / LAUNCH_FILE)
        if data is None:
            raise FileNotFoundError(f"{run_dir / LAUNCH_FILE} is missing")
        argv = data.get("argv")
        if (
            not isinstance(argv, list)
            or not argv
            or not all(isinstance(arg, str) and "\0" not in arg for arg in argv)
        ):
            raise DamagedFileError(
                f"{_where(LAUNCH_FILE, 'argv', argv)}, expected a non-empty list of text"
            )
        cwd = data.get("cwd")
        if not isinstance(cwd, str) or not cwd or "\0" in cwd:
            raise DamagedFileError(f"{_where(LAUNCH_FILE, 'cwd', cwd)}, expected a folder path")
        env = data.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "\0" not in k + v and "=" not in k
            for k, v in env.items()
        ):
            raise DamagedFileError(
                f"{_where(LAUNCH_FILE, 'env', env)}, expected an object of text values"
            )
        return cls(
            argv=list(argv),
            cwd=cwd,
            env=dict(env),
            stdin_text=_optional_str(data, "stdin_text", LAUNCH_FILE),
            int_grace_s=_grace(data, "int_grace_s", DEFAULT_INT_GRACE_S),
            term_grace_s=_grace(data, "term_grace_s", DEFAULT_TERM_GRACE_S),
        )


def grace_times(run_dir: Path) -> tuple[float, float]:
    """The stop grace times of a run (SIGINT -> SIGTERM, SIGTERM -> SIGKILL): from
    ``launch.json`` when it is sound, else the defaults (a stop never depends on it)."""
    try:
        data = load_json(run_dir / LAUNCH_FILE) or {}
        return (
            _grace(data, "int_grace_s", DEFAULT_INT_GRACE_S),
            _grace(data, "term_grace_s", DEFAULT_TERM_GRACE_S),
        )
    except DamagedFileError:
        return DEFAULT_INT_GRACE_S, DEFAULT_TERM_GRACE_S


@dataclass(frozen=True)
class SupervisorInfo:
    """What ``supervisor.json`` says, checked field by field.

    Attributes:
        supervisor_pid, supervisor_start_time: the supervisor (start time absent in files
            of older versions).
        trainer_pid, trainer_pgid, trainer_start_time: the trainer and its process group
            (None when a field is damaged or the trainer ended before it was identified).
        host: where they run.
        problem: what is wrong with the file (names the field), or None.
    """

    supervisor_pid: int | None = None
    supervisor_start_time: float | None = None
    trainer_pid: int | None = None
    trainer_pgid: int | None = None
    trainer_start_time: float | None = None
    host: str | None = None
    problem: str | None = None

    @classmethod
    def read(cls, run_dir: Path) -> SupervisorInfo | None:
        """None when the file does not exist (yet); else what can be used of it."""
        try:
            data = load_json(run_dir / SUPERVISOR_FILE)
        except DamagedFileError as error:
            return cls(problem=str(error))
        if data is None:
            return None
        problems: list[str] = []

        def get(check: Any, key: str, optional: bool = False) -> Any:
            if optional and data.get(key) is None:
                return None  # an older file, or a trainer that ended before it was seen
            try:
                return check(data, key, SUPERVISOR_FILE)
            except DamagedFileError as error:
                problems.append(str(error))
                return None

        host = data.get("host")
        if not isinstance(host, str) or not host:
            problems.append(f"{_where(SUPERVISOR_FILE, 'host', host)}, expected a host name")
            host = None
        return cls(
            supervisor_pid=get(pid_field, "supervisor_pid"),
            supervisor_start_time=get(time_field, "supervisor_start_time", optional=True),
            trainer_pid=get(pid_field, "trainer_pid"),
            trainer_pgid=get(pid_field, "trainer_pgid"),
            trainer_start_time=get(time_field, "trainer_start_time", optional=True),
            host=host,
            problem="; ".join(problems) or None,
        )


@dataclass(frozen=True)
class ExitRecord:
    """How a trainer ended (``exit.json``).

    A damaged file reads as an ended run with ``error`` saying what is wrong, so the run
    is settled as failed with that reason instead of every reader failing on it.
    """

    exit_code: int | None
    signal: str | None
    stop_requested: bool
    ended_at: float
    error: str | None = None

    @classmethod
    def read(cls, run_dir: Path) -> ExitRecord | None:
        """None when there is no ``exit.json``; never raises on a damaged one.

        A damaged file while processes of the run still live reads as None too: the
        supervisor writes ``exit.json`` only after the trainer's group has ended, so the
        run is not over, and it is settled with the damage as reason once they are gone.
        """
        record = cls._read_checked(run_dir)
        if record is None or not record.damaged:
            return record
        if processes_with_env(RUN_MARKER_ENV, marker_value(run_dir)):
            return None
        # Nothing of the run lives now, so the file holds its last word: read it again,
        # for a supervisor that replaced the damaged file and ended during the check.
        return cls._read_checked(run_dir)

    @classmethod
    def _read_checked(cls, run_dir: Path) -> ExitRecord | None:
        try:
            data = load_json(run_dir / EXIT_FILE)
        except DamagedFileError as error:
            return cls(None, None, False, 0.0, f"{DAMAGED_PREFIX}{error}")
        if data is None:
            return None
        try:
            code = data.get("exit_code")
            if code is not None and (
                isinstance(code, bool) or not isinstance(code, int) or not -256 < code < 256
            ):
                raise DamagedFileError(
                    f"{_where(EXIT_FILE, 'exit_code', code)}, expected an exit status"
                )
            stop_requested = data.get("stop_requested", False)
            if not isinstance(stop_requested, bool):
                raise DamagedFileError(
                    f"{_where(EXIT_FILE, 'stop_requested', stop_requested)}, expected true/false"
                )
            ended_at = time_field(data, "ended_at", EXIT_FILE) if "ended_at" in data else 0.0
            return cls(
                exit_code=code,
                signal=_optional_str(data, "signal", EXIT_FILE),
                stop_requested=stop_requested,
                ended_at=ended_at,
                error=_optional_str(data, "error", EXIT_FILE),
            )
        except DamagedFileError as error:
            return cls(None, None, False, 0.0, f"{DAMAGED_PREFIX}{error}")

    @property
    def damaged(self) -> bool:
        """True when the file could not be read as written by the supervisor."""
        return bool(self.error and self.error.startswith(DAMAGED_PREFIX))

    def write(self, run_dir: Path) -> None:
        write_json_atomic(run_dir / EXIT_FILE, asdict(self))


def set_aside(path: Path) -> None:
    """Rename a previous attempt's file to ``<stem>.<n><suffix>`` (first free n)."""
    if not os.path.lexists(path):
        return
    for n in range(10_000):
        target = path.with_name(f"{path.stem}.{n}{path.suffix}")
        if not os.path.lexists(target):
            path.rename(target)
            return
    raise LaunchError(f"cannot set {path} aside: too many earlier attempts")
