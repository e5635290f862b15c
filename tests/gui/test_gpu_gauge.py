"""The GPU gauge in the status bar (read off the GUI thread, "No GPU" with the reason) and
a run's GPU series in the plot's GPU panels, below the training panels."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ravelab.core.operations import gpu_monitor
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.gpu_gauge import GpuGauge
from ravelab.gui.main_window import MainWindow
from ravelab.gui.metrics_plot import MetricsPlot
from tests.gui.conftest import save_screenshot
from tests.nvml_double import FakeNvml, fake_nvml, gpu

pytestmark = pytest.mark.gui
__all__ = ["fake_nvml"]


@pytest.fixture
def gauge(qtbot: QtBot, fake_nvml: FakeNvml) -> Iterator[GpuGauge]:
    fake_nvml.set([gpu("NVIDIA A100", 97, 30000, 40960, 71, 250), gpu("NVIDIA T4", 3, 300, 15360)])
    widget = GpuGauge(interval_ms=3_600_000)  # refreshed by hand below
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.cleanup()


def test_a_bar_per_gpu(qtbot: QtBot, gauge: GpuGauge, fake_nvml: FakeNvml) -> None:
    qtbot.waitUntil(lambda: len(gauge.bars) == 2, timeout=15_000)
    first, second = gauge.bars
    assert (first.value(), first.text(), second.value()) == (97, "GPU0 97%", 3)
    assert gauge.memory_labels[0].text() == "29.3/40.0 GB"
    assert first.toolTip().splitlines() == [
        "GPU 0: NVIDIA A100",
        "utilisation 97%",
        "memory 29.3 / 40.0 GB",
        "temperature 71 °C",
        "power 250 W",
        "0 compute process(es)",
    ]
    assert gauge.none_label.isHidden()
    # One GPU gone, the other busier: the gauge follows.
    fake_nvml.set([gpu("NVIDIA A100", 12, fail={"power": "NOT_SUPPORTED"})])
    gauge.refresh()
    qtbot.waitUntil(lambda: len(gauge.bars) == 1 and gauge.bars[0].value() == 12, timeout=15_000)
    assert "not read: power: NVMLError_NotSupported: Not Supported" in gauge.bars[0].toolTip()


def test_no_gpu_says_so(
    qtbot: QtBot, gauge: GpuGauge, fake_nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: len(gauge.bars) == 2, timeout=15_000)
    fake_nvml.set([], init_error="DRIVER_NOT_LOADED")
    # As after a reboot without the driver: NVML starts again and fails.
    monkeypatch.setattr(gpu_monitor, "_NVML", gpu_monitor._Nvml())
    gauge.refresh()
    qtbot.waitUntil(lambda: not gauge.none_label.isHidden(), timeout=15_000)
    assert gauge.bars == [] and gauge.none_label.text() == "No GPU"
    assert gauge.none_label.toolTip() == "No NVIDIA GPU: the NVIDIA driver is not loaded"


def test_the_status_bar_and_the_gpu_panels(
    qtbot: QtBot,
    manager: TrainingManager,
    settings: QSettings,
    db: Database,
    dataset_id: int,
    fake_nvml: FakeNvml,
) -> None:
    fake_nvml.set([gpu("NVIDIA GeForce RTX 4090", 94, 21000, 24564, 68, 402)])
    window = MainWindow(manager, settings)
    qtbot.addWidget(window)
    window.show()
    try:
        gauge = window.gpu_gauge
        qtbot.waitUntil(lambda: len(gauge.bars) == 1, timeout=15_000)
        assert window.statusBar().isAncestorOf(gauge)
        qtbot.waitUntil(lambda: gauge.bars[0].text() == "GPU0 94%", timeout=15_000)
        save_screenshot(window.statusBar(), "status_bar_gpu.png")
    finally:
        window.cleanup()
        window.close()

    run = rows.insert_experiment(
        db, name="gpu-run", project_id=1, dataset_id=dataset_id, config={"gpu": 0},
        status="completed",
    )  # fmt: skip
    now = time.time()
    points = []
    for i, step in enumerate(range(0, 20_000, 100)):
        points += [
            ("fullband_spectral_distance", step, 6.0 - step / 8000 + (i % 2) * 0.3, now),
            ("gpu/utilization", step, 90.0 + (i % 7), now),
            ("gpu/temperature_c", step, 60.0 + min(step / 1000, 10), now),
            ("gpu/power_w", step, 300.0 + (i % 5) * 10, now),
            ("gpu/memory_used_mib", step, 21000.0 + (i % 3) * 100, now),
            ("gpu/run_memory_mib", step, 19500.0, now),
        ]
    rows.insert_points(db, run, points)
    plot = MetricsPlot(manager)
    qtbot.addWidget(plot)
    plot.resize(900, 700)
    plot.show()
    try:
        plot.show_experiment(run, "gpu-run")
        qtbot.waitUntil(lambda: plot.line("gpu/run_memory_mib", run) is not None, timeout=60_000)
        assert list(plot.panels.panels) == ["reconstruction", "gpu", "gpu_memory"]
        gpu_axes = plot.panels.panels["gpu"]
        assert plot.line("gpu/utilization", run).axes is gpu_axes
        assert plot.line("gpu/memory_used_mib", run).axes is plot.panels.panels["gpu_memory"]
        assert (
            plot.line("fullband_spectral_distance", run).axes
            is plot.panels.panels["reconstruction"]
        )
        qtbot.waitUntil(lambda: plot.canvas.settled and not plot._in_flight, timeout=60_000)
        save_screenshot(plot, "metrics_gpu_panels.png")
    finally:
        plot.cleanup()
