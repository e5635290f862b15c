"""Reading a run's logs for a viewer: lines as they are finished, stream by stream, the
unterminated last line once the run has ended, and nothing stored."""

from __future__ import annotations

from pathlib import Path

from ravelab.core.runs.log_tail import LogTail
from ravelab.core.runs.run_files import EXIT_FILE, STDERR_LOG, STDOUT_LOG


def _texts(found: list[tuple[str, object]]) -> list[tuple[str, str]]:
    return [(stream, line.text) for stream, line in found]  # type: ignore[attr-defined]


def test_lines_come_as_they_are_finished(tmp_path: Path) -> None:
    tail = LogTail(tmp_path)
    assert tail.read() == [] and not tail.ended  # nothing written yet
    (tmp_path / STDOUT_LOG).write_bytes(b"one\ntw")
    (tmp_path / STDERR_LOG).write_bytes(b"\x1b[31mred\x1b[0m\n")
    assert _texts(tail.read()) == [("stdout", "one"), ("stderr", "red")]
    with open(tmp_path / STDOUT_LOG, "ab") as handle:
        handle.write(b"o\nthree")
    assert _texts(tail.read()) == [("stdout", "two")]
    (tmp_path / EXIT_FILE).write_text("{}")
    assert tail.ended
    assert _texts(tail.finish()) == [("stdout", "three")]


def test_one_stream_only_and_reads_in_bounded_pieces(tmp_path: Path) -> None:
    (tmp_path / STDOUT_LOG).write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    (tmp_path / STDERR_LOG).write_bytes(b"not wanted\n")
    tail = LogTail(tmp_path, streams=("stdout",))
    first = tail.read(max_bytes=20)
    assert _texts(first) == [("stdout", "line 0"), ("stdout", "line 1")]
    rest = tail.finish()
    assert [text for _, text in _texts(rest)] == [f"line {i}" for i in range(2, 100)]
