"""A job's progress typed (``JobProgress``): hostile JSON reads as unknown, the stored JSON
comes back unchanged (``ravelab jobs --json``), through a real database row."""

from __future__ import annotations

import json
import math

from ravelab.db import Database, JobProgress
from ravelab.db import jobs as job_rows

_HOSTILE: list[object] = [
    None,
    True,
    -1,
    2**64,
    1.5,
    math.nan,
    math.inf,
    "12",
    [],
    {"nested": 1},
]


def test_hostile_values_read_as_unknown_and_never_raise() -> None:
    for value in _HOSTILE:
        progress = JobProgress.from_json(
            {
                name: value
                for name in ("chunks", "audio_seconds", "chunks_per_s", "percent", "stage")
            }
            | {"last_error": value, "fatal": value, "exported_path": value}
        )
        assert progress.chunks == (value if type(value) is int and 0 <= value < 2**53 else None)
        for number in (progress.audio_seconds, progress.chunks_per_s, progress.percent):
            assert number is None or (isinstance(number, float) and math.isfinite(number))
        for text in (progress.stage, progress.last_error, progress.fatal, progress.exported_path):
            assert text is None or isinstance(text, str)
    for document in (None, [], "text", 3):
        progress = JobProgress.from_json(document)
        assert progress.offsets == {} and progress.chunks is None and progress.as_dict() == {}


def test_offsets_keep_only_stream_names_with_byte_counts() -> None:
    progress = JobProgress.from_json(
        {"offsets": {"stdout": 120, "stderr": "abc", "other": -5, "big": 2**60, "x": True}}
    )
    assert progress.offsets == {"stdout": 120}
    assert JobProgress.from_json({"offsets": [1, 2]}).offsets == {}
    assert JobProgress.from_json({"offsets": {"stderr": 7.0}}).offsets == {}


def test_known_values_are_read_with_their_types() -> None:
    progress = JobProgress.from_json(
        {"chunks": 20, "audio_seconds": 56, "stage": "done", "exported_path": "/m.ts"}
    )
    assert progress.chunks == 20
    assert progress.audio_seconds == 56.0 and isinstance(progress.audio_seconds, float)
    assert (progress.stage, progress.exported_path) == ("done", "/m.ts")
    assert progress.last_error is None and progress.fatal is None


def test_made_in_code_it_gives_its_known_values() -> None:
    assert JobProgress().as_dict() == {}
    made = JobProgress(offsets={"stdout": 3}, last_error="No checkpoint found", chunks=0)
    assert made.as_dict() == {
        "offsets": {"stdout": 3},
        "last_error": "No checkpoint found",
        "chunks": 0,
    }


def test_a_job_row_gives_back_its_progress_json_as_stored(db: Database) -> None:
    stored = {
        "chunks": "many",  # a wrong type: unknown to readers, kept in the JSON
        "stage": "loading model",
        "offsets": {"stdout": 42, "stderr": None},
        "unknown_key": [1, 2],
    }
    job_id = job_rows.insert_job(db, "preprocess", options={"workers": 0})
    job_rows.update_job(db, job_id, progress=stored)
    job = job_rows.get_job(db, job_id)
    assert job is not None
    assert job.progress.chunks is None and job.progress.stage == "loading model"
    assert job.progress.offsets == {"stdout": 42}
    as_dict = job.as_dict()
    assert as_dict["progress"] == stored
    assert as_dict["status"] == "running" and type(as_dict["status"]) is str
    assert json.loads(json.dumps(as_dict))["progress"] == stored


def test_a_job_row_whose_progress_is_not_an_object_reads_as_empty(db: Database) -> None:
    job_id = job_rows.insert_job(db, "export")
    db.execute("UPDATE jobs SET progress = ? WHERE id = ?", ("[1, 2", job_id))
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.progress == JobProgress() and job.as_dict()["progress"] == {}
