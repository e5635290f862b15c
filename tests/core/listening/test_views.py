"""What the Listen panel draws, computed without Qt: peaks per column, the spectrogram,
the colour table; and the panel's timeline of a run (clips, phase 2, checkpoints)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from ravelab.core.errors import NotFoundError
from ravelab.core.jobs.importer import import_run
from ravelab.core.listening import views
from ravelab.core.listening.clips import list_clips, read_pair
from ravelab.core.listening.pairs import PairReader
from ravelab.core.listening.timeline import load_timeline, phase_2_step
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.core.listening.test_clips import STEPS
from tests.core.tensorboard.test_run_events import _make_run_layout

RATE = 44_100


def _sine(hz: float, amplitude: float, frames: int = 65_536) -> np.ndarray:
    t = np.arange(frames) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_peaks_keep_a_one_sample_click() -> None:
    signal = np.zeros(100_000, dtype=np.float32)
    signal[54_321] = 0.9
    signal[54_322] = -0.7
    low, high = views.peaks(signal, 800)
    assert low.shape == high.shape == (800,)
    column = 54_321 * 800 // 100_000
    assert high[column] == pytest.approx(0.9) and low[column] == pytest.approx(-0.7)
    assert np.count_nonzero(high) == 1


def test_peaks_of_short_empty_and_stereo_signals() -> None:
    low, high = views.peaks(np.array([0.5, -0.5], dtype=np.float32), 4)
    assert list(high) == [0.5, 0.5, -0.5, -0.5] and list(low) == list(high)
    low, high = views.peaks(np.zeros(0, dtype=np.float32), 3)
    assert list(low) == list(high) == [0, 0, 0]
    stereo = np.stack([np.ones(10), -np.ones(10)], axis=1).astype(np.float32)
    _low, high = views.peaks(stereo, 5)
    assert list(high) == [0.0] * 5  # the channels' mean


def test_a_full_scale_sine_is_0_db_in_its_row() -> None:
    for hz, amplitude, db in ((1000.0, 1.0, 0.0), (250.0, 0.1, -20.0)):
        picture = views.spectrogram(_sine(hz, amplitude), RATE, rows=200)
        assert picture.levels.dtype == np.uint8 and picture.levels.shape[0] == 200
        frequencies = np.geomspace(picture.top_hz, picture.bottom_hz, 200)
        column = picture.levels[:, 10]
        loudest = int(np.argmax(column))
        # The rows as bright as the brightest one (low rows are finer than the FFT's bins)
        # are centred on the sine, within half a bin.
        centre = np.exp(np.log(frequencies[column == column.max()]).mean())
        assert centre == pytest.approx(hz, abs=RATE / 1024 / 2 + 1)
        level = picture.levels[loudest, 10] / 255 * -views.FLOOR_DB + views.FLOOR_DB
        assert level == pytest.approx(db, abs=1.5)
    assert picture.seconds == pytest.approx(65_536 / RATE)


def test_the_scale_is_fixed_so_quieter_is_darker() -> None:
    loud = views.spectrogram(_sine(440, 0.8), RATE)
    quiet = views.spectrogram(_sine(440, 0.008), RATE)
    assert int(loud.levels.max()) - int(quiet.levels.max()) == pytest.approx(
        40 / -views.FLOOR_DB * 255, abs=4
    )
    silent = views.spectrogram(np.zeros(4096, dtype=np.float32), RATE)
    assert silent.levels.max() == 0


def test_the_number_of_frames_is_bounded() -> None:
    long = np.zeros(RATE * 60, dtype=np.float32)
    assert views.spectrogram(long, RATE, max_frames=512).levels.shape[1] <= 512
    short = views.spectrogram(np.zeros(100, dtype=np.float32), RATE)
    assert short.levels.shape[1] == 1


def test_colour_table_runs_dark_to_bright() -> None:
    table = views.colour_table()
    assert len(table) == 256 and all(c >> 24 == 0xFF for c in table)

    def brightness(colour: int) -> int:
        return ((colour >> 16) & 0xFF) + ((colour >> 8) & 0xFF) + (colour & 0xFF)

    values = [brightness(c) for c in table]
    assert values[0] < 20 and values[-1] > 600
    assert all(b >= a - 6 for a, b in pairwise(values))


def test_level_db() -> None:
    assert views.level_db(_sine(1000, 1.0)) == pytest.approx(0.0, abs=0.05)
    assert views.level_db(_sine(1000, 0.1)) == pytest.approx(-20.0, abs=0.05)
    assert views.level_db(np.zeros(10, dtype=np.float32)) == views.FLOOR_DB


def test_the_timeline_of_the_genuine_capture(db: Database, tmp_path: Path) -> None:
    experiment_id = import_run(db, _make_run_layout(tmp_path / "outside"))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    timeline = load_timeline(db, record)
    assert timeline.steps == STEPS and timeline.problems == []
    # The capture's config.gin: v2_small with PHASE_1_DURATION left at RAVE's default.
    assert timeline.phase_2_step == record.progress.phase_1_duration
    assert timeline.checkpoint_steps == sorted(set(timeline.checkpoint_steps))
    assert timeline.checkpoint_steps  # the capture's best.ckpt and epoch_N.ckpt


def test_phase_2_from_the_config_when_the_follower_said_nothing() -> None:
    from tests.gui.records import make_record

    record = make_record(config={"config": "v2", "overrides": ["PHASE_1_DURATION=5000"]})
    assert phase_2_step(record) == 5000
    assert phase_2_step(make_record(progress={"phase_1_duration": 700})) == 700
    assert phase_2_step(make_record(config={"imported_from": "/x"})) is None


def test_the_pair_reader_reads_a_clip_once(db: Database, tmp_path: Path) -> None:
    experiment_id = import_run(db, _make_run_layout(tmp_path / "outside"))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    clip = list_clips(db, record).clips[2]
    reader = PairReader(keep=1)
    heard, made = reader.read(clip, 0)
    expected = read_pair(clip, 0)
    assert np.array_equal(heard, expected[0]) and np.array_equal(made, expected[1])
    Path(clip.path).unlink()  # kept in memory: still readable
    assert np.array_equal(reader.read(clip, 0)[0], heard)
    with pytest.raises(NotFoundError, match="pair 1 does not exist"):
        reader.read(clip, 1)
