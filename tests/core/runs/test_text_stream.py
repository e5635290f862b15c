"""Splitting raw trainer output into lines."""

from __future__ import annotations

from ravelab.core.runs.text_stream import Line, LineSplitter, collapse_transient, strip_ansi
from tests.conftest import FIXTURES


def test_splits_on_cr_and_lf_and_marks_redraws() -> None:
    splitter = LineSplitter()
    lines = splitter.feed(b"a\rb\nc\r\nd")
    assert [(line.text, line.transient) for line in lines] == [
        ("a", True),
        ("b", False),
        ("c", False),
    ]
    assert splitter.flush() == [Line("d", False, 8)]


def test_offsets_point_after_each_terminator() -> None:
    lines = LineSplitter(100).feed(b"ab\ncd\r")
    assert [line.end_offset for line in lines] == [103]
    # a trailing \r waits: it may be the first half of \r\n


def test_crlf_split_across_feeds_is_one_line() -> None:
    splitter = LineSplitter()
    assert [line.text for line in splitter.feed(b"x\r")] == []
    lines = splitter.feed(b"\ny\n")
    assert [(line.text, line.transient) for line in lines] == [("x", False), ("y", False)]


def test_utf8_character_split_across_feeds() -> None:
    bar = "Epoch 0: 100%|██████████| 4/4\n".encode()
    splitter = LineSplitter()
    cut = bar.index("█".encode()) + 1  # in the middle of a 3-byte character
    assert splitter.feed(bar[:cut]) == []
    (line,) = splitter.feed(bar[cut:])
    assert line.text == "Epoch 0: 100%|██████████| 4/4"


def test_strip_ansi_removes_cursor_moves() -> None:
    assert strip_ansi("\x1b[AValidation: 0it\x1b[2K") == "Validation: 0it"


def test_feeding_byte_by_byte_equals_feeding_at_once() -> None:
    data = (FIXTURES / "train.stdout.raw").read_bytes()[:20000]
    whole = LineSplitter().feed(data)
    splitter = LineSplitter()
    pieces = []
    for index in range(0, len(data), 7):
        pieces.extend(splitter.feed(data[index : index + 7]))
    assert pieces == whole


def test_collapse_keeps_the_latest_bar_state() -> None:
    lines = LineSplitter().feed(b"start\nEpoch 0: 1/4\rEpoch 0: 2/4\rEpoch 0: 4/4\nend\n")
    assert collapse_transient(lines) == ["start", "Epoch 0: 4/4", "end"]


def test_collapsed_genuine_stdout_is_short() -> None:
    data = (FIXTURES / "train.stdout.raw").read_bytes()
    splitter = LineSplitter()
    lines = splitter.feed(data) + splitter.flush()
    shown = collapse_transient(lines)
    assert shown[:3] == ["train set: 19 examples", "val set: 1 examples", "selected gpu: []"]
    assert len(shown) < len(lines) / 10
