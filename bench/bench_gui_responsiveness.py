"""Benchmark: does the Training page keep its event loop responsive under a flood of output?

Not a test: a script that prints figures. It opens the app's ``TrainingPage`` (offscreen
unless a display is set) over a real database in a temporary folder, starts a run through
the ``rave`` test double printing the seed's ``step: i loss: x lr: y`` lines at 10,000
lines a second (``FAKE_RAVE_SEED_LINES=200000``, ``FAKE_RAVE_SEED_RATE=10000``), selects
it so that its log viewer and plots are live, and for ``--seconds`` (15) measures:

* the gaps between the ticks of a 10 ms precise QTimer: the longest one is the longest
  time the event loop stalled (the goal: never above 50 ms);
* the process's RSS memory at the start, after a warm-up of 5 s and at the end (the
  goal: flat once the bounded parts are full);
* what the page showed meanwhile (log lines, plotted points, rendered frames, updates
  delivered), so that a responsive but idle page cannot pass for a fast one.

Then it stops the run and waits for it to end. Usage::

    .venv/bin/python bench/bench_gui_responsiveness.py
    .venv/bin/python bench/bench_gui_responsiveness.py --seconds 5 --rate 2000  # a smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fake_rave, the `rave` double

import psutil  # noqa: E402
from PySide6.QtCore import QCoreApplication, QElapsedTimer, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from tests.fake_rave import FIXTURES, write_launcher  # noqa: E402

from ravelab.core.datasets import register_dataset  # noqa: E402
from ravelab.core.training_manager import TrainingManager  # noqa: E402
from ravelab.db import Database  # noqa: E402
from ravelab.gui.app_signals import AppSignals  # noqa: E402
from ravelab.gui.interpreter import freeze_startup_heap, tune_interpreter  # noqa: E402
from ravelab.gui.training_page import TrainingPage  # noqa: E402

TICK_MS = 10
WARM_UP_S = 5
STALL_LIMIT_MS = 50


def _mib(value: int) -> str:
    return f"{value / 2**20:,.1f} MiB"


def _dataset(folder: Path) -> Path:
    dataset = folder / "datasets" / "flood"
    dataset.mkdir(parents=True)
    shutil.copy(FIXTURES / "dataset-prep" / "metadata.yaml", dataset / "metadata.yaml")
    (dataset / "data.mdb").write_bytes(b"\0" * 4096)
    return dataset


def _wait(app: QCoreApplication, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time (15)")
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second (10,000)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines in all (200,000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tune_interpreter()  # as the app does
    app = QApplication.instance() or QApplication([sys.argv[0]])
    work = Path(tempfile.mkdtemp(prefix="ravelab-bench-gui-"))
    process = psutil.Process()
    try:
        os.environ["FAKE_RAVE_SEED_LINES"] = str(args.lines)
        os.environ["FAKE_RAVE_SEED_RATE"] = str(args.rate)
        rave = write_launcher(work / "bin")
        db = Database(work / "ravelab.db")
        dataset = register_dataset(db, _dataset(work), "flood")
        manager = TrainingManager(  # as the app makes it
            db, rave=str(rave), runs_dir=work / "runs", follow_out_of_process=True
        )
        page = TrainingPage(manager, AppSignals())
        page.resize(1400, 900)
        page.show()
        _wait(app, 0.5)
        freeze_startup_heap()  # as the app does once its window is up

        config = {
            "name": "flood",
            "dataset_id": dataset.id,
            "config": "v2",
            "max_steps": args.lines,
            "batch_size": 8,
            "gpu": -1,
        }
        experiment_id = page.start_training(config)
        if experiment_id is None:
            print("the run could not start", file=sys.stderr)
            return 1
        assert page.selected_id == experiment_id

        counts = {"deliveries": 0, "log reads": 0}

        def count(name: str) -> None:
            counts[name] += 1

        page.bridge.delivered.connect(lambda: count("deliveries"))
        page.log_viewer.chunk_applied.connect(lambda _lines: count("log reads"))
        gaps: list[float] = []
        clock = QElapsedTimer()
        last = [0]

        def tick() -> None:
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        rss_start = process.memory_info().rss
        clock.start()
        timer.start()
        samples: list[int] = []
        sampler = QTimer()
        sampler.setInterval(1000)
        sampler.timeout.connect(lambda: samples.append(process.memory_info().rss))
        sampler.start()
        started = time.monotonic()
        _wait_loop(app, args.seconds)
        elapsed = time.monotonic() - started
        timer.stop()
        sampler.stop()
        rss_end = process.memory_info().rss

        experiment = page.model.experiment_by_id(experiment_id) or {}
        step = int((experiment.get("progress") or {}).get("step") or 0)
        loss_line = page.metrics_plot.line("loss")
        shown_points = 0 if loss_line is None else len(loss_line.get_xdata())
        stored = len(manager.get_metric_history(experiment_id, "loss"))
        log_lines = len(page.log_viewer.line_texts())

        gaps_sorted = sorted(gaps)
        worst = gaps_sorted[-1] if gaps_sorted else float("nan")
        p99 = gaps_sorted[int(len(gaps_sorted) * 0.99)] if gaps_sorted else float("nan")
        stalls = sum(1 for gap in gaps if gap > STALL_LIMIT_MS)
        print("GUI responsiveness under a flood of output")
        print(f"  machine               {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"  platform              {QApplication.platformName()}")
        print(f"  output                {args.rate:,} lines/s requested, {args.lines:,} lines")
        print(f"  measured for          {elapsed:.1f} s ({len(gaps):,} ticks of {TICK_MS} ms)")
        print(f"  max gap               {worst:.1f} ms   (goal: <= {STALL_LIMIT_MS} ms)")
        print(f"  p99 gap / median gap  {p99:.1f} ms / {statistics.median(gaps):.1f} ms")
        print(f"  gaps over {STALL_LIMIT_MS} ms       {stalls}")
        # When the worst gaps happened (seconds after the run started): a run's start
        # (spawning its follower, first reads and layout) or its steady flow.
        ends = [sum(gaps[: i + 1]) / 1000 for i in range(len(gaps))] if len(gaps) < 20_000 else []
        longest = sorted(range(len(gaps)), key=gaps.__getitem__)[-5:] if ends else []
        when = ", ".join(f"{gaps[i]:.0f} ms at {ends[i]:.1f} s" for i in sorted(longest))
        print(f"  worst gaps            {when}")
        print(f"  RSS start / end       {_mib(rss_start)} / {_mib(rss_end)}")
        if samples:
            print(f"  RSS min / max (1 s)   {_mib(min(samples))} / {_mib(max(samples))}")
            # The first seconds fill the bounded parts (the log view's lines, the plot's
            # summaries, Qt's caches); what grows after that would grow without end.
            warm = samples[min(WARM_UP_S, len(samples)) - 1]
            change = (rss_end - warm) / 2**20
            print(f"  RSS after {WARM_UP_S} s / end  {_mib(warm)} / {_mib(rss_end)}", end="")
            print(f" ({change:+.1f} MiB)")
            trace = " ".join(f"{sample / 2**20:.0f}" for sample in samples[4::5])
            print(f"  RSS every 5 s (MiB)   {trace}")
        print(f"  run progress          step {step:,} ({step / elapsed:,.0f} steps/s followed)")
        print(f"  loss points stored    {stored:,}; drawn after decimation: {shown_points:,}")
        print(f"  log viewer lines      {log_lines:,} (bounded)")
        canvas = page.metrics_plot.canvas
        whole = canvas.full_frames
        print(f"  plot frames rendered  {canvas.frames} ({whole} whole, the rest lines only)")
        deliveries, log_reads = counts["deliveries"], counts["log reads"]
        rate = deliveries / elapsed
        print(f"  updates delivered     {deliveries} ({rate:.1f}/s: table row, details)")
        print(f"  log reads shown       {log_reads} ({log_reads / elapsed:.1f}/s)")

        manager.stop_training(experiment_id)
        manager.wait(experiment_id, timeout=60)
        page.cleanup()
        manager.shutdown()
        db.close()
        return 0 if worst <= STALL_LIMIT_MS else 2
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _wait_loop(app: QCoreApplication, seconds: float) -> None:
    """Run the event loop for ``seconds`` (the app's own loop, not processEvents)."""
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()


if __name__ == "__main__":
    sys.exit(main())
