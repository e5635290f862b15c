"""The GPU duty: live local runs on a GPU get that GPU's readings as metric points at their
step, their own processes' memory found by the run marker; nothing for CPU runs, other
machines' runs, missing GPUs or a machine without one."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.metric_groups import GPU, GPU_MEMORY, group_of
from ravelab.core.operations import gpu_sampling, warden
from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.gpu_monitor import GpuReading, GpuState, NoGpu, read_gpus
from ravelab.core.operations.gpu_sampling import GpuDuty
from ravelab.core.runs.executor import trainer_identity
from ravelab.core.runs.run_files import RUN_MARKER_ENV, marker_value
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config, wait_until
from tests.nvml_double import FakeNvml, fake_nvml, gpu

__all__ = ["fake_nvml"]


def _live_run(db: Database, run_dir: Path, gpu_index: Any, step: int, **columns: Any) -> int:
    """A live run as the database records it (this test's own pid as its process)."""
    values = {
        "name": f"run-{run_dir.name}",
        "status": "running",
        "created_at": "2026-01-01T00:00:00+00:00",
        "pid": os.getpid(),
        "run_dir": str(run_dir),
        "config": json.dumps({"gpu": gpu_index}),
        "progress": json.dumps({"step": step}),
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT INTO experiments({names}) VALUES ({marks})", tuple(values.values()))
    found = rows.find_by_run_dir(db, str(run_dir))
    assert found is not None
    return found


@pytest.fixture
def run_child(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A process carrying a run's marker, as a trainer does (and its pid)."""
    run_dir = tmp_path / "runs" / "a"
    run_dir.mkdir(parents=True)
    env = {**os.environ, RUN_MARKER_ENV: marker_value(run_dir)}
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, env=env
    )
    try:
        yield run_dir, child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)


def _tick(db: Database, duty: GpuDuty) -> None:
    duty.tick(WardenContext(db=db, manager=None, now=0.0))  # type: ignore[arg-type]


def _points(db: Database, experiment_id: int) -> dict[str, list[tuple[int, float]]]:
    return {
        name: rows.metric_history(db, experiment_id, name)
        for name in rows.metric_names(db, experiment_id)
    }


def test_a_run_on_a_gpu_gets_its_readings_at_its_step(
    db: Database, fake_nvml: FakeNvml, run_child: tuple[Path, int], tmp_path: Path
) -> None:
    run_dir, pid = run_child
    other_dir = tmp_path / "runs" / "b"
    first = _live_run(db, run_dir, 1, step=1234)
    cpu = _live_run(db, other_dir, -1, step=50)
    fake_nvml.set(
        [
            gpu(utilization=3),
            gpu(
                "NVIDIA A100",
                utilization=96,
                used=30000,
                total=40960,
                temperature=70,
                power=250.5,
                # The run's trainer, and another user's process on the same GPU.
                processes=[{"pid": pid, "memory_mib": 21000}, {"pid": 1, "memory_mib": 8000}],
            ),
        ]
    )
    duty = GpuDuty()
    _tick(db, duty)
    assert _points(db, first) == {
        "gpu/memory_used_mib": [(1234, 30000.0)],
        "gpu/power_w": [(1234, 250.5)],
        "gpu/run_memory_mib": [(1234, 21000.0)],
        "gpu/temperature_c": [(1234, 70.0)],
        "gpu/utilization": [(1234, 96.0)],
    }
    assert _points(db, cpu) == {}
    # The same step again stores nothing twice; the next step adds one point per series.
    fake_nvml.set([gpu(), gpu(utilization=50, processes=[{"pid": pid, "memory_mib": 22000}])])
    _tick(db, duty)
    rows.merge_progress(db, first, {"step": 1300})
    _tick(db, duty)
    points = _points(db, first)
    assert points["gpu/utilization"] == [(1234, 96.0), (1300, 50.0)]
    assert points["gpu/run_memory_mib"] == [(1234, 21000.0), (1300, 22000.0)]
    assert rows.count_points(db, first) == 10


def test_a_run_is_sampled_on_the_gpu_its_processes_are_on_whatever_its_index(
    db: Database, fake_nvml: FakeNvml, run_child: tuple[Path, int]
) -> None:
    # CUDA_VISIBLE_DEVICES=1 makes NVML's GPU 1 the run's `--gpu 0`.
    run_dir, pid = run_child
    run = _live_run(db, run_dir, 0, step=10)
    fake_nvml.set(
        [
            gpu(utilization=1),
            gpu(utilization=88, processes=[{"pid": pid, "memory_mib": 19000}]),
        ]
    )
    _tick(db, GpuDuty())
    points = _points(db, run)
    assert points["gpu/utilization"] == [(10, 88.0)]
    assert points["gpu/run_memory_mib"] == [(10, 19000.0)]


def test_a_run_not_on_the_gpu_uses_no_memory_and_unknowns_are_skipped(
    db: Database, fake_nvml: FakeNvml, run_child: tuple[Path, int]
) -> None:
    run_dir, _ = run_child
    experiment_id = _live_run(db, run_dir, "0", step=7)  # a string index, as JSON may hold
    fake_nvml.set([gpu(processes=[{"pid": 1, "memory_mib": 100}], fail={"power": "NOT_SUPPORTED"})])
    _tick(db, GpuDuty())
    points = _points(db, experiment_id)
    assert points["gpu/run_memory_mib"] == [(7, 0.0)]
    assert "gpu/power_w" not in points and points["gpu/utilization"] == [(7, 0.0)]


@pytest.mark.parametrize(
    ("gpu_index", "columns"),
    [
        (5, {}),  # a GPU this machine does not have
        ("x", {}),  # a damaged config
        (True, {}),
        (0, {"host": "another-machine"}),
        (0, {"executor": "slurm", "job_id": "77"}),
        (0, {"ended_at": "2026-01-01T01:00:00+00:00"}),
    ],
)
def test_runs_that_are_not_sampled(
    db: Database, fake_nvml: FakeNvml, tmp_path: Path, gpu_index: Any, columns: dict[str, Any]
) -> None:
    experiment_id = _live_run(db, tmp_path / "r", gpu_index, step=3, **columns)
    fake_nvml.set([gpu(utilization=90)])
    _tick(db, GpuDuty())
    assert rows.count_points(db, experiment_id) == 0


def test_no_gpu_stores_nothing_and_says_why_once(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    experiment_id = _live_run(db, tmp_path / "r", 0, step=3)
    reads: list[int] = []

    def reader() -> GpuState:
        reads.append(1)
        return NoGpu("no-driver", "the NVIDIA driver is not loaded")

    duty = GpuDuty(reader)
    with caplog.at_level(logging.WARNING, logger=gpu_sampling.__name__):
        for _ in range(3):
            _tick(db, duty)
    assert len(reads) == 3 and rows.count_points(db, experiment_id) == 0
    said = [r.getMessage() for r in caplog.records if "driver is not loaded" in r.getMessage()]
    assert len(said) == 1


def test_no_live_run_means_no_read(db: Database) -> None:
    def reader() -> GpuState:
        raise AssertionError("the GPUs were read with no run to sample")

    duty = GpuDuty(reader)
    _tick(db, duty)
    assert duty.busy(WardenContext(db=db, manager=None, now=0.0)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(None, 15.0), ("30", 30.0), ("0.01", 1.0), ("1e9", 3600.0), ("soon", 15.0), ("nan", 15.0)],
)
def test_the_interval_setting(db: Database, stored: str | None, expected: float) -> None:
    db.set_setting(gpu_sampling.INTERVAL_SETTING, stored)
    duty = GpuDuty(lambda: NoGpu("no-device", "none"))
    _tick(db, duty)
    assert duty.interval_s == expected


def test_the_warden_registers_the_duty() -> None:
    duties = warden.load_duties()
    assert any(isinstance(duty, GpuDuty) for duty in duties)


def test_reading_type_is_what_the_duty_stores() -> None:
    reading = GpuReading(0, "g", 1.0, 2.0, 3.0, 4.0, None)
    assert [name for name, *_ in gpu_sampling.sample_points(reading, "/nowhere", 9, 0.0)] == [
        "gpu/utilization",
        "gpu/memory_used_mib",
        "gpu/temperature_c",
        "gpu/run_memory_mib",
    ]
    assert callable(read_gpus)


def test_the_warden_process_samples_a_training_run(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    runs_dir: Path,
    fake_nvml: FakeNvml,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end: a held run of the `rave` double on "GPU 0", a warden process importing
    the fake NVML, its trainer reported on the GPU: the warden stores the series."""
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    monkeypatch.setenv(warden.IDLE_ENV, "0")
    hold = runs_dir.parent / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    launcher = make_manager(follow=False)
    experiment_id = launcher.start_training(run_config(dataset_id, gpu=0))
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.run_dir is not None
    trainer = wait_until(lambda: trainer_identity(Path(record.run_dir)), 60, "supervisor.json")
    fake_nvml.set([gpu(utilization=88, processes=[{"pid": trainer[0].pid, "memory_mib": 6000}])])
    process = subprocess.Popen(
        [sys.executable, "-m", "ravelab.core.operations.warden", db.path],
        env={**os.environ, **fake_nvml.env()},
    )
    try:
        memory = wait_until(
            lambda: rows.metric_history(db, experiment_id, "gpu/run_memory_mib"),
            timeout=90,
            what="the warden's GPU sample",
        )
        assert [value for _, value in memory] == [6000.0]
        assert [v for _, v in rows.metric_history(db, experiment_id, "gpu/utilization")] == [88.0]
    finally:
        hold.touch()
    ended = wait_until(
        lambda: (r := rows.get_experiment(db, experiment_id)) and r.ended_at and r,
        timeout=90,
        what="the run to end",
    )
    assert ended.status == "completed"
    assert process.wait(timeout=60) == 0
    # Every series was stored (once: the run held at one step), all in the GPU panels.
    names = rows.metric_names(db, experiment_id)
    assert {n for n in names if n.startswith("gpu/")} == set(gpu_sampling.SERIES)
    assert {group_of(n) for n in gpu_sampling.SERIES} == {GPU, GPU_MEMORY}
