"""Line ingestion through the whole path (file -> split -> parse -> SQLite), next to a
plain Python read of the same file, measured in one run.

    python bench/bench_line_ingest.py [--lines N] [--reps R]

Two logs are measured: the original API's form (``step: N loss: X lr: Y``, a point per metric and
line) and RAVE's real stdout (the genuine capture's tqdm bars, repeated).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.run_files import STDOUT_LOG, ExitRecord
from ravelab.core.runs.text_stream import LineSplitter
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database
from ravelab.db import experiments as rows

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "rave-2.3.1"
    / "train.stdout.raw"
)


def make_step_log(path: Path, lines: int) -> None:
    with open(path, "w") as handle:
        for i in range(1, lines + 1):
            handle.write(f"step: {i} loss: {1.0 / i:.6f} lr: 1e-4\n")


def make_rave_log(path: Path, lines: int) -> None:
    capture = FIXTURE.read_bytes()
    per_copy = capture.count(b"\r") + capture.count(b"\n")
    with open(path, "wb") as handle:
        for _ in range(max(1, lines // per_copy)):
            handle.write(capture)


def count_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + data.count(b"\r")


def plain_read(path: Path) -> None:
    with open(path, newline="") as handle:  # newline="" splits on \r too, like the app
        for _ in handle:
            pass


def split_only(path: Path) -> None:
    splitter = LineSplitter()
    with open(path, "rb") as handle:
        while data := handle.read(4 << 20):
            splitter.feed(data)


def split_and_parse(path: Path) -> None:
    splitter = LineSplitter()
    parser = OutputParser(max_steps=10**9, batch_size=4)
    with open(path, "rb") as handle:
        while data := handle.read(4 << 20):
            for line in splitter.feed(data):
                parser.parse(line.text)


def whole_path(path: Path, workdir: Path) -> int:
    """File -> TrainingProcess.poll -> SQLite points, offsets, metrics (as the app does)."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    (run_dir / STDOUT_LOG).symlink_to(path)
    ExitRecord(0, None, False, time.time()).write(run_dir)  # read to the end, then settle
    db = Database(run_dir / "bench.db")
    experiment = rows.insert_experiment(
        db,
        name="bench",
        project_id=1,
        dataset_id=None,
        config={"max_steps": 10**9, "batch_size": 4, "config": "v2"},
    )
    rows.update_fields(db, experiment, run_dir=str(run_dir))
    process = TrainingProcess(
        {"max_steps": 10**9, "batch_size": 4, "config": "v2"},
        db=db,
        experiment_id=experiment,
        run_dir=run_dir,
    )
    while not process.is_done:
        process.poll()
    points = rows.count_points(db, experiment)
    db.close()
    return points


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--lines", type=int, default=1_000_000)
    options.add_argument("--reps", type=int, default=3)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        logs = {"step-line form": workdir / "steps.log", "RAVE tqdm": workdir / "rave.log"}
        make_step_log(logs["step-line form"], args.lines)
        make_rave_log(logs["RAVE tqdm"], args.lines)
        print(f"ravelab line ingestion, {args.reps} interleaved reps, median wall time\n")
        print(f"{'log':10} {'lines':>9} {'stage':30} {'seconds':>8} {'lines/s':>12} {'x plain':>8}")
        for label, path in logs.items():
            total = count_lines(path)
            stages = {
                "plain Python read": lambda p=path: plain_read(p),
                "split (\\r, \\n, ANSI)": lambda p=path: split_only(p),
                "split + parse": lambda p=path: split_and_parse(p),
                "whole path into SQLite": lambda p=path: whole_path(p, workdir),
            }
            times: dict[str, list[float]] = {name: [] for name in stages}
            for _ in range(args.reps):
                for name, run in stages.items():
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
            plain = statistics.median(times["plain Python read"])
            for name, samples in times.items():
                median = statistics.median(samples)
                print(
                    f"{label:10} {total:>9,} {name:30} {median:8.3f} {total / median:12,.0f} "
                    f"{median / plain:8.1f}"
                )
        points = whole_path(logs["step-line form"], workdir)
        print(f"\nstep-line log stored {points:,} metric points")


if __name__ == "__main__":
    main()
