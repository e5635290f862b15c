"""``JobProcess`` on real files and a real database: it reads a job's two logs from the
stored offsets, merges what its parser finds into the job's progress, settles the job once
``exit.json`` is there (through the kind's finisher), fails a job after a line on which
RAVE would hang, and reads a damaged progress as unknown instead of failing."""

from __future__ import annotations

from pathlib import Path

from ravelab.core.jobs.job_process import JobProcess
from ravelab.core.runs.run_files import STDERR_LOG, STDOUT_LOG, ExitRecord
from ravelab.core.runs.run_outcome import Outcome
from ravelab.db import Database, JobProgressUpdate, JobRecord, RunStatus
from ravelab.db import jobs as job_rows


def _chunks(text: str, stream: str) -> JobProgressUpdate:
    if text.startswith("chunks "):
        return {"chunks": int(text.split()[1])}
    if text.startswith("hang"):
        return {"fatal": "RAVE would wait for ever"}
    return {}


class _Finisher:
    """Records what it was given; leaves the outcome as it is."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, Outcome]] = []

    def __call__(self, db: Database, job: JobRecord, outcome: Outcome) -> Outcome:
        self.seen.append((job.id, outcome))
        return outcome


def _job(db: Database, tmp_path: Path) -> tuple[int, Path]:
    job_id = job_rows.insert_job(db, "preprocess")
    run_dir = tmp_path / "job"
    run_dir.mkdir()
    return job_id, run_dir


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_progress_is_merged_and_the_job_settled_once_it_has_ended(
    db: Database, tmp_path: Path
) -> None:
    job_id, run_dir = _job(db, tmp_path)
    finish = _Finisher()
    process = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=finish)
    lines: list[tuple[str, str]] = []
    updates: list[dict[str, object]] = []
    ends: list[tuple[bool, str]] = []
    process.output_line.connect(lambda stream, text, transient: lines.append((stream, text)))
    process.progress_update.connect(updates.append)
    process.finished.connect(lambda ok, message: ends.append((ok, message)))
    assert process.poll() is False  # no log yet, no end
    _append(run_dir / STDOUT_LOG, "chunks 5\n")
    _append(run_dir / STDERR_LOG, "a warning\n")
    assert process.poll() is True
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.progress.chunks == 5
    assert job.progress.offsets == {"stdout": 9, "stderr": 10}
    assert updates == [{"chunks": 5, "offsets": {"stdout": 9, "stderr": 10}}]
    _append(run_dir / STDOUT_LOG, "chunks 9\n")
    ExitRecord(0, None, False, 1700000000.0).write(run_dir)
    assert process.poll() is True
    assert sorted(lines) == [
        ("stderr", "a warning"),
        ("stdout", "chunks 5"),
        ("stdout", "chunks 9"),
    ]
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.status == RunStatus.COMPLETED and job.ended_at is not None
    assert job.progress.chunks == 9 and job.progress.offsets == {"stdout": 18, "stderr": 10}
    assert [seen for seen, _ in finish.seen] == [job_id] and ends == [(True, str(process.outcome))]
    assert process.poll() is False  # settled: nothing more is read


def test_a_new_follower_reads_on_from_the_stored_offsets(db: Database, tmp_path: Path) -> None:
    job_id, run_dir = _job(db, tmp_path)
    _append(run_dir / STDOUT_LOG, "chunks 1\n")
    first = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=_Finisher())
    first.poll()
    _append(run_dir / STDOUT_LOG, "chunks 2\n")
    seen: list[str] = []
    second = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=_Finisher())
    second.output_line.connect(lambda stream, text, transient: seen.append(text))
    second.poll()
    assert seen == ["chunks 2"]  # what the first one read is not read twice


def test_damaged_offsets_are_read_again_from_the_start(db: Database, tmp_path: Path) -> None:
    job_id, run_dir = _job(db, tmp_path)
    _append(run_dir / STDOUT_LOG, "chunks 3\n")
    job_rows.update_job(
        db, job_id, progress={"offsets": {"stdout": "abc", "stderr": -1}, "last_error": 7}
    )
    seen: list[str] = []
    process = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=_Finisher())
    process.output_line.connect(lambda stream, text, transient: seen.append(text))
    assert process.poll() is True and seen == ["chunks 3"]
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.progress.offsets == {"stdout": 9}


def test_a_line_after_which_rave_would_hang_fails_the_job(db: Database, tmp_path: Path) -> None:
    job_id, run_dir = _job(db, tmp_path)
    _append(run_dir / STDERR_LOG, "hang here\n")
    ExitRecord(0, None, False, 1700000000.0).write(run_dir)
    process = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=_Finisher())
    process.poll()
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.status == RunStatus.FAILED
    assert job.reason == "RAVE would wait for ever" and job.exit_code == 0
    assert job.progress.fatal == "RAVE would wait for ever"


def test_a_job_ended_by_another_follower_keeps_that_end(db: Database, tmp_path: Path) -> None:
    job_id, run_dir = _job(db, tmp_path)
    ExitRecord(1, None, False, 1700000000.0).write(run_dir)
    job_rows.end_job(db, job_id, RunStatus.STOPPED, "stopped by the user", -2)
    process = JobProcess(db, job_id, run_dir, parse_line=_chunks, finish=_Finisher())
    process.poll()
    assert process.outcome == Outcome(RunStatus.STOPPED, "stopped by the user", -2)
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.status == RunStatus.STOPPED
