"""The warden's disk duties: prune checkpoints as they appear, and warn before the disk
holding runs fills up.

``RetentionDuty`` applies each run's retention (``checkpoint_retention``) to the runs that
are going, and once more to those that ended in the last quarter hour (their last
checkpoints appear at the end).

``DiskDuty`` checks the free space of every disk holding the runs folder or a live run's
folder. A disk is low below the ``disk_low_gb`` setting, else below two checkpoints of the
largest run on it (at least 1 GB). A disk that goes low records one ``disk_low`` event per
episode (the episode, named by when it began, is kept in the settings, so a restarted
warden does not say it again); the episode ends once the free space is back above one and
a half times the limit.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ravelab.core.display import human_bytes
from ravelab.core.operations import checkpoint_retention, disk_space
from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.events import EventKind, record_event
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db.records import ExperimentRecord

logger = logging.getLogger(__name__)

#: Runs that ended this recently are still pruned (their last checkpoints come at the end).
RECENTLY_ENDED = timedelta(minutes=15)
LOW_SETTING = "disk_low_gb"
_MIN_LOW_BYTES = 1_000_000_000
_RECOVERED = 1.5


def _recent_runs(db: Database, now: float) -> list[ExperimentRecord]:
    since = datetime.fromtimestamp(now, UTC) - RECENTLY_ENDED
    return [
        record
        for record in rows.list_experiments(db)
        if record.run_dir
        and (record.ended_at is None or (record.ended_at >= since.isoformat(timespec="seconds")))
    ]


class RetentionDuty:
    """Prunes periodic checkpoints beyond each run's retention."""

    name = "retention"
    interval_s = 30.0

    def tick(self, context: WardenContext) -> None:
        for record in _recent_runs(context.db, context.now):
            if record.pid is None and record.job_id is None:
                continue  # never started (or queued): nothing written
            if checkpoint_retention.effective_keep(context.db, record.id) is None:
                continue
            result = checkpoint_retention.prune_run(context.db, record.id)
            if result.removed:
                logger.info(
                    "run %s: removed %d periodic checkpoint(s), %s",
                    record.id,
                    len(result.removed),
                    human_bytes(result.removed_bytes),
                )
            for error in result.errors:
                logger.warning("run %s: could not remove %s", record.id, error)

    def busy(self, context: WardenContext) -> bool:
        return False


def low_limit(db: Database, runs: list[ExperimentRecord]) -> int:
    """The free bytes under which a disk holding ``runs`` is low."""
    stored = db.get_setting(LOW_SETTING)
    if stored:
        try:
            gigabytes = float(stored)
        except ValueError:
            gigabytes = -1.0
        if 0 < gigabytes < 1e6:
            return int(gigabytes * 1e9)
        logger.warning("setting %s=%r is not a size in GB; using the default", LOW_SETTING, stored)
    largest = max((_checkpoint_size(record) for record in runs), default=0)
    return max(2 * largest, _MIN_LOW_BYTES)


def _checkpoint_size(record: ExperimentRecord) -> int:
    measured = None
    if record.run_dir:
        measured = max((c.size_bytes for c in find_checkpoints(Path(record.run_dir))), default=0)
    config = record.config.get("config") if isinstance(record.config, dict) else None
    return disk_space.checkpoint_bytes(str(config or ""), measured or None)


class DiskDuty:
    """Watches the free space where runs write, and records ``disk_low`` once per episode."""

    name = "disk"
    interval_s = 60.0

    def tick(self, context: WardenContext) -> None:
        disks: dict[int, tuple[Path, list[ExperimentRecord]]] = {}
        folders: list[tuple[Path, ExperimentRecord | None]] = [(context.manager.runs_dir, None)]
        folders += [
            (Path(record.run_dir), record)
            for record in rows.unended_experiments(context.db)
            if record.run_dir and record.executor == "local"
        ]
        for folder, record in folders:
            device = _device(folder)
            if device is None:
                continue
            _, runs = disks.setdefault(device, (folder, []))
            if record is not None:
                runs.append(record)
        for device, (folder, runs) in disks.items():
            self._check(context.db, device, folder, runs, context.now)

    def _check(
        self, db: Database, device: int, folder: Path, runs: list[ExperimentRecord], now: float
    ) -> None:
        free = disk_space.free_bytes(folder)
        if free is None:
            return
        limit = low_limit(db, runs)
        key = f"disk_low_episode:{device}"
        active = _episode_start(db.get_setting(key))
        if free < limit and active is None:
            names = ", ".join(record.name for record in runs) or "no run yet"
            # The episode is named by when it began: a lost or damaged setting starts a
            # new one (one message too many) and never reuses a key already told.
            start = f"{now:.0f}"
            record_event(
                db,
                EventKind.DISK_LOW,
                f"disk:{device}:{start}",
                f"Disk low: {human_bytes(free)} free under {folder}",
                f"Runs writing there: {names}. Below {human_bytes(limit)} a checkpoint may not "
                "fit. Free some space, or keep fewer periodic checkpoints "
                "(ravelab checkpoints ID --keep N).",
            )
            logger.warning("disk low: %s free under %s", human_bytes(free), folder)
            db.set_setting(key, f"active:{start}")
        elif active is not None and free > limit * _RECOVERED:
            db.set_setting(key, None)

    def busy(self, context: WardenContext) -> bool:
        return False


def _device(folder: Path) -> int | None:
    """The device of ``folder`` or, while it does not exist yet, of its nearest parent."""
    for candidate in (folder, *folder.parents):
        try:
            return os.stat(candidate).st_dev
        except OSError:
            continue
    return None


def _episode_start(stored: str | None) -> str | None:
    """When the going episode of low space began, from the stored ``active:<time>``;
    None when none is going."""
    state, _, start = (stored or "").partition(":")
    return start if state == "active" and start.isascii() and start.isdigit() else None
