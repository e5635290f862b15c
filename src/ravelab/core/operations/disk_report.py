"""What runs take on disk: free space under the runs folder, each run's checkpoints and
what its retention would reclaim (``ravelab disk``, the app)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.display import human_bytes
from ravelab.core.operations import checkpoint_retention, disk_care, disk_space
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.db import Database
from ravelab.db import experiments as rows


@dataclass(frozen=True)
class RunDisk:
    """One run's checkpoints on disk."""

    experiment_id: int
    name: str
    count: int
    checkpoint_bytes: int
    keep_periodic: int | None
    prunable_bytes: int


@dataclass(frozen=True)
class DiskReport:
    """Free space where runs go and what they take."""

    runs_dir: str
    free_bytes: int | None
    total_bytes: int | None
    runs: list[RunDisk] = field(default_factory=list)
    low: str | None = None  # a warning when the free space is under the low limit

    @property
    def checkpoint_bytes(self) -> int:
        return sum(run.checkpoint_bytes for run in self.runs)

    @property
    def prunable_bytes(self) -> int:
        return sum(run.prunable_bytes for run in self.runs)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checkpoint_bytes"] = self.checkpoint_bytes
        data["prunable_bytes"] = self.prunable_bytes
        return data


def disk_report(db: Database, runs_dir: str | Path) -> DiskReport:
    """Free space under ``runs_dir`` and every run's checkpoints, largest first."""
    usage = disk_space.disk_usage(runs_dir)
    free, total = usage if usage is not None else (None, None)
    runs: list[RunDisk] = []
    records = [r for r in rows.list_experiments(db) if r.run_dir]
    for record in records:
        found = find_checkpoints(Path(str(record.run_dir)))
        if not found:
            continue
        keep = checkpoint_retention.effective_keep(db, record.id)
        plan = checkpoint_retention.plan_prune(db, record, keep)
        runs.append(
            RunDisk(
                experiment_id=record.id,
                name=record.name,
                count=len(found),
                checkpoint_bytes=sum(c.size_bytes for c in found),
                keep_periodic=keep,
                prunable_bytes=plan.reclaim_bytes,
            )
        )
    runs.sort(key=lambda run: -run.checkpoint_bytes)
    live = [r for r in records if r.ended_at is None and r.pid is not None]
    limit = disk_care.low_limit(db, live)
    low = None
    if free is not None and free < limit:
        low = (
            f"only {human_bytes(free)} free under {runs_dir} (the low limit is "
            f"{human_bytes(limit)}): a checkpoint may not fit"
        )
    return DiskReport(str(runs_dir), free, total, runs, low)
