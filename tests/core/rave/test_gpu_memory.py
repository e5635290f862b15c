"""GPU warnings for a training: too small for the config by RAVE's README, not enough
free, busy with other work or another run; none for the CPU or an unreadable GPU."""

from __future__ import annotations

from ravelab.core.operations.gpu_monitor import GpuReading, GpuSnapshot, NoGpu
from ravelab.core.rave.gpu_memory import README_GB, gpu_warnings, needed_mib


def _state(*readings: GpuReading) -> GpuSnapshot:
    return GpuSnapshot(readings, 0.0)


def _gpu(index: int = 0, total: float = 24564, used: float = 300, util: float = 0) -> GpuReading:
    return GpuReading(index, "NVIDIA Test", util, used, total, 40.0, 50.0)


def test_readme_figures() -> None:
    assert README_GB == {"v1": 8, "v2": 16, "v2_small": 8, "v2_nopqmf": 16, "v3": 32,
                         "discrete": 18, "onnx": 6, "raspberry": 5}  # fmt: skip
    assert needed_mib("v3") == 32768.0 and needed_mib("my_own") is None


def test_a_free_gpu_that_is_large_enough_gives_nothing() -> None:
    assert gpu_warnings("v2", 0, [], _state(_gpu())) == []
    # A "16 GB" T4 reports 15 360 MiB: enough for v2 (16 GB), not flagged.
    assert gpu_warnings("v2", 0, [], _state(_gpu(total=15360))) == []
    assert gpu_warnings("my_own", 0, [], _state(_gpu(total=4000))) == []


def test_too_small_for_the_config() -> None:
    (warning,) = gpu_warnings("v3", 0, [], _state(_gpu(total=24564)))
    assert warning.startswith("GPU 0 (NVIDIA Test) has 24.0 GB; RAVE's README asks 32 GB for v3")


def test_not_enough_free_and_busy() -> None:
    warnings = gpu_warnings("v2", 1, [(4, "drums")], _state(_gpu(), _gpu(1, used=20000, util=93)))
    assert warnings == [
        "GPU 1 is busy: ravelab run 'drums' (4) trains on it",
        "GPU 1 is at 93% utilisation now",
        "GPU 1 has 4.5 GB free of 24.0 GB now; v2 wants about 16 GB",
    ]


def test_memory_in_use_that_still_leaves_enough() -> None:
    warnings = gpu_warnings("raspberry", 0, [], _state(_gpu(total=81920, used=50000)))
    assert warnings == ["GPU 0 has 48.8 GB of 80.0 GB in use already"]


def test_cpu_no_gpu_and_a_missing_index() -> None:
    assert gpu_warnings("v2", -1, [], _state(_gpu(total=1000))) == []
    assert gpu_warnings("v2", 0, [], NoGpu("no-driver", "the NVIDIA driver is not loaded")) == []
    assert gpu_warnings("v2", 3, [], _state(_gpu())) == [
        "there is no GPU 3 on this machine (1 found)"
    ]
