"""Turning a trainer's raw output bytes into lines.

tqdm redraws its bar with ``\\r`` and no ``\\n``, and draws its second bar with ANSI
cursor moves, so a "line" here is any text ended by ``\\r`` or ``\\n``. The terminator is
kept: a line ended by ``\\r`` is a transient redraw that a viewer may collapse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CSI sequences (cursor moves, colours, erase) and the two-byte ESC forms.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_SPLIT = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences."""
    return _ANSI.sub("", text) if "\x1b" in text else text


@dataclass(frozen=True)
class Line:
    """One line of output.

    Attributes:
        text: the line without its terminator, ANSI codes removed.
        transient: True when ended by a bare ``\\r`` (a progress bar redraw).
        end_offset: byte offset in the source just after this line's terminator.
    """

    text: str
    transient: bool
    end_offset: int


class LineSplitter:
    """Incrementally split a byte stream into ``Line`` s, tracking byte offsets.

    Bytes of an unfinished line (and of a split UTF-8 sequence) wait for the next feed,
    so a line is never emitted twice or cut in half, and ``end_offset`` of the last line
    returned is always a safe place to resume reading after a crash.
    """

    def __init__(self, start_offset: int = 0) -> None:
        self._pending = b""
        self._offset = start_offset  # offset of the first pending byte

    @property
    def offset(self) -> int:
        """Where the next unread byte starts (the safe offset to resume from is
        ``offset`` minus ``pending_bytes``)."""
        return self._offset + len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet part of a finished line."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[Line]:
        """Add bytes and return the lines they finish."""
        buffer = self._pending + data
        last_end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if last_end < 0:
            self._pending = buffer
            return []
        # A \r at the very end may be the first half of \r\n: keep it pending.
        if buffer[last_end : last_end + 1] == b"\r" and last_end == len(buffer) - 1:
            cut = last_end
            if cut == 0:
                self._pending = buffer
                return []
            prev = max(buffer.rfind(b"\n", 0, cut), buffer.rfind(b"\r", 0, cut))
            if prev < 0:
                self._pending = buffer
                return []
            complete, self._pending = buffer[: prev + 1], buffer[prev + 1 :]
        else:
            complete, self._pending = buffer[: last_end + 1], buffer[last_end + 1 :]
        lines = self._split(complete, self._offset)
        self._offset += len(complete)
        return lines

    def flush(self) -> list[Line]:
        """Return what is pending as a final line (the stream has ended)."""
        if not self._pending:
            return []
        data, self._pending = self._pending, b""
        if data.endswith(b"\r"):
            lines = self._split(data, self._offset)
        else:
            text = strip_ansi(data.decode("utf-8", errors="replace"))
            lines = [Line(text, False, self._offset + len(data))]
        self._offset += len(data)
        return lines

    @staticmethod
    def _split(data: bytes, base: int) -> list[Line]:
        lines = []
        position = base
        for match in _SPLIT.finditer(data):
            raw, terminator = match.group(1), match.group(2)
            position += len(raw) + len(terminator)
            text = strip_ansi(raw.decode("utf-8", errors="replace"))
            lines.append(Line(text, terminator == b"\r", position))
        return lines


def collapse_transient(lines: list[Line]) -> list[str]:
    """Keep each run of progress-bar redraws only as its latest state (for viewers)."""
    shown: list[str] = []
    previous_transient = False
    for line in lines:
        if previous_transient and shown:
            shown[-1] = line.text
        elif line.text or not line.transient:
            shown.append(line.text)
        previous_transient = line.transient and bool(line.text)
    return [text for text in shown if text.strip()]
