"""RunBridge: core signals from threads reach the GUI thread, coalesced."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from psygnal import Signal
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_process import TrainingProcess
from ravelab.gui.qt_bridge import RunBridge

pytestmark = pytest.mark.gui


class _FakeManager:
    """The part of TrainingManager the bridge uses."""

    run_started = Signal(int)
    run_finished = Signal(int, str)

    def __init__(self) -> None:
        self.active_processes: dict[int, TrainingProcess] = {}


@pytest.fixture
def parts(qtbot: QtBot) -> tuple[_FakeManager, TrainingProcess, RunBridge]:
    manager = _FakeManager()
    process = TrainingProcess({"name": "x", "max_steps": 100})
    manager.active_processes[7] = process
    bridge = RunBridge(manager, interval_ms=100)  # type: ignore[arg-type]
    yield manager, process, bridge
    bridge.cleanup()


def test_a_burst_from_a_thread_arrives_coalesced_on_the_gui_thread(
    qtbot: QtBot, parts: tuple[_FakeManager, TrainingProcess, RunBridge]
) -> None:
    _manager, process, bridge = parts
    progress: list[tuple[int, dict[str, Any], bool]] = []
    outputs: list[int] = []
    bridge.progress_changed.connect(
        lambda eid, values: progress.append(
            (eid, values, threading.current_thread() is threading.main_thread())
        )
    )
    bridge.output_arrived.connect(outputs.append)

    def burst() -> None:
        for step in range(1, 2001):
            process.output_line.emit("stdout", f"step: {step}", False)
            process.progress_update.emit({"step": step, "max_steps": 100})

    with qtbot.waitSignal(bridge.delivered, timeout=30_000):
        thread = threading.Thread(target=burst)
        thread.start()
        thread.join()
    qtbot.waitUntil(lambda: progress and progress[-1][1]["step"] == 2000, timeout=30_000)
    assert len(progress) <= 5  # 4,000 emissions, a handful of deliveries
    assert all(on_main for _, _, on_main in progress)
    assert {eid for eid, _, _ in progress} == {7}
    assert set(outputs) == {7} and len(outputs) <= 5


def test_started_and_finished_runs_are_followed_and_released(
    qtbot: QtBot, parts: tuple[_FakeManager, TrainingProcess, RunBridge]
) -> None:
    manager, _process, bridge = parts
    newcomer = TrainingProcess({"name": "y"})
    manager.active_processes[8] = newcomer
    with qtbot.waitSignal(bridge.run_started, timeout=30_000) as started:
        manager.run_started.emit(8)
    assert started.args == [8]
    with qtbot.waitSignal(bridge.metrics_changed, timeout=30_000) as metrics:
        newcomer.metrics_update.emit({"loss": 0.5})
    assert metrics.args == [8, {"loss": 0.5}]
    with qtbot.waitSignal(bridge.health_changed, timeout=30_000) as health:
        newcomer.health_update.emit("stalled", "no step for 10 min")
    assert health.args == [8, "stalled", "no step for 10 min"]
    with qtbot.waitSignal(bridge.run_finished, timeout=30_000) as finished:
        manager.run_finished.emit(8, "completed")
    assert finished.args == [8, "completed"]
    assert len(newcomer.metrics_update) == 0  # disconnected once finished


def test_cleanup_disconnects_everything(
    qtbot: QtBot, parts: tuple[_FakeManager, TrainingProcess, RunBridge]
) -> None:
    manager, process, bridge = parts
    assert len(process.progress_update) == 1 and len(manager.run_started) == 1
    bridge.cleanup()
    assert len(process.progress_update) == 0 and len(manager.run_started) == 0
    assert len(manager.run_finished) == 0
