"""A RAVE run with random weights, registered as a finished experiment: what both the
real-render e2e tests and bench/bench_render.py start from (with tests.helpers.write_tone).

``make_random_run`` runs bench/make_fake_rave_run.py in RAVE's own environment (it needs
the ``rave`` of a real one); nothing is trained, so the sound is meaningless but shapes,
lengths and speed are those of a trained model of the same config.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ravelab.core.rave.env_scripts import rave_python
from ravelab.db import Database, ExperimentRecord, RunStatus
from ravelab.db import experiments as experiment_rows

MAKE_RUN = Path(__file__).resolve().parents[2] / "bench" / "make_fake_rave_run.py"


def make_random_run(
    rave: str, folder: Path, config: str = "v2_small", timeout: float | None = None
) -> None:
    """Write ``folder/config.gin`` and ``folder/version_0/checkpoints/best.ckpt``.

    Raises:
        RuntimeError: the script failed (the message ends with its stderr).
    """
    done = subprocess.run(
        [*rave_python(rave), str(MAKE_RUN), str(folder), "--config", config],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{MAKE_RUN.name} exited with {done.returncode}: {done.stderr[-2000:]}")


def completed_experiment(db: Database, run_dir: Path) -> ExperimentRecord:
    """A completed mono experiment named "random" whose run folder is ``run_dir``."""
    experiment_id = experiment_rows.insert_experiment(
        db,
        name="random",
        project_id=1,
        dataset_id=None,
        config={"channels": 1},
        status=RunStatus.COMPLETED,
    )
    experiment_rows.update_fields(db, experiment_id, run_dir=str(run_dir))
    record = experiment_rows.get_experiment(db, experiment_id)
    assert record is not None
    return record
