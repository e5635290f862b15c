"""The warden's GPU duty: while local runs train on a GPU, store that GPU's readings as
metric points of the run, so a run's GPU history sits next to its losses.

Every ``gpu_sample_seconds`` (a setting, default 15 s) the duty reads the GPUs once
(``gpu_monitor.read_gpus``, which never hangs) and, for each live run of this machine whose
config names a GPU (``gpu`` >= 0), stores at the run's current step (its progress):

* ``gpu/utilization`` (%), ``gpu/memory_used_mib``, ``gpu/temperature_c``, ``gpu/power_w``
  of the run's GPU as a whole (other users' work included);
* ``gpu/run_memory_mib``: the memory held by the run's own processes, its trainer and the
  children it started. They are found as the executor finds them: by the run marker in
  their environment (``RUN_MARKER_ENV``), looked up only for the pids NVML reports on the
  GPU (so the duty reads a handful of environments, not every process's).

Points go through the ordinary metric path (``db.experiments.insert_points``): one point per
metric and step, so a step that does not move (a validation epoch, a stall) keeps its
first sample and nothing is ever stored twice. A value the GPU does not report is skipped.
The names all start with ``gpu/``: the "GPU" panel of the plots holds them
(``metric_groups.GPU``), and nothing that reads training metrics by name (validation,
losses) ever sees them.

The duty never keeps the warden alive (``busy`` is False): it samples runs the warden
follows anyway. On a machine without a GPU it logs the reason once and stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from ravelab.core.errors import ConfigError
from ravelab.core.names import shown
from ravelab.core.numbers import is_ascii_integer
from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.gpu_monitor import GpuReading, GpuState, NoGpu, read_gpus
from ravelab.core.runs.process_identity import HOST
from ravelab.core.runs.run_files import RUN_MARKER_ENV, marker_value
from ravelab.db import Database, ExperimentRecord
from ravelab.db import experiments as rows

logger = logging.getLogger(__name__)

#: The setting that holds the seconds between two samples.
INTERVAL_SETTING = "gpu_sample_seconds"
DEFAULT_INTERVAL_S = 15.0
#: The bounds a stored interval is held to (a typo must not sample every millisecond).
MIN_INTERVAL_S, MAX_INTERVAL_S = 1.0, 3600.0

UTILIZATION = "gpu/utilization"
MEMORY_USED = "gpu/memory_used_mib"
TEMPERATURE = "gpu/temperature_c"
POWER = "gpu/power_w"
RUN_MEMORY = "gpu/run_memory_mib"
#: Every series the duty stores, in the order the plots list them.
SERIES = (UTILIZATION, MEMORY_USED, RUN_MEMORY, TEMPERATURE, POWER)


def sample_interval(db: Database) -> float:
    """The ``gpu_sample_seconds`` setting, within bounds; the default when unset or bad."""
    raw = db.get_setting(INTERVAL_SETTING)
    if raw is None or not raw.strip():
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; using 15", INTERVAL_SETTING, raw)
        return DEFAULT_INTERVAL_S
    if value != value:  # NaN
        return DEFAULT_INTERVAL_S
    return min(max(value, MIN_INTERVAL_S), MAX_INTERVAL_S)


def check_interval(text: str) -> str:
    """A ``gpu_sample_seconds`` value to store, as typed; ``ConfigError`` naming the value
    when it is not a number of seconds from 1 to 3600."""
    try:
        value = float(text) if text.strip().isascii() else -1.0
    except ValueError:
        value = -1.0
    if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise ConfigError(
            f"{INTERVAL_SETTING} {shown(text)} must be a number of seconds from 1 to 3600"
        )
    return text.strip()


def run_gpu(record: ExperimentRecord) -> int | None:
    """The GPU index a run's config names, None for the CPU or anything unreadable (the
    config is the run's own JSON: an untrusted value)."""
    value = record.config.get("gpu")
    if isinstance(value, str) and is_ascii_integer(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value < 1024 else None


def sampled_runs(db: Database) -> list[tuple[ExperimentRecord, int]]:
    """The live runs of this machine that train on a GPU, each with its GPU index."""
    found = []
    for record in rows.unended_experiments(db):
        if record.executor != "local" or record.pid is None or record.host not in (None, HOST):
            continue
        gpu = run_gpu(record)
        if gpu is not None and record.run_dir:
            found.append((record, gpu))
    return found


def run_pids_on(reading: GpuReading, run_dir: str) -> set[int]:
    """The pids among the GPU's compute processes that belong to the run (its marker in
    their environment). A process gone meanwhile or another user's is not the run's."""
    marker = marker_value(Path(run_dir))
    pids = set()
    for process in reading.processes:
        try:
            if psutil.Process(process.pid).environ().get(RUN_MARKER_ENV) == marker:
                pids.add(process.pid)
        except (psutil.Error, OSError):
            continue
    return pids


def sample_points(
    reading: GpuReading, run_dir: str, step: int, wall: float
) -> list[tuple[str, int, float, float]]:
    """The points one reading gives a run: (name, step, value, wall time)."""
    values = {
        UTILIZATION: reading.utilization_pct,
        MEMORY_USED: reading.memory_used_mib,
        TEMPERATURE: reading.temperature_c,
        POWER: reading.power_w,
        RUN_MEMORY: reading.process_memory_mib(run_pids_on(reading, run_dir)),
    }
    return [(name, step, value, wall) for name, value in values.items() if value is not None]


class GpuDuty:
    """Samples the GPUs of live local runs into their metric series (see the module)."""

    name = "gpu"

    def __init__(self, reader: Callable[[], GpuState] = read_gpus) -> None:
        self.interval_s = DEFAULT_INTERVAL_S
        self._reader = reader
        self._said: str | None = None

    def tick(self, context: WardenContext) -> None:
        # Read each time: a changed setting applies from the next sample on.
        self.interval_s = sample_interval(context.db)
        runs = sampled_runs(context.db)
        if not runs:
            return
        state = self._reader()
        if isinstance(state, NoGpu):
            if state.reason != self._said:  # once per reason, not every 15 s for days
                logger.warning("no GPU readings for the runs on a GPU: %s", state.reason)
                self._said = state.reason
            return
        self._said = None
        self._store(context.db, runs, state.gpus, state.taken_at)

    def _store(
        self,
        db: Database,
        runs: Iterable[tuple[ExperimentRecord, int]],
        gpus: tuple[GpuReading, ...],
        wall: float,
    ) -> None:
        by_index = {gpu.index: gpu for gpu in gpus}
        for record, index in runs:
            if record.run_dir is None:
                continue
            # The GPU the run's own processes are on, where NVML shows them: CUDA's
            # numbering (--gpu) can differ from NVML's (CUDA_VISIBLE_DEVICES, or CUDA's
            # fastest-first order); else the GPU of its --gpu.
            on = [gpu for gpu in gpus if run_pids_on(gpu, record.run_dir)]
            reading = on[0] if len(on) == 1 else by_index.get(index)
            if reading is None:
                continue  # a GPU this machine does not have: the run fails on its own
            points = sample_points(reading, record.run_dir, record.progress.step, wall)
            rows.insert_points(db, record.id, points)

    def busy(self, context: WardenContext) -> bool:
        return False
