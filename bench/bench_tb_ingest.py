"""Benchmark: TensorBoard scalars into SQLite, next to TensorBoard.

Not a test: it prints figures and asserts nothing about time. It writes one event file of ``N``
scalar points (default 1,000,000, in 4 tags, one ``Event`` with one ``simple_value`` per point,
as torch's ``SummaryWriter.add_scalar`` does) in a run layout
(``<run>/bench_0123456789/version_0/``): the bytes tensorboard's ``EventFileWriter`` writes,
checked on a sample, as that writer takes minutes for a million points (``--tensorboard-writer``
uses it for the whole file). Then it measures, in interleaved repetitions:

(a) ``EventAccumulator(logdir, size_guidance={"scalars": 0}).Reload()`` and ``Scalars(tag)`` of
    every tag: TensorBoard's own Python loader (the peer of target 1);
(b) ``RunEventsFollower.poll`` until nothing is pending: framing, CRCs, decoding and the
    per-poll bookkeeping (finite check, training steps), no database;
(c) ingestion as the app does it (``TrainingProcess._read_events`` / ``_store``): each
    ``RunEventsFollower.poll`` stored in one transaction (``Database.atomic``) with
    ``experiments.insert_points`` and ``set_offsets``, into a fresh ravelab database (its real
    schema, WAL, ``synchronous=NORMAL``). Target 1 is (a)/(c) >= 10.

and, once per repetition, the parts of (c), to show where the time goes:

(f) framing only: ``tfrecord.read_payloads`` over the whole file (CRCs checked);
(i) SQLite only: the points of (b), already decoded, stored the same way as in (c).

Target 4 (following): the cost of one poll must grow with the new bytes, not with the file size.
Two files are made of real records, one of about 1 MB and one of about 1 GB (real data, not
sparse, deleted afterwards); then, repeatedly, ``K`` records are appended and one
``RunEventsFollower.poll`` reads them (K = 1,000 and 10,000), and once a new follower starts
from the stored offset (as after a restart) and polls 1,000 new records.

Every timing is wall-clock (``time.perf_counter``) and CPU time of this process
(``time.process_time``, which other jobs on a shared machine disturb less). Ratios are taken per
repetition (both sides measured seconds apart), then the median.

Usage::

    .venv/bin/python bench/bench_tb_ingest.py               # full run, about 5 minutes on 2 cores
    .venv/bin/python bench/bench_tb_ingest.py --scale 0.02  # smoke run, well under a minute

Everything is written under a ``tempfile.mkdtemp()`` folder that is removed at the end.
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
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from google.protobuf.internal import api_implementation  # type: ignore[import-untyped]
from tensorboard import __version__ as tensorboard_version
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

try:
    from ravelab.core.tensorboard.run_events import RunEventsFollower
    from ravelab.core.tensorboard.tfrecord import masked_crc32c, read_payloads
    from ravelab.db import Database
    from ravelab.db import experiments as rows
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ravelab.core.tensorboard.run_events import RunEventsFollower
    from ravelab.core.tensorboard.tfrecord import masked_crc32c, read_payloads
    from ravelab.db import Database
    from ravelab.db import experiments as rows

TAGS = ("loss", "fullband_spectral_distance", "multiband_spectral_distance", "validation")
RUN_FOLDER = "bench_0123456789"
APPENDS = (1_000, 10_000)
RESTART_APPEND = 1_000

Point = tuple[str, int, float, float]
Sample = tuple[float, float]  # (wall seconds, CPU seconds)


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


def event_record(event: Event) -> bytes:
    """One TFRecord holding ``event``, framed as TensorBoard's ``RecordWriter`` frames it."""
    data = event.SerializeToString()
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def scalar_event(tag: str, step: int, value: float, wall_time: float) -> Event:
    """The ``Event`` that ``SummaryWriter.add_scalar`` makes."""
    summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    return Event(step=step, wall_time=wall_time, summary=summary)


def write_with_tensorboard(logdir: Path, points: list[Point]) -> Path:
    """Write ``points`` with tensorboard's ``EventFileWriter``, one Event per point.

    The writer's queue is made large: with the default of 10 pending events, the hand-off between
    the caller and the writer thread dominates. The garbage collector is paused meanwhile: the
    points are all alive, there is nothing for it to free. Slow all the same: the writer
    computes its CRCs in pure Python (about 35 s per million points, minutes on a busy machine).
    """
    writer = EventFileWriter(str(logdir), max_queue_size=100_000, flush_secs=3600)
    gc.disable()
    try:
        for point in points:
            writer.add_event(scalar_event(*point))
        writer.close()
    finally:
        gc.enable()
    (path,) = logdir.glob("events.out.tfevents.*")
    return path


def write_event_file(logdir: Path, points: list[Point], tensorboard_writer: bool) -> Path:
    """Write ``points`` as an event file, one Event per point, as ``EventFileWriter`` does.

    Unless ``tensorboard_writer`` is set, the same bytes are written here (the Events
    serialized by protobuf, framed with google_crc32c) after ``EventFileWriter``'s own first
    record, once a check on the first 2,000 points showed them byte for byte what
    ``EventFileWriter`` writes. TensorBoard's loader checks every CRC again in (a).
    """
    if tensorboard_writer:
        return write_with_tensorboard(logdir, points)
    sample = points[:2000]
    check_dir = logdir.parent / "writer_check"
    check_dir.mkdir()
    theirs = write_with_tensorboard(check_dir, sample).read_bytes()
    shutil.rmtree(check_dir)
    # The writer's own first record (file_version, source_metadata) is copied as it is.
    (length,) = struct.unpack_from("<Q", theirs)
    first = theirs[: 12 + length + 4]
    ours = b"".join(event_record(scalar_event(*point)) for point in sample)
    assert theirs[len(first) :] == ours, "the event file would differ from EventFileWriter's"
    path = logdir / f"events.out.tfevents.{int(time.time())}.bench.{os.getpid()}.0"
    with path.open("wb") as f:
        f.write(first)
        for start in range(0, len(points), 10_000):
            f.write(
                b"".join(event_record(scalar_event(*p)) for p in points[start : start + 10_000])
            )
    return path


def fresh_database(path: Path) -> tuple[Database, int]:
    """Create an empty ravelab database (real schema) holding one experiment."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(path)
    experiment = rows.insert_experiment(
        db, name="bench", project_id=1, dataset_id=None, config={}, status="completed"
    )
    return db, experiment


def run_accumulator(logdir: Path) -> int:
    """(a) Load every scalar with TensorBoard's ``EventAccumulator``; return the point count."""
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    accumulator.Reload()
    count = 0
    for tag in accumulator.Tags()["scalars"]:
        count += len(accumulator.Scalars(tag))
    return count


def run_follower(run_dir: Path) -> int:
    """(b) Read the whole run with ``RunEventsFollower.poll``; return the point count."""
    follower = RunEventsFollower(run_dir, {})
    count = 0
    while True:
        found = follower.poll()
        count += len(found.points)
        if not found.more_pending:
            return count


def run_ingest(run_dir: Path, db_path: Path) -> int:
    """(c) As ``TrainingProcess`` does: each poll stored in one transaction."""
    db, experiment = fresh_database(db_path)
    try:
        follower = RunEventsFollower(run_dir, rows.get_offsets(db, experiment))
        while True:
            found = follower.poll()
            with db.atomic():
                rows.insert_points(db, experiment, found.points)
                rows.set_offsets(db, experiment, found.offsets)
            if not found.more_pending:
                break
        return rows.count_points(db, experiment)
    finally:
        db.close()


def run_framing(path: Path) -> int:
    """(f) Frame the whole file and check every CRC; return the record count."""
    count = 0
    offset = 0
    with path.open("rb") as f:
        while True:
            found = read_payloads(f, offset)
            count += len(found.payloads)
            offset = found.next_offset
            if not found.more_pending:
                return count


def decoded_polls(run_dir: Path) -> list[list[Point]]:
    """The points of each poll of a whole run, for (i)."""
    follower = RunEventsFollower(run_dir, {})
    polls = []
    while True:
        found = follower.poll()
        polls.append(found.points)
        if not found.more_pending:
            return polls


def run_insert_only(polls: list[list[Point]], db_path: Path) -> int:
    """(i) Store already decoded polls as (c) does; return the stored count."""
    db, experiment = fresh_database(db_path)
    try:
        for points in polls:
            with db.atomic():
                rows.insert_points(db, experiment, points)
        return rows.count_points(db, experiment)
    finally:
        db.close()


def timed(fn: Callable[[], int]) -> tuple[Sample, int]:
    """Run ``fn`` after a garbage collection; return ((wall, CPU) seconds, its result)."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), result


def fill(path: Path, base: bytes, target_size: int) -> int:
    """Fill ``path`` with copies of ``base`` up to about ``target_size``; return its size."""
    with path.open("wb") as f:
        written = 0
        while written == 0 or written + len(base) <= target_size:
            f.write(base)
            written += len(base)
        f.flush()
        os.fsync(f.fileno())
    return path.stat().st_size


def time_follow(
    run_dir: Path, path: Path, chunks: dict[int, list[bytes]], restart_chunk: bytes
) -> dict[str, list[Sample]]:
    """(4) Time live polls after appends of K records, then one poll after a restart.

    The follower starts from a stored offset at the end of the file (as if it had read it all
    before), then for each chunk: append it, poll once, check that exactly its records came
    back.
    """
    key = "tb:" + str(path.relative_to(run_dir))
    follower = RunEventsFollower(run_dir, {key: path.stat().st_size})
    follower.poll()  # the first poll finds the file (a folder scan, done once a second)
    samples: dict[str, list[Sample]] = {}
    for count, appended in chunks.items():
        for chunk in appended:
            with path.open("ab") as f:
                f.write(chunk)
            (sample, got) = timed(lambda: len(follower.poll().points))
            assert got == count, (got, count)
            samples.setdefault(f"live poll, {count:,} new records", []).append(sample)
    stored = path.stat().st_size
    with path.open("ab") as f:
        f.write(restart_chunk)
    restarted = RunEventsFollower(run_dir, {key: stored})
    (sample, got) = timed(lambda: len(restarted.poll().points))
    assert got == RESTART_APPEND, got
    samples[f"new follower from stored offset, {RESTART_APPEND:,} new records"] = [sample]
    return samples


def fmt_seconds(seconds: float) -> str:
    """Format a duration with a unit that suits it."""
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def median_ratio(top: list[Sample], bottom: list[Sample], index: int) -> tuple[float, str]:
    """Median and range of per-repetition ratios top/bottom (index 0: wall, 1: CPU)."""
    ratios = sorted(t[index] / b[index] for t, b in zip(top, bottom, strict=True))
    return statistics.median(ratios), f"{ratios[0]:.2f} .. {ratios[-1]:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply N (1,000,000) by this")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of (a)-(c) (default 3)")
    parser.add_argument("--poll-reps", type=int, default=5, help="timed polls per size in (4)")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the big file in (4)")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the scratch folder")
    parser.add_argument(
        "--tensorboard-writer",
        action="store_true",
        help="write the whole file with EventFileWriter (slow) rather than the same bytes here",
    )
    args = parser.parse_args(argv)

    # The appended chunks come from the file after its first MB (about 18,000 records).
    needed = args.poll_reps * sum(APPENDS) + RESTART_APPEND + 25_000
    n = max(int(1_000_000 * args.scale), needed)
    big_size = int(args.big_mb * 1024 * 1024 * min(1.0, max(args.scale, 0.05)))
    scratch = Path(tempfile.mkdtemp(prefix="bench_tb_ingest_", dir=args.tmp))
    print(
        f"python {platform.python_version()}, tensorboard {tensorboard_version}, protobuf "
        f"backend {api_implementation.Type()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"scratch folder {scratch}; N = {n:,} points, {len(TAGS)} tags")
    started = time.perf_counter()
    try:
        run_dir = scratch / "run"
        logdir = run_dir / RUN_FOLDER / "version_0"
        logdir.mkdir(parents=True)
        points = make_points(n)
        start = time.perf_counter()
        event_path = write_event_file(logdir, points, args.tensorboard_writer)
        write_s = time.perf_counter() - start
        size = event_path.stat().st_size
        writer = "EventFileWriter" if args.tensorboard_writer else "EventFileWriter's bytes"
        print(f"{writer}: {size / 1e6:.1f} MB written in {write_s:.1f} s (not timed below)")
        del points
        db_path = scratch / "bench.sqlite3"
        polls = decoded_polls(run_dir)

        names = {
            "a": "(a) TensorBoard EventAccumulator: Reload + Scalars(every tag)",
            "b": "(b) RunEventsFollower.poll: framing + CRCs + decode + bookkeeping",
            "c": "(c) ingestion: (b) + insert_points/set_offsets, a transaction per poll",
            "f": "(f) part of (b): framing + CRCs only (read_payloads)",
            "i": "(i) part of (c): SQLite only (insert_points of decoded polls)",
        }
        runs: dict[str, tuple[Callable[[], int], int]] = {
            "a": (lambda: run_accumulator(logdir), n),
            "b": (lambda: run_follower(run_dir), n),
            "c": (lambda: run_ingest(run_dir, db_path), n),
            "f": (lambda: run_framing(event_path), n + 1),  # + the file_version record
            "i": (lambda: run_insert_only(polls, db_path), n),
        }
        samples: dict[str, list[Sample]] = {key: [] for key in runs}
        for rep in range(args.reps):
            load = os.getloadavg()[0]
            for key, (fn, expected) in runs.items():
                sample, count = timed(fn)
                assert count == expected, (key, count, expected)
                samples[key].append(sample)
                print(
                    f"  rep {rep + 1}/{args.reps} ({key}): {fmt_seconds(sample[0])} wall, "
                    f"{fmt_seconds(sample[1])} CPU (load {load:.1f})",
                    flush=True,
                )
        polls.clear()  # free the decoded points before (4)

        # (4): ~1 MB and ~1 GB files of the event file's own records, then appended chunks.
        file_bytes = event_path.read_bytes()
        with event_path.open("rb") as f:
            base_end = read_payloads(f, 0, max_bytes=min(1024 * 1024, size // 4)).next_offset
            offsets = read_payloads(f, base_end, max_bytes=1 << 40).offsets
        offsets.append(size)
        base = file_bytes[:base_end]
        cursor = 0
        chunks: dict[int, list[bytes]] = {}
        for count in APPENDS:
            chunks[count] = []
            for _ in range(args.poll_reps):
                chunks[count].append(file_bytes[offsets[cursor] : offsets[cursor + count]])
                cursor += count
        restart_chunk = file_bytes[offsets[cursor] : offsets[cursor + RESTART_APPEND]]
        del file_bytes, offsets
        shutil.rmtree(run_dir)
        follow: dict[str, tuple[int, dict[str, list[Sample]]]] = {}
        for label, target in (("1 MB", len(base)), ("1 GB", big_size)):
            follow_dir = scratch / f"follow_{label.replace(' ', '')}"
            path = follow_dir / RUN_FOLDER / "version_0" / "events.out.tfevents.1.bench.1.0"
            path.parent.mkdir(parents=True)
            start = time.perf_counter()
            initial = fill(path, base, target)
            follow[label] = (initial, time_follow(follow_dir, path, chunks, restart_chunk))
            print(f"  (4) {initial / 1e6:,.1f} MB file: {time.perf_counter() - start:.1f} s")
            shutil.rmtree(follow_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"## Target 1: ingesting {n:,} scalar points ({size / 1e6:.1f} MB event file)")
    print()
    print(f"{args.reps} interleaved repetitions; rates are points per second at the median.")
    print()
    print("| what | median wall | min wall | median CPU | rate (wall) | µs/point (CPU) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key, label in names.items():
        walls = [s[0] for s in samples[key]]
        cpus = [s[1] for s in samples[key]]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"| {label} | {fmt_seconds(wall)} | {fmt_seconds(min(walls))} | "
            f"{fmt_seconds(cpu)} | {n / wall / 1e3:,.0f} k/s | {cpu / n * 1e6:.2f} |"
        )
    print()
    print("| ratio (median of per-repetition ratios) | wall | range | CPU | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for top, bottom, label, target in (
        ("a", "c", "TensorBoard load / ravelab ingestion into SQLite", ">= 10: "),
        ("a", "b", "TensorBoard load / ravelab decode (no database)", ""),
        ("i", "c", "share of (c) spent in SQLite (i)/(c)", ""),
        ("f", "c", "share of (c) spent framing (f)/(c)", ""),
    ):
        wall, spread = median_ratio(samples[top], samples[bottom], 0)
        cpu, _ = median_ratio(samples[top], samples[bottom], 1)
        verdict = f"{target}{'met' if wall >= 10 else 'NOT met'}" if target else ""
        print(f"| {label} | {wall:.2f} | {spread} | {cpu:.2f} | {verdict} |")

    print()
    print("## Target 4: one poll of appended records, by size of the file before the appends")
    print()
    print(
        f"{args.poll_reps} polls per row (1 for the restart row); wall time, median (min .. max)."
    )
    print()
    sizes = list(follow)
    header = " | ".join(f"{follow[s][0] / 1e6:,.1f} MB file" for s in sizes)
    print(f"| poll | {header} | ratio big/small (median) |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |")
    for row in follow[sizes[0]][1]:
        cells = []
        medians = []
        for s in sizes:
            walls = [sample[0] for sample in follow[s][1][row]]
            medians.append(statistics.median(walls))
            cells.append(
                f"{fmt_seconds(medians[-1])} ({fmt_seconds(min(walls))} .. "
                f"{fmt_seconds(max(walls))})"
            )
        print(f"| {row} | {' | '.join(cells)} | {medians[-1] / medians[0]:.2f} |")
    small_rows = follow[sizes[0]][1]
    one_k = statistics.median(s[0] for s in small_rows[f"live poll, {APPENDS[0]:,} new records"])
    ten_k = statistics.median(s[0] for s in small_rows[f"live poll, {APPENDS[1]:,} new records"])
    print()
    print(
        f"On the {sizes[0]} file, {APPENDS[1]:,} new records cost {ten_k / one_k:.1f}x "
        f"{APPENDS[0]:,} (the poll grows with the new bytes); the big/small column shows "
        "whether it grows with the file (1.0 = not at all)."
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
