"""Which checkpoints of a run are new, changed or gone since the last look, and the step
each one holds.

A scan lists every ``version_N/checkpoints`` file (``ravelab.core.rave.checkpoints``) at most
every :data:`CHECKPOINT_SCAN_S` seconds while a run lives (always once it has ended) and
compares modification times with what it saw before, so a poll stores only what changed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.rave.checkpoints import CheckpointFile, find_checkpoints
from ravelab.core.rave.trainer_numbers import digits_value
from ravelab.db.artifacts import CheckpointRecord

#: Seconds between two scans of a live run's folder.
CHECKPOINT_SCAN_S = 2.0
_EPOCH_CHECKPOINT = re.compile(r"^epoch-epoch=([0-9]+)(?:-v[0-9]+)?\.ckpt$")
#: ``best.ckpt`` and the rolling checkpoint written within this many seconds of each other
#: were written in the same save (so they hold the same step).
_SAME_SAVE_S = 5.0


@dataclass
class ScanResult:
    """What a scan found: checkpoints new or rewritten, and every path present when some
    file seen before is gone (None when none is)."""

    changed: list[CheckpointRecord]
    present: list[str] | None


class CheckpointScan:
    """The checkpoints seen so far (path -> modification time), and the scan's pacing."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._scanned_at = 0.0

    def restore(self, records: list[CheckpointRecord]) -> None:
        """Take up the checkpoints the database holds (they are not new)."""
        self.seen = {c.path: c.modified_at for c in records}

    def scan(
        self, run_dir: Path, force: bool, batches_per_epoch: int | None, step: int
    ) -> ScanResult | None:
        """Look again (None when the last look is too recent and ``force`` is false)."""
        now = time.monotonic()
        if not force and now - self._scanned_at < CHECKPOINT_SCAN_S:
            return None
        self._scanned_at = now
        files = find_checkpoints(run_dir)
        present = [str(c.path) for c in files]
        result = ScanResult([], None)
        for found in files:
            key = str(found.path)
            if self.seen.get(key) != found.modified_at:
                self.seen[key] = found.modified_at
                held = checkpoint_step(found, files, batches_per_epoch, step)
                result.changed.append(
                    CheckpointRecord(key, held, found.size_bytes, found.modified_at)
                )
        gone = set(self.seen) - set(present)
        if gone:
            for path in gone:
                del self.seen[path]
            result.present = present
        return result


def checkpoint_step(
    found: CheckpointFile, files: list[CheckpointFile], batches_per_epoch: int | None, step: int
) -> int:
    """The step a checkpoint holds. ``epoch-epoch=N.ckpt`` is written at the end of epoch
    N's validation: step (N + 1) x batches per epoch, exactly; ``best.ckpt`` is written in
    the same save. Otherwise ``step``, the step when the follower saw the file (a poll
    late at most)."""
    if batches_per_epoch:
        candidates = (
            [found]
            + [
                other
                for other in files
                if other.kind == "latest"
                and abs(other.modified_at - found.modified_at) < _SAME_SAVE_S
            ]
            if found.kind == "best"
            else [found]
        )
        for candidate in candidates:
            match = _EPOCH_CHECKPOINT.match(candidate.path.name)
            epoch = digits_value(match.group(1)) if match else None
            if epoch is not None:
                return min((epoch + 1) * batches_per_epoch, step or 1 << 62)
    return step
