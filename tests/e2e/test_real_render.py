"""Rendering and the export check with the genuine acids-rave 2.3.1 on CPU.

A v2_small run with random weights (bench/make_fake_rave_run.py, in RAVE's own
environment: nothing is trained) is rendered through ravelab, offline and streaming, then
exported with the real ``rave export`` (streaming and not) and each model checked. Needs
RAVELAB_E2E_RAVE (a real ``rave``); skipped otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ravelab.core.rave.model_check import summarize
from ravelab.core.rave.render import render
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import jobs as job_rows
from tests.e2e.random_run import completed_experiment, make_random_run
from tests.fake_rave.env_python import read_wav
from tests.helpers import write_tone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800), pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def real_rave() -> str:
    rave = os.environ.get("RAVELAB_E2E_RAVE")
    if not rave or not Path(rave).is_file():
        pytest.skip("no real RAVE: set RAVELAB_E2E_RAVE to a `rave` executable")
    return rave


@pytest.fixture(scope="module")
def fake_run(real_rave: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v2_small run folder with random weights (config.gin, version_0/.../best.ckpt)."""
    folder = tmp_path_factory.mktemp("real-render") / "random_0123456789"
    make_random_run(real_rave, folder, "v2_small", timeout=600)
    return folder


@pytest.mark.parametrize("streaming", [False, True], ids=["offline", "streaming"])
def test_a_real_render(
    db: Database, tmp_path: Path, fake_run: Path, real_rave: str, streaming: bool
) -> None:
    run = completed_experiment(db, fake_run)
    source = tmp_path / "in.wav"
    signal = write_tone(source, 2.0, 44100, 1, hz=330.0, decay=1.5)
    messages: list[dict[str, Any]] = []
    result = render(
        db,
        run,
        source,
        tmp_path / "out.wav",
        streaming=streaming,
        rave=real_rave,
        on_message=messages.append,
    )
    audio, rate = read_wav(tmp_path / "out.wav")
    assert rate == result.sample_rate == 44100
    assert audio.shape == (1, len(signal))  # as long as the input, both ways
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0  # not silent
    assert not np.allclose(audio[0], signal, atol=1e-3)  # not the input
    assert result.details["latent"] == "mean" and result.details["ratio"] == 512
    assert result.block == (4096 if streaming else None)
    assert result.realtime_factor is not None and result.realtime_factor > 0
    assert [m["event"] for m in messages][-1] == "result"
    print(f"{'streaming' if streaming else 'offline'}: {result.realtime_factor:.2f}x realtime")


def test_a_real_render_resamples_and_mixes_down(
    db: Database, tmp_path: Path, fake_run: Path, real_rave: str
) -> None:
    run = completed_experiment(db, fake_run)
    source = tmp_path / "in.wav"
    write_tone(source, 1.0, 48000, 2, hz=330.0, decay=1.5)
    result = render(db, run, source, tmp_path / "out.wav", rave=real_rave)
    assert result.notes == [
        "mixed 2 channels down to mono (the model is mono)",
        "resampled from 48000 Hz to 44100 Hz (the model's rate)",
    ]
    audio, rate = read_wav(tmp_path / "out.wav")
    assert rate == 44100 and audio.shape == (1, 44100)


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "plain"])
def test_a_real_export_is_checked(
    db: Database, tmp_path: Path, fake_run: Path, real_rave: str, streaming: bool
) -> None:
    run = completed_experiment(db, fake_run)
    manager = TrainingManager(db, rave=real_rave, runs_dir=tmp_path / "runs")
    try:
        job_id = manager.jobs.export_model(
            run.id, checkpoint="best", streaming=streaming, output=tmp_path / "m.ts"
        )
        job = manager.jobs.wait(job_id, timeout=1200)
    finally:
        manager.shutdown()
    assert job.status == "completed", job.reason
    (model,) = job_rows.list_models(db, run.id)
    summary = summarize(model, "1.6.0")
    result = json.loads(model.check_result or "{}")
    assert summary.state == "ok", (summary.problems, result)
    assert result["streaming"] is streaming
    assert (result["cache_buffers"] > 0) is streaming
    assert result["method_names"] == ["encode", "decode", "forward"]
    assert result["params"]["forward"] == [1, 1, 1, 1]
    assert result["params"]["encode"][3] == 512
    assert result["attributes"]["sr"] == 44100
    assert result["stream"]["bad_blocks"] == 0 and result["stream"]["block"] == 4096
    assert model.torch_version == result["torch_version"]
    # Random weights never reach a fidelity: the export keeps 1 latent dimension, and says so.
    assert any("1 latent dimension" in w for w in summary.warnings)
