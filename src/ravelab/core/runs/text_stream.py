"""Turning a trainer's raw output bytes into lines.

tqdm redraws its bar with ``\\r`` and no ``\\n``, and draws its second bar with ANSI
cursor moves, so a "line" here is any text ended by ``\\r`` or ``\\n``. The terminator is
kept: a line ended by ``\\r`` is a transient redraw that a viewer may collapse.

A trainer may print a line of any length (or never end one): only the first
:data:`MAX_LINE_BYTES` of a line are kept, the rest of it is counted and passed over (the
log file keeps it), so memory and the cost of a feed stay bounded whatever the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# CSI sequences (cursor moves, colours, erase) and the two-byte ESC forms.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_SPLIT = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")
#: Bytes of one line that are kept (a tqdm bar is ~150; a long traceback line a few KB).
MAX_LINE_BYTES = 64 * 1024


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
        cut_bytes: bytes of the line left out of ``text`` (beyond ``MAX_LINE_BYTES``).
    """

    text: str
    transient: bool
    end_offset: int
    cut_bytes: int = 0


class LineSplitter:
    """Incrementally split a byte stream into ``Line`` s, tracking byte offsets.

    Bytes of an unfinished line (and of a split UTF-8 sequence) wait for the next feed,
    so a line is never emitted twice or cut in half, and ``end_offset`` of the last line
    returned is always a safe place to resume reading after a crash.
    """

    def __init__(self, start_offset: int = 0, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._pending = b""
        self._offset = start_offset  # offset of the first pending byte
        # Bytes of the unfinished line passed over after its first max_line_bytes: they lie
        # (in the source) between the kept head and the last byte of the pending buffer.
        self._dropped = 0
        self._max = max_line_bytes

    @property
    def offset(self) -> int:
        """Where the next unread byte starts (the safe offset to resume from is
        ``offset`` minus ``pending_bytes``)."""
        return self._offset + self._dropped + len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet part of a finished line."""
        return self._dropped + len(self._pending)

    def feed(self, data: bytes) -> list[Line]:
        """Add bytes and return the lines they finish."""
        buffer = self._pending + data
        last_end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if last_end < 0:
            self._pending = buffer
            self._bound()
            return []
        # A \r at the very end may be the first half of \r\n: keep it pending.
        if buffer[last_end : last_end + 1] == b"\r" and last_end == len(buffer) - 1:
            cut = last_end
            prev = max(buffer.rfind(b"\n", 0, cut), buffer.rfind(b"\r", 0, cut)) if cut else -1
            if prev < 0:
                self._pending = buffer
                self._bound()
                return []
            complete, self._pending = buffer[: prev + 1], buffer[prev + 1 :]
        else:
            complete, self._pending = buffer[: last_end + 1], buffer[last_end + 1 :]
        # Every terminator lies after the kept head of a cut line, so the dropped bytes
        # shift every end offset in ``complete`` alike.
        lines = self._split(complete, self._offset + self._dropped, self._dropped, self._max)
        self._offset += len(complete) + self._dropped
        self._dropped = 0
        self._bound()
        return lines

    def _bound(self) -> None:
        """Keep at most ``max_line_bytes`` of the unfinished line (and a trailing ``\\r``)."""
        excess = len(self._pending) - self._max - (1 if self._pending.endswith(b"\r") else 0)
        if excess > 0:
            tail = b"\r" if self._pending.endswith(b"\r") else b""
            self._pending = self._pending[: self._max] + tail
            self._dropped += excess

    def flush(self) -> list[Line]:
        """Return what is pending as a final line (the stream has ended)."""
        if not self._pending and not self._dropped:
            return []
        data, self._pending = self._pending, b""
        dropped, self._dropped = self._dropped, 0
        if data.endswith(b"\r"):
            lines = self._split(data, self._offset + dropped, dropped, self._max)
        else:
            head = data[: self._max]
            text = strip_ansi(head.decode("utf-8", errors="replace"))
            lines = [
                Line(
                    text, False, self._offset + dropped + len(data), dropped + len(data) - len(head)
                )
            ]
        self._offset += len(data) + dropped
        return lines

    @staticmethod
    def _split(data: bytes, base: int, dropped: int, max_bytes: int) -> list[Line]:
        """Lines of ``data`` (which ends with a terminator); ``base`` is the source offset
        of ``data[0]`` plus the ``dropped`` bytes of its first line that are not in it."""
        lines = []
        position = base
        for match in _SPLIT.finditer(data):
            raw, terminator = match.group(1), match.group(2)
            position += len(raw) + len(terminator)
            cut = dropped
            dropped = 0
            if len(raw) > max_bytes:
                cut += len(raw) - max_bytes
                raw = raw[:max_bytes]
            text = strip_ansi(raw.decode("utf-8", errors="replace"))
            lines.append(Line(text, terminator == b"\r", position, cut))
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
