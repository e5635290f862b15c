"""``python -m ravelab.core.ssh.remote_export ...``: an SSH run's export, as a local job.

The export job of a run on a remote runs this module instead of ``rave export``: it asks
the remote's agent to export the checkpoint there (RAVE's output passes through, so the
job shows its stages as for a local export), then pulls the ``.ts`` to the path the job
expects, under a temporary name renamed at the end. RAVE's own "model exported to" line
names the remote file; it is shown reworded, and the line naming the local model comes
last, once the file is here.

Arguments: ``DB RUN_DIR CHECKPOINT OUTPUT [--streaming] [--fidelity F] [--channels N]``,
where ``CHECKPOINT`` is the path in the run's local folder and ``OUTPUT`` the local ``.ts``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ravelab.core.errors import RavelabError
from ravelab.core.jobs.export import REMOTE_EXPORT_ERROR
from ravelab.core.ssh import sync
from ravelab.core.ssh.agent import PREFIX
from ravelab.core.ssh.connection import Connection, log_command
from ravelab.core.ssh.executor import RemoteRun, require_same_code
from ravelab.core.ssh.remotes import get_remote

#: Seconds a remote export may take (RAVE builds and scripts the model: minutes).
EXPORT_TIMEOUT_S = 3 * 3600.0
_EXPORTED = "model exported to"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ravelab.core.ssh.remote_export")
    parser.add_argument("db")
    parser.add_argument("run_dir")
    parser.add_argument("checkpoint")
    parser.add_argument("output")
    parser.add_argument("--streaming", action="store_true")
    parser.add_argument("--fidelity", type=float)
    parser.add_argument("--channels", type=int, default=1)
    return parser


def export_remotely(args: argparse.Namespace) -> Path:
    """Export on the remote and pull the model; the local ``.ts``."""
    from ravelab.db import Database

    run_dir = Path(args.run_dir)
    known = RemoteRun.read(run_dir)
    if known is None:
        raise RavelabError(f"{run_dir} names no remote run (remote.json missing or damaged)")
    db = Database(args.db)
    try:
        remote = get_remote(db, known.remote)
    finally:
        db.close()
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_relative_to(run_dir):
        raise RavelabError(f"{checkpoint} is not in the run folder {run_dir}")
    remote_checkpoint = f"{known.run_dir}/{checkpoint.relative_to(run_dir)}"
    output = Path(args.output)
    base = output.stem.removesuffix("_streaming") if args.streaming else output.stem
    remote_dir = f"{known.run_dir}/exports"
    command = [remote.python, "-m", "ravelab.core.ssh.agent", "export", remote_checkpoint]
    command += [f"--output-dir={remote_dir}", f"--name={base}", f"--channels={args.channels}"]
    if args.streaming:
        command.append("--streaming")
    if args.fidelity is not None:
        command += ["--fidelity", repr(args.fidelity)]
    if remote.rave:
        command += [f"--rave={remote.rave}"]
    connection = Connection(remote)
    require_same_code(connection)
    answer: list[str] = []

    def relay(line: str) -> None:
        if line.startswith(PREFIX):
            answer.append(line)
        elif _EXPORTED in line:
            print(line.replace(_EXPORTED, f"on {remote.name}: model written to"), flush=True)
        else:
            print(line, flush=True)

    print(f"exporting on {remote.name} ({remote.destination})", flush=True)
    log_command(run_dir / "remote.log", ["ssh", remote.destination, *command])
    status = connection.stream(command, timeout=EXPORT_TIMEOUT_S, on_line=relay)
    if status != 0 or not answer:
        raise RavelabError(
            f"the export on {remote.name} failed (exit {status}): {answer[-1:] or ''}"
        )
    import json

    reply = json.loads(answer[-1][len(PREFIX) :])
    if not reply.get("ok") or not isinstance(reply.get("path"), str):
        raise RavelabError(f"the export on {remote.name} failed: {reply.get('error')}")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    print(f"pulling the model from {remote.name}", flush=True)
    sync.pull_file(connection, reply["path"], partial, log=run_dir / "remote.log")
    os.replace(partial, output)
    return output


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        path = export_remotely(args)
    except (RavelabError, OSError, ValueError) as error:
        print(f"{REMOTE_EXPORT_ERROR}{error}", file=sys.stderr, flush=True)
        return 1
    print(f"{_EXPORTED} {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
