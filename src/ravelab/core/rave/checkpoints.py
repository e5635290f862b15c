"""Finding the checkpoints RAVE writes: ``version_N/checkpoints/*.ckpt``.

RAVE 2.3.1 writes ``best.ckpt`` (lowest validation), a rolling ``epoch-epoch=NNNN.ckpt``
(replaced at each validation) and ``epoch_K.ckpt`` every ``--save_every`` steps (the
counter restarts with each process). There is no ``last.ckpt`` in 2.3.x.

Folder names are untrusted: a ``version_N`` whose N is not a sane number is passed over.

A run on another machine keeps its checkpoints there: its local folder lists them in
``remote-checkpoints.json`` (written by the SSH executor), read here as checkpoints that
are ``remote`` (their path is where the file would be in the local folder).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from ravelab.core.rave.trainer_numbers import digits_value

_VERSION = re.compile(r"^version_([0-9]+)$")

#: The list of a remote run's checkpoints in its local folder.
REMOTE_LISTING = "remote-checkpoints.json"
_MAX_LISTING_BYTES = 4 << 20


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file on disk."""

    path: Path
    version: int
    size_bytes: int
    modified_at: float
    remote: bool = False  # on the run's remote machine, not in this folder

    @property
    def kind(self) -> str:
        """``best``, ``latest`` (the rolling epoch one) or ``periodic``."""
        name = self.path.name
        if name.startswith("best"):
            return "best"
        if name.startswith("epoch-epoch="):
            return "latest"
        return "periodic"


def find_checkpoints(run_dir: Path) -> list[CheckpointFile]:
    """Every ``.ckpt`` under ``run_dir/*/version_N/checkpoints`` (or ``run_dir/version_N``),
    oldest first."""
    found: dict[Path, CheckpointFile] = {}
    for pattern in ("*/version_*/checkpoints/*.ckpt", "version_*/checkpoints/*.ckpt"):
        for path in run_dir.glob(pattern):
            match = _VERSION.match(path.parent.parent.name)
            version = digits_value(match.group(1)) if match else None
            if version is None:
                continue
            try:
                info = path.stat()
            except OSError:
                continue  # replaced between the glob and the stat
            if not S_ISREG(info.st_mode) or not math.isfinite(info.st_mtime):
                continue  # a folder named *.ckpt is no checkpoint
            found[path] = CheckpointFile(path, version, info.st_size, info.st_mtime)
    for checkpoint in _remote_listing(run_dir):
        found.setdefault(checkpoint.path, checkpoint)
    return sorted(found.values(), key=lambda c: (c.modified_at, str(c.path)))


def _remote_listing(run_dir: Path) -> list[CheckpointFile]:
    """The checkpoints ``remote-checkpoints.json`` lists (each entry checked: a relative
    path of RAVE's layout inside the run, a size and a time in range; others skipped)."""
    try:
        with open(run_dir / REMOTE_LISTING, "rb") as handle:
            data = json.loads(handle.read(_MAX_LISTING_BYTES + 1)[:_MAX_LISTING_BYTES])
    except (OSError, ValueError):
        return []
    entries = data.get("checkpoints") if isinstance(data, dict) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        relative, size, mtime = entry.get("path"), entry.get("size"), entry.get("mtime")
        if not isinstance(relative, str) or not isinstance(size, int) or isinstance(size, bool):
            continue
        if not isinstance(mtime, int | float) or not math.isfinite(mtime) or size < 0:
            continue
        parts = Path(relative).parts
        if relative.startswith("/") or ".." in parts or not relative.endswith(".ckpt"):
            continue
        if len(parts) < 3 or parts[-2] != "checkpoints":
            continue
        match = _VERSION.match(parts[-3])
        version = digits_value(match.group(1)) if match else None
        if version is not None:
            found.append(CheckpointFile(run_dir / relative, version, size, float(mtime), True))
    return found
