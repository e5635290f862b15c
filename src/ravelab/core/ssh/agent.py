"""``python -m ravelab.core.ssh.agent COMMAND ...``: ravelab's side on a remote machine.

The laptop's ``SshExecutor`` runs this over ssh; it does on the remote exactly what
ravelab does locally, with the same code (``LocalExecutor``: the detached supervisor,
process identities, the stop stages), so a remote run is supervised as a local one is.

Every command prints one line ``RAVELAB-AGENT <json>`` last (lines a login script may
print before it are ignored by the caller) and exits 0, or 2 with ``{"ok": false,
"error": ...}``. Commands:

* ``hello [--runs-dir D] [--rave R]``: version, Python, host, home, the runs folder
  (absolute) and its free space, the ``rave`` found, the GPUs.
* ``prepare --runs-dir D --name N``: create the run folder exclusively; its absolute
  path and the folder copied datasets go to.
* ``launch RUN_DIR [--resume] [--rave R]``: read the run's launch spec (JSON) on stdin,
  write it, start the supervisor; ``--resume`` first sets the previous attempt's
  ``exit.json`` and ``supervisor.json`` aside. An argv beginning with ``@rave`` gets
  the remote's ``rave``.
* ``state RUN_DIR [--pid P --start T --host H]``: alive or not, and the checkpoints.
* ``stop RUN_DIR [--pid P --start T --host H] [--at-checkpoint]``.
* ``discard RUN_DIR [--dataset KEY]``: undo a launch that failed before its supervisor
  started: remove the files ravelab put in the run folder, the folder if then empty, and
  the copied dataset ``KEY`` when the failed launch had begun it.
* ``export CKPT --output-dir D --name BASE [--streaming] [--fidelity F] [--channels N]
  [--rave R]``: ``rave export`` on a checkpoint there, its output passed through as it
  comes (RAVE's config.gin fixed first for stereo runs, as locally); the model's path.
* ``remove-checkpoints RUN_DIR REL...``: remove periodic checkpoints (``epoch_<k>.ckpt``,
  regular files inside the run), for retention.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

PREFIX = "RAVELAB-AGENT "
#: Stands for the remote's ``rave`` in a launch spec's argv.
RAVE_PLACEHOLDER = "@rave"
#: The folder, inside the runs folder, where copied datasets go.
DATASETS_FOLDER = "datasets"


class AgentError(Exception):
    """A request the agent cannot carry out; the message is for the user."""


def _say(payload: dict[str, Any]) -> None:
    sys.stdout.write(PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _runs_dir(value: str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(value)))


def _rave(explicit: str | None) -> tuple[str | None, str | None]:
    """The remote's ``rave`` and, when none is found, why."""
    from ravelab.core.errors import RavelabError
    from ravelab.core.paths import default_db_path
    from ravelab.core.rave.locator import find_rave

    db = None
    try:
        path = default_db_path()
        if explicit is None and path.is_file():
            from ravelab.db import Database

            db = Database(path)
        return find_rave(explicit, db), None
    except RavelabError as error:
        return None, str(error)
    except Exception as error:  # a damaged remote database must not hide the answer
        return None, f"{type(error).__name__}: {error}"
    finally:
        if db is not None:
            db.close()


def source_fingerprint() -> str:
    """A digest of ravelab's own sources (its ``.py`` files, by relative path): the
    laptop's and the remote's match when both run the same code."""
    import hashlib

    import ravelab

    root = Path(ravelab.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] == "gui":
            continue  # the app is not installed on remotes
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def hello(args: argparse.Namespace) -> dict[str, Any]:
    import ravelab
    from ravelab.core.gpus import list_gpus

    runs_dir = _runs_dir(args.runs_dir) if args.runs_dir else None
    free = None
    if runs_dir is not None:
        probe = runs_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
    rave, problem = _rave(args.rave)
    problem_gpus: str | None = None
    try:
        gpus = [{"index": g.index, "name": g.name, "memory_mib": g.memory_mib} for g in list_gpus()]
    except Exception as error:
        gpus, problem_gpus = [], str(error)
    return {
        "version": ravelab.__version__,
        "fingerprint": source_fingerprint(),
        "python": platform.python_version(),
        "system": platform.system(),
        "host": socket.gethostname(),
        "home": str(Path.home()),
        "runs_dir": str(runs_dir) if runs_dir else None,
        "free_bytes": free,
        "rave": rave,
        "rave_problem": problem,
        "gpus": gpus,
        "gpus_problem": problem_gpus,
    }


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    from ravelab.core.runs.run_files import create_run_dir

    runs_dir = _runs_dir(args.runs_dir)
    run_dir = create_run_dir(runs_dir, args.name)
    datasets = runs_dir / DATASETS_FOLDER
    datasets.mkdir(exist_ok=True)
    had_dataset = bool(args.dataset) and (datasets / _dataset_key(args.dataset)).exists()
    return {"run_dir": str(run_dir), "datasets_dir": str(datasets), "had_dataset": had_dataset}


def _dataset_key(key: str) -> str:
    if not key or "/" in key or key in (".", "..") or "\0" in key:
        raise AgentError(f"dataset key {key!r} is not a folder name")
    return key


def discard(args: argparse.Namespace) -> dict[str, Any]:
    from ravelab.core.runs.run_files import remove_created_run_dir

    run_dir = Path(args.run_dir)
    if run_dir.is_dir():
        remove_created_run_dir(run_dir)
    dataset_removed = False
    if args.dataset:
        folder = run_dir.parent / DATASETS_FOLDER / _dataset_key(args.dataset)
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            dataset_removed = not folder.exists()
    return {"run_dir_left": run_dir.exists(), "dataset_removed": dataset_removed}


def launch(args: argparse.Namespace) -> dict[str, Any]:
    from ravelab.core.runs.executor import LocalExecutor, run_processes
    from ravelab.core.runs.run_files import (
        EXIT_FILE,
        LAUNCH_FILE,
        SUPERVISOR_FILE,
        LaunchSpec,
        set_aside,
        write_json_atomic,
    )

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise AgentError(f"the run folder {run_dir} does not exist on {socket.gethostname()}")
    living = run_processes(run_dir)
    if living:
        # Never a second trainer in one folder (a run given up here while it went on).
        pids = ", ".join(str(p.pid) for p in living[:5])
        raise AgentError(
            f"the run still has processes on {socket.gethostname()} (pid {pids}): stop it "
            "first (`ravelab stop`), or wait until they end"
        )
    try:
        data = json.loads(sys.stdin.read(1 << 20))
    except ValueError as error:
        raise AgentError(f"the launch spec sent is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise AgentError("the launch spec sent is not a JSON object")
    argv = data.get("argv")
    if isinstance(argv, list) and argv and argv[0] == RAVE_PLACEHOLDER:
        rave, problem = _rave(args.rave)
        if rave is None:
            raise AgentError(
                f"no rave on {socket.gethostname()}: {problem} (or run `ravelab remote setup`)"
            )
        data["argv"] = [rave, *argv[1:]]
    write_json_atomic(run_dir / LAUNCH_FILE, data)
    spec = LaunchSpec.read(run_dir)  # checks every field
    if args.resume:
        set_aside(run_dir / EXIT_FILE)
        set_aside(run_dir / SUPERVISOR_FILE)
    handle = LocalExecutor().launch(run_dir, spec)
    assert handle.supervisor is not None
    return {
        "pid": handle.supervisor.pid,
        "start_time": handle.supervisor.start_time,
        "host": handle.supervisor.host,
        "rave": spec.argv[0],
    }


def _handle(args: argparse.Namespace) -> Any:
    from ravelab.core.runs.executor import RunHandle
    from ravelab.core.runs.process_identity import HOST, ProcessIdentity

    supervisor = None
    if args.pid is not None and args.start is not None:
        supervisor = ProcessIdentity(args.pid, args.start, args.host or HOST)
    return RunHandle("local", supervisor=supervisor)


def _checkpoints(run_dir: Path) -> list[dict[str, Any]]:
    from ravelab.core.rave.checkpoints import find_checkpoints

    return [
        {
            "path": str(c.path.relative_to(run_dir)),
            "size": c.size_bytes,
            "mtime": c.modified_at,
        }
        for c in find_checkpoints(run_dir)
        if c.path.is_relative_to(run_dir)
    ]


def state(args: argparse.Namespace) -> dict[str, Any]:
    from ravelab.core.runs.executor import LocalExecutor, run_processes
    from ravelab.core.runs.run_files import EXIT_FILE, SUPERVISOR_FILE

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        # Its folder is gone (removed, a disk replaced): nothing of the run can be
        # written any more; only processes still carrying its marker keep it alive.
        return {"alive": bool(run_processes(run_dir)), "missing": True, "checkpoints": []}
    handle = _handle(args)
    alive = LocalExecutor().is_running(run_dir, handle.supervisor)
    if alive is None and not (run_dir / SUPERVISOR_FILE).exists() and not run_processes(run_dir):
        # Nothing was ever started here (a launch whose answer was lost before it ran):
        # no process, no supervisor file. Said as ended, so the run can settle.
        alive = False
    return {
        "alive": alive,
        "checkpoints": _checkpoints(run_dir),
        "exit": (run_dir / EXIT_FILE).is_file(),
    }


def stop(args: argparse.Namespace) -> dict[str, Any]:
    from ravelab.core.runs.executor import LocalExecutor

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        return {"asked": False}
    executor = LocalExecutor()
    handle = _handle(args)
    if args.at_checkpoint:
        return {"asked": executor.request_checkpoint_stop(run_dir, handle)}
    return {"asked": executor.request_stop(run_dir, handle)}


def remove_checkpoints(args: argparse.Namespace) -> dict[str, Any]:
    import re
    import stat

    run_dir = Path(args.run_dir).resolve()
    removed, refused = [], []
    for relative in args.paths:
        given = run_dir / relative
        # The entry itself is checked (never what a link points to), in a folder that
        # really lies inside the run.
        folder = given.parent.resolve()
        path = folder / given.name
        ok = (
            folder.is_relative_to(run_dir)
            and re.fullmatch(r"epoch_[0-9]+\.ckpt", given.name) is not None
            and folder.name == "checkpoints"
        )
        try:
            ok = ok and stat.S_ISREG(path.lstat().st_mode)
        except OSError:
            ok = False
        if not ok:
            refused.append(relative)
            continue
        try:
            path.unlink()
            removed.append(relative)
        except OSError:
            refused.append(relative)
    return {"removed": removed, "refused": refused}


def export(args: argparse.Namespace) -> dict[str, Any]:
    import subprocess

    from ravelab.core.jobs.export import build_export_argv, fix_stereo_config

    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise AgentError(f"the checkpoint {checkpoint} is not on {socket.gethostname()} (removed?)")
    rave, problem = _rave(args.rave)
    if rave is None:
        raise AgentError(f"no rave on {socket.gethostname()}: {problem}")
    fix_stereo_config(checkpoint, args.channels)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    argv = build_export_argv(
        rave,
        checkpoint,
        streaming=args.streaming,
        fidelity=args.fidelity,
        extra=["--output", str(output), "--name", args.name],
    )
    sys.stdout.flush()
    status = subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode
    path = output / f"{args.name}{'_streaming' if args.streaming else ''}.ts"
    if status != 0:
        raise AgentError(f"rave export exited with {status}")
    if not path.is_file():
        raise AgentError(f"rave export exited 0 but wrote no {path}")
    return {"path": str(path), "size": path.stat().st_size}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ravelab.core.ssh.agent")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hello")
    p.add_argument("--runs-dir")
    p.add_argument("--rave")
    p = sub.add_parser("prepare")
    p.add_argument("--runs-dir", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--dataset")
    p = sub.add_parser("discard")
    p.add_argument("run_dir")
    p.add_argument("--dataset")
    p = sub.add_parser("launch")
    p.add_argument("run_dir")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--rave")
    for name in ("state", "stop"):
        p = sub.add_parser(name)
        p.add_argument("run_dir")
        p.add_argument("--pid", type=int)
        p.add_argument("--start", type=float)
        p.add_argument("--host")
        if name == "stop":
            p.add_argument("--at-checkpoint", action="store_true")
    p = sub.add_parser("export")
    p.add_argument("checkpoint")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--streaming", action="store_true")
    p.add_argument("--fidelity", type=float)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--rave")
    p = sub.add_parser("remove-checkpoints")
    p.add_argument("run_dir")
    p.add_argument("paths", nargs="*")
    return parser


_COMMANDS = {
    "hello": hello,
    "prepare": prepare,
    "launch": launch,
    "state": state,
    "stop": stop,
    "discard": discard,
    "export": export,
    "remove-checkpoints": remove_checkpoints,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        payload = _COMMANDS[args.command](args)
    except Exception as error:  # every failure is an answer, never a traceback
        _say({"ok": False, "error": f"{error}" or type(error).__name__})
        return 2
    _say({"ok": True, **payload})
    return 0


if __name__ == "__main__":
    sys.exit(main())
