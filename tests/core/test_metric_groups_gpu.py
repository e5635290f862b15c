"""The GPU panels: ravelab's GPU samples have panels of their own and never count as
training metrics; no name RAVE logs lands there."""

from __future__ import annotations

from ravelab.core.metric_groups import (
    GPU,
    GPU_MEMORY,
    GROUPS,
    OTHER,
    RECONSTRUCTION,
    default_metrics,
    group_metrics,
    group_of,
    is_training_metric,
)
from ravelab.core.operations.gpu_sampling import SERIES


def test_gpu_series_have_their_own_panels_at_the_bottom() -> None:
    assert [group_of(name) for name in SERIES] == [GPU, GPU_MEMORY, GPU_MEMORY, GPU, GPU]
    assert GROUPS[-2:] == (GPU, GPU_MEMORY)
    assert group_of("gpu/fan_speed") is GPU_MEMORY  # an unknown reading: still not "other"
    grouped = group_metrics([*SERIES, "validation", "loss_dis"])
    assert list(grouped) == ["reconstruction", "adversarial", "gpu", "gpu_memory"]
    assert grouped["gpu"] == ["gpu/utilization", "gpu/temperature_c", "gpu/power_w"]
    assert grouped["gpu_memory"] == ["gpu/memory_used_mib", "gpu/run_memory_mib"]
    # Shown by default, like every known group (the app's plot draws the panels).
    assert set(SERIES) <= set(default_metrics([*SERIES, "validation"]))


def test_gpu_series_are_not_training_metrics() -> None:
    for name in SERIES:
        assert not is_training_metric(name)
    for name in ("validation", "fullband_spectral_distance", "lr", "someone_elses_metric"):
        assert is_training_metric(name)
    assert not is_training_metric("step")
    assert group_of("gpu_temperature") is OTHER  # only the gpu/ prefix is ravelab's
    assert group_of("validation") is RECONSTRUCTION
