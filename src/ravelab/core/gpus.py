"""The NVIDIA GPUs on this machine: NVML first (``core.operations.gpu_monitor``), else as
``nvidia-smi`` lists them.

NVML is the source the GPU gauge, ``ravelab gpus`` and the warden's sampler read, so the
wizard's list comes from the same place (same indices, same names, no subprocess). Where
NVML cannot answer (the nvidia-ml-py module missing, a binding or driver error, a hang)
``nvidia-smi``, the driver's own tool, is asked instead; where NVML says plainly that there
is no driver or no GPU, so would ``nvidia-smi``, and it is asked all the same (cheap: it is
usually not even installed then).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from ravelab.core.numbers import is_ascii_integer


@dataclass(frozen=True)
class GpuInfo:
    """One GPU."""

    index: int
    name: str
    memory_mib: int | None


def list_gpus(timeout_s: float = 10.0) -> list[GpuInfo]:
    """GPUs from NVML, else from ``nvidia-smi``; empty when there is none or no driver."""
    from ravelab.core.operations.gpu_monitor import GpuSnapshot, read_gpus

    state = read_gpus(timeout_s=min(timeout_s, 5.0))
    if isinstance(state, GpuSnapshot):
        return [
            GpuInfo(
                gpu.index,
                gpu.name,
                None if gpu.memory_total_mib is None else round(gpu.memory_total_mib),
            )
            for gpu in state.gpus
        ]
    return list_gpus_smi(timeout_s)


def list_gpus_smi(timeout_s: float = 10.0) -> list[GpuInfo]:
    """GPUs from ``nvidia-smi``; empty when there is none or no driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in done.stdout.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 2 and is_ascii_integer(parts[0]):
            memory = int(parts[2]) if len(parts) > 2 and is_ascii_integer(parts[2]) else None
            gpus.append(GpuInfo(int(parts[0]), parts[1], memory))
    return gpus
