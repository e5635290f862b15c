"""Files between the laptop and a remote, with rsync over the remote's ssh connection.

* A dataset is pushed to ``<runs folder>/datasets/<name>-<digest>`` on the remote: rsync
  sends only what changed (size and time), so it is copied once and only again when it
  changed. Links in the user's own dataset are followed (their files are sent).
* A run is pulled into its local folder incrementally, in two passes. What only grows
  (the logs, TensorBoard event files) is pulled with ``--append``: only the new bytes
  travel, whatever the file's size. The rest (small JSON and YAML files) is pulled when
  its size or time changed (``merged.log`` among them: its last line is rewritten in
  place). Checkpoints and exported models are never pulled with the run (hundreds of MB
  each; a model is pulled on request). Symlinks and devices are skipped, and files over
  64 MiB (growing ones: over 16 GiB): the remote's folder is untrusted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.runs.run_files import REMOTE_CHECKPOINTS, REMOTE_FILE, REMOTE_LOG
from ravelab.core.ssh.connection import Connection

#: What only grows in a run folder: pulled with --append (new bytes only). Not merged.log:
#: its writer rewrites the last progress bar in place.
GROWING = ("stdout.log", "stderr.log", "supervisor.log", "events.out.tfevents.*")
#: The largest growing file a pull takes (days of audio summaries stay far below).
MAX_GROWING_FILE = "16g"
#: Seconds without any data moving before a transfer gives up (a frozen connection).
IO_TIMEOUT_S = 30
#: Never pulled with the run: the laptop's own files, checkpoints, exported models.
NOT_PULLED = ("/launch.json", f"/{REMOTE_FILE}", f"/{REMOTE_LOG}", f"/{REMOTE_CHECKPOINTS}",
              "*.ckpt", "*.ts", "/datasets/")  # fmt: skip
#: The largest other file a pull takes.
MAX_PULLED_FILE = "64m"
#: Seconds a pull may take (a run's new bytes; a slow link gets this much).
PULL_TIMEOUT_S = 300.0
#: Seconds a dataset push may take (many GB over a slow link).
PUSH_TIMEOUT_S = 24 * 3600.0

_RECEIVED = re.compile(r"Total bytes received: ([0-9,.]+)")
_SENT = re.compile(r"Total bytes sent: ([0-9,.]+)")


@dataclass(frozen=True)
class Transfer:
    """Bytes on the wire of one rsync (from its --stats)."""

    sent: int = 0
    received: int = 0

    def __add__(self, other: Transfer) -> Transfer:
        return Transfer(self.sent + other.sent, self.received + other.received)


def _stats(text: str) -> Transfer:
    def number(pattern: re.Pattern[str]) -> int:
        found = pattern.search(text)
        return int(re.sub(r"[,.]", "", found.group(1))) if found else 0

    return Transfer(sent=number(_SENT), received=number(_RECEIVED))


_PROGRESS = re.compile(r"^([0-9]+)\s+([0-9]+%)\s+(\S+)\s+([0-9:]+)")


def progress_words(line: str) -> str:
    """rsync's ``--info=progress2`` line (``734003200  47%  11.52MB/s  0:01:04 ...``) in
    words: ``700.0 MB sent (47%), 11.52MB/s, 0:01:04 left``; another line as it is."""
    from ravelab.core.display import human_bytes

    found = _PROGRESS.match(line.strip())
    if found is None:
        return line
    sent, percent, rate, left = found.groups()
    return f"{human_bytes(int(sent))} sent ({percent}), {rate}, {left} left"


def dataset_key(local: Path) -> str:
    """The remote folder name of a local dataset: its name and a digest of its path, so
    two datasets of the same name never share a copy."""
    resolved = str(local.resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", local.resolve().name)[:60] or "dataset"
    return f"{name}-{digest}"


def push_dataset(
    connection: Connection,
    local: Path,
    remote_folder: str,
    log: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Transfer:
    """Copy a dataset folder to the remote (only what changed); ``on_progress`` hears
    the overall progress as it changes (bytes, percent, rate, time left), in words."""

    def said(line: str) -> None:
        if on_progress is not None:
            on_progress(progress_words(line))

    done = connection.rsync(
        [
            "-rt",
            "--copy-links",
            "--partial",
            "--stats",
            f"--timeout={IO_TIMEOUT_S}",
            f"{local.resolve()}/",
            connection.remote_path(f"{remote_folder}/"),
        ],
        timeout=PUSH_TIMEOUT_S,
        log=log,
        on_progress=said if on_progress is not None else None,
    )
    return _stats(done.stdout)


def pull_run(
    connection: Connection, remote_run_dir: str, local_run_dir: Path, log: Path | None = None
) -> Transfer:
    """Bring a run's local folder up to date with the remote one (new bytes only)."""
    source = connection.remote_path(f"{remote_run_dir}/")
    target = f"{local_run_dir}/"
    excluded = [f"--exclude={pattern}" for pattern in NOT_PULLED]
    growing = connection.rsync(
        [
            "-rt", "--append", "--stats", f"--timeout={IO_TIMEOUT_S}",
            f"--max-size={MAX_GROWING_FILE}", *excluded, "--include=*/",
            *(f"--include={pattern}" for pattern in GROWING), "--exclude=*",
            source, target,
        ],
        timeout=PULL_TIMEOUT_S,
        log=log,
    )  # fmt: skip
    rest = connection.rsync(
        [
            "-rt", "--stats", f"--timeout={IO_TIMEOUT_S}", f"--max-size={MAX_PULLED_FILE}",
            *excluded,
            *(f"--exclude={pattern}" for pattern in GROWING),
            source, target,
        ],
        timeout=PULL_TIMEOUT_S,
        log=log,
    )  # fmt: skip
    return _stats(growing.stdout) + _stats(rest.stdout)


def pull_file(
    connection: Connection, remote_file: str, local_file: Path, log: Path | None = None
) -> Transfer:
    """Copy one remote file here (an exported model), written under a temporary name and
    renamed, so a broken transfer never leaves a partial file under the final name."""
    done = connection.rsync(
        ["-t", "--stats", connection.remote_path(remote_file), str(local_file)],
        timeout=PUSH_TIMEOUT_S,
        log=log,
    )
    return _stats(done.stdout)
