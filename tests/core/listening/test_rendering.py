"""Hearing a render: float WAVs read back, the original brought to the render's rate,
render names never taken twice, a render stopped at RAVE's next message."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.listening.rendering import (
    RENDERS_FOLDER,
    RenderCancelled,
    read_audio,
    render_for_listening,
    render_path,
    resample_linear,
)
from ravelab.db import Database
from tests.core.rave.conftest import make_run, write_float_wav, write_wav
from tests.fake_rave.env_python import write_rave_env


@pytest.fixture(scope="module")
def rave_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rave_env(tmp_path_factory.mktemp("fake-rave-env"))


def test_pcm_and_float_wavs_are_read(tmp_path: Path) -> None:
    samples, rate = read_audio(write_wav(tmp_path / "pcm.wav", 0.1, rate=48000, channels=2))
    assert rate == 48000 and samples.shape == (4800, 2)
    assert np.abs(samples).max() == pytest.approx(0.3, abs=1e-3)
    floats, rate = read_audio(write_float_wav(tmp_path / "float.wav", 1000, rate=22050))
    assert rate == 22050 and floats.shape == (1000, 2) and floats.dtype == np.float32
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(ConfigError, match=r"junk\.wav"):
        read_audio(tmp_path / "junk.wav")


def test_resampling_keeps_the_length_in_seconds() -> None:
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 100 * t).astype(np.float32)[:, None]
    out = resample_linear(tone, 48000, 44100)
    assert out.shape == (44100, 1) and out.dtype == np.float32
    expected = np.sin(2 * np.pi * 100 * np.arange(44100) / 44100)
    assert np.abs(out[:, 0] - expected).max() < 1e-3
    assert resample_linear(tone, 48000, 48000) is tone


def test_render_names_are_never_taken_twice(tmp_path: Path) -> None:
    first = render_path(tmp_path, Path("/music/my take #1.wav"), "best")
    assert first == tmp_path / RENDERS_FOLDER / "my_take_1-best.wav"
    first.parent.mkdir()
    first.write_bytes(b"")
    assert render_path(tmp_path, Path("my take #1.wav"), "best").name == "my_take_1-best-2.wav"
    assert render_path(tmp_path, Path("x.wav"), "120").name == "x-step120.wav"


def test_a_render_read_back_at_the_model_s_rate(
    db: Database, tmp_path: Path, rave_env: Path
) -> None:
    run = make_run(db, tmp_path, steps=(40, 80))
    source = write_wav(tmp_path / "in.wav", 0.5, rate=48000, channels=2)
    pair = render_for_listening(db, run, source, "40", rave=str(rave_env))
    assert pair.sample_rate == 44100 and pair.step == 40
    assert pair.original.shape == (22050, 2) and pair.render.shape == (22050, 1)
    assert pair.output.parent == Path(str(run.run_dir)) / RENDERS_FOLDER
    assert pair.output.name == "in-step40.wav" and pair.output.is_file()
    assert "resamples from 48000 Hz to 44100 Hz (the model's rate)" in pair.notes
    again = render_for_listening(db, run, source, "40", rave=str(rave_env))
    assert again.output.name == "in-step40-2.wav"  # the first one is kept


def test_a_stopped_render_ends_at_the_first_message(
    db: Database, tmp_path: Path, rave_env: Path
) -> None:
    run = make_run(db, tmp_path)
    source = write_wav(tmp_path / "in.wav", 0.5)
    stop = threading.Event()
    stop.set()
    with pytest.raises(RenderCancelled):
        render_for_listening(db, run, source, rave=str(rave_env), cancel=stop)
    renders = Path(str(run.run_dir)) / RENDERS_FOLDER
    assert not any(p.suffix == ".wav" for p in renders.iterdir())


def test_nothing_renders_without_audio_or_too_long(
    db: Database, tmp_path: Path, rave_env: Path
) -> None:
    run = make_run(db, tmp_path)
    (tmp_path / "song.mp3").write_bytes(b"ID3 not a wav")
    with pytest.raises(ConfigError, match=r"song\.mp3"):
        render_for_listening(db, run, tmp_path / "song.mp3", rave=str(rave_env))
    # Ten minutes (at 1 kHz, to keep the file small).
    long = write_float_wav(tmp_path / "long.wav", 600_000, rate=1000, channels=1)
    with pytest.raises(ConfigError, match=r"lasts 10\.0 minutes"):
        render_for_listening(db, run, long, rave=str(rave_env))
    assert not (Path(str(run.run_dir)) / RENDERS_FOLDER).exists()
