"""A run's progress typed (``RunProgress``): hostile JSON reads as unknown and never raises,
the stored JSON comes back unchanged, and merges work as the column's."""

from __future__ import annotations

import math

from ravelab.db import RunProgress

_HOSTILE = [None, "12", -1, 2**80, 1.5, math.nan, math.inf, True, [], {"a": 1}, "x" * 10]


def test_progress_reads_hostile_json_as_unknown_and_never_raises() -> None:
    for value in _HOSTILE:
        progress = RunProgress.from_json(
            {name: value for name in ("step", "eta_s", "epoch", "last_error", "resumes")}
        )
        assert progress.step == (value if type(value) is int and 0 <= value < 2**53 else 0)
        assert progress.eta_s is None or math.isfinite(progress.eta_s)
        assert progress.last_error is None or isinstance(progress.last_error, str)
        assert isinstance(progress.resumes, int) and progress.resumes >= 0
    for document in (None, [], "text", 3, {"stopping_at_checkpoint": 1}):
        progress = RunProgress.from_json(document)
        assert progress.step == 0 and progress.stopping_at_checkpoint is False
    assert RunProgress.from_json({"percent": 25, "speed": 0.5}).percent == 25.0


def test_progress_gives_back_what_was_stored_and_merges_like_the_column() -> None:
    stored = {"step": 5, "eta_s": None, "speed": "fast", "unknown_key": [1]}
    progress = RunProgress.from_json(stored)
    assert progress.step == 5 and progress.speed is None
    assert progress.as_dict() == stored  # the original dict API shows the column as is
    merged = progress.merged({"step": 7, "eta_s": 30.0})
    assert (merged.step, merged.eta_s) == (7, 30.0)
    assert merged.as_dict()["unknown_key"] == [1]
    assert RunProgress.from_json({}).as_dict() == {}
