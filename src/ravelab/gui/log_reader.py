"""``LogReader``: a run's log as the viewer shows it, read in a worker thread.

A viewer shows the end of a log, so the reader starts near the end of each file and,
when a run prints faster than anyone can read, jumps ahead rather than split megabytes
of lines only to drop them. Lines are split by the core's ``LineSplitter`` (lines end at
``\\r`` or ``\\n``, ANSI codes stripped, tqdm's ``\\r`` redraws marked transient), the
same splitter ``core.log_tail.LogTail`` uses (``LogTail`` always starts at the first
byte, which for a log of days of tqdm redraws means hundreds of megabytes). Lines become
``LogChunk`` s a viewer applies in one go: tqdm's redraws collapsed to their latest state,
as ``core.text_stream.collapse_transient`` does for a whole log but across reads, and at
most ``max_lines`` lines. Qt-free: a worker calls ``read``, the GUI applies the chunk.

A run with a ``merged.log`` (written by its supervisor: both streams in arrival order,
an attempt record per start or resume) is read from it instead, and each line is tagged by
``core.runs.log_lines`` (styles ``plain``, ``progress``, ``error``, ``noise:<source>``,
``attempt`` for a new attempt's separator, ``note``); its bars being drawn come last in a
chunk and are dropped by the next one (``drop_last``). Runs made before it fall back to
the two files (styles ``stdout`` and ``stderr``), and switch to it when a resume starts
writing one.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ravelab.core.runs.log_lines import LineClassifier
from ravelab.core.runs.log_tail import LOG_FILES
from ravelab.core.runs.merged_log import MergedLogReader, Record
from ravelab.core.runs.run_files import EXIT_FILE
from ravelab.core.runs.text_stream import Line, LineSplitter

#: Bytes read per file per call.
READ_BYTES = 1024 * 1024
#: Reads per file per ``read`` at most, so a backlog never holds a worker for long.
READ_CALLS = 4
#: The first read starts this far from the end of each file (a viewer shows the end).
INITIAL_BYTES = 1024 * 1024
#: When more than this is unread, jump ahead to this much before the end...
SKIP_ABOVE_BYTES = 32 * 1024
#: ... keeping this much: a live viewer shows some fifty lines per read (tqdm's are about
#: 200 bytes), and every line split here is work that competes with the GUI thread.
SKIP_KEEP_BYTES = 16 * 1024


@dataclass
class LogChunk:
    """New log lines for a viewer.

    Attributes:
        lines: ``(style, text)`` pairs to show, oldest first (the style is the stream, or
            for a merged log the line's kind).
        replace_last: the first line replaces the viewer's last line (a tqdm redraw).
        drop_last: lines to remove from the viewer's end first (bars drawn before).
        new_attempt: a new attempt starts in this chunk (the viewer follows it).
        reset: the viewer should clear itself first (the first chunk of a run).
        skipped: lines written since the previous chunk but left out of this one (the run
            prints faster than anyone reads; the log file has them all).
        skipped_bytes: bytes jumped over without reading them (likewise).
        more: more is waiting in the files (read again soon).
        ended: the run has ended and everything was read.
    """

    lines: list[tuple[str, str]] = field(default_factory=list)
    replace_last: bool = False
    drop_last: int = 0
    new_attempt: bool = False
    reset: bool = False
    skipped: int = 0
    skipped_bytes: int = 0
    more: bool = False
    ended: bool = False


class _FileTail:
    """One log file read from an offset, whole lines only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._splitter: LineSplitter | None = None
        self._drop_partial = False

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def start(self, back_bytes: int) -> None:
        """Start ``back_bytes`` before the end (on the next whole line)."""
        start = max(self._size() - back_bytes, 0)
        self._splitter = LineSplitter(start)
        self._drop_partial = start > 0

    def skip_ahead(self, above: int, keep: int) -> int:
        """Jump to ``keep`` bytes before the end when more than ``above`` are unread;
        the bytes jumped over."""
        if self._splitter is None:
            self.start(keep)
            return 0
        unread = self._size() - self._splitter.offset
        if unread <= above:
            return 0
        skipped = unread - keep
        self.start(keep)
        return skipped

    def read(self, max_bytes: int) -> tuple[list[Line], bool]:
        """Lines finished since the last call; and whether more bytes wait."""
        if self._splitter is None:
            self.start(INITIAL_BYTES)
        assert self._splitter is not None
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._splitter.offset)
                data = handle.read(max_bytes)
        except FileNotFoundError:
            return [], False
        lines = self._splitter.feed(data)
        if self._drop_partial and lines:
            lines = lines[1:]  # started mid-line: its first "line" is a fragment
            self._drop_partial = False
        return lines, len(data) == max_bytes

    def flush(self) -> list[Line]:
        """The unterminated last line (the run has ended)."""
        return self._splitter.flush() if self._splitter is not None else []


class LogReader:
    """Reads one run's log files incrementally, for a viewer of ``max_lines`` lines.

    The first chunk holds up to ``max_lines`` lines (the end of the log so far), and so
    does the last one of a run that has ended; the others up to ``max_chunk_lines``, the
    newest: a run printing thousands of lines a second
    would otherwise keep the viewer busy inserting lines nobody can read.

    Not thread-safe: one worker thread at a time calls ``read``.
    """

    def __init__(self, run_dir: str | Path, max_lines: int, max_chunk_lines: int = 1000) -> None:
        self.run_dir = Path(run_dir)
        self.max_lines = max(max_lines, 1)
        self.max_chunk_lines = max(min(max_chunk_lines, self.max_lines), 1)
        self._files = {stream: _FileTail(self.run_dir / name) for stream, name in LOG_FILES.items()}
        self._first = True
        self._ended = False
        # The viewer's last line: its stream and whether it is a redraw still in progress.
        self._last_stream: str | None = None
        self._last_transient = False
        # The merged log, once the run has one; the bars it showed last (dropped next).
        self._merged: MergedLogReader | None = None
        self._bars_shown = 0
        self._classifier = LineClassifier()

    @property
    def merged(self) -> bool:
        """True once the log is read from ``merged.log``."""
        return self._merged is not None

    def read(self, final: bool = False) -> LogChunk:
        """What was written since the last call.

        Args:
            final: the run has ended: also take unterminated last lines.
        """
        chunk = LogChunk(reset=self._first)
        first, self._first = self._first, False
        if self._merged is None and (first or self._ended):
            # A run made before merged.log has none, until a resume starts one.
            candidate = MergedLogReader(self.run_dir, INITIAL_BYTES if first else None)
            if candidate.exists():
                self._merged = candidate
        if self._merged is not None:
            return self._read_merged(self._merged, chunk, final)
        if self._ended:
            chunk.ended = True
            return chunk
        final = final or (self.run_dir / EXIT_FILE).exists()
        # The end of a run is read once: show all of its tail, not just a live read's share.
        limit = self.max_lines if chunk.reset or final else self.max_chunk_lines
        shown: deque[tuple[str, str]] = deque()
        appended = 0
        for stream, tail in self._files.items():
            if first:
                tail.start(INITIAL_BYTES)
            else:
                jumped = tail.skip_ahead(SKIP_ABOVE_BYTES, SKIP_KEEP_BYTES)
                if jumped:
                    chunk.skipped_bytes += jumped
                    if self._last_stream == stream:
                        self._last_transient = False  # no redraw continues across a gap
            for _ in range(READ_CALLS):
                lines, more = tail.read(READ_BYTES)
                appended += self._collapse([(stream, line) for line in lines], shown, chunk, limit)
                if not more:
                    break
            else:
                chunk.more = True
        if final and not chunk.more:
            for stream, tail in self._files.items():
                flushed = [(stream, line) for line in tail.flush()]
                appended += self._collapse(flushed, shown, chunk, limit)
            self._ended = chunk.ended = True
        if chunk.skipped_bytes:
            chunk.replace_last = False
        kept = len(shown) - (1 if chunk.replace_last else 0)
        if not chunk.reset and appended > kept:
            chunk.skipped = appended - kept
        chunk.lines = list(shown)
        return chunk

    def _collapse(
        self,
        found: list[tuple[str, Line]],
        shown: deque[tuple[str, str]],
        chunk: LogChunk,
        limit: int,
    ) -> int:
        """Add lines to ``shown`` (the newest ``limit``), collapsing tqdm's redraws.

        Returns:
            How many lines were appended (replacements do not count).
        """
        appended = 0
        for stream, line in found:
            text = line.text.rstrip()
            if not text.strip():
                if self._last_stream == stream:
                    self._last_transient = False  # a blank line ends a bar (leave=True)
                continue
            if self._last_transient and self._last_stream == stream:
                # tqdm redrew its bar, or ended it with "\n" (its final state).
                if shown:
                    shown[-1] = (stream, text)
                else:
                    chunk.replace_last = not chunk.reset
                    shown.append((stream, text))
            else:
                shown.append((stream, text))
                appended += 1
                if len(shown) > limit:
                    shown.popleft()
                    chunk.replace_last = False  # (the replacement, if any, went first)
            self._last_stream = stream
            self._last_transient = line.transient
        return appended

    # -- merged.log --------------------------------------------------------------------------

    def _read_merged(self, merged: MergedLogReader, chunk: LogChunk, final: bool) -> LogChunk:
        final = final or (self.run_dir / EXIT_FILE).exists()
        limit = self.max_lines if chunk.reset or final else self.max_chunk_lines
        if not chunk.reset:
            jumped = merged.skip_ahead(SKIP_ABOVE_BYTES, SKIP_KEEP_BYTES)
            if jumped:
                chunk.skipped_bytes += jumped
                self._classifier.reset()  # a traceback's start may lie in what was jumped
        shown: deque[tuple[str, str]] = deque()
        appended = 0
        bars: list[Record] = []
        for _ in range(READ_CALLS):
            found = merged.read(READ_BYTES, final=final)
            for record in found.records:
                item = self._style(record, chunk)
                if item is None:
                    continue
                shown.append(item)
                appended += 1
                if len(shown) > limit:
                    shown.popleft()
            bars = found.bars
            if not found.more:
                break
        else:
            chunk.more = True
        for record in bars:
            shown.append(("progress", record.text))
        chunk.drop_last = self._bars_shown
        self._bars_shown = len(bars)
        if not chunk.reset and appended > len(shown) - len(bars):
            chunk.skipped = appended - (len(shown) - len(bars))
        chunk.ended = final and not chunk.more
        chunk.lines = list(shown)
        return chunk

    def _style(self, record: Record, chunk: LogChunk) -> tuple[str, str] | None:
        """A record as the viewer shows it: its style and text (None: nothing to show)."""
        if record.stream == "run":
            event = record.event()
            attempt = event.get("attempt")
            number = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else 0
            if "exit_code" in event:
                return ("note", _ended_text(number, event))
            self._classifier.reset()
            chunk.new_attempt = True
            return ("attempt", attempt_separator(number, event, record.wall_time))
        tag = self._classifier.classify(record.stream, record.text)
        style = f"noise:{tag.source}" if tag.source else tag.kind.value
        return (style, record.text)


def attempt_separator(number: int, event: dict[str, object], wall: float | None) -> str:
    """``— attempt 2, resumed from step 900, 2026-12-03 12:48 —``."""
    parts = [f"attempt {number}" if number else "a new attempt"]
    step = event.get("step")
    resumed = event.get("resumed_from")
    if isinstance(step, int) and not isinstance(step, bool):
        parts.append(f"resumed from step {step:,}")
    elif isinstance(resumed, str) and resumed:
        parts.append(f"resumed from {Path(resumed).name}")
    if wall is not None:
        parts.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(wall)))
    return "— " + ", ".join(parts) + " —"


def _ended_text(number: int, event: dict[str, object]) -> str:
    """``attempt 1 ended (exit code 1)``, from an attempt's closing record."""
    who = f"attempt {number}" if number else "the attempt"
    signal_name = event.get("signal")
    if isinstance(signal_name, str) and signal_name:
        how = f"stopped by {signal_name}"
    else:
        how = f"exit code {event.get('exit_code')}"
    error = event.get("error")
    detail = f": {error}" if isinstance(error, str) and error else ""
    return f"{who} ended ({how}){detail}"
