"""The queue per device: runs that wait for their GPU (or the CPU) and start on their own.

A queued run is a row with status ``queued``, its validated config stored, no run folder
and no process, plus a ``run_queue`` row (see ``ravelab.db.run_queue``). Its device comes
from the config's ``gpu``: ``cuda:N``, or ``cpu`` for -1. ``start_next`` starts the head of
each free device's queue through one claim transaction, so two claimers (the warden, a
command, an app) never start two runs on one device. The warden's ``QueueDuty`` calls it
every second, so the queue goes on with no app or command open, and after a reboot (any
ravelab command starts the warden again when it finds queued rows).

A run may chain an export (``then_export``: ``best`` or ``latest``): once it completes,
``start_chained_exports`` starts ``rave export`` for it through ``JobManager.export_model``,
once: the export is taken in the same transaction that records the job.

SLURM runs wait in SLURM's own queue: queueing one here is refused (``ConfigError``), as
the cluster, not this machine, decides when it starts.

Test-only fault hook: ``RAVELAB_FAULT_QUEUE=after-claim`` with
``RAVELAB_FAULT_QUEUE_GATE=PATH`` pauses ``start_next`` right after a claim committed and
before the run is started (after touching ``PATH.reached``), until ``PATH`` exists, so a
test can kill the claimer exactly there. Nothing else reads these variables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ravelab.core import datasets as core_datasets
from ravelab.core.errors import ConfigError, NotFoundError, RavelabError
from ravelab.core.operations.checkpoint_retention import (
    check_retention_choice,
    store_retention_choice,
)
from ravelab.core.operations.events import EventKind, record_event
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.training_config import validate_training_config
from ravelab.core.runs.launch_owner import this_launcher
from ravelab.core.runs.manager_launch import check_then_export
from ravelab.core.runs.run_files import fault_point
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db import run_queue as queue_rows
from ravelab.db.experiments import DuplicateNameError
from ravelab.db.vocabulary import RunStatus

if TYPE_CHECKING:
    from ravelab.core.operations.duties import WardenContext
    from ravelab.core.runs.training_manager import TrainingManager

logger = logging.getLogger(__name__)

FAULT_ENV = "RAVELAB_FAULT_QUEUE"
QUEUE_KEY = queue_rows.QUEUE_KEY


def device_of(gpu: int) -> str:
    """The device a config's ``gpu`` names: ``cpu`` for a negative index, else ``cuda:N``."""
    return "cpu" if gpu < 0 else f"cuda:{gpu}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


@dataclass(frozen=True)
class QueueEntry:
    """A queued run as the front ends show it.

    Attributes:
        rank: its 1-based place in its device's queue.
        waits_for: what it waits for, in words (the run holding the device, or the
            runs ahead of it).
    """

    experiment_id: int
    name: str
    device: str
    rank: int
    queued_at: str
    then_export: str | None
    waits_for: str

    @property
    def label(self) -> str:
        """``queued (2nd on cuda:0)``."""
        return f"queued ({queue_rows.place_text(self.rank, self.device)})"

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "label": self.label}


def queue_training(
    manager: TrainingManager,
    config: Mapping[str, Any],
    *,
    then_export: str | None = None,
    start_if_free: bool = True,
    keep_periodic: int | str | None = None,
) -> int:
    """Validate ``config`` and queue the run on its device; the experiment id.
    ``keep_periodic`` as for ``TrainingManager.start_training``.

    With ``start_if_free`` a free device starts it at once (through the same claim as
    the warden's, so it may also start an earlier queued run first and wait).

    Raises:
        ConfigError: a bad value, or a SLURM run (SLURM has its own queue); nothing is
            created.
    """
    db = manager.db
    spec = validate_training_config(config, db)
    retention = check_retention_choice(keep_periodic)
    if spec.executor != "local":
        raise ConfigError(
            f"a {spec.executor} run waits in {spec.executor}'s own queue: start it without "
            "--queue (it is submitted at once)"
        )
    device = device_of(spec.gpu)
    # Found now (a missing rave is said at once) and kept, with the runs folder, so the
    # warden starts the run with what this caller would have used (its --rave, its
    # runs folder), whatever its own environment says.
    rave = find_rave(manager.rave, db)
    runs_dir = str(manager._runs_dir_for(spec))
    stored = spec.as_config()
    if then_export is not None:
        stored["then_export"] = check_then_export(then_export)
    try:
        with db.atomic():
            if spec.dataset_id < 0:
                record = core_datasets.register_dataset(
                    db, spec.dataset_path, project_id=spec.project_id
                )
                stored["dataset_id"] = record.id
            stored[QUEUE_KEY] = {
                "device": device,
                "queued_at": rows.utc_now(),
                "then_export": stored.get("then_export"),
                "rave": rave,
                "runs_dir": runs_dir,
            }
            experiment_id = rows.insert_experiment(
                db,
                name=spec.name,
                project_id=spec.project_id,
                dataset_id=int(stored["dataset_id"]),
                config=stored,
                status=RunStatus.QUEUED,
            )
            store_retention_choice(db, experiment_id, retention)
            queue_rows.enqueue(db, experiment_id, device, stored.get("then_export"))
    except DuplicateNameError as error:
        raise ConfigError(str(error)) from None
    logger.info("queued run %s (%s) on %s", experiment_id, spec.name, device)
    if start_if_free:
        start_next(manager, device, quiet=experiment_id)
    manager.ensure_warden()
    return experiment_id


def list_queue(db: Database) -> list[QueueEntry]:
    """Every queued run, by device then place, with what each waits for."""
    entries = []
    rank = 0
    previous: queue_rows.QueuedRow | None = None
    holders: dict[str, tuple[int, str] | None] = {}
    for row in queue_rows.list_queue(db):
        rank = rank + 1 if previous is not None and previous.device == row.device else 1
        if row.device not in holders:
            holders[row.device] = queue_rows.device_holder(db, row.device)
        holder = holders[row.device]
        if rank > 1 and previous is not None:
            waits = f"run {previous.experiment_id} '{previous.name}' (ahead in the queue)"
        elif holder is not None:
            waits = f"run {holder[0]} '{holder[1]}' to end"
        else:
            waits = "nothing: it starts within seconds"
        entries.append(
            QueueEntry(
                row.experiment_id,
                row.name,
                row.device,
                rank,
                row.queued_at,
                row.then_export,
                waits,
            )
        )
        previous = row
    return entries


def device_summary(db: Database, gpu: int) -> str:
    """What "Add to queue" would do on the device ``gpu`` names, in one sentence."""
    device = device_of(gpu)
    holder = queue_rows.device_holder(db, device)
    waiting = len(queue_rows.list_queue(db, device))
    if holder is None and waiting == 0:
        return f"{device} is free: a queued run starts at once."
    busy = f"run {holder[0]} '{holder[1]}' uses {device}" if holder else f"{device} is free"
    ahead = f", {waiting} queued before it" if waiting else ""
    place = queue_rows.place_text(waiting + 1, device)
    return f"{busy}{ahead}: added to the queue, this run would be {place}."


def queue_positions(db: Database) -> dict[int, QueueEntry]:
    """Each queued run's entry, by experiment id (for ``list`` and the app)."""
    return {entry.experiment_id: entry for entry in list_queue(db)}


def move(db: Database, experiment_id: int, position: int) -> QueueEntry:
    """Move a queued run to ``position`` (1 = next to start) in its device's queue; its
    entry afterwards.

    Raises:
        ConfigError: a position below 1.
        NotFoundError: the run is not queued (it started meanwhile, or is unknown).
    """
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise ConfigError(f"position must be 1 or more (1 = next to start), not {position!r}")
    if not queue_rows.move(db, experiment_id, position):
        raise NotFoundError(_not_queued(db, experiment_id))
    return queue_positions(db)[experiment_id]


def remove(db: Database, experiment_id: int) -> None:
    """Take a queued run out of the queue: its row is deleted (it never started, so it
    has no folder or points).

    Raises:
        NotFoundError: the run is not queued (it started meanwhile, or is unknown).
    """
    if not queue_rows.remove(db, experiment_id):
        raise NotFoundError(_not_queued(db, experiment_id))


def _not_queued(db: Database, experiment_id: int) -> str:
    record = rows.get_experiment(db, experiment_id)
    if record is None:
        return f"experiment {experiment_id} not found"
    return (
        f"run {experiment_id} '{record.name}' is not queued (it is {record.status}): "
        "`ravelab queue` lists the queued runs"
    )


def start_next(
    manager: TrainingManager, device: str | None = None, *, quiet: int | None = None
) -> list[int]:
    """Start the head of each free device's queue (or of ``device``'s only); the ids
    started. A head that cannot start (its dataset is gone) is failed with its reason
    and the next one is tried. Each run started is an event (``queue_started``) but
    ``quiet``: a run queued on a free device that starts at once never waited."""
    db = manager.db
    started: list[int] = []
    for name in [device] if device is not None else queue_rows.devices(db):
        while True:
            queue_rows.settle_withdrawn(db, name)
            claimed = queue_rows.claim_head(db, name, this_launcher())
            if claimed is None:
                break
            fault_point(FAULT_ENV, "after-claim")
            try:
                ok = manager.start_claimed(claimed)
            except BaseException:
                _put_back_if_untouched(db, claimed)
                raise
            if not ok:
                continue  # failed with its reason: the next one may start
            started.append(claimed)
            if claimed == quiet:
                break
            record = rows.get_experiment(db, claimed)
            label = record.name if record is not None else str(claimed)
            record_event(
                db,
                EventKind.QUEUE_STARTED,
                f"run:{claimed}",
                f"Queued run '{label}' started on {name}",
                experiment_id=claimed,
            )
            break
    return started


def _put_back_if_untouched(db: Database, experiment_id: int) -> None:
    """A start that raised before making anything (no folder, no process): the run goes
    back to the head of its queue rather than wait, claimed, for this process to end.
    One that made its folder is left to re-attach (its process may have started)."""
    record = rows.get_experiment(db, experiment_id)
    marker = record.config.get(QUEUE_KEY) if record is not None else None
    if record is None or record.run_dir is not None or not isinstance(marker, dict):
        return
    try:
        queue_rows.requeue(db, experiment_id, rows.launch_owner(db, experiment_id), marker)
    except Exception:  # the caller's error is the one to report
        logger.exception("run %s could not be put back in the queue", experiment_id)


def start_chained_exports(manager: TrainingManager) -> list[int]:
    """Start the chained export of every completed run that asked for one and has none
    yet; the job ids. Each is taken in the transaction that records its job, so two
    processes doing this at once never export one run twice."""
    db = manager.db
    jobs = []
    for experiment_id in queue_rows.pending_then_exports(db):
        with db.atomic():
            checkpoint = queue_rows.claim_then_export(db, experiment_id)
            if checkpoint is None:
                continue  # taken by another process meanwhile
            try:
                job_id = manager.jobs.export_model(experiment_id, checkpoint=checkpoint)
            except RavelabError as error:
                logger.warning(
                    "run %s: its chained export could not start: %s", experiment_id, error
                )
                queue_rows.record_then_export(db, experiment_id, -1, str(error))
                continue
            queue_rows.record_then_export(db, experiment_id, job_id, None)
        jobs.append(job_id)
        logger.info("run %s completed: export job %s started", experiment_id, job_id)
    return jobs


class QueueDuty:
    """The warden's queue duty: start the next run of each free device, and the chained
    exports of runs that completed."""

    name = "queue"
    interval_s = 1.0

    def tick(self, context: WardenContext) -> None:
        context.manager.recover_abandoned_claims()
        start_next(context.manager)
        start_chained_exports(context.manager)

    def busy(self, context: WardenContext) -> bool:
        db = context.db
        return bool(
            queue_rows.devices(db)
            or queue_rows.pending_then_exports(db)
            or queue_rows.chained_export_running(db)
        )
