"""Fixtures for rendering and the export check: RAVE's environment as a test double
(tests/fake_rave/env_python.py), a run folder with checkpoints, WAV files."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ravelab.db import Database, ExperimentRecord, RunStatus, artifacts
from ravelab.db import experiments as experiment_rows
from tests.conftest import FIXTURES
from tests.fake_rave.env_python import write_rave_env
from tests.helpers import write_tone


@pytest.fixture(scope="session")
def rave_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `rave` of a fake RAVE environment (its #! names the fake python)."""
    return write_rave_env(tmp_path_factory.mktemp("fake-rave-env"))


def write_wav(path: Path, seconds: float, rate: int = 44100, channels: int = 1) -> Path:
    """A 16-bit PCM WAV: a 220 Hz sine at -10 dB on every channel."""
    write_tone(path, seconds, rate, channels, hz=220.0, decay=0.0, amplitude=0.3)
    return path


def write_float_wav(path: Path, frames: int, rate: int = 48000, channels: int = 2) -> Path:
    """A 32-bit float WAV (which Python's wave module cannot read)."""
    data = np.zeros((frames, channels), dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, rate, rate * channels * 4, channels * 4, 32, 0)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_wav(path: Path) -> tuple[Any, int]:
    """(channels, frames) and rate of the render's float WAV (the double's reader)."""
    from tests.fake_rave.env_python import read_wav as read

    return read(path)


def make_run(
    db: Database,
    root: Path,
    name: str = "drums",
    channels: int = 1,
    steps: tuple[int, ...] = (),
    launched: bool = False,
) -> ExperimentRecord:
    """A finished experiment whose run folder holds RAVE's config.gin, best.ckpt and one
    epoch-epoch=N.ckpt per step in ``steps`` (recorded with their steps).

    ``launched``: laid out as a run ravelab launched, whose run folder is RAVE's
    ``--out_path`` with RAVE's ``<name>_<hash>`` folder inside; otherwise as an imported
    run, whose run folder is the ``<name>_<hash>`` folder itself."""
    rave_dir = root / f"{name}_0123456789"
    run_dir = rave_dir
    if launched:
        run_dir = root / f"0001-{name}"
        rave_dir = run_dir / f"{name}_0123456789"
    folder = rave_dir / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    (rave_dir / "config.gin").write_bytes((FIXTURES / "config.gin").read_bytes())
    records = []
    for index, step in enumerate(steps):
        path = folder / f"epoch-epoch={index:04d}.ckpt"
        path.write_bytes(f"channels={channels}\n".encode())
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
        records.append(artifacts.CheckpointRecord(str(path), step, 9, 1_000_000.0 + index))
    best = folder / "best.ckpt"
    best.write_bytes(f"channels={channels}\n".encode())
    experiment_id = experiment_rows.insert_experiment(
        db,
        name=name,
        project_id=1,
        dataset_id=None,
        config={"channels": channels},
        status=RunStatus.COMPLETED,
    )
    experiment_rows.update_fields(db, experiment_id, run_dir=str(run_dir))
    artifacts.upsert_checkpoints(db, experiment_id, records)
    record = experiment_rows.get_experiment(db, experiment_id)
    assert record is not None
    return record
