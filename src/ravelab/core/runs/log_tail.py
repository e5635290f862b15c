"""Reading a run's log files from the start, then as they grow (for viewers).

A log that cannot be read (replaced by a folder or a FIFO, unreadable) yields no lines
until it can be; its name and why are kept in ``LogTail.problems``.
"""

from __future__ import annotations

from pathlib import Path

from ravelab.core.runs.regular_files import open_regular
from ravelab.core.runs.run_files import EXIT_FILE, STDERR_LOG, STDOUT_LOG
from ravelab.core.runs.text_stream import Line, LineSplitter

LOG_FILES = {"stdout": STDOUT_LOG, "stderr": STDERR_LOG}


class LogTail:
    """Yields the lines of a run's ``stdout.log`` and ``stderr.log`` as they are written.

    Unlike ``TrainingProcess`` it stores nothing: it is what a log viewer reads.
    """

    def __init__(self, run_dir: str | Path, streams: tuple[str, ...] = ("stdout", "stderr")):
        self.run_dir = Path(run_dir)
        self._splitters = {stream: LineSplitter() for stream in streams}
        #: Why a log could not be read at the last ``read``, by stream.
        self.problems: dict[str, str] = {}

    def read(self, max_bytes: int = 8 * 1024 * 1024) -> list[tuple[str, Line]]:
        """The lines finished since the last call, as (stream, line)."""
        found: list[tuple[str, Line]] = []
        for stream, splitter in self._splitters.items():
            path = self.run_dir / LOG_FILES[stream]
            try:
                with open_regular(path) as handle:
                    handle.seek(splitter.offset)
                    data = handle.read(max_bytes)
            except FileNotFoundError:
                continue
            except OSError as error:
                self.problems[stream] = f"cannot read {LOG_FILES[stream]}: {error}"
                continue
            self.problems.pop(stream, None)
            found.extend((stream, line) for line in splitter.feed(data))
        return found

    def finish(self) -> list[tuple[str, Line]]:
        """Everything left, including unterminated last lines (the run has ended)."""
        found = []
        while True:
            batch = self.read()
            if not batch:
                break
            found.extend(batch)
        for stream, splitter in self._splitters.items():
            found.extend((stream, line) for line in splitter.flush())
        return found

    @property
    def ended(self) -> bool:
        """True once the run's ``exit.json`` exists."""
        return (self.run_dir / EXIT_FILE).exists()
