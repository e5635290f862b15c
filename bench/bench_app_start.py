"""How long the desktop app takes from process start to the first paint of its window.

    QT_QPA_PLATFORM=offscreen python bench/bench_app_start.py [--reps 5] [--before SRC_DIR]

Each run starts a fresh interpreter that opens the app on an empty database (created
once, untimed) as ``python -m ravelab.gui`` does, with an event filter on the main window
that notes the time of its first paint event and then closes the window.
The time counted is from just before the process is started to that first paint
(``time.monotonic`` is one clock for every process of the machine). ``--before`` also
runs another source tree (its ``src`` folder), interleaved, so both are measured side by
side. Bytecode is cached, as for an installed package, and one untimed run comes first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

#: The app, its window watched for its first paint (reported on stdout), then closed. The
#: window is found once ``app.start`` returns it: its first paint comes later, from the
#: event loop. (``app.start`` imports the window's module itself, after the palette is
#: set, so the module is not imported here first.)
CHILD = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from ravelab.gui import app

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and not getattr(self, "painted", False):
            self.painted = True
            print(f"painted {time.monotonic():.6f}", flush=True)
            QTimer.singleShot(0, watched.close)
        return False

_start = app.start
_watcher = FirstPaint()

def start(argv=None):
    session = _start(argv)
    if not isinstance(session, int):
        session.window.installEventFilter(_watcher)
    return session

app.start = start
sys.exit(app.main(sys.argv[1:]))
"""


def run_once(src: Path, db: Path) -> float:
    """Seconds from starting the app's process to its window's first paint."""
    env = dict(os.environ, PYTHONPATH=str(src), QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "--db", str(db), "--runs-dir", str(db.parent / "runs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("painted "):
            return float(line.split()[1]) - started
    raise RuntimeError(f"the window never painted (exit {done.returncode}):\n{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another source tree to measure alongside")
    args = parser.parse_args()
    trees = {"now": SRC}
    if args.before is not None:
        trees = {"before": args.before.resolve(), "now": SRC}
    times: dict[str, list[float]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory() as folder:
        dbs = {}
        for tree, src in trees.items():
            (Path(folder) / tree).mkdir()
            dbs[tree] = Path(folder) / tree / "app.db"
            run_once(src, dbs[tree])  # creates the database, caches bytecode
        for _ in range(args.reps):
            for tree, src in trees.items():
                times[tree].append(run_once(src, dbs[tree]))
    print(f"process start to first paint of the main window, median of {args.reps}, ms")
    for tree, values in times.items():
        spread = f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
        print(f"{tree:>8}: {statistics.median(values) * 1000:6.0f} {spread}")


if __name__ == "__main__":
    main()
