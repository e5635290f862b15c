"""The fake ``rave preprocess`` (scripts/preprocess.py of acids-rave 2.3.1).

Every behaviour below was checked against the ``preprocess*`` captures or against runs of the
real command (acids-rave 2.3.1, ffmpeg 5.1, CPython 3.11.7, absl-py 2.5.1, tqdm 4.70.1):

* ``--lazy`` asks ``Using lazy datasets on Windows/macOS might result in slow training.
  Continue ? (y/n) `` on stdout (``input()``, also on Linux) before anything else: ``y``/``Y``
  goes on, ``n`` prints ``Aborting...`` and exits 0 writing nothing, anything else prints
  ``Answer 'y' or 'n'.`` and asks again, EOF is an ``EOFError`` traceback (exit 1).
* ``os.makedirs`` of the directory part of ``--output_path`` (a bare ``ds`` fails with
  ``FileNotFoundError: [Errno 2] No such file or directory: ''``), then ``lmdb.open``
  (``data.mdb`` and ``lock.mdb``, 8 KiB each), then the file search.
* No file found: ``No valid file found in [...]. Aborting`` on stdout. With ``--lazy`` an
  empty dataset follows (metadata ``n_seconds: 0``, exit 0). Without it RAVE **hangs**:
  ``Pool.map_async`` never calls its callback for an empty list, so the main process waits
  on its queue forever after ``\\r0it [00:00, ?it/s]`` (no metadata.yaml).
* A worker failure hangs the same way, after ``print(e)`` of the first exception on stdout:
  ``(FileNotFoundError(2, 'No such file or directory'),)`` when ffprobe or ffmpeg is missing,
  ``(TypeError('cannot unpack non-iterable NoneType object'),)`` for a file ffprobe cannot
  read, ``(IndexError('list index out of range'),)`` with ``--channels 0``. With ``--lazy``
  a missing ffprobe is a ``FileNotFoundError`` traceback (exit 1) and unreadable files are
  skipped; ffmpeg is not needed.
* SIGINT: tqdm's bar is closed (``\\r…it [..]\\n``), the main process's KeyboardInterrupt
  traceback follows and the process dies **by SIGINT** (-2; a shell shows 130): an uncaught
  KeyboardInterrupt makes CPython >= 3.8 re-raise the signal. This is for SIGINT sent to the
  main process only; a terminal's Ctrl-C also hits the pool workers, which print their own
  tracebacks (not emulated: the double has no pool). SIGTERM kills at once (-15); real RAVE
  then leaves its 2 pool workers and the manager process behind (not emulated either).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.fake_rave import FIXTURES
from tests.fake_rave.absl_flags import (
    ABSL_FLAGS,
    PREPROCESS_FLAGS,
    FlagError,
    HelpRequested,
    NegatedWithValue,
    parse_flags,
)
from tests.fake_rave.captures import (
    SITE,
    STDLIB,
    absl_value_error,
    cli_traceback,
    emit,
    fatal_flag_error,
    replay_plain,
    time_scale,
)
from tests.fake_rave.dataset import (
    EXIT_DT,
    PAGE,
    T_BAR,
    Bar,
    Write,
    chunk_count,
    describe,
    find_audio,
    grow,
    lazy_record_size,
    mdb_size,
    metadata_yaml,
    probe,
)

PROMPT = b"Using lazy datasets on Windows/macOS might result in slow training. Continue ? (y/n) "
T_MAIN = 1.0  # capture clock: imports done, main() starts (the bar appears at 1.06)
T_FLAGS = 1.19  # absl parses the flags (preprocess_help printed at 1.19)
_PY = f"{SITE}/scripts/preprocess.py"
_TQDM = f'  File "{SITE}/tqdm/std.py", line 1186, in __iter__\n    for obj in iterable:\n'
_PROMPT_FRAME = (
    f'  File "{_PY}", line 212, in main\n    while (answer := input(\n                     ^^^^^^\n'
)
_NO_FFPROBE = f'''multiprocessing.pool.RemoteTraceback: \n"""
Traceback (most recent call last):
  File "{STDLIB}/multiprocessing/pool.py", line 125, in worker
    result = (True, func(*args, **kwds))
                    ^^^^^^^^^^^^^^^^^^^
  File "{_PY}", line 88, in get_audio_length
    process = subprocess.Popen(
              ^^^^^^^^^^^^^^^^^
  File "{STDLIB}/subprocess.py", line 1026, in __init__
    self._execute_child(args, executable, preexec_fn, close_fds,
  File "{STDLIB}/subprocess.py", line 1950, in _execute_child
    raise child_exception_type(errno_num, err_msg, err_filename)
FileNotFoundError: [Errno 2] No such file or directory: 'ffprobe'
"""

The above exception was the direct cause of the following exception:

'''
_LAZY_WAIT_CONTEXT = f"""Traceback (most recent call last):
  File "{STDLIB}/multiprocessing/pool.py", line 856, in next
    item = self._items.popleft()
           ^^^^^^^^^^^^^^^^^^^^^
IndexError: pop from an empty deque

During handling of the above exception, another exception occurred:

"""


def _queue_wait_frames(first: bool) -> str:
    """The main process blocked in flatmap's ``queue.get()`` (line 187 first, 190 after)."""
    return (
        f'  File "{_PY}", line 258, in main\n    for audio_id in pbar:\n{_TQDM}'
        f'  File "{_PY}", line {187 if first else 190}, in flatmap\n'
        "    item = queue.get()\n           ^^^^^^^^^^^\n"
        '  File "<string>", line 2, in get\n'
        f'  File "{STDLIB}/multiprocessing/managers.py", line 822, in _callmethod\n'
        "    kind, result = conn.recv()\n                   ^^^^^^^^^^^\n"
        f'  File "{STDLIB}/multiprocessing/connection.py", line 250, in recv\n'
        "    buf = self._recv_bytes()\n          ^^^^^^^^^^^^^^^^^^\n"
        f'  File "{STDLIB}/multiprocessing/connection.py", line 430, in _recv_bytes\n'
        "    buf = self._recv(4)\n          ^^^^^^^^^^^^^\n"
        f'  File "{STDLIB}/multiprocessing/connection.py", line 395, in _recv\n'
        "    chunk = read(handle, remaining)\n            ^^^^^^^^^^^^^^^^^^^^^^^\n"
    )


def _lazy_frames(last: str) -> str:
    return f'  File "{_PY}", line 271, in main\n    for length in pbar:\n{_TQDM}' + last


def env_float(name: str, default: float = 0.0) -> float:
    try:
        return max(float(os.environ.get(name) or default), 0.0)
    except ValueError:
        return default


def die_by_sigint() -> int:
    """What CPython does after printing an uncaught KeyboardInterrupt: kill itself with it."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # never reached: SIGINT's default action ends the process
    return 130


def fail(frames: str, last_line: str) -> int:
    """A Python exception in RAVE's main(): its traceback on stderr, exit 1."""
    emit("stderr", cli_traceback("preprocess", frames, last_line))
    return 1


class Interrupted(Exception):
    """SIGINT arrived while the double was waiting."""


def main(args: list[str]) -> int:
    try:
        flags = parse_flags(
            args, PREPROCESS_FLAGS | ABSL_FLAGS, ("input_path", "output_path"), "preprocess"
        )
    except HelpRequested as help_request:
        if not (FIXTURES / f"{help_request}.timed.jsonl").is_file():
            emit("stderr", f"fake rave: `{help_request}` was not captured\n".encode())
            return 2
        return replay_plain(str(help_request))
    except FlagError as error:
        time.sleep(T_FLAGS * time_scale())
        return fatal_flag_error(str(error))
    except NegatedWithValue as error:
        emit("stderr", absl_value_error("preprocess", str(error)))
        return 1
    if flags["only_check_args"]:
        return 0
    return Preprocess(flags).run()


class Preprocess:
    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self.scale = time_scale()
        self.per_item = env_float("FAKE_RAVE_PREPROCESS_SECONDS_PER_CHUNK")
        self.hang_limit = env_float("FAKE_RAVE_HANG_LIMIT", 600.0)
        self.lazy = bool(flags["lazy"])
        self.output = Path(str(flags["output_path"]))
        self.base = time.monotonic()
        self.bar: Bar | None = None
        self.started = False  # tqdm has drawn its first bar
        self.done = 0  # items the bar's loop has taken
        # the last write: capture clock, real extra seconds, real time it went out
        self.last_t, self.last_extra, self.last_real = T_BAR, 0.0, time.monotonic()

    # -- clock --------------------------------------------------------------------------
    def wait(self, t: float, extra: float = 0.0, limit: float | None = None) -> None:
        """Sleep until capture time ``t`` (+ real ``extra``); raise Interrupted on SIGINT."""
        deadline = self.base + t * self.scale + extra if limit is None else time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if signal.sigtimedwait([signal.SIGINT], max(remaining, 0.0)) is not None:
                raise Interrupted
            if deadline - time.monotonic() <= 0:
                return

    def play(self, writes: list[Write], values: list[int] | None = None) -> None:
        for write in writes:
            self.wait(write.t, write.extra)
            if write.item is not None:
                self.done = write.item + 1
                if values is not None:
                    grow(self.output / "data.mdb", mdb_size(values[: self.done]))
            self.last_t, self.last_extra = write.t, write.extra
            self.last_real, self.started = time.monotonic(), True
            emit("stderr", self.bar.render(write) if self.bar else b"")

    # -- the run ------------------------------------------------------------------------
    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.wait(T_MAIN)
        except Interrupted:
            emit("stderr", self._import_interrupt())
            return die_by_sigint()
        if self.lazy:
            answer = self.ask()
            if answer is not None:
                return answer
        failure = self.open_database()
        if failure:
            return failure
        files = find_audio(list(self.flags["input_path"]), list(self.flags["ext"]))
        if not files:
            emit(
                "stdout", f"No valid file found in {self.flags['input_path']}. Aborting\n".encode()
            )
        try:
            return self.lazy_run(files) if self.lazy else self.chunk_run(files)
        except Interrupted:
            return self.interrupted()

    def ask(self) -> int | None:
        """``while (answer := input(PROMPT).lower()) not in ["y", "n"]``; None = go on."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        started = time.monotonic()
        try:
            while True:
                emit("stdout", PROMPT)
                line = sys.stdin.readline() if sys.stdin is not None else ""
                if not line:
                    return fail(_PROMPT_FRAME, "EOFError: EOF when reading a line")
                answer = line[:-1] if line.endswith("\n") else line
                if answer.lower() == "n":
                    emit("stdout", b"Aborting...\n")
                    return 0
                if answer.lower() == "y":
                    return None
                emit("stdout", b"Answer 'y' or 'n'.\n")
        except KeyboardInterrupt:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            emit("stderr", cli_traceback("preprocess", _PROMPT_FRAME, "KeyboardInterrupt"))
            return die_by_sigint()
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            self.base += time.monotonic() - started

    def open_database(self) -> int:
        """os.makedirs(directory part of --output_path), then lmdb.open(--output_path)."""
        output_path = str(self.flags["output_path"])
        output_dir = os.path.join(*os.path.split(output_path)[:-1])
        if not os.path.isdir(output_dir):
            try:
                os.makedirs(output_dir)
            except OSError as error:
                frames = (
                    f'  File "{_PY}", line 228, in main\n    os.makedirs(output_dir)\n'
                    '  File "<frozen os>", line 225, in makedirs\n'
                )
                return fail(frames, f"{type(error).__name__}: {error}")
        if os.path.exists(output_path) and not os.path.isdir(output_path):
            frames = (
                f'  File "{_PY}", line 231, in main\n    env = lmdb.open(\n          ^^^^^^^^^^\n'
            )
            return fail(frames, f"lmdb.Error: {output_path}: Not a directory")
        self.output.mkdir(exist_ok=True)
        grow(self.output / "data.mdb", 2 * PAGE)
        grow(self.output / "lock.mdb", 2 * PAGE)
        return 0

    def missing_tools(self) -> bool:
        if os.environ.get("FAKE_RAVE_ASSUME_FFMPEG") == "1":
            return False
        tools = ["ffprobe"] if self.lazy else ["ffprobe", "ffmpeg"]
        return any(shutil.which(tool) is None for tool in tools)

    def chunk_run(self, files: list[str]) -> int:
        num_signal, sr = int(self.flags["num_signal"]), int(self.flags["sampling_rate"])
        channels = int(self.flags["channels"])
        default_seconds = env_float("FAKE_RAVE_AUDIO_SECONDS")
        items, error = 0, None
        if files and self.missing_tools():
            error = "FileNotFoundError(2, 'No such file or directory')"
        else:
            for audio in (probe(path, default_seconds) for path in files):
                if audio.frames is None:
                    error = error or "TypeError('cannot unpack non-iterable NoneType object')"
                elif channels <= 0:
                    error = error or "IndexError('list index out of range')"
                else:
                    items += chunk_count(audio, num_signal, sr)
        unit = num_signal * 2 / sr if sr > 0 else 0.0  # -ar <= 0: ffmpeg gives no audio
        self.bar = Bar([describe(unit * k) for k in range(items)], self.per_item)
        writes = self.bar.writes(len(files))
        values = [channels * num_signal * 4 + 32] * items
        if error is None and files:
            self.play(writes, values)
            return self.finish(writes[-1], channels, unit * (items - 1) if items else 0)
        self.play(writes[:-2], values)  # no close: the loop never ends
        if error is not None:
            self.wait(self.last_t + (0.01 if items else 0.18), self.last_extra)
            emit("stdout", f"({error},)\n".encode())
        return self.hang()

    def lazy_run(self, files: list[str]) -> int:
        if files and self.missing_tools():
            self.bar = Bar([], self.per_item)
            writes = self.bar.writes(0)
            self.play(writes)
            emit("stderr", _NO_FFPROBE.encode())
            last = (
                f'  File "{STDLIB}/multiprocessing/pool.py", line 873, in next\n    raise value\n'
            )
            missing = "FileNotFoundError: [Errno 2] No such file or directory: 'ffprobe'"
            return fail(_lazy_frames(last), missing)
        default_seconds = env_float("FAKE_RAVE_AUDIO_SECONDS")
        kept = [a for a in (probe(p, default_seconds) for p in files) if a.frames is not None]
        total: float | int = 0
        descs = []
        for audio in kept:
            total += audio.duration()
            descs.append(describe(total))
        self.bar = Bar(descs, self.per_item)
        writes = self.bar.writes(len(files))
        self.play(writes, [lazy_record_size(a) for a in kept])
        return self.finish(writes[-1], int(self.flags["channels"]), total)

    def finish(self, close: Write, channels: int, n_seconds: float) -> int:
        """After the bar: metadata.yaml (yaml.safe_dump, keys sorted), pool/env closed, exit."""
        text = metadata_yaml(channels, self.lazy, n_seconds, int(self.flags["sampling_rate"]))
        (self.output / "metadata.yaml").write_text(text, encoding="utf-8")
        time.sleep(
            max(self.base + (close.t + EXIT_DT) * self.scale + close.extra - time.monotonic(), 0)
        )
        return 0  # a SIGINT now stays blocked: the process exits normally

    def hang(self) -> int:
        """RAVE waits on its queue forever; the double gives up after FAKE_RAVE_HANG_LIMIT s."""
        self.wait(0.0, limit=self.hang_limit)
        emit("stderr", f"\nfake rave: gave up hanging after {self.hang_limit:g} s\n".encode())
        return 124

    def interrupted(self) -> int:
        """SIGINT in the loop: tqdm's finally closes the bar, then the main's traceback."""
        if self.bar is not None and self.started:
            extra = self.last_extra + time.monotonic() - self.last_real
            for write in self.bar.close(self.last_t, extra, self.done):
                emit("stderr", self.bar.render(write))
        if self.lazy:
            last = (
                f'  File "{STDLIB}/multiprocessing/pool.py", line 861, in next\n'
                "    self._cond.wait(timeout)\n"
                f'  File "{STDLIB}/threading.py", line 327, in wait\n    waiter.acquire()\n'
            )
            text = _LAZY_WAIT_CONTEXT.encode() + cli_traceback(
                "preprocess", _lazy_frames(last), "KeyboardInterrupt"
            )
        else:
            text = cli_traceback(
                "preprocess", _queue_wait_frames(self.done == 0), "KeyboardInterrupt"
            )
        emit("stderr", text)
        return die_by_sigint()

    def _import_interrupt(self) -> bytes:
        """SIGINT while RAVE still imports (not captured; the importlib frames are left out)."""
        return (
            b"Traceback (most recent call last):\n"
            b'  File "/opt/rave-env/bin/rave", line 8, in <module>\n'
            b"    sys.exit(main())\n             ^^^^^^\n"
            + f'  File "{SITE}/scripts/main_cli.py", line 40, in main\n'.encode()
            + b"    from scripts import preprocess\nKeyboardInterrupt\n"
        )
