"""NVML readings through the fake NVML: values, every "no GPU" reason, named errors, a hang."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ravelab.core.operations import gpu_monitor
from ravelab.core.operations.gpu_monitor import GpuSnapshot, NoGpu, read_gpus
from tests.nvml_double import FakeNvml, fake_nvml, gpu

__all__ = ["fake_nvml"]  # the fixture, used by name


def test_readings_of_every_gpu(fake_nvml: FakeNvml) -> None:
    fake_nvml.set(
        [
            gpu("NVIDIA A100", 97, 30000, 40960, 71, 251.5, [{"pid": 4242, "memory_mib": 29000}]),
            gpu("NVIDIA T4", 0, 300, 15360, 33, 12.25),
        ],
        driver="550.54.15",
    )
    state = read_gpus()
    assert isinstance(state, GpuSnapshot)
    assert state.driver == "550.54.15"
    first, second = state.gpus
    assert (first.index, first.name, first.utilization_pct) == (0, "NVIDIA A100", 97.0)
    assert (first.memory_used_mib, first.memory_total_mib) == (30000.0, 40960.0)
    assert (first.temperature_c, first.power_w) == (71.0, 251.5)
    assert first.processes == (gpu_monitor.GpuProcess(4242, 29000.0),)
    assert first.process_memory_mib({4242, 1}) == 29000.0
    assert first.process_memory_mib({1}) == 0.0
    assert (second.name, second.power_w, second.processes, second.problems) == (
        "NVIDIA T4",
        12.25,
        (),
        (),
    )
    assert state.gpu(1) is second and state.gpu(2) is None


def test_changes_are_seen_live(fake_nvml: FakeNvml) -> None:
    fake_nvml.set([gpu(utilization=5)])
    assert read_gpus().gpus[0].utilization_pct == 5.0  # type: ignore[union-attr]
    fake_nvml.set([gpu(utilization=88)])
    assert read_gpus().gpus[0].utilization_pct == 88.0  # type: ignore[union-attr]


def test_values_no_gpu_can_have_are_no_reading(fake_nvml: FakeNvml) -> None:
    fake_nvml.set([gpu(utilization=10**11, temperature=5000, power=10**8, used=10**12)])
    state = read_gpus()
    assert isinstance(state, GpuSnapshot)
    reading = state.gpus[0]
    assert (reading.utilization_pct, reading.temperature_c, reading.power_w) == (None,) * 3
    assert reading.memory_used_mib is None and reading.memory_total_mib == 24564.0


def test_a_reading_not_supported_is_none_and_named(fake_nvml: FakeNvml) -> None:
    fake_nvml.set([gpu(fail={"power": "NOT_SUPPORTED", "processes": "NO_PERMISSION"})])
    state = read_gpus()
    assert isinstance(state, GpuSnapshot)
    reading = state.gpus[0]
    assert reading.power_w is None and reading.processes == ()
    assert reading.utilization_pct == 0.0 and reading.temperature_c == 35.0
    assert reading.problems == (
        "power: NVMLError_NotSupported: Not Supported",
        "processes: NVMLError_NoPermission: Insufficient Permissions",
    )
    assert reading.process_memory_mib({1}) == 0.0


def test_process_memory_unknown_is_none(fake_nvml: FakeNvml) -> None:
    fake_nvml.set([gpu(processes=[{"pid": 7, "memory_mib": None}])])
    reading = read_gpus().gpus[0]  # type: ignore[union-attr]
    assert reading.processes == (gpu_monitor.GpuProcess(7, None),)
    assert reading.process_memory_mib({7}) is None


@pytest.mark.parametrize(
    ("state", "kind", "words"),
    [
        ({"init_error": "DRIVER_NOT_LOADED"}, gpu_monitor.NO_DRIVER, "driver is not loaded"),
        ({"init_error": "LIBRARY_NOT_FOUND"}, gpu_monitor.NO_LIBRARY, "libnvidia-ml"),
        ({"init_error": "NO_PERMISSION"}, gpu_monitor.NVML_ERROR, "no permission"),
        ({"init_error": "UNKNOWN"}, gpu_monitor.NVML_ERROR, "NVMLError_Unknown"),
        ({}, gpu_monitor.NO_DEVICE, "reports no GPU"),
        ({"count_error": "GPU_IS_LOST"}, gpu_monitor.NVML_ERROR, "NVMLError_GpuIsLost"),
    ],
)
def test_no_gpu_says_why(fake_nvml: FakeNvml, state: dict[str, str], kind: str, words: str) -> None:
    fake_nvml.set([gpu()] if "count_error" in state else [], **state)
    result = read_gpus()
    assert isinstance(result, NoGpu)
    assert result.kind == kind and words in result.reason


def test_no_driver_file_means_no_library(fake_nvml: FakeNvml) -> None:
    fake_nvml.remove()
    result = read_gpus()
    assert isinstance(result, NoGpu) and result.kind == gpu_monitor.NO_LIBRARY


def test_module_missing(fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    result = read_gpus()
    assert isinstance(result, NoGpu) and result.kind == gpu_monitor.NO_MODULE
    assert "nvidia-ml-py" in result.reason


def test_recovers_after_the_driver_comes_back(fake_nvml: FakeNvml) -> None:
    fake_nvml.set([gpu()], count_error="GPU_IS_LOST")
    assert isinstance(read_gpus(), NoGpu)
    fake_nvml.set([gpu(utilization=40)])
    state = read_gpus()
    assert isinstance(state, GpuSnapshot) and state.gpus[0].utilization_pct == 40.0


def test_a_hanging_nvml_is_given_up_and_blocks_nobody(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    hang = tmp_path / "hang"
    hang.touch()
    fake_nvml.set([gpu(utilization=61)], hang_while=str(hang))
    # The fake hangs until the file goes: the read is given up after its timeout.
    first = read_gpus(timeout_s=0.2)
    assert isinstance(first, NoGpu) and first.kind == gpu_monitor.NVML_TIMEOUT
    assert "did not answer within 0.2 s" in first.reason
    # The next read does not stack another hung thread: it is answered at once.
    second = read_gpus(timeout_s=60)
    assert isinstance(second, NoGpu) and "earlier read" in second.reason
    hang.unlink()
    pending = gpu_monitor._pending
    assert pending is not None
    pending.join(60)
    assert not pending.is_alive()
    third = read_gpus()
    assert isinstance(third, GpuSnapshot) and third.gpus[0].utilization_pct == 61.0


def test_the_real_module_without_a_driver_is_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's real nvidia-ml-py (or none): never an exception, a plain answer."""
    monkeypatch.setattr(gpu_monitor, "_NVML", gpu_monitor._Nvml())
    monkeypatch.setattr(gpu_monitor, "_pending", None)
    result = read_gpus(timeout_s=30)
    assert isinstance(result, GpuSnapshot | NoGpu)
