"""The NVIDIA GPUs on this machine, as ``nvidia-smi`` lists them."""

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
