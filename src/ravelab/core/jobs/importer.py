"""``import_run``: bring a run trained outside ravelab (plain ``rave train``) into the DB.

The experiment is made from the run folder's ``config.gin`` and its TensorBoard events:
every scalar, validation clip and text summary, and the checkpoints (their steps
estimated from the event wall times, since a checkpoint file does not say its step).
The import is one transaction: it adds the whole run or nothing. Values out of range in
the event files are skipped (see ``ravelab.core.tensorboard.events``), and a file that
cannot be read is named in the run's health.
"""

from __future__ import annotations

import bisect
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.names import check_name
from ravelab.core.projects import require_project
from ravelab.core.rave.gin_config import read_gin
from ravelab.core.rave.training_config import N_SIGNAL_RANGE
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from ravelab.db.vocabulary import RunStatus

_RUN_FOLDER = re.compile(r"^(?P<name>.+)_(?P<hash>[0-9a-f]{10})$")


def find_run_folder(path: Path) -> Path:
    """The ``<name>_<hash>`` folder (holding ``config.gin``) at or right below ``path``.

    Raises:
        NotFoundError: no run there.
        ConfigError: several runs there (the user must pick one).
    """
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise NotFoundError(f"run folder {str(path)!r} does not exist")
    if (path / "config.gin").is_file():
        return path
    candidates = sorted(p.parent for p in path.glob("*/config.gin"))
    if not candidates:
        raise NotFoundError(
            f"{str(path)!r} holds no RAVE run: expected a <name>_<hash> folder with "
            "config.gin (what `rave train` writes in --out_path)"
        )
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise ConfigError(f"{str(path)!r} holds several runs ({names}): import one of them")
    return candidates[0]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def import_run(
    db: Database,
    path: str | Path,
    *,
    name: str | None = None,
    dataset_id: int | None = None,
    project_id: int = 1,
    n_signal: int | None = None,
) -> int:
    """Create an experiment from an existing RAVE run folder; return its id.

    ``n_signal`` is the ``--n_signal`` the run was trained with, when the user knows it:
    RAVE keeps it nowhere in the run folder, and it is what splits the validation clips.

    Raises:
        NotFoundError, ConfigError: with what to do.
    """
    require_project(db, project_id)
    folder = find_run_folder(Path(path))
    match = _RUN_FOLDER.match(folder.name)
    name = check_name(name or (match.group("name") if match else folder.name), "run name")
    if rows.find_experiment_by_name(db, name) is not None:
        raise ConfigError(f"a run named {name!r} exists already: pass --name to choose another")
    gin = read_gin(folder / "config.gin")
    phase_1 = gin.phase_1_duration
    config = {
        "name": name,
        "config": str(folder / "config.gin"),
        "modifiers": [],
        "overrides": [f"PHASE_1_DURATION={phase_1}"] if phase_1 is not None else [],
        "max_steps": None,
        "channels": gin.n_channels,
        "imported_from": str(folder),
    }
    if n_signal is not None:
        low, high = N_SIGNAL_RANGE
        if not low <= n_signal <= high:
            raise ConfigError(f"--n-signal {n_signal} is out of range: RAVE takes {low} to {high}")
        config["n_signal"] = n_signal
    # All or nothing: the row, its points, clips, texts and checkpoints are one
    # transaction, so a failure (a full disk, an unreadable file) leaves no half-imported run.
    with db.atomic():
        # Checked inside the write transaction (BEGIN IMMEDIATE), so two imports of one
        # folder at once cannot both pass it.
        existing = rows.find_by_run_dir(db, str(folder))
        if existing is not None:
            raise ConfigError(f"{str(folder)!r} is imported already as experiment {existing}")
        experiment_id = rows.insert_experiment(
            db,
            name=name,
            project_id=project_id,
            dataset_id=dataset_id,
            config=config,
            status=RunStatus.COMPLETED,
        )
        rows.update_fields(
            db,
            experiment_id,
            run_dir=str(folder),
            ended_at=rows.utc_now(),
            reason=f"imported from {folder} (trained outside ravelab)",
        )
        process = TrainingProcess(config, db=db, experiment_id=experiment_id, run_dir=folder)
        process.ingest()
        _estimate_checkpoint_steps(db, experiment_id)
        # Not "lr": ravelab computes RAVE's schedule and stamps it with the time of reading
        # (the import's), which would stretch the run to now.
        times, _steps = _logged_times(db, experiment_id, skip=("lr",))
        if times:
            # Wall times were range-checked when read: each is a date.
            rows.update_fields(
                db, experiment_id, started_at=_iso(times[0]), completed_at=_iso(times[-1])
            )
    return experiment_id


def _logged_times(
    db: Database, experiment_id: int, skip: tuple[str, ...] = ()
) -> tuple[list[float], list[int]]:
    """The wall time and step of every stored point (but those of ``skip``), by wall time."""
    columns = [
        rows.metric_columns(db, experiment_id, name)
        for name in rows.metric_names(db, experiment_id)
        if name not in skip
    ]
    if not columns:
        return [], []
    walls = np.concatenate([c.walls for c in columns])
    steps = np.concatenate([c.steps for c in columns])
    order = np.argsort(walls, kind="stable")
    return walls[order].tolist(), steps[order].tolist()


def _estimate_checkpoint_steps(db: Database, experiment_id: int) -> None:
    """A checkpoint's step = the last logged step at or before its modification time."""
    times, steps = _logged_times(db, experiment_id, skip=("lr",))
    if not times:
        return
    updated = []
    for checkpoint in artifacts.list_checkpoints(db, experiment_id):
        index = bisect.bisect_right(times, checkpoint.modified_at + 1.0) - 1
        step = max(steps[: index + 1]) + 1 if index >= 0 else 0
        updated.append(
            artifacts.CheckpointRecord(
                checkpoint.path, step, checkpoint.size_bytes, checkpoint.modified_at
            )
        )
    artifacts.replace_checkpoints(db, experiment_id, updated)
