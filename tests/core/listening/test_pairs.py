"""Pairs read for hearing, without Qt: a run's pair with its pictures, other runs' pairs
nearest a step, and why one cannot be heard."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ravelab.core.listening.clips import list_clips, read_pair
from ravelab.core.listening.pairs import PairReader, load_nearest, load_pair
from ravelab.db import Database, ExperimentRecord
from ravelab.db import experiments as rows
from tests.core.listening.synthetic_runs import make_listen_run


def _run(db: Database, root: Path, name: str, **options: int) -> ExperimentRecord:
    record = rows.get_experiment(db, make_listen_run(db, root, name, segment=4096, **options))
    assert record is not None
    return record


def test_a_pair_with_its_pictures(db: Database, tmp_path: Path) -> None:
    run = _run(db, tmp_path, "one", clips=2)
    clip = list_clips(db, run).clips[1]
    loaded = load_pair(PairReader(), run.id, clip, 3)
    assert not isinstance(loaded, str)
    expected = read_pair(clip, 3)
    assert np.array_equal(loaded.input, expected[0])
    assert np.array_equal(loaded.reconstruction, expected[1])
    assert loaded.input_view is not None and loaded.reconstruction_view.levels.size
    assert load_pair(PairReader(), run.id, clip, 8) == "its clips have 8 pair(s)"


def test_other_runs_at_the_nearest_step(db: Database, tmp_path: Path) -> None:
    every_1500 = _run(db, tmp_path, "slow", clips=3, val_every=1500)  # 1499, 2999, 4499
    silent = _run(db, tmp_path, "silent", clips=0)
    broken = _run(db, tmp_path, "broken", clips=1)
    Path(list_clips(db, broken).clips[0].path).write_bytes(b"RIFF....WAVEdamaged")
    found = load_nearest(db, [every_1500, silent, broken], 3999, 2, PairReader())
    nearest = found[every_1500.id].loaded
    assert nearest is not None and nearest.clip.step == 4499 and nearest.pair == 2
    assert nearest.input_view is None  # only the reconstruction is drawn in a comparison
    assert found[silent.id].loaded is None and found[silent.id].note == "no validation clips"
    # The damaged clip is not listed at all: that run has none to offer.
    assert found[broken.id].note == "no validation clips"
    assert found[broken.id].timeline.problems
    again = load_nearest(
        db, [every_1500], 2000, 0, PairReader(), {every_1500.id: found[every_1500.id].timeline}
    )
    assert again[every_1500.id].loaded is not None
    assert again[every_1500.id].loaded.clip.step == 1499  # nearer than 2999
