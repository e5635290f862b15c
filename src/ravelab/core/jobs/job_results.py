"""What a finished job left behind, checked: RAVE's preprocess and export both exit 0
when they wrote nothing.

``finish_preprocess`` reads the dataset's ``metadata.yaml`` (the dataset becomes ready,
or failed with the reason); ``finish_export`` looks for the model file and records it;
``check_exported`` runs the export check of that model (with the Python of the ``rave``
that exported it) and records its result with the model; ``finish_export_and_check``
does both before the export's job ends.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ravelab.core.datasets import read_dataset_folder
from ravelab.core.errors import DatasetError, RavelabError
from ravelab.core.runs.run_outcome import Outcome
from ravelab.db import Database, JobRecord
from ravelab.db import datasets as dataset_rows
from ravelab.db import jobs as job_rows
from ravelab.db.vocabulary import DatasetStatus, RunStatus

# The job manager's logger: these checks ran there, and their messages keep its name.
logger = logging.getLogger("ravelab.core.jobs.job_manager")


def finish_preprocess(db: Database, job: JobRecord, outcome: Outcome) -> Outcome:
    """RAVE's preprocess exits 0 even when it wrote nothing: check metadata.yaml."""
    if job.dataset_id is None:
        return outcome
    dataset = dataset_rows.get_dataset(db, job.dataset_id)
    if dataset is None:
        return outcome
    if outcome.status != RunStatus.COMPLETED:
        dataset_rows.update_dataset(
            db, dataset.id, status=DatasetStatus.FAILED, reason=outcome.reason
        )
        return outcome
    try:
        info = read_dataset_folder(dataset.path)
    except DatasetError as error:
        warning = job.progress.warning
        reason = f"rave preprocess exited 0 but wrote no usable dataset: {error}"
        if warning:
            reason += f" (RAVE said: {warning})"
        dataset_rows.update_dataset(db, dataset.id, status=DatasetStatus.FAILED, reason=reason)
        return Outcome(RunStatus.FAILED, reason, outcome.exit_code)
    dataset_rows.update_dataset(
        db,
        dataset.id,
        status=DatasetStatus.READY,
        reason=None,
        channels=info.channels,
        sample_rate=info.sample_rate,
        n_seconds=info.n_seconds,
        lazy=int(info.lazy),
    )
    return outcome


def finish_export(db: Database, job: JobRecord, outcome: Outcome) -> Outcome:
    """RAVE's export exits 0 without writing when it finds no checkpoint: check the file."""
    if outcome.status != RunStatus.COMPLETED:
        return outcome
    options: dict[str, Any] = job.options
    reported = job.progress.exported_path
    candidates = [Path(p) for p in (reported, options.get("expected_path")) if p]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        reason = "rave export exited 0 but wrote no model"
        if job.progress.last_error:
            reason += f": {job.progress.last_error}"
        return Outcome(RunStatus.FAILED, reason, outcome.exit_code)
    job_rows.insert_model(
        db,
        experiment_id=job.experiment_id,
        job_id=job.id,
        path=str(path.resolve()),
        size_bytes=path.stat().st_size,
        streaming=bool(options.get("streaming")),
        fidelity=options.get("fidelity"),
        checkpoint=options.get("checkpoint"),
        step=options.get("step"),
    )
    return outcome


def finish_export_and_check(db: Database, job: JobRecord, outcome: Outcome) -> Outcome:
    """The export's own finish, then the check of the model it wrote: the job ends once
    its model is checked (a re-attached job whose model is checked already is not
    checked again)."""
    outcome = finish_export(db, job, outcome)
    if outcome.status == RunStatus.COMPLETED:
        job_rows.update_job(db, job.id, progress={**job.progress.as_dict(), "stage": "checking"})
        check_exported(db, job.id)
    return outcome


def check_exported(db: Database, job_id: int) -> None:
    """The export check of the model a finished export job recorded, with the Python of
    the ``rave`` that exported it. Whatever happens is recorded with the model (or
    logged): the export itself stays as it ended."""
    from ravelab.core.rave.env_scripts import rave_python
    from ravelab.core.rave.model_check import run_and_record

    try:
        job = job_rows.get_job(db, job_id)
        if job is None or not job.argv:
            return
        for model in job_rows.list_models(db, job.experiment_id):
            if model.job_id != job_id or model.check_result is not None:
                continue
            try:
                python = rave_python(str(job.argv[0]))
            except RavelabError as error:
                job_rows.set_model_check(db, model.id, json.dumps({"error": str(error)}), None)
                continue
            run_and_record(db, model, python)
    except Exception:  # never let the check disturb the job's end
        logger.exception("the export check of job %s failed", job_id)


__all__ = ["check_exported", "finish_export", "finish_export_and_check", "finish_preprocess"]
