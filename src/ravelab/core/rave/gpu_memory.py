"""Whether a GPU suits a training: the memory RAVE asks for, and whether the GPU is busy.

RAVE's README gives the GPU memory each base config needs (v1 8 GB, v2 16 GB, v2_small
8 GB, v2_nopqmf 16 GB, v3 32 GB, discrete 18 GB, onnx 6 GB, raspberry 5 GB). A GPU sold as
"16 GB" reports less than 16 GiB to the driver (a T4: 15 360 MiB), so a GPU counts as too
small only below 90 % of the figure in GiB.

``gpu_warnings`` says, in one sentence each, what is wrong with a choice: a GPU too small
for the config, not enough memory free now, a GPU already busy (high utilisation, or a
live ravelab run on it). These are warnings, never a refusal: the user may know better
(a smaller batch, a run about to end). The wizard shows them under its GPU choice and
``ravelab train`` prints them on stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ravelab.core.operations.gpu_monitor import GpuReading, GpuState, NoGpu, read_gpus

if TYPE_CHECKING:
    from ravelab.db import Database

#: GPU memory (GB) RAVE's README gives per base config.
README_GB = {
    "v1": 8,
    "v2": 16,
    "v2_small": 8,
    "v2_nopqmf": 16,
    "v3": 32,
    "discrete": 18,
    "onnx": 6,
    "raspberry": 5,
}
#: Share of the README's figure (in GiB) below which a GPU is too small.
_TOLERANCE = 0.9
#: Utilisation (%) from which a GPU counts as busy with someone else's work.
BUSY_UTILIZATION = 50.0
#: Share of the memory in use from which a GPU counts as busy.
BUSY_MEMORY_SHARE = 0.5


def needed_mib(config: str) -> float | None:
    """The memory RAVE's README asks for ``config`` (MiB), None for a config it does not
    list (a user's own .gin, a config added later)."""
    gigabytes = README_GB.get(config.strip())
    return None if gigabytes is None else gigabytes * 1024.0


def _gb(mib: float) -> str:
    return f"{mib / 1024:.1f} GB"


def memory_warnings(config: str, reading: GpuReading) -> list[str]:
    """Whether GPU ``reading`` has the memory ``config`` needs, in all and free now."""
    need = needed_mib(config)
    total = reading.memory_total_mib
    if need is None or total is None:
        return []
    gigabytes = README_GB[config.strip()]
    if total < need * _TOLERANCE:
        return [
            f"GPU {reading.index} ({reading.name}) has {_gb(total)}; RAVE's README asks "
            f"{gigabytes} GB for {config}: training may run out of memory (try a smaller "
            "--batch-size or config)"
        ]
    used = reading.memory_used_mib
    if used is not None and total - used < need * _TOLERANCE:
        return [
            f"GPU {reading.index} has {_gb(total - used)} free of {_gb(total)} now; "
            f"{config} wants about {gigabytes} GB"
        ]
    return []


def busy_warnings(reading: GpuReading, runs: list[tuple[int, str]]) -> list[str]:
    """Whether GPU ``reading`` is busy: live ravelab runs on it (id, name), or high
    utilisation or memory use."""
    found = []
    if runs:
        names = ", ".join(f"{name!r} ({run_id})" for run_id, name in runs)
        found.append(f"GPU {reading.index} is busy: ravelab run {names} trains on it")
    if reading.utilization_pct is not None and reading.utilization_pct >= BUSY_UTILIZATION:
        found.append(f"GPU {reading.index} is at {reading.utilization_pct:.0f}% utilisation now")
    used, total = reading.memory_used_mib, reading.memory_total_mib
    if used is not None and total and used / total >= BUSY_MEMORY_SHARE:
        found.append(f"GPU {reading.index} has {_gb(used)} of {_gb(total)} in use already")
    return found


def gpu_warnings(
    config: str,
    gpu: int,
    runs: list[tuple[int, str]] | None = None,
    state: GpuState | None = None,
) -> list[str]:
    """Every warning about training ``config`` on GPU ``gpu`` (-1, the CPU: none), with
    ``runs`` the live ravelab runs on that GPU; ``state`` is read now when not given.
    Never raises; a GPU that cannot be read gives no warning (the run will say)."""
    if gpu < 0:
        return []
    state = read_gpus() if state is None else state
    if isinstance(state, NoGpu):
        return []
    reading = state.gpu(gpu)
    if reading is None:
        return [f"there is no GPU {gpu} on this machine ({len(state.gpus)} found)"]
    memory = memory_warnings(config, reading)
    busy = busy_warnings(reading, runs or [])
    if memory:  # "x GB free" already says the memory is in use
        busy = [line for line in busy if "in use already" not in line]
    return busy + memory


def choice_warnings(
    db: Database, config: str, gpu: int, exclude_id: int | None = None
) -> list[str]:
    """The warnings about training ``config`` on GPU ``gpu`` of this machine now, the
    live local ravelab runs on that GPU (but ``exclude_id``) counted as busy. The wizard
    shows them where the GPU is chosen."""
    from ravelab.core.operations.gpu_sampling import sampled_runs

    if gpu < 0:
        return []
    others = [
        (record.id, record.name)
        for record, index in sampled_runs(db)
        if index == gpu and record.id != exclude_id
    ]
    return gpu_warnings(config, gpu, others)


def training_warnings(db: Database, experiment_id: int) -> list[str]:
    """The warnings about a local run's GPU as it was started (its stored config), the
    other live runs on that GPU counted as busy. ``ravelab train`` prints them."""
    from ravelab.core.operations.gpu_sampling import run_gpu
    from ravelab.db import experiments as rows

    record = rows.get_experiment(db, experiment_id)
    if record is None or record.executor != "local":
        return []
    gpu = run_gpu(record)
    config = record.config.get("config")
    if gpu is None or not isinstance(config, str):
        return []
    return choice_warnings(db, config, gpu, exclude_id=experiment_id)
