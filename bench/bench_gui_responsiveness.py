"""Benchmark: does the Training page keep its event loop responsive under a flood of output?

Not a test: a script that prints figures. It opens the app's ``TrainingPage`` (offscreen
unless a display is set) over a real database in a temporary folder, starts a run through
the ``rave`` test double printing the original API's ``step: i loss: x lr: y`` lines at 10,000
lines a second (``FAKE_RAVE_STEP_LINES=200000``, ``FAKE_RAVE_STEP_RATE=10000``), selects
it so that its log viewer and plots are live, and for ``--seconds`` (15) measures:

* the gaps between the ticks of a 10 ms precise QTimer: the longest one is the longest
  time the event loop stalled (the goal: never above 50 ms);
* the process's RSS memory at the start, after a warm-up of 5 s, once the log view holds
  all the lines it may, and at the end (the goal: flat once the bounded parts are full);
* what the page showed meanwhile (log lines, plotted points, rendered frames, updates
  delivered), so that a responsive but idle page cannot pass for a fast one;
* the CPU each thread of the app and each child process used.

``--trace`` adds a diagnosis of the worst gaps: a watchdog thread samples the GUI
thread's Python stack while it is late, and the collector's passes, the canvas's frames
and the window's repaints are timed (a repaint with its CPU time, its time runnable but
not running, its waits and preemptions, and the widgets it painted). The tracing costs
the GUI thread some time itself: compare figures without it.

Then it stops the run and waits for it to end. Usage::

    .venv/bin/python bench/bench_gui_responsiveness.py
    .venv/bin/python bench/bench_gui_responsiveness.py --seconds 60 --lines 1000000
    .venv/bin/python bench/bench_gui_responsiveness.py --seconds 5 --rate 2000  # a smoke run
    .venv/bin/python bench/bench_gui_responsiveness.py --without gc  # one piece of tuning off

``--without PIECE`` (repeatable) leaves out one piece of ``ravelab.gui.interpreter``'s tuning
(``switch``: the switch interval, ``gc``: the collector's thresholds, ``freeze``: freezing
the startup heap, ``gc-paused``: pausing the collector during bulk reads, ``threadpool``: Qt
fills in the GUI thread, ``arenas``: glibc's malloc arenas), to measure what it is worth.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fake_rave, the `rave` double

import psutil  # noqa: E402
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QObject, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from tests.fake_rave import FIXTURES, write_launcher  # noqa: E402

from ravelab.core.datasets import register_dataset  # noqa: E402
from ravelab.core.runs.training_manager import TrainingManager  # noqa: E402
from ravelab.db import Database  # noqa: E402
from ravelab.gui import interpreter, metric_series  # noqa: E402
from ravelab.gui.app_signals import AppSignals  # noqa: E402
from ravelab.gui.interpreter import freeze_startup_heap  # noqa: E402
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


def _queued_ns() -> int:
    """Nanoseconds the calling thread has spent runnable but waiting for a CPU (Linux)."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0
    return int(fields.split()[1])


def _cpu_times(process: psutil.Process) -> dict[str, float]:
    """CPU seconds so far of each thread of this process (Python's names, else Qt's or
    the id) and of each child process (by command), for "where did the CPU go"."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    used: dict[str, float] = {}
    for thread in process.threads():
        name = names.get(thread.id)
        if name is None:
            try:
                name = Path(f"/proc/self/task/{thread.id}/comm").read_text().strip()
            except OSError:
                name = str(thread.id)
        name = "GUI thread" if thread.id == process.pid else name
        used[name] = used.get(name, 0.0) + thread.user_time + thread.system_time
    for child in process.children(recursive=True):
        try:
            times = child.cpu_times()
            label = Path(child.cmdline()[1] if len(child.cmdline()) > 1 else child.name()).name
        except (psutil.Error, IndexError):
            continue
        label = f"child {label}"
        used[label] = used.get(label, 0.0) + times.user + times.system
    return used


def _wait(app: QCoreApplication, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)


#: The pieces of ``interpreter.tune_interpreter`` (and the app's other tuning) by name.
TUNING = ("switch", "gc", "freeze", "gc-paused", "threadpool", "arenas")


def _tune(without: set[str]) -> None:
    """``interpreter.tune_interpreter()``, one piece at a time, less those ``without``."""
    if "switch" not in without:
        sys.setswitchinterval(interpreter.SWITCH_INTERVAL_S)
    if "gc" not in without:
        gc.set_threshold(*interpreter.GC_THRESHOLDS)
    if "arenas" not in without:
        interpreter.limit_malloc_arenas()
    if "threadpool" not in without:
        os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    if "gc-paused" in without:
        metric_series.gc_paused = contextlib.nullcontext  # type: ignore[assignment]
    print(f"tuning left out: {', '.join(sorted(without)) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time (15)")
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second (10,000)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines in all (200,000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="say what the GUI thread and the collector were doing during the worst gaps",
    )
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=TUNING,
        help="leave out one piece of the interpreter tuning; repeatable",
    )
    args = parser.parse_args()

    _tune(set(args.without))  # as the app does, less what --without leaves out
    app = QApplication.instance() or QApplication([sys.argv[0]])
    work = Path(tempfile.mkdtemp(prefix="ravelab-bench-gui-"))
    process = psutil.Process()
    try:
        os.environ["FAKE_RAVE_STEP_LINES"] = str(args.lines)
        os.environ["FAKE_RAVE_STEP_RATE"] = str(args.rate)
        rave = write_launcher(work / "bin")
        db = Database(work / "ravelab.db")
        dataset = register_dataset(db, _dataset(work), "flood")
        manager = TrainingManager(  # as the app makes it
            db, rave=str(rave), runs_dir=work / "runs", follow_out_of_process=True
        )
        tracer = StallTracer() if args.trace else None
        page_class = TrainingPage if tracer is None else tracer.timed_page(TrainingPage)
        page = page_class(manager, AppSignals())
        page.resize(1400, 900)
        page.show()
        _wait(app, 0.5)
        if "freeze" not in args.without:
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
            if tracer is not None:
                tracer.ticked()

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        rss_start = process.memory_info().rss
        cpu_start = _cpu_times(process)
        if tracer is not None:
            tracer.watch_paints(
                {
                    "table": page.table.viewport(),
                    "log": page.log_viewer.text.viewport(),
                    "log bar": page.log_viewer.text.verticalScrollBar(),
                    "plot": page.metrics_plot.canvas,
                    "details": page.details,
                }
            )
            tracer.start(page.metrics_plot.canvas)
        clock.start()
        timer.start()
        samples: list[int] = []
        sampler = QTimer()
        sampler.setInterval(1000)
        full_at: list[int] = []  # the sample at which the log view held all it may hold
        document = page.log_viewer.text.document()

        def sample() -> None:
            samples.append(process.memory_info().rss)
            if not full_at and document.blockCount() >= page.log_viewer.max_lines:
                full_at.append(len(samples) - 1)

        sampler.timeout.connect(sample)
        sampler.start()
        started = time.monotonic()
        _wait_loop(app, args.seconds)
        elapsed = time.monotonic() - started
        timer.stop()
        sampler.stop()
        if tracer is not None:
            tracer.stop()
        rss_end = process.memory_info().rss
        cpu_used = {
            name: seconds - cpu_start.get(name, 0.0)
            for name, seconds in _cpu_times(process).items()
        }

        experiment = page.model.experiment_by_id(experiment_id)
        step = experiment.progress.step if experiment is not None else 0
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
            if full_at:
                # The log view fills at the rate it shows lines (a flood's newest only).
                full = samples[full_at[0]]
                change = (rss_end - full) / 2**20
                print(f"  log view full at      {full_at[0] + 1} s: RSS {_mib(full)}, ", end="")
                print(f"end {_mib(rss_end)} ({change:+.1f} MiB)")
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
        busiest = sorted(cpu_used.items(), key=lambda item: -item[1])[:6]
        shares = ", ".join(f"{name} {seconds / elapsed:.0%}" for name, seconds in busiest)
        print(f"  CPU (of one core)     {shares}")
        if tracer is not None:
            tracer.report()

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


class _PaintNoter(QObject):
    def __init__(self, name: str, widget: Any, painted: list[tuple[float, str]]) -> None:
        super().__init__(widget)
        self.name, self.painted = name, painted
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted.append((time.perf_counter(), self.name))
        return False


class StallTracer:
    """What was going on when the GUI thread stalled (``--trace``; a diagnosis aid).

    A watchdog thread samples the GUI thread's Python stack whenever its timer is more
    than ``LATE_MS`` late; the collector's callbacks time every collection; the canvas's
    frames are timed in its render thread. ``report`` lists, for each gap over the limit,
    the samples, collections and frames that overlap it.
    """

    LATE_MS = 25
    SAMPLE_S = 0.004

    def __init__(self) -> None:
        self._main = threading.main_thread().ident
        self._last_tick = time.perf_counter()
        self._running = False
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.ticks: list[float] = []
        self.samples: list[tuple[float, str]] = []
        self.collections: list[tuple[float, float, int]] = []
        self.frames: list[tuple[float, float, bool]] = []
        self.paints: list[tuple[float, float, float, float, tuple[int, int]]] = []
        self._gc_start = 0.0

    def start(self, canvas: Any = None) -> None:
        self._running = True
        gc.callbacks.append(self._on_gc)
        if canvas is not None:
            self._wrap_frames(canvas)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        gc.callbacks.remove(self._on_gc)
        self._thread.join()

    def ticked(self) -> None:
        self._last_tick = time.perf_counter()
        self.ticks.append(self._last_tick)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        else:
            self.collections.append((self._gc_start, now, info["generation"]))

    def watch_paints(self, widgets: dict[str, Any]) -> None:
        """Note when each of ``widgets`` is painted (which parts a slow repaint held)."""
        self.painted: list[tuple[float, str]] = []
        self._filters = [
            _PaintNoter(name, widget, self.painted) for name, widget in widgets.items()
        ]

    def timed_page(self, page_class: type) -> type:
        """A subclass of ``page_class`` whose window repaints are timed (they come as
        ``UpdateRequest`` events to the top-level widget, painting it all)."""
        paints = self.paints

        class Timed(page_class):  # type: ignore[misc, valid-type]
            def event(self, event: QEvent) -> bool:
                if event.type() != QEvent.Type.UpdateRequest:
                    return bool(super().event(event))
                usage = resource.getrusage(resource.RUSAGE_THREAD)
                queued = _queued_ns()
                begun, cpu = time.perf_counter(), time.thread_time()
                handled = bool(super().event(event))
                end, cpu = time.perf_counter(), time.thread_time() - cpu
                queued = (_queued_ns() - queued) / 1e9
                after = resource.getrusage(resource.RUSAGE_THREAD)
                waits = (after.ru_nvcsw - usage.ru_nvcsw, after.ru_nivcsw - usage.ru_nivcsw)
                paints.append((begun, end, cpu, queued, waits))
                return handled

        return Timed

    def _wrap_frames(self, canvas: Any) -> None:
        draw = canvas._draw_frame

        def timed(renderer: Any, key: Any) -> None:
            whole = canvas.full_frames
            begun = time.perf_counter()
            draw(renderer, key)
            self.frames.append((begun, time.perf_counter(), canvas.full_frames != whole))

        canvas._draw_frame = timed

    def _watch(self) -> None:
        while self._running:
            time.sleep(self.SAMPLE_S)
            now = time.perf_counter()
            if (now - self._last_tick) * 1000 < self.LATE_MS:
                continue
            frame = sys._current_frames().get(self._main)
            stack = traceback.extract_stack(frame)[-4:] if frame is not None else []
            where = " < ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
            )
            self.samples.append((now, where or "?"))

    def report(self, limit_ms: float = STALL_LIMIT_MS) -> None:
        print(f"  collections           {self._collection_summary()}")
        whole = [end - begun for begun, end, full in self.frames if full]
        if whole:
            print(f"  whole frames (ms)     max {max(whole) * 1000:.0f}, n {len(whole)}")
        paints = sorted((end - begun) * 1000 for begun, end, *_ in self.paints)
        if paints:
            median = paints[len(paints) // 2]
            print(f"  window repaints (ms)  n {len(paints)}, median {median:.1f}, ", end="")
            print(f"p99 {paints[int(len(paints) * 0.99)]:.1f}, max {paints[-1]:.1f}")
            by_parts: dict[str, list[float]] = {}
            for begun, end, *_ in self.paints:
                parts = sorted({name for when, name in self.painted if begun <= when <= end})
                by_parts.setdefault(", ".join(parts), []).append((end - begun) * 1000)
            for parts_shown, spans in sorted(by_parts.items(), key=lambda item: -len(item[1])):
                spans.sort()
                print(
                    f"    {parts_shown or 'other'}: n {len(spans)}, "
                    f"median {spans[len(spans) // 2]:.1f}, max {spans[-1]:.1f}"
                )
        for before, after in zip(self.ticks, self.ticks[1:], strict=False):
            gap = (after - before) * 1000
            if gap <= limit_ms * 0.8:
                continue
            at = before - self.ticks[0]
            print(f"  gap {gap:.0f} ms at {at:.1f} s")
            for begun, end, generation in self.collections:
                if begun < after and end > before:
                    ms = (end - begun) * 1000
                    print(f"    collection gen {generation}: {ms:.0f} ms")
            for begun, end, full in self.frames:
                if begun < after and end > before:
                    kind = "whole" if full else "lines"
                    print(f"    frame ({kind}): {(end - begun) * 1000:.0f} ms")
            for begun, end, cpu, queued, (waited, preempted) in self.paints:
                if begun < after and end > before:
                    ms = (end - begun) * 1000
                    parts = sorted({name for when, name in self.painted if begun <= when <= end})
                    print(
                        f"    window repaint: {ms:.0f} ms ({cpu * 1000:.0f} on the CPU, "
                        f"{queued * 1000:.0f} runnable but not running, "
                        f"{waited} waits, {preempted} preemptions): {', '.join(parts)}"
                    )
            seen: dict[str, int] = {}
            for when, where in self.samples:
                if before < when <= after:
                    seen[where] = seen.get(where, 0) + 1
            for where, count in sorted(seen.items(), key=lambda item: -item[1])[:4]:
                print(f"    {count} x {where}")

    def _collection_summary(self) -> str:
        parts = []
        for generation in range(3):
            spans = [e - b for b, e, g in self.collections if g == generation]
            if spans:
                parts.append(f"gen {generation}: {len(spans)}, max {max(spans) * 1000:.1f} ms")
        return "; ".join(parts) or "none"


def _wait_loop(app: QCoreApplication, seconds: float) -> None:
    """Run the event loop for ``seconds`` (the app's own loop, not processEvents)."""
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()


if __name__ == "__main__":
    sys.exit(main())
