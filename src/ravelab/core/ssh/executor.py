"""``SshExecutor``: a run on another machine over SSH, followed here as if it were local.

Launch: the remote's agent (``ravelab.core.ssh.agent``, the same ravelab there) creates the
run folder, the dataset is pushed (only what changed), and the agent starts the same
detached supervisor ``LocalExecutor`` starts here. The laptop keeps a local run folder
that mirrors the remote one; ``remote.json`` there names the remote and its run folder,
``remote.log`` lists every command run for the run over ssh.

Watching: ``state`` asks the agent whether the run lives and which checkpoints it has
(written to ``remote-checkpoints.json``: checkpoints stay on the remote), then pulls what
is new into the local folder (``sync.pull_run``). The follower reads the local folder
exactly as for a local run, from its stored offsets, so a laptop that slept, lost the
network or was switched off catches up without losing or repeating a point. A remote that
cannot be reached reads as "unknown" (the run is not taken for ended) with the reason.
Answers are kept for ``min_interval_s`` so that several readers share one round trip.

Stop, stop at the next checkpoint: the agent asks the remote supervisor, as locally.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ravelab.core.errors import (
    ConfigError,
    LaunchError,
    RavelabError,
    SshError,
    SshUnreachableError,
)
from ravelab.core.runs.executor import ExecutorState, RunHandle
from ravelab.core.runs.process_identity import ProcessIdentity
from ravelab.core.runs.run_files import (
    REMOTE_CHECKPOINTS,
    REMOTE_FILE,
    REMOTE_LOG,
    LaunchSpec,
    load_json,
    write_json_atomic,
)
from ravelab.core.ssh import sync
from ravelab.core.ssh.agent import PREFIX, RAVE_PLACEHOLDER
from ravelab.core.ssh.connection import QUICK_TIMEOUT_S, Connection
from ravelab.core.ssh.remotes import Remote, get_remote
from ravelab.db import Database
from ravelab.db.vocabulary import RunStatus

logger = logging.getLogger(__name__)

#: Seconds an answer about a live run is reused before the remote is asked again.
DEFAULT_MIN_INTERVAL_S = 2.0
#: Seconds a state question may take (a frozen connection is given up on).
STATE_TIMEOUT_S = 20.0
#: Seconds a stop may take to be delivered (it goes through a loaded machine at times).
STOP_TIMEOUT_S = 45.0
#: Seconds a remote found unreachable is not asked again by this process.
UNREACHABLE_HOLD_S = 30.0

#: Machines found unreachable (by destination and port, whatever the remote's name): until
#: when (monotonic) they are not asked, and why.
_unreachable_until: dict[str, tuple[float, str]] = {}


def _machine(remote: Remote) -> str:
    return f"{remote.destination}:{remote.port or ''}"


def _held_unreachable(remote: Remote) -> str | None:
    """Why the remote's machine is held as unreachable now (None: it may be asked)."""
    held = _unreachable_until.get(_machine(remote))
    return held[1] if held is not None and time.monotonic() < held[0] else None


_MAX_CHECKPOINTS = 10_000


@dataclass(frozen=True)
class RemoteRun:
    """What ``remote.json`` says: the remote's name and the run's folder there."""

    remote: str
    run_dir: str
    dataset: str | None = None

    def write(self, local_run_dir: Path) -> None:
        write_json_atomic(
            local_run_dir / REMOTE_FILE,
            {"remote": self.remote, "run_dir": self.run_dir, "dataset": self.dataset},
        )

    @classmethod
    def read(cls, local_run_dir: Path) -> RemoteRun | None:
        """The run's remote, or None when ``remote.json`` is missing or damaged."""
        try:
            data = load_json(local_run_dir / REMOTE_FILE)
        except (OSError, ValueError):
            return None
        if not data:
            return None
        remote, run_dir, dataset = data.get("remote"), data.get("run_dir"), data.get("dataset")
        if (
            not isinstance(remote, str)
            or not isinstance(run_dir, str)
            or not run_dir.startswith("/")
        ):
            return None
        return cls(remote, run_dir, dataset if isinstance(dataset, str) else None)


def remote_place(run_dir: str | Path | None) -> str | None:
    """Where an SSH run's folder is, in words (``lab:/home/me/ravelab/runs/0001-x``);
    None for a run that is not on a remote."""
    if not run_dir:
        return None
    known = RemoteRun.read(Path(run_dir))
    return None if known is None else f"{known.remote}:{known.run_dir}"


class AgentFailed(RavelabError):
    """The remote's agent answered with an error (the message is its words)."""


def call_agent(
    connection: Connection,
    arguments: Sequence[str],
    *,
    stdin: str | None = None,
    timeout: float = QUICK_TIMEOUT_S,
    log: Path | None = None,
) -> dict[str, Any]:
    """Run the agent on the remote and return its answer.

    Raises:
        SshError: the remote could not be reached, or has no usable ravelab.
        AgentFailed: the agent refused (its message says why).
    """
    remote = connection.remote
    done = connection.run(
        [remote.python, "-m", "ravelab.core.ssh.agent", *arguments],
        stdin=stdin,
        timeout=timeout,
        log=log,
    )
    answer = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(PREFIX):
            try:
                answer = json.loads(line[len(PREFIX) :])
            except ValueError:
                answer = None
            break
    if not isinstance(answer, dict):
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        detail = " / ".join(tail) or f"exit status {done.returncode}"
        if done.returncode == 127 or "No such file" in detail or "No module named" in detail:
            raise SshError(
                f"ravelab is not installed on {remote.name} ({remote.python}: {detail}): "
                f"run `ravelab remote setup {remote.name}`"
            )
        raise SshError(f"ravelab on {remote.name} did not answer ({detail})")
    if not answer.get("ok"):
        raise AgentFailed(f"{remote.name}: {answer.get('error') or 'the agent failed'}")
    return answer


def ask_hello(connection: Connection, log: Path | None = None) -> dict[str, Any]:
    """The agent's hello about the remote's runs folder and ``rave`` (see ``agent``)."""
    remote = connection.remote
    arguments = ["hello", "--runs-dir", remote.runs_dir]
    if remote.rave:
        arguments += ["--rave", remote.rave]
    return call_agent(connection, arguments, log=log)


def require_same_code(connection: Connection, log: Path | None = None) -> dict[str, Any]:
    """The agent's hello, once it is known to run this machine's ravelab code.

    Raises:
        SshError: the remote cannot be reached, has no ravelab, or other code.
    """
    from ravelab.core.ssh.agent import source_fingerprint

    remote = connection.remote
    hello = ask_hello(connection, log)
    if hello.get("fingerprint") != source_fingerprint():
        raise SshError(
            f"{remote.name} runs other ravelab code ({hello.get('version')}) than this "
            f"machine: run `ravelab remote setup {remote.name}` to bring it up to date"
        )
    return hello


def remote_argv(
    argv: Sequence[str],
    *,
    local_run_dir: Path,
    remote_run_dir: str,
    local_dataset: str | None,
    remote_dataset: str | None,
    rave: str | None,
) -> list[str]:
    """A local run's argv with the remote's paths: ``rave`` (or the agent's placeholder),
    the dataset copy, the run folder and anything inside it (``--ckpt``)."""
    out = [rave or RAVE_PLACEHOLDER]
    local_root = str(local_run_dir)
    for arg in argv[1:]:
        if local_dataset is not None and remote_dataset is not None and arg == local_dataset:
            out.append(remote_dataset)
        elif arg == local_root:
            out.append(remote_run_dir)
        elif arg.startswith(local_root + "/"):
            out.append(remote_run_dir + arg[len(local_root) :])
        else:
            out.append(arg)
    return out


def _value_after(argv: Sequence[str], flag: str) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg == flag:
            return argv[index + 1]
    return None


class SshExecutor:
    """Runs the supervisor on a remote machine through its agent, over ssh."""

    name = "ssh"
    #: The run's ``rave`` is the remote's: a launch needs none on this machine.
    runs_rave_locally = False

    def __init__(self, db: Database, min_interval_s: float = DEFAULT_MIN_INTERVAL_S) -> None:
        self.db = db
        #: Told what a launch is doing (sending the dataset: rsync's progress lines), from
        #: the launching thread; a front end sets it to show the progress.
        self.on_progress: Callable[[str], None] | None = None
        self.min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, ExecutorState]] = {}
        self.last_transfer: dict[str, sync.Transfer] = {}

    # -- launching ----------------------------------------------------------------------------

    def _remote_of(
        self, run_dir: Path, options: Mapping[str, Any] | None
    ) -> tuple[Remote, RemoteRun | None]:
        known = RemoteRun.read(run_dir)
        name = known.remote if known is not None else (options or {}).get("remote")
        if name is None:
            raise ConfigError(
                "an ssh run needs a remote: `--remote NAME` (see `ravelab remote list`)"
            )
        return get_remote(self.db, name), known

    def launch(
        self, run_dir: Path, spec: LaunchSpec, options: Mapping[str, Any] | None = None
    ) -> RunHandle:
        remote, known = self._remote_of(run_dir, options)
        connection = Connection(remote)
        log = run_dir / REMOTE_LOG
        local_dataset = _value_after(spec.argv, "--db_path")
        key = sync.dataset_key(Path(local_dataset)) if local_dataset else None
        created: str | None = None
        had_dataset = True
        try:
            require_same_code(connection, log)
            if known is None:
                prepared = call_agent(
                    connection,
                    ["prepare", "--runs-dir", remote.runs_dir, "--name", run_dir.name]
                    + (["--dataset", key] if key else []),
                    log=log,
                )
                created = str(prepared["run_dir"])
                had_dataset = bool(prepared.get("had_dataset"))
                remote_dataset = f"{prepared['datasets_dir']}/{key}" if key else None
                known = RemoteRun(remote.name, created, remote_dataset)
                known.write(run_dir)
            remote_dataset = known.dataset
            if local_dataset and remote_dataset:
                say = self.on_progress
                if say is not None:
                    say(f"sending the dataset to {remote.name} (only what changed)")
                sync.push_dataset(
                    connection, Path(local_dataset), remote_dataset, log=log, on_progress=say
                )
                if say is not None:
                    say(f"starting the run on {remote.name}")
            argv = remote_argv(
                spec.argv,
                local_run_dir=run_dir,
                remote_run_dir=known.run_dir,
                local_dataset=local_dataset,
                remote_dataset=remote_dataset,
                rave=remote.rave,
            )
            remote_spec = {
                "argv": argv,
                "cwd": known.run_dir,
                "env": dict(spec.env),
                "stdin_text": spec.stdin_text,
                "int_grace_s": spec.int_grace_s,
                "term_grace_s": spec.term_grace_s,
            }
            try:
                answer = call_agent(
                    connection,
                    ["launch", known.run_dir] + (["--resume"] if created is None else []),
                    stdin=json.dumps(remote_spec),
                    log=log,
                )
            except BaseException as error:
                # The launch was sent: it may have started the run there even though its
                # answer was lost (the network dropped, Ctrl-C, a timeout). Nothing is
                # undone unless the remote says nothing runs; else the run is followed.
                if self._launched_anyway(connection, known.run_dir):
                    logger.warning(
                        "%s: the launch's answer was lost (%s); its run there is followed",
                        remote.name,
                        error,
                    )
                    spec.write(run_dir)
                    return RunHandle(self.name)
                raise
        except (RavelabError, OSError, KeyError, TypeError) as error:
            if created is not None:
                self._discard(connection, created, None if had_dataset else key, log)
                (run_dir / REMOTE_FILE).unlink(missing_ok=True)
            raise LaunchError(f"on {remote.name}: {error}") from error
        spec.write(run_dir)  # the laptop's view of the launch (its paths), for reference
        identity = _identity(answer)
        if identity is None:
            raise LaunchError(f"{remote.name}: the agent's answer names no process ({answer})")
        return RunHandle(self.name, supervisor=identity)

    def _launched_anyway(self, connection: Connection, remote_run_dir: str) -> bool:
        """After a launch whose answer was lost: whether its run may be going there (True
        when the remote says so, and when it cannot be asked)."""
        try:
            answer = call_agent(connection, ["state", remote_run_dir], timeout=STATE_TIMEOUT_S)
        except BaseException:  # unreachable, or interrupted again: keep rather than lose it
            return True
        return answer.get("alive") is not False

    def _discard(
        self, connection: Connection, remote_run_dir: str, key: str | None, log: Path
    ) -> None:
        try:
            call_agent(
                connection,
                ["discard", remote_run_dir] + (["--dataset", key] if key else []),
                log=log,
            )
        except RavelabError as error:
            logger.warning("could not undo the launch on %s: %s", connection.remote.name, error)

    # -- watching -----------------------------------------------------------------------------

    def state(self, run_dir: Path, handle: RunHandle) -> ExecutorState:
        key = str(run_dir)
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and now - cached[0] < self.min_interval_s and cached[1].alive is True:
            return cached[1]
        answer = self._ask(run_dir, handle)
        with self._lock:
            self._answers[key] = (time.monotonic(), answer)
        return answer

    def _ask(self, run_dir: Path, handle: RunHandle) -> ExecutorState:
        known = RemoteRun.read(run_dir)
        if known is None:
            problem = f"{run_dir / REMOTE_FILE} is missing or damaged: its remote is not known"
            return ExecutorState(alive=None, detail=problem, problem=problem)
        try:
            remote = get_remote(self.db, known.remote)
        except RavelabError as error:
            return ExecutorState(alive=None, detail=str(error), problem=str(error))
        down = _held_unreachable(remote)
        if down is not None:
            return ExecutorState(alive=None, detail=down, problem=down)
        try:
            connection = Connection(remote)
            answer = call_agent(
                connection,
                ["state", known.run_dir, *_identity_args(handle)],
                timeout=STATE_TIMEOUT_S,
            )
            # Pulled after the answer: a run the remote says has ended has all its files here.
            transfer = (
                sync.Transfer()
                if answer.get("missing")
                else sync.pull_run(connection, known.run_dir, run_dir)
            )
        except SshUnreachableError as error:
            # Said once per remote for a while: the runs of a machine that is down answer
            # at once instead of each waiting for the connection to time out.
            problem = f"{error} (the run goes on there; ravelab catches up once it answers)"
            _unreachable_until[_machine(remote)] = (time.monotonic() + UNREACHABLE_HOLD_S, problem)
            return ExecutorState(alive=None, detail=problem, problem=problem)
        except RavelabError as error:
            return ExecutorState(alive=None, detail=str(error), problem=str(error))
        _unreachable_until.pop(_machine(remote), None)
        self.last_transfer[str(run_dir)] = transfer
        _write_checkpoints(run_dir, answer.get("checkpoints"))
        alive = answer.get("alive")
        if answer.get("missing") and alive is False:
            reason = f"its run folder {known.run_dir} is gone from {remote.name}"
            return ExecutorState(alive=False, outcome=(RunStatus.FAILED, reason))
        return ExecutorState(alive=alive if isinstance(alive, bool) else None)

    def forget(self, run_dir: Path) -> None:
        """Drop the kept answer about a run (the next ``state`` asks the remote)."""
        with self._lock:
            self._answers.pop(str(run_dir), None)

    # -- stopping -----------------------------------------------------------------------------

    def request_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        return self._stop(run_dir, handle, at_checkpoint=False)

    def request_checkpoint_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        return self._stop(run_dir, handle, at_checkpoint=True)

    def _stop(self, run_dir: Path, handle: RunHandle, *, at_checkpoint: bool) -> bool:
        known = RemoteRun.read(run_dir)
        if known is None:
            return False
        remote = get_remote(self.db, known.remote)
        arguments = ["stop", known.run_dir, *_identity_args(handle)]
        if at_checkpoint:
            arguments.append("--at-checkpoint")
        try:
            down = _held_unreachable(remote)
            if down is not None:
                raise SshUnreachableError(down)
            answer = call_agent(
                Connection(remote), arguments, log=run_dir / REMOTE_LOG, timeout=STOP_TIMEOUT_S
            )
        except RavelabError as error:
            # Said, never swallowed: the run goes on there until the stop arrives.
            raise LaunchError(
                f"could not reach the run on {remote.name} to stop it: {error}. It goes on "
                "there: stop it again once the machine answers; if the machine is gone for "
                f"good, `ravelab remote remove {remote.name} --abandon-runs` ends its runs"
            ) from error
        self.forget(run_dir)
        return bool(answer.get("asked"))

    def remove_checkpoints(self, run_dir: Path, paths: Sequence[Path]) -> list[Path]:
        """Remove periodic checkpoints of the run on the remote (local mirror paths);
        the ones removed."""
        known = RemoteRun.read(run_dir)
        if known is None or not paths:
            return []
        remote = get_remote(self.db, known.remote)
        relative = [str(p.relative_to(run_dir)) for p in paths if p.is_relative_to(run_dir)]
        answer = call_agent(
            Connection(remote),
            ["remove-checkpoints", known.run_dir, *relative],
            log=run_dir / REMOTE_LOG,
        )
        removed = answer.get("removed")
        gone = {r for r in removed if isinstance(r, str)} if isinstance(removed, list) else set()
        self.forget(run_dir)
        try:
            listed = (load_json(run_dir / REMOTE_CHECKPOINTS) or {}).get("checkpoints")
        except (OSError, ValueError):
            listed = None
        if isinstance(listed, list):
            _write_checkpoints(
                run_dir, [c for c in listed if not (isinstance(c, dict) and c.get("path") in gone)]
            )
        return [run_dir / r for r in sorted(gone)]


def _identity(answer: Mapping[str, Any]) -> ProcessIdentity | None:
    pid, start, host = answer.get("pid"), answer.get("start_time"), answer.get("host")
    if (
        isinstance(pid, int)
        and not isinstance(pid, bool)
        and 0 < pid < 1 << 31
        and isinstance(start, int | float)
        and math.isfinite(start)
        and isinstance(host, str)
    ):
        return ProcessIdentity(pid, float(start), host[:255])
    return None


def _identity_args(handle: RunHandle) -> list[str]:
    supervisor = handle.supervisor
    if supervisor is None:
        return []
    return [
        "--pid",
        str(supervisor.pid),
        "--start",
        repr(supervisor.start_time),
        "--host",
        supervisor.host,
    ]


def _write_checkpoints(run_dir: Path, listed: object) -> None:
    """Keep the remote's checkpoint list in the local folder (checked: relative paths
    inside the run, sizes and times in range)."""
    entries = []
    if isinstance(listed, list):
        for item in listed[:_MAX_CHECKPOINTS]:
            if not isinstance(item, dict):
                continue
            path, size, mtime = item.get("path"), item.get("size"), item.get("mtime")
            if (
                isinstance(path, str)
                and path.endswith(".ckpt")
                and not path.startswith("/")
                and ".." not in Path(path).parts
                and isinstance(size, int)
                and not isinstance(size, bool)
                and 0 <= size < 1 << 50
                and isinstance(mtime, int | float)
                and math.isfinite(mtime)
            ):
                entries.append({"path": path, "size": size, "mtime": float(mtime)})
    try:
        current = load_json(run_dir / REMOTE_CHECKPOINTS)
    except (OSError, ValueError):
        current = None
    if current != {"checkpoints": entries}:
        write_json_atomic(run_dir / REMOTE_CHECKPOINTS, {"checkpoints": entries})
