"""``merged.log``: a run's stdout and stderr in one file, in arrival order, timestamped.

The trainer writes ``stdout.log`` and ``stderr.log`` itself (so it keeps logging if its
supervisor dies); the supervisor tails both with a :class:`MergedLogWriter` every poll
(a tenth of a second) and appends what they finished to ``merged.log``. When both streams
printed within one poll, the one whose file was written last goes last (stdout first on
a tie): finer order would need the trainer to write into pipes the supervisor reads,
and then the trainer could not outlive its supervisor.

One record per line, UTF-8, ``\\n``-ended::

    2026-12-03T12:48:21.123Z out train set: 19 examples
    2026-12-03T12:48:21.125Z err E1126 ... Path not found: v2_small.gin
    2026-12-03T12:48:22.001Z out~ Epoch 3:  40%|####      | 2/5 [...]
    2026-12-03T12:48:20.000Z run {"attempt": 2, "resumed_from": "...", "step": 900}

The time is UTC. The tag is the stream (``out``, ``err``), or ``run`` for ravelab's own
records (an attempt starting, an attempt ending; JSON). A progress bar (tqdm redraws its
line with ``\\r``) is kept as its last state only: while it is being redrawn it is the
file's last record, tagged ``out~`` (or ``err~``), and the writer rewrites that tail in
place (truncate, write) at most every :data:`BAR_REWRITE_S`, so the file grows by lines,
never by bar refreshes. A line of the other stream ends a bar where it stands (as on a
terminal, the bar goes on below the line). A ``~`` record followed by any other record
is a bar's final state (the supervisor died while it was drawn); readers treat it as a
plain line.

:class:`MergedLogReader` reads the file incrementally (CLI ``logs``, the app's log view).
Runs made before ``merged.log`` existed have none: readers fall back to the two files.
Everything read here is untrusted: a line that is not a record is shown as stdout text.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ravelab.core.runs.regular_files import open_regular
from ravelab.core.runs.text_stream import Line, LineSplitter

MERGED_LOG = "merged.log"
#: The streams a record can carry, and the tag of ravelab's own records.
STREAM_TAGS = {"stdout": "out", "stderr": "err"}
RUN_TAG = "run"
BAR_MARK = "~"
#: Seconds between two rewrites of a bar's state when nothing else was written.
BAR_REWRITE_S = 0.5
#: Bytes read from each stream file per poll (a backlog is read over several polls).
POLL_READ_BYTES = 1024 * 1024
_TIME_WIDTH = len("2026-12-03T12:48:21.123Z")


def format_time(wall: float) -> str:
    """A wall time as the record's UTC text (milliseconds)."""
    stamp = datetime.fromtimestamp(wall, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float | None:
    """A record's time text as a wall time, or None when it is not one."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def format_record(wall: float, tag: str, text: str) -> bytes:
    """One record, ``\\n``-ended (``text`` never holds a line break: lines are split)."""
    clean = text.replace("\n", " ").replace("\r", " ")
    return f"{format_time(wall)} {tag} {clean}\n".encode("utf-8", errors="replace")


@dataclass(frozen=True)
class Record:
    """One record of ``merged.log``.

    Attributes:
        time: the time text as written (UTC); ``wall_time`` parses it.
        stream: ``stdout``, ``stderr``, or ``run`` (ravelab's own record).
        text: the line (for ``run``: its JSON text).
        bar: a progress bar's state still being redrawn (the file's tail).
    """

    time: str
    stream: str
    text: str
    bar: bool = False

    @property
    def wall_time(self) -> float | None:
        """The record's time as seconds since the epoch (None when unreadable)."""
        return parse_time(self.time)

    def event(self) -> dict[str, Any]:
        """A ``run`` record's fields (empty for a damaged one or another stream)."""
        if self.stream != RUN_TAG:
            return {}
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


_TAGS = {tag: stream for stream, tag in STREAM_TAGS.items()}


def parse_record(line: str) -> Record:
    """A line of ``merged.log`` as a record; a line that is not one is stdout text."""
    head, sep, rest = line.partition(" ")
    if sep and len(head) == _TIME_WIDTH and head.endswith("Z"):
        tag, sep, text = rest.partition(" ")
        if not sep and tag == rest:
            text = ""
        bar = tag.endswith(BAR_MARK)
        base = tag[:-1] if bar else tag
        if base == RUN_TAG and not bar:
            return Record(head, RUN_TAG, text)
        stream = _TAGS.get(base)
        if stream is not None:
            return Record(head, stream, text, bar)
    return Record("", "stdout", line)


# -- writing (the supervisor) ------------------------------------------------------------------

#: Set by a resume in the launch's environment: the step the checkpoint holds (shown in
#: the attempt's separator; RAVE itself does not print it).
RESUME_STEP_ENV = "RAVELAB_RESUME_STEP"
_SET_ASIDE_EXIT = re.compile(r"^exit\.[0-9]+\.json$")
_DIGITS = re.compile(r"^[0-9]{1,15}$")


def attempt_fields(run_dir: Path, spec: Any) -> dict[str, Any]:
    """The record opening an attempt: its number (each resume set an ``exit.json`` aside),
    the checkpoint it resumes from (``--ckpt``) and that checkpoint's step when known."""
    try:
        earlier = sum(1 for entry in os.scandir(run_dir) if _SET_ASIDE_EXIT.match(entry.name))
    except OSError:
        earlier = 0
    fields: dict[str, Any] = {"attempt": earlier + 1}
    argv: list[str] = list(getattr(spec, "argv", []))
    for index, arg in enumerate(argv):
        if arg == "--ckpt" and index + 1 < len(argv):
            fields["resumed_from"] = argv[index + 1]
        elif arg.startswith("--ckpt="):
            fields["resumed_from"] = arg.partition("=")[2]
    step = getattr(spec, "env", {}).get(RESUME_STEP_ENV, "")
    if isinstance(step, str) and _DIGITS.match(step):
        fields["step"] = int(step)
    return fields


@dataclass
class _StreamTail:
    """One stream file read from where this attempt started."""

    path: Path
    splitter: LineSplitter
    bar: str | None = None  # the bar being redrawn (its latest state)
    bar_at: float = 0.0


class MergedLogWriter:
    """Appends one attempt's output to ``merged.log`` (the supervisor's poll calls ``poll``).

    Created before the trainer starts: the stream files are read from their size then
    (earlier attempts' bytes are not this attempt's). Every method swallows ``OSError``:
    the merged log is a view, and a full disk must never end the process that holds the
    run (``error`` says what went wrong; writing stops there).
    """

    def __init__(self, run_dir: Path, clock: Callable[[], float] = time.time) -> None:
        from ravelab.core.runs.run_files import STDERR_LOG, STDOUT_LOG

        self.run_dir = run_dir
        self.clock = clock
        self.error: str | None = None
        self._fd: int | None = None
        self._stable_end = 0  # where the bar tail starts (what is never rewritten ends)
        self._bars_written = False
        self._bars_dirty = False
        self._rewritten_at = 0.0
        self._attempt: Any = None
        self._tails: dict[str, _StreamTail] = {}
        for stream, name in (("stdout", STDOUT_LOG), ("stderr", STDERR_LOG)):
            path = run_dir / name
            try:
                size = path.stat().st_size
            except OSError:
                size = 0
            self._tails[stream] = _StreamTail(path, LineSplitter(size))
        try:
            # O_NOFOLLOW: a link planted in the run folder must not redirect the writes.
            flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(run_dir / MERGED_LOG, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as error:
            self.error = f"cannot open {MERGED_LOG}: {error.strerror or error}"
            return
        self._fd = fd
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(f"{MERGED_LOG} is not a regular file")
            size = os.fstat(fd).st_size
            # An earlier supervisor killed mid-write left half a record: end it.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")
            self._stable_end = os.fstat(fd).st_size
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self.error = f"cannot write {MERGED_LOG}: {error.strerror or error}"
        self.close()

    def start_attempt(self, fields: dict[str, Any]) -> None:
        """Write the record that opens an attempt (number, checkpoint, step...)."""
        self._attempt = fields.get("attempt")
        self._write([format_record(self.clock(), RUN_TAG, json.dumps(fields, sort_keys=True))])

    def end_attempt(self, fields: dict[str, Any]) -> None:
        """Read what is left (unfinished lines too), end the bars, write the end record."""
        self.poll(final=True)
        now = self.clock()
        records = [
            format_record(tail.bar_at or now, STREAM_TAGS[stream], tail.bar)
            for stream, tail in self._tails.items()
            if tail.bar is not None
        ]
        for tail in self._tails.values():
            tail.bar = None
        closing = {"attempt": self._attempt, **fields} if self._attempt is not None else fields
        records.append(format_record(now, RUN_TAG, json.dumps(closing, sort_keys=True)))
        self._write(records)
        self.close()

    def poll(self, final: bool = False) -> None:
        """Read what the trainer wrote since the last poll and append it."""
        if self._fd is None:
            return
        records: list[bytes] = []
        for stream, tail in self._in_write_order():
            while True:
                try:
                    # Non-blocking and regular files only: a FIFO put in its place must
                    # never hang the process that holds the run.
                    with open_regular(tail.path) as handle:
                        handle.seek(tail.splitter.offset)
                        data = handle.read(POLL_READ_BYTES)
                except OSError:
                    data = b""
                lines = tail.splitter.feed(data)
                if final and len(data) < POLL_READ_BYTES:
                    lines.extend(tail.splitter.flush())
                self._take(stream, tail, lines, records)
                # A final poll reads everything; a live one a bounded share per poll.
                if not final or len(data) < POLL_READ_BYTES:
                    break
        now = self.clock()
        if records or (self._bars_dirty and now - self._rewritten_at >= BAR_REWRITE_S):
            self._write(records)

    def _in_write_order(self) -> list[tuple[str, _StreamTail]]:
        """The streams, the one written to last going last: when both printed since the
        last poll, the likelier order (one switch per poll) as far as the files' times
        tell (stdout first when they do not)."""

        def written_at(item: tuple[str, _StreamTail]) -> int:
            try:
                return item[1].path.stat().st_mtime_ns
            except OSError:
                return 0

        return sorted(self._tails.items(), key=written_at)

    def _take(self, stream: str, tail: _StreamTail, lines: list[Line], out: list[bytes]) -> None:
        tag = STREAM_TAGS[stream]
        now = self.clock()
        prefix = f"{format_time(now)} {tag} "  # one time per poll: a flood costs no more
        for line in lines:
            text = line.text.rstrip()
            if line.transient:
                if text.strip():
                    tail.bar, tail.bar_at = text, now
                    self._bars_dirty = True
                continue
            if text.strip():
                self._end_other_bars(stream, out)
                # A bar ended by "\n" (or written over by a line): the line is its last state.
                out.append(f"{prefix}{text}\n".encode("utf-8", errors="replace"))
            elif tail.bar is not None:
                out.append(format_record(tail.bar_at, tag, tail.bar))  # a blank line ends it
            if tail.bar is not None:
                tail.bar = None
                self._bars_dirty = True

    def _end_other_bars(self, stream: str, out: list[bytes]) -> None:
        """A line of one stream ends the other stream's bar there (its state then), as on
        a terminal: a warning printed under a bar, the bar going on below it."""
        for other, tail in self._tails.items():
            if other != stream and tail.bar is not None:
                out.append(format_record(tail.bar_at, STREAM_TAGS[other], tail.bar))
                tail.bar = None
                self._bars_dirty = True

    def _write(self, records: list[bytes]) -> None:
        """Replace the bar tail with ``records``, then write the bars being drawn."""
        fd = self._fd
        if fd is None:
            return
        try:
            if self._bars_written:
                os.ftruncate(fd, self._stable_end)
            if records:
                os.write(fd, b"".join(records))
            self._stable_end = os.fstat(fd).st_size
            bars = [
                format_record(tail.bar_at, STREAM_TAGS[stream] + BAR_MARK, tail.bar)
                for stream, tail in self._tails.items()
                if tail.bar is not None
            ]
            if bars:
                os.write(fd, b"".join(bars))
            self._bars_written = bool(bars)
            self._bars_dirty = False
            self._rewritten_at = self.clock()
        except OSError as error:
            self._fail(error)

    def close(self) -> None:
        """Stop writing (the file stays as it is)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


# -- reading (viewers) -------------------------------------------------------------------------


@dataclass
class MergedRead:
    """What one read of ``merged.log`` found.

    Attributes:
        records: finished records, oldest first.
        bars: the bars being redrawn at the file's end (their latest state): shown last,
            replaced by the next read.
        more: more bytes wait (read again soon).
        skipped_bytes: bytes jumped over (``skip_ahead``).
    """

    records: list[Record] = field(default_factory=list)
    bars: list[Record] = field(default_factory=list)
    more: bool = False
    skipped_bytes: int = 0


class MergedLogReader:
    """Reads ``merged.log`` from an offset, whole records only. Not thread-safe."""

    def __init__(self, run_dir: str | Path, start_back_bytes: int | None = None) -> None:
        self.path = Path(run_dir) / MERGED_LOG
        self._offset = 0
        self._drop_partial = False
        self._pending_cut = False  # the last read cut a line with no end (see read)
        if start_back_bytes is not None:
            self._start(start_back_bytes)

    def exists(self) -> bool:
        """True when the run has a merged log (runs made before it have none)."""
        return self.path.is_file()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def _start(self, back_bytes: int) -> None:
        self._offset = max(self._size() - back_bytes, 0)
        self._drop_partial = self._offset > 0 and not self._at_line_start()

    def _at_line_start(self) -> bool:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset - 1)
                return handle.read(1) == b"\n"
        except OSError:
            return False

    def skip_ahead(self, above: int, keep: int) -> int:
        """Jump to ``keep`` bytes before the end when more than ``above`` are unread;
        the bytes jumped over."""
        unread = self._size() - self._offset
        if unread <= above:
            return 0
        self._start(keep)
        return unread - keep

    def read(self, max_bytes: int = 1024 * 1024, final: bool = False) -> MergedRead:
        """Records finished since the last call, and the bars being drawn now.

        Args:
            max_bytes: bytes read at most.
            final: the run has ended: an unterminated last line is a record too.
        """
        found = MergedRead()
        try:
            with open_regular(self.path) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self._offset:
                    self._offset = 0  # replaced by a shorter file: read it again
                    self._drop_partial = False
                handle.seek(self._offset)
                data = handle.read(max_bytes)
        except FileNotFoundError:
            return found
        found.more = self._offset + len(data) < size
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) == max_bytes:
            # A whole read without a line end (an untrusted file): take it as one cut
            # record, so the offset moves on, and drop the rest of that line later.
            data += b"\n"
            end = len(data)
            self._pending_cut = True
        complete = data[:end]
        if final and not found.more and end < len(data):
            complete, end = data + b"\n", len(data)
        raw_lines = complete.split(b"\n")[:-1]
        if self._drop_partial and raw_lines:
            raw_lines = raw_lines[1:]  # started mid-record: its first "line" is a fragment
            self._drop_partial = False
        records = [parse_record(raw.decode("utf-8", errors="replace")) for raw in raw_lines]
        # Trailing bar records may still be rewritten: keep their bytes unread.
        tail = len(records)
        while tail and records[tail - 1].bar and not found.more:
            tail -= 1
        held = sum(len(raw) + 1 for raw in raw_lines[tail:])
        self._offset += end - held
        if self._pending_cut:
            self._offset -= 1  # the line end added above is not in the file
            self._pending_cut = False
            self._drop_partial = True
        found.records = [Record(r.time, r.stream, r.text) if r.bar else r for r in records[:tail]]
        found.bars = records[tail:]
        return found
