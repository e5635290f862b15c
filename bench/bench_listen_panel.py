"""Benchmark: the Listen panel on a run of 300 default-size validation clips.

Not a test: it prints figures and asserts nothing about time.

A synthetic run is written to a temporary folder through the real code paths: 300 clips of
RAVE's default size (8 pairs of 2 x 131,072 samples, mono 16-bit: 4 MB each, 1.2 GB in all)
saved by ``write_wav`` in the run's ``audio/`` folder, recorded in a real SQLite file as the
follower records them (``audio_clips``, ``run_validations``, ``checkpoints``). Then, with Qt
offscreen and miniaudio's NULL device:

(o) first open: ``ListenPanel.show_runs(run)`` on a new panel until ``pair_loaded`` (the run's
    300 clips listed, WAV headers read, the newest clip read and split, both spectrograms
    computed, the pair in the player), then until the panel has painted once; target <= 300 ms;
(s) slider move to audio ready: ``slider.setValue(k)`` to a clip not read before until
    ``pair_loaded`` (the pair is in the player: Space would play it); target <= 100 ms;
    the parts of it measured alone: (r) reading and splitting the clip, (f) the two
    spectrograms.

The files were just written, so they come from the page cache, as a run's recent clips do.
Usage::

    QT_QPA_PLATFORM=offscreen python bench/bench_listen_panel.py [--clips 300] [--moves 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.core.listening.synthetic_runs
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("RAVELAB_AUDIO_BACKEND", "null")


def _wait(signal: object, timeout_ms: int = 60_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)  # type: ignore[attr-defined]


def _figures(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (
        f"{name:<44} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms   (n={len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--opens", type=int, default=5)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication
    from tests.core.listening.synthetic_runs import make_listen_run

    from ravelab.core.listening import views
    from ravelab.core.listening.clips import list_clips, read_pair
    from ravelab.db import Database
    from ravelab.db import experiments as rows
    from ravelab.gui.listen_panel import ListenPanel

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="ravelab-bench-listen-") as folder:
        root = Path(folder)
        db = Database(root / "ravelab.db")
        started = time.perf_counter()
        experiment_id = make_listen_run(db, root, "bench", clips=args.clips)
        record = rows.get_experiment(db, experiment_id)
        assert record is not None
        size = sum(p.stat().st_size for p in (root / f"{experiment_id}-bench" / "audio").iterdir())
        print(
            f"synthetic run: {args.clips} clips, {size / 2**20:.0f} MiB of WAV, written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        manager = SimpleNamespace(db=db)  # the panel reads manager.db only

        opens, painted = [], []
        for _ in range(args.opens):
            panel = ListenPanel(manager)  # type: ignore[arg-type]
            panel.resize(1280, 480)
            panel.show()
            app.processEvents()
            started = time.perf_counter()
            panel.show_runs(record)
            _wait(panel.pair_loaded)
            opens.append(time.perf_counter() - started)
            panel.repaint()
            painted.append(time.perf_counter() - started)
            assert panel.loaded is not None and len(panel.slider.steps) == args.clips
            panel.cleanup()
            panel.deleteLater()
            app.processEvents()

        panel = ListenPanel(manager)  # type: ignore[arg-type]
        panel.resize(1280, 480)
        panel.show()
        panel.show_runs(record)
        _wait(panel.pair_loaded)
        moves = []
        order = [(k * 37) % args.clips for k in range(1, args.moves + 1)]
        for index in order:
            if index == panel.slider.value():
                continue
            started = time.perf_counter()
            panel.slider.setValue(index)
            _wait(panel.pair_loaded)
            moves.append(time.perf_counter() - started)
            assert panel.loaded is not None and panel.loaded.clip.step == (index + 1) * 1000 - 1
            app.processEvents()
        panel.cleanup()

        clips = list_clips(db, record).clips
        reads, spectra = [], []
        for k in range(min(args.moves, len(clips))):
            started = time.perf_counter()
            heard, made = read_pair(clips[(k * 53) % len(clips)], k % 8)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            views.spectrogram(heard, 44_100)
            views.spectrogram(made, 44_100)
            spectra.append(time.perf_counter() - started)
        db.close()

    print(_figures("(o) first open, to the pair in the player", opens))
    print(_figures("    ... and painted", painted))
    print(_figures("(s) slider move to audio ready", moves))
    print(_figures("(r) read and split one clip (4 MB)", reads))
    print(_figures("(f) two spectrograms (131,072 samples each)", spectra))
    print("targets: (o) <= 300 ms, (s) <= 100 ms")


if __name__ == "__main__":
    main()
