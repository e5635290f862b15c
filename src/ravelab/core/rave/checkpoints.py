"""Finding the checkpoints RAVE writes: ``version_N/checkpoints/*.ckpt``.

RAVE 2.3.1 writes ``best.ckpt`` (lowest validation), a rolling ``epoch-epoch=NNNN.ckpt``
(replaced at each validation) and ``epoch_K.ckpt`` every ``--save_every`` steps (the
counter restarts with each process). There is no ``last.ckpt`` in 2.3.x.

Folder names are untrusted: a ``version_N`` whose N is not a sane number is passed over.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from ravelab.core.rave.trainer_numbers import digits_value

_VERSION = re.compile(r"^version_([0-9]+)$")


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint file on disk."""

    path: Path
    version: int
    size_bytes: int
    modified_at: float

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
    return sorted(found.values(), key=lambda c: (c.modified_at, str(c.path)))
