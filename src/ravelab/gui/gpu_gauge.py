"""``GpuGauge``: the main window's status-bar gauge, one compact bar per NVIDIA GPU.

Each GPU shows as a small bar of its utilisation ("GPU0 97%") and its memory in use; the
tooltip has the rest (name, memory, temperature, power, processes, what NVML could not
read). Without a GPU the gauge is a grey "No GPU", the reason in its tooltip.

NVML is read every ``INTERVAL_MS`` in the gauge's own ``TaskRunner`` (never on the GUI
thread: a hung driver must not freeze the window; ``read_gpus`` gives a hung read up after
5 s). A read still running when the timer fires is not doubled.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from ravelab.core.operations.gpu_monitor import GpuReading, GpuState, NoGpu, read_gpus
from ravelab.gui.style import HINT_STYLE
from ravelab.gui.workers import TaskRunner

#: Milliseconds between two readings.
INTERVAL_MS = 5_000


def _gb(mib: float | None) -> str:
    return "?" if mib is None else f"{mib / 1024:.1f}"


def describe(gpu: GpuReading) -> str:
    """A GPU's readings as the tooltip lists them."""
    lines = [f"GPU {gpu.index}: {gpu.name}"]
    if gpu.utilization_pct is not None:
        lines.append(f"utilisation {gpu.utilization_pct:.0f}%")
    if gpu.memory_used_mib is not None or gpu.memory_total_mib is not None:
        lines.append(f"memory {_gb(gpu.memory_used_mib)} / {_gb(gpu.memory_total_mib)} GB")
    if gpu.temperature_c is not None:
        lines.append(f"temperature {gpu.temperature_c:.0f} °C")
    if gpu.power_w is not None:
        lines.append(f"power {gpu.power_w:.0f} W")
    lines.append(f"{len(gpu.processes)} compute process(es)")
    lines.extend(f"not read: {problem}" for problem in gpu.problems)
    return "\n".join(lines)


class GpuGauge(QWidget):
    """Per-GPU bars in the status bar, refreshed off the GUI thread."""

    def __init__(
        self,
        parent: QWidget | None = None,
        reader: Callable[[], GpuState] = read_gpus,
        interval_ms: int = INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self._reader = reader
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 6, 0)
        self._row.setSpacing(6)
        self.none_label = QLabel("")
        self.none_label.setStyleSheet(HINT_STYLE)
        self._row.addWidget(self.none_label)
        self.bars: list[QProgressBar] = []
        self.memory_labels: list[QLabel] = []
        self.state: GpuState | None = None
        self._runner = TaskRunner(self)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        """Read the GPUs in the background (skipped while a read is still running)."""
        if not self._runner.busy:
            self._runner.submit(self._reader, self.show_state)

    def show_state(self, state: GpuState) -> None:
        """Show one reading."""
        self.state = state
        if isinstance(state, NoGpu):
            self._set_count(0)
            self.none_label.setText("No GPU")
            self.none_label.setToolTip(f"No NVIDIA GPU: {state.reason}")
            self.none_label.show()
            return
        self.none_label.hide()
        self._set_count(len(state.gpus))
        for gpu, bar, memory in zip(state.gpus, self.bars, self.memory_labels, strict=True):
            used = gpu.utilization_pct
            bar.setValue(0 if used is None else round(min(max(used, 0.0), 100.0)))
            bar.setFormat(f"GPU{gpu.index} " + ("?" if used is None else "%p%"))
            memory.setText(f"{_gb(gpu.memory_used_mib)}/{_gb(gpu.memory_total_mib)} GB")
            tip = describe(gpu)
            bar.setToolTip(tip)
            memory.setToolTip(tip)

    def _set_count(self, count: int) -> None:
        while len(self.bars) < count:
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setTextVisible(True)
            bar.setFixedWidth(86)
            bar.setMaximumHeight(16)
            memory = QLabel()
            self._row.addWidget(bar)
            self._row.addWidget(memory)
            self.bars.append(bar)
            self.memory_labels.append(memory)
        while len(self.bars) > count:
            self.bars.pop().deleteLater()
            self.memory_labels.pop().deleteLater()

    def cleanup(self) -> None:
        """Stop reading (the window is closing)."""
        self._timer.stop()
        self._runner.shutdown()
