"""Small helpers shared by tests."""

from __future__ import annotations

import struct
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest

from ravelab.core.tensorboard.tfrecord import masked_crc32c

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``.

    For waiting on other processes (files, rows), which offer no signal to wait on.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.05)


def run_config(dataset: int, name: str = "run", **extra: Any) -> dict[str, Any]:
    """A run of the `rave` double as the core tests start it: 20 steps, phase 1 of 150
    steps (so a short run reaches phase 2), on the CPU; ``extra`` replaces keys."""
    config: dict[str, Any] = {
        "name": name,
        "dataset_id": dataset,
        "config": "v2_small",
        "max_steps": 20,
        "batch_size": 4,
        "gpu": -1,
        "val_every": 8,
        "save_every": 12,
        "n_signal": 65536,
        "workers": 0,
        "overrides": ["PHASE_1_DURATION=150"],
    }
    config.update(extra)
    return config


def tfrecord_frame(data: bytes) -> bytes:
    """``data`` framed as one TFRecord, as TensorBoard writes it: length, its masked
    CRC-32C, the data, the data's masked CRC-32C (all little-endian)."""
    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``ravelab ARGS`` in this process: (exit code, stdout, stderr)."""
    from ravelab.cli.main import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_reattached_run_completes(manager: Any, experiment_id: int, timeout: float) -> None:
    """``manager`` (made after the app that started the run went away) follows the
    60-step run to its end, with its one lr point (step 49) recorded once: none lost
    while nobody followed, none twice."""
    assert experiment_id in manager.active_processes  # re-attached and followed
    experiment = manager.wait(experiment_id, timeout=timeout)
    assert experiment["status"] == "completed"
    assert experiment["progress"]["step"] == 60
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == [49]  # no point twice, none lost


def write_tone(
    path: Path,
    seconds: float,
    rate: int = 44100,
    channels: int = 1,
    hz: float = 220.0,
    decay: float = 2.0,
    amplitude: float = 0.4,
) -> npt.NDArray[np.float64]:
    """A 16-bit PCM WAV: a sine at ``hz`` that decays (``decay`` per second; 0: a steady
    tone) and restarts every half second, the same on every channel. Returns the mono
    signal."""
    t = np.arange(int(seconds * rate)) / rate
    signal = amplitude * np.sin(2 * np.pi * hz * t) * np.exp(-decay * (t % 0.5))
    pcm = (np.repeat(signal[:, None], channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return signal


def write_lmdb(folder: Path, count: int, value_size: int = 256) -> None:
    """An LMDB database in ``folder`` with ``count`` records keyed as ``rave preprocess``
    keys them (``00000000``...), without its lock file (as the genuine capture has it)."""
    import lmdb

    size = max(1 << 20, 2 * count * (value_size + 64))
    with lmdb.open(str(folder), map_size=size) as env, env.begin(write=True) as txn:
        for index in range(count):
            txn.put(f"{index:08d}".encode(), bytes(value_size))
    (folder / "lock.mdb").unlink(missing_ok=True)
