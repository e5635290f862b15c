"""Driving the fake NVML (tests/fake_nvml/pynvml.py) from a test: write its GPUs, put it
first on the import path of this process and of the processes a test starts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FAKE_DIR = Path(__file__).parent / "fake_nvml"
ENV = "RAVELAB_FAKE_NVML"


def gpu(
    name: str = "NVIDIA GeForce RTX 4090",
    utilization: float = 0,
    used: float = 500,
    total: float = 24564,
    temperature: float = 35,
    power: float = 30.0,
    processes: list[dict[str, Any]] | None = None,
    fail: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One fake GPU as the JSON file holds it."""
    return {
        "name": name,
        "utilization": utilization,
        "memory_used_mib": used,
        "memory_total_mib": total,
        "temperature_c": temperature,
        "power_w": power,
        "processes": processes or [],
        "fail": fail or {},
    }


class FakeNvml:
    """The fake's JSON file; ``set`` rewrites it (atomically: a reader never sees half)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, gpus: list[dict[str, Any]] | None = None, **state: Any) -> None:
        data = {"gpus": gpus or [], **state}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """No file: the fake answers as a machine without the NVIDIA driver."""
        self.path.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should import the fake."""
        paths = [str(FAKE_DIR), os.environ.get("PYTHONPATH", "")]
        return {ENV: str(self.path), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@pytest.fixture
def fake_nvml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNvml]:
    """The fake NVML in this process (and, through the environment, in its children),
    with no GPU until the test sets some; gpu_monitor starts from scratch."""
    from ravelab.core.operations import gpu_monitor

    fake = FakeNvml(tmp_path / "nvml.json")
    fake.set([])
    monkeypatch.setenv(ENV, str(fake.path))
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    monkeypatch.setenv("PYTHONPATH", fake.env()["PYTHONPATH"])
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(gpu_monitor, "_NVML", gpu_monitor._Nvml())
    monkeypatch.setattr(gpu_monitor, "_pending", None)
    yield fake
    sys.modules.pop("pynvml", None)
