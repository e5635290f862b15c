"""Steps/s of the same tiny training with the genuine RAVE: bare `rave train` versus
through ravelab's supervision (detached supervisor, log files, follower writing SQLite),
alternated in one run so both see the same machine.

    python bench/bench_real_rave_overhead.py --rave PATH --dataset DIR [--steps 100] [--reps 2]

DIR is a preprocessed dataset (`ravelab dataset create` or `rave preprocess` with
`--num_signal 65536` for 5 s clips). The rate is measured from the first training step
(the first `Epoch 0: n/N` bar with n >= 1) to the end of the process, so model
construction and start-up are left out of both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ravelab.core.datasets import register_dataset
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database

FIRST_STEP = b"Epoch 0:"


def rave_args(steps: int) -> list[str]:
    return [
        "--config",
        "v2_small",
        "--max_steps",
        str(steps),
        "--batch",
        "4",
        "--n_signal",
        "65536",
        "--val_every",
        "100000",
        "--save_every",
        "100000",
        "--workers",
        "0",
        "--channels",
        "1",
        "--gpu",
        "-1",
    ]


def bare(rave: str, dataset: Path, steps: int, out: Path) -> float:
    argv = [
        rave,
        "train",
        "--db_path",
        str(dataset),
        "--out_path",
        str(out),
        "--name",
        "bare",
        *rave_args(steps),
    ]
    first: list[float] = []
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout is not None

    def watch() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):  # type: ignore[attr-defined]
            if not first and b"Epoch 0:" in chunk and b"| 1/" in chunk:
                first.append(time.monotonic())

    reader = threading.Thread(target=watch)
    reader.start()
    proc.wait()
    end = time.monotonic()
    reader.join()
    return (steps - 1) / (end - first[0])


def through_ravelab(rave: str, dataset: Path, steps: int, work: Path, index: int) -> float:
    db = Database(work / "bench.db")
    try:
        found = db.query_one("SELECT id FROM datasets WHERE path = ?", (str(dataset.resolve()),))
        dataset_id = found[0] if found else register_dataset(db, dataset, "bench").id
        manager = TrainingManager(db, rave=rave, runs_dir=work / "runs", poll_interval=0.2)
        experiment = manager.start_training(
            {
                "name": f"ravelab-{index}",
                "dataset_id": dataset_id,
                "config": "v2_small",
                "max_steps": steps,
                "batch_size": 4,
                "n_signal": 65536,
                "val_every": 100000,
                "save_every": 100000,
                "workers": 0,
                "gpu": -1,
            }
        )
        run_dir = Path(manager.get_experiment(experiment)["run_dir"])  # type: ignore[index]
        first = None
        while first is None:
            log = run_dir / "stdout.log"
            if log.exists() and b"| 1/" in log.read_bytes():
                first = time.monotonic()
            time.sleep(0.02)
        manager.wait(experiment)
        exit_file = run_dir / "exit.json"
        end = time.monotonic() - (time.time() - exit_file.stat().st_mtime)
        manager.shutdown()
        return (steps - 1) / (end - first)
    finally:
        db.close()


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--rave", required=True)
    options.add_argument("--dataset", required=True, type=Path)
    options.add_argument("--steps", type=int, default=100)
    options.add_argument("--reps", type=int, default=2)
    args = options.parse_args()
    rates: dict[str, list[float]] = {"bare rave train": [], "through ravelab": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rep in range(args.reps):
            rates["bare rave train"].append(
                bare(args.rave, args.dataset, args.steps, work / f"bare-{rep}")
            )
            rates["through ravelab"].append(
                through_ravelab(args.rave, args.dataset, args.steps, work, rep)
            )
            print(
                f"rep {rep + 1}: bare {rates['bare rave train'][-1]:.3f} steps/s, "
                f"ravelab {rates['through ravelab'][-1]:.3f} steps/s",
                flush=True,
            )
    print(
        f"\nv2_small, batch 4, n_signal 65536, {args.steps} steps, CPU, {args.reps} reps alternated"
    )
    for name, values in rates.items():
        print(
            f"{name:18} median {statistics.median(values):.3f} steps/s  "
            f"(all: {', '.join(f'{v:.3f}' for v in values)})"
        )
    ratio = statistics.median(rates["through ravelab"]) / statistics.median(
        rates["bare rave train"]
    )
    print(f"ravelab / bare: {ratio:.3f}")


if __name__ == "__main__":
    main()
