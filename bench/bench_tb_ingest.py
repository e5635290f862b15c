"""Benchmark: ingesting TensorBoard scalars with ravelab's reader versus TensorBoard's own.

Not a test. It writes one event file of ``N`` scalar points (default 1,000,000, in 4 tags, one
``Event`` with one ``simple_value`` per point, as torch's ``SummaryWriter.add_scalar`` does) with
tensorboard's ``EventFileWriter``, then times, in interleaved repetitions:

(a) ``EventAccumulator(logdir, size_guidance={"scalars": 0}).Reload()`` and reading every tag's
    scalars: TensorBoard's Python loader;
(b) ravelab's ``EventFileFollower.poll`` loop over the whole file, decoding to ``ScalarPoint``;
(c) the same plus inserting every point into SQLite (WAL, ``synchronous=NORMAL``) with
    ``executemany`` into ``metric_points(experiment_id, name, step, value, wall_time)`` with a
    unique index on ``(experiment_id, name, step)``, committing every 10,000 points;
(d) the cost of following: the time of one poll that reads 1,000 records appended to a file that
    already holds about 1 MB, and to one that holds about 1 GB, the follower starting from the
    stored offset (as after a restart). The 1 GB file is real data (not sparse) in a temporary
    folder and is deleted afterwards.

Usage::

    .venv/bin/python bench/bench_tb_ingest.py               # full run, a few minutes on 2 cores
    .venv/bin/python bench/bench_tb_ingest.py --scale 0.02  # smoke run, well under a minute

Everything is written under a ``tempfile.mkdtemp()`` folder that is removed at the end. Timings
are wall-clock (``time.perf_counter``); ratios are taken per repetition, then the median.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from google.protobuf.internal import api_implementation  # type: ignore[import-untyped]
from tensorboard import __version__ as tensorboard_version
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import (
    EventFileWriter,
)

try:
    from ravelab.core.tensorboard_events import EventFileFollower
    from ravelab.core.tfrecord import read_records
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ravelab.core.tensorboard_events import EventFileFollower
    from ravelab.core.tfrecord import read_records

TAGS = ("loss", "fullband_spectral_distance", "multiband_spectral_distance", "validation")
COMMIT_EVERY = 10_000
APPENDED_RECORDS = 1_000

Point = tuple[str, int, float, float]

SCHEMA = """
CREATE TABLE metric_points (
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    wall_time REAL NOT NULL
);
CREATE UNIQUE INDEX metric_points_key ON metric_points (experiment_id, name, step);
"""
INSERT = (
    "INSERT INTO metric_points (experiment_id, name, step, value, wall_time) VALUES (?,?,?,?,?)"
)


def make_points(n: int, seed: int = 7) -> list[Point]:
    """Return ``n`` points: 4 tags in turn, each step shared by the 4 tags, a noisy decay."""
    rng = random.Random(seed)
    start = 1_795_672_257.0
    points = []
    for i in range(n):
        step = i // len(TAGS)
        value = 20.0 / (1.0 + step / 5000.0) + rng.gauss(0.0, 0.5)
        points.append((TAGS[i % len(TAGS)], step, value, start + i * 0.01))
    return points


def write_event_file(logdir: Path, points: list[Point]) -> Path:
    """Write ``points`` with tensorboard's ``EventFileWriter``, one Event per point.

    The writer's queue is made large: with the default of 10 pending events, the hand-off between
    the caller and the writer thread (which computes CRC32C in pure Python) dominates. The garbage
    collector is paused meanwhile: the points are all alive, there is nothing for it to free.
    """
    writer = EventFileWriter(str(logdir), max_queue_size=100_000, flush_secs=3600)
    value_type = Summary.Value
    gc.disable()
    try:
        for tag, step, value, wall_time in points:
            summary = Summary(value=[value_type(tag=tag, simple_value=value)])
            writer.add_event(Event(step=step, wall_time=wall_time, summary=summary))
        writer.close()
    finally:
        gc.enable()
    (path,) = logdir.glob("events.out.tfevents.*")
    return path


def run_accumulator(logdir: Path) -> int:
    """(a) Load every scalar with TensorBoard's ``EventAccumulator``; return the point count."""
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    accumulator.Reload()
    count = 0
    for tag in accumulator.Tags()["scalars"]:
        count += len(accumulator.Scalars(tag))
    return count


def run_follower(path: Path) -> int:
    """(b) Read the whole file with ``EventFileFollower.poll``; return the point count."""
    follower = EventFileFollower(path)
    count = 0
    while True:
        batch = follower.poll()
        count += len(batch.scalars)
        if not batch.more_pending:
            return count


def run_follower_sqlite(path: Path, db_path: Path) -> int:
    """(c) As (b), inserting into SQLite and committing every 10,000 points."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(db_path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
        experiment_id = 1
        follower = EventFileFollower(path)
        pending: list[tuple[int, str, int, float, float]] = []
        count = 0
        while True:
            batch = follower.poll()
            pending.extend(
                (experiment_id, p.tag, p.step, p.value, p.wall_time) for p in batch.scalars
            )
            while len(pending) >= COMMIT_EVERY or (pending and not batch.more_pending):
                rows, pending = pending[:COMMIT_EVERY], pending[COMMIT_EVERY:]
                connection.executemany(INSERT, rows)
                connection.commit()
                count += len(rows)
            if not batch.more_pending:
                break
        (stored,) = connection.execute("SELECT count(*) FROM metric_points").fetchone()
        assert stored == count, (stored, count)
        return count
    finally:
        connection.close()


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """Run ``fn`` after a garbage collection; return (seconds, its result)."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def time_incremental_polls(
    path: Path, base: bytes, target_size: int, appended: list[bytes]
) -> tuple[int, list[float]]:
    """(d) Fill ``path`` with copies of ``base`` up to ``target_size``, then time polls.

    For each chunk in ``appended`` (1,000 records each), the chunk is appended and a new
    follower starting at the stored offset (the previous end of the file) polls once.

    Returns:
        The file size before the first append, and the time of each poll in seconds.
    """
    with path.open("wb") as f:
        written = 0
        while written + len(base) <= max(target_size, len(base)):
            f.write(base)
            written += len(base)
        f.flush()
        os.fsync(f.fileno())
    initial_size = path.stat().st_size
    times = []
    for chunk in appended:
        stored_offset = path.stat().st_size
        with path.open("ab") as f:
            f.write(chunk)
        follower = EventFileFollower(path, offset=stored_offset)
        gc.collect()
        start = time.perf_counter()
        batch = follower.poll()
        times.append(time.perf_counter() - start)
        assert len(batch.scalars) == APPENDED_RECORDS, len(batch.scalars)
        assert follower.offset == path.stat().st_size
    return initial_size, times


def fmt_seconds(seconds: float) -> str:
    """Format a duration with a unit that suits it."""
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(per_second: float) -> str:
    """Format a rate in points per second."""
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M pts/s"
    return f"{per_second / 1e3:.1f} k pts/s"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply N (1,000,000) by this")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of (a)-(c) (default 2)")
    parser.add_argument("--poll-reps", type=int, default=5, help="timed polls per file in (d)")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the big file in (d)")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the scratch folder")
    args = parser.parse_args(argv)

    n = max(int(1_000_000 * args.scale), 20_000, 2 * args.poll_reps * APPENDED_RECORDS)
    big_size = int(args.big_mb * 1024 * 1024 * min(1.0, max(args.scale, 0.05)))
    scratch = Path(tempfile.mkdtemp(prefix="bench_tb_ingest_", dir=args.tmp))
    print(
        f"python {platform.python_version()}, tensorboard {tensorboard_version}, "
        f"protobuf backend {api_implementation.Type()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"scratch folder {scratch}; N = {n:,} points, {len(TAGS)} tags")
    try:
        logdir = scratch / "logdir"
        logdir.mkdir()
        points = make_points(n)
        start = time.perf_counter()
        event_path = write_event_file(logdir, points)
        write_s = time.perf_counter() - start
        size = event_path.stat().st_size
        print(f"EventFileWriter wrote {size / 1e6:.1f} MB in {write_s:.1f} s (not part of a rep)")
        del points
        gc.collect()

        names = {
            "a": "(a) EventAccumulator Reload + Scalars(all tags)",
            "b": "(b) EventFileFollower.poll -> ScalarPoint",
            "c": "(c) (b) + SQLite executemany, commit / 10k",
        }
        runs: dict[str, Callable[[], int]] = {
            "a": lambda: run_accumulator(logdir),
            "b": lambda: run_follower(event_path),
            "c": lambda: run_follower_sqlite(event_path, scratch / "bench.sqlite3"),
        }
        times: dict[str, list[float]] = {key: [] for key in runs}
        for rep in range(args.reps):
            for key, fn in runs.items():
                seconds, count = timed(fn)
                assert count == n, (key, count, n)
                times[key].append(seconds)
                print(f"  rep {rep + 1}/{args.reps} {key}: {fmt_seconds(seconds)}", flush=True)

        # (d): ~1 MB and ~1 GB files, then 1,000 appended records per timed poll. The appended
        # records are the file's own, taken after the part copied into the base.
        file_bytes = event_path.read_bytes()
        with event_path.open("rb") as f:
            base_end = read_records(f, 0, max_bytes=min(1024 * 1024, size // 4)).next_offset
            offsets = [r.offset for r in read_records(f, base_end, max_bytes=1 << 40).records]
        offsets.append(size)
        base = file_bytes[:base_end]
        chunks = [
            file_bytes[offsets[i * APPENDED_RECORDS] : offsets[(i + 1) * APPENDED_RECORDS]]
            for i in range(args.poll_reps)
        ]
        del file_bytes, offsets
        poll_times: dict[str, tuple[int, list[float]]] = {}
        for label, target in (("small", len(base)), ("big", big_size)):
            path = scratch / f"follow_{label}" / "events.out.tfevents.1.bench.1.0"
            path.parent.mkdir()
            start = time.perf_counter()
            poll_times[label] = time_incremental_polls(path, base, target, chunks)
            took = time.perf_counter() - start
            print(f"  (d) {label}: {poll_times[label][0] / 1e6:,.1f} MB file, {took:.1f} s")
            path.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"## Ingesting {n:,} scalar points ({size / 1e6:.1f} MB event file), {args.reps} reps")
    print()
    print("| what | min | median | rate at min |")
    print("| --- | --- | --- | --- |")
    for key, label in names.items():
        best, median = min(times[key]), statistics.median(times[key])
        print(f"| {label} | {fmt_seconds(best)} | {fmt_seconds(median)} | {fmt_rate(n / best)} |")
    print()
    for left, right in (("a", "c"), ("a", "b"), ("c", "b")):
        ratios = [x / y for x, y in zip(times[left], times[right], strict=True)]
        print(
            f"ratio ({left})/({right}), median of per-rep ratios: {statistics.median(ratios):.2f}"
        )
    print()
    print(f"## One poll reading {APPENDED_RECORDS:,} appended records ({args.poll_reps} polls)")
    print()
    print("| file size before append | min | median | max |")
    print("| --- | --- | --- | --- |")
    for label in ("small", "big"):
        initial, samples = poll_times[label]
        print(
            f"| {initial / 1e6:,.1f} MB | {fmt_seconds(min(samples))} | "
            f"{fmt_seconds(statistics.median(samples))} | {fmt_seconds(max(samples))} |"
        )
    small_median = statistics.median(poll_times["small"][1])
    big_median = statistics.median(poll_times["big"][1])
    print()
    print(f"ratio big/small poll (medians): {big_median / small_median:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
