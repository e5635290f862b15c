"""Interpreter settings that keep the GUI thread responsive next to busy core threads.

The GUI thread shares Python's interpreter lock with the threads that follow runs (a run
printing 10,000 lines a second keeps one busy) and with the app's worker threads. Two
things decide how long the GUI thread can be kept waiting:

* the switch interval: every call from Qt into Python (a model's ``data()``, a slot) has
  to take the lock back, waiting up to this long; Python's default 5 ms makes a repaint
  of a few hundred such calls stall for a second, 0.5 ms keeps the stalls short at a
  small cost in throughput;
* the garbage collector: a full collection walks every object (Qt wrappers, matplotlib,
  numpy: a few hundred thousand) holding the lock for 50 to 100 ms, and a thread that
  allocates fast (parsing output) triggers one every few seconds. Freezing what exists
  once the window is built keeps those objects out of every later collection, and
  larger thresholds make collections rarer.

* short-lived bulk data: reading a metric history builds a list of (step, value) tuples,
  a hundred thousand and more; collections during the read promote them all to the
  oldest generation and make the next full collection pause for 200 ms. ``gc_paused``
  keeps the collector off while such a list lives.

* Qt's raster thread pool: Qt hands large fills of a repaint (a scroll bar's groove, a
  progress bar) to a pool of threads and waits for them; on a machine whose cores are
  busy with training, waiting for those threads to be scheduled took longer than the
  fills (a window repaint's median fell from 5.2 to 2.4 ms without the pool).
  ``QT_NO_GUI_THREADPOOL`` keeps fills in the GUI thread; it must be set before the
  first paint.

* glibc's malloc arenas: each thread that allocates under contention gets an arena of its
  own (up to 8 per core), and memory freed in one is not reused by another, so the app's
  threads (render, readers, Qt's pools) grow its RSS in steps long after start-up.
  ``M_ARENA_MAX = 2`` (what ``MALLOC_ARENA_MAX=2`` sets) bounds that.

Measured with ``bench/bench_gui_responsiveness.py``.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL_S = 0.0005
#: Allocations between young collections (Python's default is 700).
GC_THRESHOLDS = (10_000, 50, 50)


logger = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter number of ``M_ARENA_MAX`` (malloc.h).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def tune_interpreter() -> None:
    """Set the switch interval, GC thresholds, malloc arenas and Qt's serial fills (call
    at startup, before the QApplication exists)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    limit_malloc_arenas()
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")  # a user's own setting wins


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Bound glibc's malloc arenas for threads started from now on (Linux with glibc
    only; elsewhere, or when ``MALLOC_ARENA_MAX`` is set, nothing is changed)."""
    if not sys.platform.startswith("linux"):
        return False
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    # The process's own symbols (libc among them): find_library would run ldconfig.
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    ok = bool(mallopt(_M_ARENA_MAX, arenas))
    if not ok:
        logger.debug("mallopt(M_ARENA_MAX, %d) was refused", arenas)
    return ok


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of later collections (call
    once the main window exists). Frozen objects that die later are simply not freed by
    the collector when they sit in reference cycles; the startup heap has few of them."""
    gc.collect()
    gc.freeze()


_pause_lock = threading.Lock()
_pauses = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the collector off while a block builds and drops bulk data (any thread).

    The collector is process-wide: it is enabled again when the last such block ends.
    """
    global _pauses
    with _pause_lock:
        _pauses += 1
        was_enabled = gc.isenabled() if _pauses == 1 else True
        gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and was_enabled:
                gc.enable()
