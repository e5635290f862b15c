"""The warden: one detached process per database that looks after runs while nobody watches.

``python -m ravelab.core.operations.warden DB_PATH``

Runs train for days; the app and the CLI come and go. The warden follows every live run
of its database (a ``TrainingManager`` with follower threads, so runs that end are settled
with no app open) and calls its duties (``duties.Duty``) on their intervals: start the next
queued run of a device, sample the GPUs, deliver notifications, look after the disk.

One warden per database: it holds an exclusive ``flock`` on ``<db>.warden.lock`` for its
whole life. The lock is the operating system's, so it goes with the process however the
process ends (no stale lock file to clean up); a second warden that cannot take it exits
at once. Any ravelab command or app start that finds work (a live run, a queued run, a
delivery due) and no warden starts one (``ensure_warden``): that is how the queue goes on
after a reboot.

The warden exits once it has had nothing to do for ``RAVELAB_WARDEN_IDLE_S`` seconds
(default 60): no live run, and no duty busy. To close the gap between deciding to exit and
exiting (a run queued meanwhile by a command that saw the lock still held and started no
warden), it releases the lock first and then looks once more; if work came, it takes the
lock again (or leaves it to the warden that took it meanwhile).

``RAVELAB_WARDEN=0`` (or ``off``) stops ravelab from starting wardens on its own; the test
suite sets it, and the tests of the warden start one explicitly. Its log is
``<db>.warden.log``, cut to its last half once it passes 1 MiB.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ravelab.core.operations.duties import Duty, WardenContext

if TYPE_CHECKING:
    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.db import Database

logger = logging.getLogger(__name__)

ENABLE_ENV = "RAVELAB_WARDEN"
IDLE_ENV = "RAVELAB_WARDEN_IDLE_S"
DEFAULT_IDLE_S = 60.0
_TICK_S = 0.5
_LOG_LIMIT = 1 << 20

#: Duties the warden runs, as ``module:Class``; each is created with no arguments. A module
#: that cannot be imported is logged and left out (the other duties go on).
DUTY_CLASSES: tuple[str, ...] = (
    "ravelab.core.operations.queue:QueueDuty",
    "ravelab.core.operations.disk_care:RetentionDuty",
    "ravelab.core.operations.disk_care:DiskDuty",
    "ravelab.core.operations.run_events:RunEventsDuty",
    "ravelab.core.operations.delivery:DeliveryDuty",
    "ravelab.core.operations.gpu_sampling:GpuDuty",
)


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    """The lock file whose ``flock`` a database's warden holds (next to the real file: a
    database reached through a link has the same lock as through its own path)."""
    return Path(f"{os.path.realpath(os.fspath(db_path))}.warden.lock")


def log_path(db_path: str | os.PathLike[str]) -> Path:
    """Where a database's warden writes its log."""
    return Path(f"{os.path.realpath(os.fspath(db_path))}.warden.log")


def _is_file_database(db_path: str) -> bool:
    return db_path not in ("", ":memory:") and not db_path.startswith("file::memory:")


@contextlib.contextmanager
def _held_lock(db_path: str) -> Iterator[bool]:
    """Try to take the warden lock without waiting; yields whether it was taken."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        logger.warning("cannot open the warden lock %s: %s", lock_path(db_path), error)
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def warden_alive(db_path: str | os.PathLike[str]) -> bool:
    """Whether a warden holds this database's lock now."""
    path = os.fspath(db_path)
    if not _is_file_database(path) or not lock_path(path).exists():
        return False
    with _held_lock(path) as taken:
        return not taken


def enabled() -> bool:
    """Whether ravelab may start wardens on its own (``RAVELAB_WARDEN``)."""
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def has_work(db: Database) -> bool:
    """Whether the database has something a warden looks after: an unended run, a queued
    run or a delivery not yet done."""
    from ravelab.db.events import warden_has_work

    return warden_has_work(db)


def ensure_warden(db: Database, *, force: bool = False) -> bool:
    """Start a warden for ``db`` if there is work for one and none is alive; whether one
    was started. Never raises: a warden that cannot start is logged, and the next command
    tries again."""
    path = db.path
    if not _is_file_database(path) or not (force or enabled()):
        return False
    try:
        if not has_work(db) or warden_alive(path):
            return False
        spawn_warden(path)
    except Exception as error:  # the caller's command must go on
        logger.warning("could not start the warden of %s: %s", path, error)
        return False
    return True


def spawn_warden(db_path: str) -> subprocess.Popen[bytes]:
    """Start a detached warden for ``db_path`` (it exits at once if another one lives)."""
    log = _open_log(db_path)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "ravelab.core.operations.warden", os.path.abspath(db_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()
    # Reap it when it ends, so it never lingers as a zombie while this process lives (if
    # this process ends first, init reaps it).
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return process


def _open_log(db_path: str) -> IO[bytes]:
    path = log_path(db_path)
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_LIMIT:
            data = path.read_bytes()[-_LOG_LIMIT // 2 :]
            path.write_bytes(data[data.find(b"\n") + 1 :])
    # Handed to the child as its stdout and stderr; the caller closes its copy.
    return open(path, "ab")


def _idle_seconds() -> float:
    raw = os.environ.get(IDLE_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_IDLE_S
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; using %s", IDLE_ENV, raw, DEFAULT_IDLE_S)
        return DEFAULT_IDLE_S
    return value if 0 <= value < 86400 * 365 else DEFAULT_IDLE_S


def load_duties(names: Sequence[str] = DUTY_CLASSES) -> list[Duty]:
    """The duties named ``module:Class``; one that cannot be loaded is logged and skipped."""
    import importlib

    duties: list[Duty] = []
    for name in names:
        module_name, _, class_name = name.partition(":")
        try:
            duties.append(getattr(importlib.import_module(module_name), class_name)())
        except Exception:
            logger.exception("warden duty %s could not be loaded; going on without it", name)
    return duties


class Warden:
    """The warden's loop over one database (``run`` holds the lock; ``step`` is one tick,
    for tests that drive it by hand)."""

    def __init__(
        self,
        db: Database,
        manager: TrainingManager,
        duties: Sequence[Duty],
        *,
        idle_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.manager = manager
        self.duties = list(duties)
        self.idle_s = _idle_seconds() if idle_s is None else idle_s
        self._clock = clock
        self._due = {id(duty): 0.0 for duty in self.duties}
        self._stop = threading.Event()
        self._errors: dict[str, tuple[str, int]] = {}
        #: Whether the database file is still the one this warden opened (see ``run``).
        self.still_ours: Callable[[], bool] = lambda: True

    def _failed(self, name: str, error: Exception) -> None:
        """Log a duty's failure: with its traceback the first time, then one line every
        hundred repeats (a database locked for hours must not fill the disk with logs)."""
        text = f"{type(error).__name__}: {error}"
        last, count = self._errors.get(name, ("", 0))
        count = count + 1 if text == last else 1
        self._errors[name] = (text, count)
        if count == 1:
            logger.exception("warden duty %s failed; it runs again later", name)
        elif count % 100 == 0:
            logger.warning("warden duty %s failed %d times in a row: %s", name, count, text)

    def stop(self) -> None:
        """End ``run_until_idle`` after the current tick."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was asked."""
        return self._stop.is_set()

    def context(self) -> WardenContext:
        return WardenContext(db=self.db, manager=self.manager, now=self._clock())

    def step(self) -> None:
        """Take up runs started elsewhere, then call each duty that is due."""
        try:
            self.manager.follow_new_runs()
        except Exception:
            logger.exception("could not take up new runs")
        for duty in self.duties:
            context = self.context()
            if context.now < self._due[id(duty)]:
                continue
            self._due[id(duty)] = context.now + max(0.0, float(duty.interval_s))
            try:
                duty.tick(context)
            except Exception as error:
                self._failed(duty.name, error)
            else:
                self._errors.pop(duty.name, None)

    def busy(self) -> bool:
        """Whether anything still needs the warden: a live run or a busy duty."""
        if any(process.is_alive() for process in list(self.manager.active_processes.values())):
            return True
        context = self.context()
        for duty in self.duties:
            try:
                if duty.busy(context):
                    return True
            except Exception:
                logger.exception("warden duty %s could not say whether it is busy", duty.name)
        try:
            return has_work(self.db)
        except Exception:
            logger.exception("could not read the database")
            return True

    def finish(self) -> None:
        """Let each duty that has a ``finish`` wrap up (before the warden leaves)."""
        context = self.context()
        for duty in self.duties:
            finish = getattr(duty, "finish", None)
            if finish is None:
                continue
            try:
                finish(context)
            except Exception:
                logger.exception("warden duty %s could not finish", duty.name)

    def run_until_idle(self) -> None:
        """Tick until nothing has needed the warden for ``idle_s`` seconds, or ``stop``."""
        idle_since: float | None = None
        swept = False
        while not self._stop.is_set():
            if not self.still_ours():
                logger.warning("the database file was removed or replaced; leaving")
                self._stop.set()
                return
            self.step()
            if self.busy():
                idle_since, swept = None, False
            else:
                now = self._clock()
                idle_since = now if idle_since is None else idle_since
                if not swept:
                    # One more round of every duty before leaving: what the last run did
                    # as it ended (its last checkpoints, its outcome) is looked after now.
                    self._due = dict.fromkeys(self._due, 0.0)
                    swept = True
                    continue
                if now - idle_since >= self.idle_s:
                    return
            self._stop.wait(_TICK_S)


def _file_identity(path: str) -> tuple[int, int] | None:
    """The device and inode of a file, or None when it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _stopper(warden: Warden) -> Callable[[int, object], None]:
    return lambda *_: warden.stop()


def run(db_path: str) -> int:
    """The warden process: hold the lock, watch until idle, look once more after letting
    go of the lock. Returns the exit status."""
    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.db import Database

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s warden[%(process)d] %(levelname)s %(message)s"
    )
    db_path = os.path.realpath(db_path)
    db = Database(db_path)
    opened = _file_identity(db_path)
    try:
        duties = load_duties()
        while True:
            with _held_lock(db_path) as taken:
                if not taken:
                    logger.info("another warden looks after %s", db_path)
                    return 0
                logger.info("watching %s", db_path)
                manager = TrainingManager(db, follow=True, follow_out_of_process=False)
                warden = Warden(db, manager, duties)
                warden.still_ours = lambda: _file_identity(db_path) == opened
                previous = signal.signal(signal.SIGTERM, _stopper(warden))
                try:
                    warden.run_until_idle()
                    warden.finish()
                finally:
                    signal.signal(signal.SIGTERM, previous)
                    manager.shutdown()
                if warden.stopped:
                    logger.info("stopped")
                    return 0
            if not has_work(db):
                logger.info("nothing left to look after; exiting")
                return 0
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0]:
        print("usage: python -m ravelab.core.operations.warden DB_PATH", file=sys.stderr)
        return 2
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
