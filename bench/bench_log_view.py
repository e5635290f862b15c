"""Benchmark: what inserting a merged log's lines costs the GUI thread, by kind of line.

Not a test: a script that prints figures. It shows a ``LogViewer`` (offscreen unless a
display is set) and appends 400 slices of 50 lines each (``SLICE_LINES``, what the viewer
inserts per turn of the event loop), then lets Qt lay out and paint: plain lines, harmless
noise (one folded group that keeps growing, as gin's or the profiler's lines do), and
mixed (two noise lines in three). Each slice's time is the GUI thread's stall for it::

    .venv/bin/python bench/bench_log_view.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from PySide6.QtWidgets import QApplication

from ravelab.gui.log_viewer import SLICE_LINES, LogViewer

SLICES = 400


def _lines(kind: str, slice_index: int) -> list[tuple[str, str]]:
    first = slice_index * SLICE_LINES
    if kind == "plain":
        return [("plain", f"step: {first + i} loss: 0.1") for i in range(SLICE_LINES)]
    if kind == "noise":
        return [("noise:gin", f"E1126 Path not found: {first + i}") for i in range(SLICE_LINES)]
    return [
        ("noise:warnings" if i % 3 else "plain", f"line {first + i}") for i in range(SLICE_LINES)
    ]


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    print(f"log view: {SLICES} slices of {SLICE_LINES} lines, 5,000 lines kept")
    for kind in ("plain", "noise", "mixed"):
        viewer = LogViewer(max_lines=5000)
        viewer.resize(900, 500)
        viewer.show()
        app.processEvents()
        times = []
        for index in range(SLICES):
            start = time.perf_counter()
            viewer._append(_lines(kind, index))  # what the viewer's drain does per slice
            app.processEvents()  # Qt's layout and paint of it
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(
            f"  {kind:6} mean {statistics.fmean(times):5.1f} ms, p99 "
            f"{times[int(len(times) * 0.99)]:5.1f} ms, worst {times[-1]:5.1f} ms per slice"
        )
        viewer.cleanup()
        viewer.deleteLater()
        app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
