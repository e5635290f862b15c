"""Realtime factor of ``ravelab render`` for a v2_small model on this machine's CPU,
offline and streaming (blocks of 4096, nn~'s default).

    python bench/bench_render.py --rave PATH [--config v2_small] [--seconds 20] [--reps 2]

PATH is the ``rave`` of a real RAVE environment. The model has RANDOM weights (made by
bench/make_fake_rave_run.py in RAVE's environment): an untrained model computes exactly what
a trained one of the same config does, so the speed is the same; the sound is meaningless.
Realtime factor = seconds of audio / seconds spent encoding and decoding (as the render
script measures it: model loading is left out; the wall time of the whole command, with
torch's start and the model's construction, is printed next to it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.e2e.random_run, tests.helpers

from tests.e2e.random_run import completed_experiment, make_random_run  # noqa: E402
from tests.helpers import write_tone  # noqa: E402

from ravelab.core.rave.render import render  # noqa: E402
from ravelab.db import Database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rave", required=True, help="the rave of a real RAVE environment")
    parser.add_argument("--config", default="v2_small")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the input")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        run_dir = root / f"random_{args.config}"
        make_random_run(args.rave, run_dir, args.config)
        source = root / "in.wav"
        write_tone(source, args.seconds)
        with Database(root / "bench.db") as db:
            experiment = completed_experiment(db, run_dir)
            print(f"{args.config}, random weights, {args.seconds:g} s of 44.1 kHz mono input")
            for streaming in (False, True):
                factors, walls = [], []
                for rep in range(args.reps):
                    started = time.perf_counter()
                    result = render(
                        db,
                        experiment,
                        source,
                        root / f"out-{streaming}-{rep}.wav",
                        streaming=streaming,
                        rave=args.rave,
                    )
                    walls.append(time.perf_counter() - started)
                    factors.append(result.realtime_factor or 0.0)
                mode = "streaming (4096)" if streaming else "offline"
                print(
                    f"{mode:17s} realtime factor {statistics.median(factors):6.2f}x "
                    f"(runs: {', '.join(f'{f:.2f}' for f in factors)}); whole command "
                    f"{statistics.median(walls):.1f} s"
                )


if __name__ == "__main__":
    main()
