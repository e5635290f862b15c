"""A run's clips at their training steps, from the genuine capture (a resumed run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.jobs.importer import import_run
from ravelab.core.listening.clips import (
    export_pairs,
    find_clip,
    list_clips,
    nearest_clip,
    read_pair,
)
from ravelab.core.listening.wav_files import read_wav
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db.records import ExperimentRecord
from tests.core.tensorboard.test_run_events import _make_run_layout

#: The validation steps of the capture: every 40 batches in version_0, then one after the
#: resume (RAVE continued at 318, see the capture's notes).
STEPS = [39, 79, 119, 159, 199, 239, 279, 318]


def _imported(db: Database, tmp_path: Path, **options: int) -> ExperimentRecord:
    experiment_id = import_run(db, _make_run_layout(tmp_path / "outside"), **options)
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    return record


def test_each_clip_is_at_the_step_of_its_version_s_validation(db: Database, tmp_path: Path) -> None:
    listing = list_clips(db, _imported(db, tmp_path))
    assert listing.problems == []
    assert [c.step for c in listing.clips] == STEPS
    assert [(c.version, c.validation) for c in listing.clips] == [
        *((0, k) for k in range(7)),
        (1, 0),  # RAVE starts counting again in a resumed version
    ]
    for clip in listing.clips:
        assert Path(clip.path).is_file() and clip.step_source == "validation"
        assert (clip.sample_rate, clip.frames, clip.channels) == (44100, 131072, 1)
        assert clip.seconds == pytest.approx(131072 / 44100)
        # --n_signal 65536 and one validation example: one pair, worked out from the length.
        assert (clip.pairs, clip.segment, clip.layout_source) == (1, 65536, "assumed")


def test_the_n_signal_given_at_import_splits_the_clips(db: Database, tmp_path: Path) -> None:
    clips = list_clips(db, _imported(db, tmp_path, n_signal=65536)).clips
    assert {(c.segment, c.pairs, c.layout_source) for c in clips} == {(65536, 1, "run")}


def test_the_input_comes_first_then_the_reconstruction(db: Database, tmp_path: Path) -> None:
    clips = list_clips(db, _imported(db, tmp_path)).clips
    for clip in clips:
        heard, made = read_pair(clip, 0)
        assert heard.shape == made.shape == (65536, 1)
        # The dataset is loud; the barely trained decoder much quieter.
        assert np.sqrt(np.mean(heard**2)) > 2 * np.sqrt(np.mean(made**2))


def test_runs_recorded_before_validations_were_kept_match_by_wall_time(
    db: Database, tmp_path: Path
) -> None:
    record = _imported(db, tmp_path)
    db.execute("DELETE FROM run_validations")
    clips = list_clips(db, record).clips
    assert [c.step for c in clips] == STEPS
    assert {c.step_source for c in clips} == {"wall_time"}


def test_a_missing_or_damaged_clip_is_reported_not_listed(db: Database, tmp_path: Path) -> None:
    record = _imported(db, tmp_path)
    clips = list_clips(db, record).clips
    Path(clips[0].path).unlink()
    Path(clips[1].path).write_bytes(b"RIFF garbage")
    listing = list_clips(db, record)
    assert [c.step for c in listing.clips] == STEPS[2:]
    assert len(listing.problems) == 2
    assert any(Path(clips[0].path).name in p for p in listing.problems)


def test_finding_a_clip_by_step(db: Database, tmp_path: Path) -> None:
    clips = list_clips(db, _imported(db, tmp_path)).clips
    assert find_clip(clips, 318).version == 1
    with pytest.raises(NotFoundError, match="nearest are at 279 and 318"):
        find_clip(clips, 300)
    with pytest.raises(NotFoundError, match="in version 0"):
        find_clip(clips, 318, version=0)
    with pytest.raises(NotFoundError, match="no validation clips yet"):
        find_clip([], 5)
    nearest = nearest_clip(clips, 300)
    assert nearest is not None and nearest.step == 318
    assert nearest_clip(clips, 59) is not None and nearest_clip(clips, 59).step == 39  # type: ignore[union-attr]
    assert nearest_clip([], 5) is None


def test_export_writes_each_half_as_its_own_file(db: Database, tmp_path: Path) -> None:
    clip = find_clip(list_clips(db, _imported(db, tmp_path)).clips, 199)
    written = export_pairs(clip, tmp_path / "out", "capture")
    assert [p.name for p in written] == [
        "capture-step199-pair0-input.wav",
        "capture-step199-pair0-reconstruction.wav",
    ]
    whole, _ = read_wav(Path(clip.path))
    heard, info = read_wav(written[0])
    made, _ = read_wav(written[1])
    assert info.sample_rate == 44100
    assert np.array_equal(np.concatenate([heard, made]), whole)


def test_export_never_replaces_a_file_and_names_missing_pairs(db: Database, tmp_path: Path) -> None:
    clip = find_clip(list_clips(db, _imported(db, tmp_path)).clips, 39)
    out = tmp_path / "out"
    out.mkdir()
    (out / "capture-step39-pair0-reconstruction.wav").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="already exists"):
        export_pairs(clip, out, "capture")
    assert sorted(p.name for p in out.iterdir()) == ["capture-step39-pair0-reconstruction.wav"]
    with pytest.raises(NotFoundError, match="has no pair 3: it has pairs 0 to 0"):
        export_pairs(clip, out, "capture", [3])


def test_the_manager_lists_clips_as_dicts(db: Database, tmp_path: Path) -> None:
    from ravelab import TrainingManager

    record = _imported(db, tmp_path)
    manager = TrainingManager(db, follow=False)
    try:
        clips = manager.list_audio_clips(record.id)
        assert [c["step"] for c in clips] == STEPS
        assert manager.list_audio_clips(record.id, n_signal=65536)[0]["layout_source"] == "run"
        with pytest.raises(NotFoundError):
            manager.list_audio_clips(record.id + 1)
    finally:
        manager.shutdown()
