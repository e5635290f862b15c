"""End to end with the genuine acids-rave 2.3.1 on CPU, through ravelab's CLI and API.

Needs a real `rave` (RAVELAB_E2E_RAVE; `ravelab rave install` makes one, and .ci/run
does) and ffmpeg. Skipped with the reason otherwise; `.ci/run` runs it after the fast
tests with `-m e2e`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ravelab.cli.main import main
from ravelab.core import dataset_facts
from ravelab.core.listening.wav_files import read_wav
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows
from tests.helpers import wait_until

# One worker: real trainings take every core they are given.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800), pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def real_rave() -> str:
    rave = os.environ.get("RAVELAB_E2E_RAVE")
    if not rave or not Path(rave).is_file():
        pytest.skip(
            "no real RAVE: set RAVELAB_E2E_RAVE to a `rave` executable "
            "(`ravelab rave install` makes one; .ci/run does this)"
        )
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg/ffprobe not installed: `rave preprocess` needs them")
    return rave


def _write_wavs(folder: Path, count: int = 20, seconds: float = 5.0, rate: int = 44100) -> None:
    """Synthetic audio: a decaying tone per file, each a different pitch."""
    folder.mkdir(parents=True)
    frames = int(seconds * rate)
    for index in range(count):
        frequency = 110.0 * 2 ** (index / 12)
        samples = bytearray()
        for n in range(frames):
            t = n / rate
            value = 0.5 * math.sin(2 * math.pi * frequency * t) * math.exp(-2.0 * (t % 1.0))
            samples += int(value * 32767).to_bytes(2, "little", signed=True)
        with wave.open(str(folder / f"tone_{index:02d}.wav"), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes(bytes(samples))


@pytest.fixture
def env(
    tmp_path: Path, real_rave: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    db_path = tmp_path / "e2e.db"
    monkeypatch.setenv("RAVELAB_DB", str(db_path))
    monkeypatch.setenv("RAVELAB_RAVE", real_rave)
    db = Database(db_path)
    yield {"db": db, "db_path": db_path, "tmp": tmp_path, "rave": real_rave}
    db.close()


def test_real_rave_from_audio_to_exported_model(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    db: Database = env["db"]
    audio = env["tmp"] / "audio"
    _write_wavs(audio)

    # Dataset from raw audio through the CLI (5 s clips: with --num-signal 65536 each gives one
    # chunk; with the default 131072 they would give none).
    code = main(["dataset", "create", str(audio), "--name", "tones", "--num-signal", "65536"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    dataset = dataset_rows.find_dataset(db, name="tones")
    assert dataset is not None and dataset.status == "ready"
    assert dataset.n_seconds and dataset.n_seconds > 0
    # The chunk count is read from the LMDB file RAVE wrote, and agrees with n_seconds.
    facts = dataset_facts.facts(dataset)
    assert facts.examples_exact and facts.examples == dataset_facts.estimated_examples(dataset)

    # Train v2_small through the Python API.
    manager = TrainingManager(db, runs_dir=env["tmp"] / "runs", poll_interval=0.2)
    try:
        experiment_id = manager.start_training(
            {
                "name": "e2e",
                "dataset_id": dataset.id,
                "config": "v2_small",
                "max_steps": 60,
                "batch_size": 4,
                "n_signal": 65536,
                "val_every": 20,
                "save_every": 20,  # RAVE's periodic epoch_<k>.ckpt, pruned below
                "workers": 0,
                "gpu": -1,
                "overrides": ["PHASE_1_DURATION=40"],
            }
        )
        # Real metrics arrive from TensorBoard into the DB while it trains.
        wait_until(
            lambda: manager.get_metric_history(experiment_id, "validation"),
            timeout=600,
            what="validation scalars from TensorBoard",
        )
        wait_until(
            lambda: manager.list_checkpoints(experiment_id), timeout=300, what="a checkpoint"
        )
        stopped = manager.stop_training(experiment_id)
        assert stopped
        first = manager.wait(experiment_id, timeout=300)
        assert first["status"] == "stopped", first
        step_at_stop = first["progress"]["step"]
    finally:
        manager.shutdown()

    # Resume through the CLI; it continues from the checkpoint and completes.
    code = main(["resume", "e2e", "--max-steps", "60", "--follow"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "completed", record
    assert record.progress.step >= 60 > step_at_stop
    for name in ("validation", "fullband_spectral_distance"):
        steps = [step for step, _ in rows.metric_history(db, experiment_id, name)]
        assert steps == sorted(set(steps)), name  # no point twice across the resume
    assert rows.metric_history(db, experiment_id, "lr")

    # RAVE's periodic checkpoints kept to the newest one: only its epoch_<k>.ckpt files go.
    run_dir = Path(str(record.run_dir))
    before = {p: p.stat().st_mtime for p in run_dir.rglob("*.ckpt")}
    periodic = sorted(
        (p for p in before if re.fullmatch(r"epoch_[0-9]+\.ckpt", p.name)), key=before.get
    )
    assert len(periodic) >= 2, sorted(map(str, before))
    code = main(["checkpoints", "e2e", "--keep", "1", "--prune", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    pruned = json.loads(out)
    kept = {item["path"] for item in pruned["protected"]}  # e.g. the one resumed from
    gone = {str(p) for p in periodic[:-1]} - kept
    assert gone and set(pruned["removed"]) == gone, pruned
    assert {str(p) for p in run_dir.rglob("*.ckpt")} == {str(p) for p in before} - gone

    # Validation clips: one per validation of each version, at that validation's step.
    code = main(["audio", "list", "e2e", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    clips = json.loads(out)
    validation_steps = {step for step, _ in rows.metric_history(db, experiment_id, "validation")}
    assert len(clips) >= 2 and {c["version"] for c in clips} == {0, 1}, clips
    for clip in clips:
        assert clip["step"] in validation_steps, (clip, sorted(validation_steps))
        assert Path(clip["path"]).is_file() and clip["sample_rate"] == 44100
        assert (clip["segment"], clip["layout_source"]) == (65536, "run") and clip["pairs"] >= 1
    assert [c["step"] for c in clips] == sorted(c["step"] for c in clips)
    heard = env["tmp"] / "heard"
    code = main(["audio", "export", "e2e", "--step", str(clips[-1]["step"]), "-o", str(heard)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    written = [Path(line) for line in out.splitlines()]
    assert len(written) == 2 * clips[-1]["pairs"]
    for path in written:
        with wave.open(str(path), "rb") as handle:
            assert handle.getnframes() == 65536 and handle.getframerate() == 44100

    # Export a streaming model and load it in RAVE's own environment.
    code = main(["export", "e2e", "--checkpoint", "latest", "--streaming", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    model = json.loads(out[out.index("{") :])
    assert Path(model["path"]).is_file() and model["streaming"] is True
    assert job_rows.list_models(db, experiment_id)
    python = Path(env["rave"]).parent / "python"
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, torch; m = torch.jit.load(sys.argv[1]); print(type(m).__name__)",
            model["path"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    # The export was checked in RAVE's environment and the check recorded with the model.
    code = main(["models", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    (listed,) = [m for m in json.loads(out) if m["path"] == model["path"]]
    assert listed["check"] == "ok", listed
    check = json.loads(listed["check_result"])
    assert {"encode", "decode", "forward"} <= set(check["method_names"]), check
    assert listed["torch_version"]

    # The user's own audio through the best checkpoint, offline and as nn~ plays it.
    source = audio / "tone_03.wav"
    with wave.open(str(source), "rb") as handle:
        source_frames = handle.getnframes()
    for mode in ([], ["--streaming"]):
        rendered = env["tmp"] / f"render{''.join(mode)}.wav"
        argv = ["render", "e2e", str(source), "-o", str(rendered), "--checkpoint", "best"]
        code = main([*argv, *mode, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        result = json.loads(out)
        assert result["sample_rate"] == 44100 and result["channels"] == 1, result
        samples, info = read_wav(rendered)
        heard, _ = read_wav(source)
        assert info.sample_rate == 44100 and info.frames == source_frames, (mode, info)
        assert float(np.abs(samples).max()) > 0, f"silent render {mode}"
        assert not np.array_equal(samples, heard), f"render {mode} is the input"
    print(f"e2e took {time.monotonic() - started:.0f} s")
