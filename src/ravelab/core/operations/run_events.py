"""RunEventsDuty: the warden's detector of run events, derived from the database alone.

Every two seconds it reads what the followers wrote and records (``record_event``, once
per key, so two detectors on two connections tell nobody twice):

- ``completed`` / ``failed`` (with the run's reason) when a run's attempt ended, keyed by
  run and attempt (a resumed run that fails again is news again);
- ``nonfinite`` when a live run's health is ``broken``, once per attempt;
- ``stalled`` once per stall episode (keyed by the step it stalled at);
- ``phase2`` once per run, when its progress says RAVE's adversarial phase started;
- ``best_validation`` when the ``validation`` scalar (RAVE's monitored metric, lower is
  better, logged at every validation) reaches a new minimum, never for the first
  validation, at most one per run per :data:`BEST_VALIDATION_EVERY_S`;
- ``export_finished`` when an export job completed.

Only what changed after the ``events_since`` setting is news: runs that ended, and points
written, before it are history. Queue-started and disk-low events are recorded by the
queue and disk duties themselves.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.events import EventKind, record_event
from ravelab.db import Database, RunProgress, point_blocks
from ravelab.db import event_sources as sources

logger = logging.getLogger(__name__)

#: The setting before which runs are history (written by the schema's migration).
SINCE_SETTING = "events_since"
#: RAVE's validation loss, the metric ``best.ckpt`` monitors (mode min).
VALIDATION_METRIC = "validation"
#: At most one ``best_validation`` event per run in this many seconds.
BEST_VALIDATION_EVERY_S = 30 * 60.0
#: Ended runs stay in view this long, for points read as they were settled.
_RECENT_S = 10 * 60.0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _seconds(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def events_since(db: Database) -> str:
    """The ``events_since`` setting as stored (an ISO 8601 UTC string); a missing or
    unreadable one reads as now (nothing older is news)."""
    stored = db.get_setting(SINCE_SETTING)
    seconds = None if stored is None else _seconds(stored)
    if seconds is None:
        now = _iso(datetime.now(UTC).timestamp())
        db.set_setting(SINCE_SETTING, now)
        return now
    # Compared as text with the times ravelab stores: any other ISO form (another zone,
    # no dashes, a space) is put in that form first, or the comparison would be wrong.
    return _iso(seconds)


@dataclass
class _Validation:
    """What the detector knows of one run's validation series."""

    last_step: int  # the newest step examined
    best: float | None  # the lowest value so far (None: no validation yet)


class RunEventsDuty:
    """Records run and export events from the database (see the module)."""

    name = "run-events"
    interval_s = 2.0

    def __init__(self) -> None:
        self._validations: dict[int, _Validation] = {}

    def busy(self, context: WardenContext) -> bool:
        # Live runs keep the warden alive on their own; a run that ended (or an export
        # that finished) with its event not yet recorded keeps it until the next tick.
        since = events_since(context.db)
        return bool(
            sources.ended_runs(context.db, since) or sources.finished_exports(context.db, since)
        )

    def tick(self, context: WardenContext) -> None:
        db, now = context.db, context.now
        since = events_since(db)
        since_s = _seconds(since) or 0.0
        for run in sources.ended_runs(db, since):
            self._ended(db, run)
        recent = max(since, _iso(now - _RECENT_S))
        seen: set[int] = set()
        for live in sources.live_runs(db, recent):
            seen.add(live.id)
            try:
                self._live(db, live, since_s, now)
            except Exception:  # one run's damaged row never hides the others' events
                logger.exception("could not read the events of run %d", live.id)
        for gone in set(self._validations) - seen:
            del self._validations[gone]
        for job in sources.finished_exports(db, since):
            target = f" of run {job.run_name!r}" if job.run_name else ""
            record_event(
                db,
                EventKind.EXPORT_FINISHED,
                f"job:{job.id}",
                f"Export{target} finished",
                f"Model: {job.model_path}" if job.model_path else "",
                experiment_id=job.experiment_id,
            )

    def _ended(self, db: Database, run: sources.EndedRun) -> None:
        kind = EventKind.COMPLETED if run.status == "completed" else EventKind.FAILED
        attempt = f" (attempt {run.attempt})" if run.attempt > 1 else ""
        body = (run.reason or "no reason recorded") if kind == EventKind.FAILED else ""
        record_event(
            db,
            kind,
            f"run:{run.id}:attempt:{run.attempt}",
            f"Run {run.name!r} {run.status}{attempt}",
            body,
            experiment_id=run.id,
        )

    def _live(self, db: Database, run: sources.LiveRun, since_s: float, now: float) -> None:
        try:
            progress = RunProgress.from_json(json.loads(run.progress))
        except (json.JSONDecodeError, TypeError):
            progress = RunProgress.from_json(None)
        changed = progress.updated_at is None or progress.updated_at >= since_s
        if not run.ended and changed:
            self._health(db, run, progress)
            if progress.phase == 2:
                record_event(
                    db,
                    EventKind.PHASE_2,
                    f"run:{run.id}",
                    f"Run {run.name!r} entered phase 2 (adversarial)",
                    f"at step {progress.step:,}",
                    experiment_id=run.id,
                )
        self._best_validation(db, run, since_s, now)

    def _health(self, db: Database, run: sources.LiveRun, progress: RunProgress) -> None:
        detail = run.health_detail or ""
        if run.health == "broken":
            record_event(
                db,
                EventKind.NONFINITE,
                f"run:{run.id}:attempt:{run.attempt}",
                f"Run {run.name!r}: a loss became NaN or infinite",
                detail,
                experiment_id=run.id,
            )
        elif run.health == "stalled":
            record_event(
                db,
                EventKind.STALLED,
                f"run:{run.id}:attempt:{run.attempt}:step:{progress.step}",
                f"Run {run.name!r} stalled at step {progress.step:,}",
                detail,
                experiment_id=run.id,
            )

    def _best_validation(
        self, db: Database, run: sources.LiveRun, since_s: float, now: float
    ) -> None:
        known = self._validations.get(run.id)
        after = None if known is None else known.last_step
        columns = point_blocks.read_columns(db, run.id, VALIDATION_METRIC, after_step=after)
        if len(columns.steps) == 0:
            return
        state = known or _Validation(last_step=-1, best=None)
        candidate: tuple[int, float, float] | None = None
        for step, value, wall in zip(
            columns.steps.tolist(), columns.values.tolist(), columns.walls.tolist(), strict=True
        ):
            if not math.isfinite(value):
                continue
            if state.best is not None and value < state.best and wall >= since_s:
                candidate = (int(step), float(value), float(wall))
            if state.best is None or value < state.best:
                state.best = float(value)
        state.last_step = int(columns.steps[-1])
        self._validations[run.id] = state
        if candidate is None:
            return
        last = _seconds(sources.last_event_time(db, EventKind.BEST_VALIDATION.value, run.id))
        if last is not None and now - last < BEST_VALIDATION_EVERY_S:
            return  # told recently: at most one per window
        step, value, _ = candidate
        wait = f"{BEST_VALIDATION_EVERY_S / 60:.0f} min"
        record_event(
            db,
            EventKind.BEST_VALIDATION,
            f"run:{run.id}:step:{step}",
            f"Run {run.name!r}: new best validation {value:.4g}",
            f"at step {step:,} (at most one such message per run every {wait})",
            experiment_id=run.id,
        )
