"""Benchmark: loading a metric series and drawing it.

Not a test: it prints figures and asserts nothing about time.

Target 2, loading one series for plotting. A ravelab database (its real schema) holds 4 series
of ``N`` points each (default N = 250,000, as 1,000,000 points from ``insert_points``); one
series is loaded, in interleaved repetitions, by:

(s) a bare ``SELECT step, value FROM metric_points WHERE experiment_id = ? AND name = ?
    ORDER BY step`` and ``fetchall()`` on a plain ``sqlite3`` connection, from a table with a
    row per point (ravelab's schema up to version 3, the peer harness's raw SQLite; made
    from the same points, untimed): the floor;
(m) ``TrainingManager.get_metric_history`` (``ravelab.db.experiments.metric_history``), what
    the app calls, from ravelab's packed blocks; target: (m)/(s) <= 2;
(p) the blocks alone: ``ravelab.db.point_blocks.read_columns`` (the blobs of the series'
    blocks as NumPy arrays, no Python object per point);
(n) (m) then ``ravelab.plots.series.history_arrays``: what a plot needs (numpy arrays);
(x) MLflow's ``MlflowClient.get_metric_history`` on the same series, stored in MLflow's own
    SQLite tracking store (schema made by MLflow, rows bulk-inserted into its ``metrics``
    table, untimed); target: (x)/(m) >= 20.

Target 3, decimate and draw. A series of 1,000,000 points (a noisy decay) in the app's
training figure (``ravelab.gui.plot_panels``: a reconstruction panel over a learning-rate
panel) on a matplotlib Agg canvas of 800x450 px, the loss axes limits fixed to the data's
range. Measured, interleaved:

(e) ``canvas.draw()`` with the loss line empty: the empty axes (the floor);
(d) ``ravelab.plots.decimate.minmax_decimate`` to the loss axes' width in pixels,
    ``figures.update_series`` and ``canvas.draw()``; target: (d)/(e) <= 1.5;
(k) the decimation alone;
(r) ``update_series`` with all 1,000,000 points and ``canvas.draw()`` (no decimation; matplotlib's
    own path simplification on, its default);
(e1), (d1) as (e) and (d) on one plain axes (the peer harness's figure), whose empty draw is
    cheaper, so the same line weighs more in the ratio.

Each draw sample averages enough back-to-back draws to last about 0.5 s. Timings are wall-clock
(``time.perf_counter``); ratios are taken per repetition (both sides measured seconds apart),
then the median.

Needs matplotlib and numpy (the ``gui`` extra) and mlflow (the ``bench`` extra); without mlflow
the MLflow row is left out. Usage::

    .venv/bin/python bench/bench_metrics.py               # full run, about 2 minutes on 2 cores
    .venv/bin/python bench/bench_metrics.py --scale 0.02  # smoke run
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
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
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

try:
    from ravelab.core.runs.training_manager import TrainingManager
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, point_blocks
from ravelab.db import experiments as rows
from ravelab.gui.plot_panels import PanelFigure
from ravelab.plots import figures
from ravelab.plots.decimate import FloatArray, minmax_decimate
from ravelab.plots.series import history_arrays

TAGS = ("loss", "fullband_spectral_distance", "multiband_spectral_distance", "validation")
SERIES = "loss"
SELECT = "SELECT step, value FROM metric_points WHERE experiment_id = ? AND name = ? ORDER BY step"
DRAW_POINTS = 1_000_000
FIGURE_INCHES = (8.0, 4.5)
DPI = 100
SAMPLE_S = 0.5


def fill_ravelab(path: Path, per_series: int) -> tuple[Database, int]:
    """A ravelab database with ``len(TAGS)`` series of ``per_series`` points each."""
    db = Database(path)
    experiment = rows.insert_experiment(
        db, name="bench", project_id=1, dataset_id=None, config={}, status="completed"
    )
    rng = random.Random(7)
    start = 1_795_672_257.0
    batch: list[tuple[str, int, float, float]] = []
    for step in range(per_series):
        for index, tag in enumerate(TAGS):
            value = 20.0 / (1.0 + step / 5000.0) + rng.gauss(0.0, 0.5) + index
            batch.append((tag, step, value, start + step * 0.04 + index * 0.01))
        if len(batch) >= 100_000:
            with db.atomic():
                rows.insert_points(db, experiment, batch)
            batch.clear()
    with db.atomic():
        rows.insert_points(db, experiment, batch)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, experiment


def fill_rows(path: Path, db: Database, experiment: int) -> sqlite3.Connection:
    """The same points in a table with a row per point (the floor's database)."""
    bare = sqlite3.connect(path, isolation_level=None)
    bare.execute(
        "CREATE TABLE metric_points (experiment_id INTEGER NOT NULL, name TEXT NOT NULL, "
        "step INTEGER NOT NULL, value REAL NOT NULL, wall_time REAL NOT NULL, "
        "PRIMARY KEY (experiment_id, name, step)) WITHOUT ROWID"
    )
    bare.execute("BEGIN")
    for name in rows.metric_names(db, experiment):
        columns = rows.metric_columns(db, experiment, name)
        bare.executemany(
            "INSERT INTO metric_points VALUES (?, ?, ?, ?, ?)",
            zip(
                [experiment] * len(columns),
                [name] * len(columns),
                columns.steps.tolist(),
                columns.values.tolist(),
                columns.walls.tolist(),
                strict=True,
            ),
        )
    bare.execute("COMMIT")
    return bare


class MlflowSeries:
    """One series in MLflow's own SQLite tracking store, read with ``get_metric_history``."""

    def __init__(self, folder: Path, points: list[tuple[int, float]]) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        for name in ("alembic", "mlflow", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.WARNING)
        import mlflow
        from mlflow.tracking import MlflowClient

        self.version = mlflow.__version__
        path = folder / "mlflow.db"
        start = time.perf_counter()
        self.client: Any = MlflowClient(tracking_uri=f"sqlite:///{path}")
        experiment = self.client.create_experiment("bench")
        self.run_id: str = self.client.create_run(experiment).info.run_id
        self.setup_s = time.perf_counter() - start
        t0_ms = 1_795_672_257_000
        connection = sqlite3.connect(path)
        with connection:
            connection.executemany(
                "INSERT INTO metrics(key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (SERIES, value, t0_ms + step * 40, step, 0, self.run_id)
                    for step, value in points
                ),
            )
        connection.close()

    def history(self) -> int:
        """Load the series; return its length."""
        return len(self.client.get_metric_history(self.run_id, SERIES))


class DrawBench:
    """An 800x450 px Agg figure with one loss line: the app's training figure, or one plain
    axes (the figure of the peer harness)."""

    def __init__(self, x: FloatArray, y: FloatArray, training: bool) -> None:
        self.x, self.y = x, y
        self.figure = Figure(figsize=FIGURE_INCHES, dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        empty = np.empty(0, dtype=np.float64)
        self.empty = empty
        if training:
            panels = PanelFigure(self.figure)
            panels.layout(("reconstruction", "lr"))
            figures.set_title(self.figure, "bench")
            self.axes = panels.top
        else:
            self.axes = self.figure.add_subplot()
            self.axes.set_xlabel("step")
            self.axes.set_ylabel("loss")
        (self.line,) = self.axes.plot(empty, empty, lw=1.0, label=SERIES)
        # Fixed limits: the empty and the full draw get the same ticks and labels.
        self.axes.set_xlim(0.0, float(x[-1]))
        self.axes.set_ylim(float(y.min()), float(y.max()))
        self.canvas.draw()  # warm-up: font cache, text layout
        self.width = figures.axes_width_px(self.axes)

    def empty_draw(self) -> None:
        """The figure with an empty loss line."""
        figures.update_series(self.line, self.empty, self.empty)
        self.canvas.draw()

    def decimate(self) -> None:
        """Min-max decimation to the axes' width."""
        minmax_decimate(self.x, self.y, self.width)

    def decimated_draw(self) -> None:
        """Decimate, set the line's data, draw."""
        x, y = minmax_decimate(self.x, self.y, self.width)
        figures.update_series(self.line, x, y)
        self.canvas.draw()

    def raw_draw(self) -> None:
        """Every point, no decimation."""
        figures.update_series(self.line, self.x, self.y)
        self.canvas.draw()


def sample(inner: dict[str, int], key: str, fn: Callable[[], None]) -> float:
    """Seconds per call of ``fn``, averaged over enough calls to last ``SAMPLE_S``."""
    if key not in inner:
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        inner[key] = max(1, min(200, math.ceil(SAMPLE_S / max(once, 1e-5))))
    count = inner[key]
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """Run ``fn`` after a garbage collection; return (seconds, its result)."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fmt_seconds(seconds: float) -> str:
    """Format a duration with a unit that suits it."""
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def ratio(top: list[float], bottom: list[float]) -> tuple[float, str]:
    """Median and range of the per-repetition ratios top/bottom."""
    ratios = sorted(t / b for t, b in zip(top, bottom, strict=True))
    return statistics.median(ratios), f"{ratios[0]:.2f} .. {ratios[-1]:.2f}"


def table(
    names: dict[str, str], samples: dict[str, list[float]], unit: str, rate: Callable[[float], str]
) -> None:
    """Print median, min and max of each measurement, and ``rate(median)``."""
    print(f"| what | median | min | max | {unit} |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for key, label in names.items():
        if samples.get(key):
            values = samples[key]
            median = statistics.median(values)
            print(
                f"| {label} | {fmt_seconds(median)} | {fmt_seconds(min(values))} | "
                f"{fmt_seconds(max(values))} | {rate(median)} |"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply both N by this")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (5)")
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the scratch folder")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")

    per_series = max(int(250_000 * args.scale), 1_000)
    draw_points = max(int(DRAW_POINTS * args.scale), 10_000)
    scratch = Path(tempfile.mkdtemp(prefix="bench_metrics_", dir=args.tmp))
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, matplotlib "
        f"{matplotlib.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    try:
        db, experiment = fill_ravelab(scratch / "ravelab.sqlite3", per_series)
        manager = TrainingManager(db, follow=False, runs_dir=scratch / "runs")
        bare = fill_rows(scratch / "rows.sqlite3", db, experiment)
        history = manager.get_metric_history(experiment, SERIES)
        assert history == bare.execute(SELECT, (experiment, SERIES)).fetchall()
        assert point_blocks.read_columns(db, experiment, SERIES).steps.tolist() == [
            step for step, _ in history
        ]
        mlflow: MlflowSeries | None = None
        if not args.no_mlflow:
            try:
                mlflow = MlflowSeries(scratch, history)
                print(f"mlflow {mlflow.version}: tracking store made in {mlflow.setup_s:.1f} s")
            except ImportError:
                print("mlflow is not installed: its row is left out (pip install mlflow)")
        del history
        print(f"series of {per_series:,} points; {len(TAGS)} series in the database")

        loads: dict[str, Callable[[], int]] = {
            "s": lambda: len(bare.execute(SELECT, (experiment, SERIES)).fetchall()),
            "m": lambda: len(manager.get_metric_history(experiment, SERIES)),
            "p": lambda: len(point_blocks.read_columns(db, experiment, SERIES)),
            "n": lambda: len(history_arrays(manager.get_metric_history(experiment, SERIES))[0]),
        }
        if mlflow is not None:
            loads["x"] = mlflow.history
        load_names = {
            "s": "(s) bare SELECT ... ORDER BY step, fetchall()",
            "m": "(m) TrainingManager.get_metric_history",
            "p": "(p) point_blocks.read_columns: the blocks as numpy arrays",
            "n": "(n) (m) + history_arrays (numpy, for the plot)",
            "x": "(x) MLflow MlflowClient.get_metric_history",
        }
        load_samples: dict[str, list[float]] = {key: [] for key in loads}

        rng = np.random.default_rng(7)
        x = np.arange(draw_points, dtype=np.float64)
        y = 0.3 + 1.7 / (1.0 + x / 5e4) + 0.05 * rng.random(draw_points)
        app = DrawBench(x, y, training=True)
        plain = DrawBench(x, y, training=False)
        draws: dict[str, Callable[[], None]] = {
            "e": app.empty_draw,
            "d": app.decimated_draw,
            "k": app.decimate,
            "r": app.raw_draw,
            "e1": plain.empty_draw,
            "d1": plain.decimated_draw,
        }
        draw_names = {
            "e": "(e) training figure, empty axes: canvas.draw()",
            "d": f"(d) training figure: minmax_decimate to {app.width} px + update_series + draw",
            "k": "(k) minmax_decimate alone",
            "r": f"(r) training figure, all {draw_points:,} points, no decimation",
            "e1": "(e1) one plain axes (the peer harness's figure), empty: canvas.draw()",
            "d1": f"(d1) one plain axes: minmax_decimate to {plain.width} px + draw",
        }
        draw_samples: dict[str, list[float]] = {key: [] for key in draws}
        inner: dict[str, int] = {}

        for rep in range(args.reps):
            for key, fn in loads.items():
                seconds, count = timed(fn)
                assert count == per_series, (key, count)
                load_samples[key].append(seconds)
            for key, draw in draws.items():
                draw_samples[key].append(sample(inner, key, draw))
            print(
                f"  rep {rep + 1}/{args.reps}: "
                + ", ".join(f"{k} {fmt_seconds(v[-1])}" for k, v in load_samples.items())
                + "; "
                + ", ".join(f"{k} {fmt_seconds(v[-1])}" for k, v in draw_samples.items())
                + f" (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        bare.close()
        manager.shutdown()
        db.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"## Target 2: loading one {per_series:,}-point series ({args.reps} repetitions)")
    print()
    table(load_names, load_samples, "rate", lambda t: f"{per_series / t / 1e6:.2f} M pts/s")
    print()
    print("| ratio (median of per-repetition ratios) | median | range | target |")
    print("| --- | ---: | ---: | --- |")
    checks: list[tuple[str, str, str, Callable[[float], bool], str]] = [
        ("m", "s", "get_metric_history / bare SELECT", lambda r: r <= 2.0, "<= 2"),
        ("p", "s", "read_columns / bare SELECT", lambda r: True, ""),
        ("n", "s", "get_metric_history + arrays / bare SELECT", lambda r: True, ""),
    ]
    if "x" in load_samples:
        checks += [
            ("x", "m", "MLflow / get_metric_history", lambda r: r >= 20.0, ">= 20"),
            ("x", "p", "MLflow / read_columns (arrays)", lambda r: True, ""),
            ("x", "s", "MLflow / bare SELECT", lambda r: True, ""),
        ]
    for top, bottom, label, ok, target in checks:
        value, spread = ratio(load_samples[top], load_samples[bottom])
        verdict = f"{target}: {'met' if ok(value) else 'NOT met'}" if target else ""
        print(f"| {label} | {value:.2f} | {spread} | {verdict} |")

    print()
    print(
        f"## Target 3: decimate + draw of a {draw_points:,}-point series, "
        f"{FIGURE_INCHES[0] * DPI:.0f}x{FIGURE_INCHES[1] * DPI:.0f} px Agg ({args.reps} reps)"
    )
    print()
    table(draw_names, draw_samples, "rate", lambda t: f"{1 / t:,.1f} /s")
    print()
    print("| ratio (median of per-repetition ratios) | median | range | target |")
    print("| --- | ---: | ---: | --- |")
    for top, bottom, label, target in (
        ("d", "e", "training figure: decimate + draw / empty axes", 1.5),
        ("d1", "e1", "plain axes: decimate + draw / empty axes", 1.5),
        ("r", "e", "training figure: undecimated draw / empty axes", None),
        ("k", "d", "decimation's share of decimate + draw", None),
    ):
        value, spread = ratio(draw_samples[top], draw_samples[bottom])
        verdict = f"<= {target}: {'met' if value <= target else 'NOT met'}" if target else ""
        print(f"| {label} | {value:.2f} | {spread} | {verdict} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
