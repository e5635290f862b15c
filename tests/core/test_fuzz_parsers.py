"""Fuzzing what ravelab reads from a trainer: output lines, byte streams, event files.

Each test feeds arbitrary input, and genuine RAVE 2.3.1 output mutated at random, to one
reader, and checks what the reader promises whatever it is fed: no exception (but the
documented ones), every step and wall time it hands over in range, every metric value it
hands over from a line finite, and the column decoding of scalar events equal to a
record-by-record decoding. The examples are bounded so that the module takes seconds.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto.event_pb2 import Event

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.rave.trainer_numbers import MAX_STEP, MAX_WALL_TIME
from ravelab.core.runs.text_stream import LineSplitter, strip_ansi
from ravelab.core.tensorboard import event_columns
from ravelab.core.tensorboard.events import EventFileFollower
from ravelab.core.tensorboard.tfrecord import read_payloads
from tests.helpers import tfrecord_frame as _frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rave-2.3.1"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _genuine_lines() -> list[str]:
    lines: list[str] = []
    for name in ("train.stdout.raw", "train.stderr.raw", "train_bad_config.stderr.raw"):
        raw = (FIXTURES / name).read_bytes().decode("utf-8", errors="replace")
        lines.extend(strip_ansi(line) for line in re.split(r"\r\n|\r|\n", raw) if line.strip())
    return lines


GENUINE_LINES = _genuine_lines()
# Pieces a mutation inserts: what makes a line look like a bar, a metric or a number.
PIECES = st.sampled_from(
    ["%|", "|", ":", " ", "Epoch ", "step: ", "loss: ", "lr: ", "epoch ", "/", "[", "]", "<",
     ",", "it/s", "s/it", "?", ".", "e", "-", "nan", "inf", "1e999", "\x1b[", "Traceback "
     "(most recent call last):", "train set: ", " examples", "\t", "١", "²"]
)  # fmt: skip
DIGITS = st.integers(min_value=1, max_value=60).map(lambda n: "9" * n)


def _mutate(line: str, data: st.DataObject) -> str:
    """One line with a few random edits: inserts, deletions, long digit runs, repeats."""
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        position = data.draw(st.integers(0, len(line)), label="at")
        kind = data.draw(st.sampled_from(["insert", "digits", "delete", "repeat"]), label="kind")
        if kind == "insert":
            line = line[:position] + data.draw(PIECES, label="piece") + line[position:]
        elif kind == "digits":
            # Replace the digit run at or after ``position`` by a long one.
            match = re.compile(r"[0-9]+").search(line, position)
            digits = data.draw(DIGITS, label="digits")
            if match:
                line = line[: match.start()] + digits + line[match.end() :]
            else:
                line = line[:position] + digits + line[position:]
        elif kind == "delete":
            end = data.draw(st.integers(position, min(len(line), position + 10)), label="to")
            line = line[:position] + line[end:]
        else:
            end = data.draw(st.integers(position, min(len(line), position + 5)), label="to")
            times = data.draw(st.integers(2, 200), label="times")
            line = line[:position] + line[position:end] * times + line[end:]
    return line


def _check_parsed(parser: OutputParser, text: str, stream: str) -> None:
    parsed = parser.parse(text, stream)
    if parsed.step is not None:
        assert 0 <= parsed.step <= MAX_STEP
    for name, value in parsed.metrics.items():
        assert math.isfinite(value), (name, value, text)
    for key in ("epoch", "batch", "batches", "train_examples"):
        value = parsed.progress.get(key)
        assert value is None or (isinstance(value, int) and 0 <= value <= MAX_STEP), key
    speed = parsed.progress.get("speed")
    assert speed is None or (math.isfinite(speed) and speed > 0)
    assert 0 <= parser.step <= MAX_STEP
    assert parsed.reason is None or len(parsed.reason) <= 500


@FUZZ
@given(
    lines=st.lists(st.text(max_size=300), max_size=8),
    max_steps=st.one_of(st.none(), st.integers(1, 10**7)),
    batch=st.one_of(st.none(), st.integers(1, 64)),
)
def test_the_line_parser_takes_any_text(
    lines: list[str], max_steps: int | None, batch: int | None
) -> None:
    parser = OutputParser(max_steps, batch)
    for index, text in enumerate(lines):
        _check_parsed(parser, text, ("stdout", "stderr")[index % 2])


@FUZZ
@given(data=st.data(), stream=st.sampled_from(["stdout", "stderr"]))
def test_the_line_parser_takes_mutated_rave_lines(data: st.DataObject, stream: str) -> None:
    parser = OutputParser(data.draw(st.one_of(st.none(), st.integers(1, 10**6))), 4)
    for _ in range(3):
        line = data.draw(st.sampled_from(GENUINE_LINES), label="line")
        _check_parsed(parser, _mutate(line, data), stream)


def _reference_lines(data: bytes, limit: int) -> list[tuple[str, bool, int, int]]:
    """What splitting the whole stream at once gives (the last line unterminated)."""
    found = []
    position = 0
    for match in re.finditer(rb"([^\r\n]*)(\r\n|\r|\n)", data):
        raw, terminator = match.group(1), match.group(2)
        position = match.end()
        text = strip_ansi(raw[:limit].decode("utf-8", errors="replace"))
        found.append((text, terminator == b"\r", position, max(len(raw) - limit, 0)))
    rest = data[position:]
    if rest:
        text = strip_ansi(rest[:limit].decode("utf-8", errors="replace"))
        found.append((text, False, len(data), max(len(rest) - limit, 0)))
    return found


@FUZZ
@given(
    data=st.binary(max_size=600)
    | st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\x1b[2K", b"\xe2\x96", b"9"])).map(
        b"".join
    ),
    cuts=st.lists(st.integers(0, 600), max_size=6),
    limit=st.sampled_from([1, 7, 64, 1 << 16]),
)
def test_the_splitter_takes_any_bytes_in_any_chunks(
    data: bytes, cuts: list[int], limit: int
) -> None:
    splitter = LineSplitter(max_line_bytes=limit)
    lines = []
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    for start, end in itertools.pairwise(bounds):
        lines.extend(splitter.feed(data[start:end]))
        # Never more than one line's kept bytes (and a \r) wait in memory.
        assert splitter.pending_bytes >= 0 and len(splitter._pending) <= limit + 1
        assert splitter.offset == end
    lines.extend(splitter.flush())
    got = [(line.text, line.transient, line.end_offset, line.cut_bytes) for line in lines]
    assert got == _reference_lines(data, limit)
    assert splitter.offset == len(data)


# -- event files ------------------------------------------------------------------------------


def _genuine_payloads() -> list[bytes]:
    payloads: list[bytes] = []
    for path in sorted(FIXTURES.glob("events.out.tfevents.*")):
        found = read_payloads(io.BytesIO(path.read_bytes()), max_bytes=2**40).payloads
        # The first records (file_version, text, audio) and a run of plain scalars.
        payloads.extend(found[:40])
        payloads.extend(p for p in found[40:400] if len(p) < 200)
    return payloads


GENUINE_PAYLOADS = _genuine_payloads()
GENUINE_FILE = b"".join(map(_frame, GENUINE_PAYLOADS))


def _mutate_bytes(blob: bytes, data: st.DataObject, edits: int = 6) -> bytes:
    buffer = bytearray(blob)
    for _ in range(data.draw(st.integers(1, edits), label="edits")):
        if not buffer:
            break
        at = data.draw(st.integers(0, len(buffer) - 1), label="at")
        kind = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]), label="kind")
        if kind == "flip":
            buffer[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif kind == "set":
            buffer[at] = data.draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]), label="byte")
        elif kind == "cut":
            del buffer[at : at + data.draw(st.integers(1, 40), label="length")]
        else:
            buffer[at:at] = data.draw(st.binary(min_size=1, max_size=20), label="bytes")
    return bytes(buffer)


def _follow_all(path: Path, max_bytes: int) -> tuple[list[tuple[str, int, float, float]], int]:
    """Every point of a file, polled ``max_bytes`` at a time; and the final offset."""
    follower = EventFileFollower(path)
    points = []
    for _ in range(10_000):
        batch = follower.poll(max_bytes)
        for tag, step, value, wall in batch.points:
            assert isinstance(tag, str)
            assert 0 <= step <= MAX_STEP
            assert 0.0 <= wall <= MAX_WALL_TIME
            assert isinstance(value, float)  # NaN and infinities are the run's health
        for clip in batch.audio:
            assert 0 <= clip.step <= MAX_STEP and 0.0 <= clip.wall_time <= MAX_WALL_TIME
            assert math.isfinite(clip.sample_rate) and clip.sample_rate >= 0
        for text in batch.texts:
            assert 0 <= text.step <= MAX_STEP and 0.0 <= text.wall_time <= MAX_WALL_TIME
        points.extend(batch.points)
        if not batch.more_pending:
            return points, batch.next_offset
    raise AssertionError("the follower never reached the end of the file")


def _check_event_file(tmp_path: Path, blob: bytes, max_bytes: int) -> None:
    path = tmp_path / "events.out.tfevents.fuzz"
    path.write_bytes(blob)
    whole, end = _follow_all(path, 2**40)
    assert 0 <= end <= len(blob)
    # Polling in small bites reads the same points as one read.
    assert _follow_all(path, max_bytes) == (whole, end)


@FUZZ
@given(blob=st.binary(max_size=3000), max_bytes=st.integers(1, 4096))
def test_the_event_reader_takes_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes, max_bytes: int
) -> None:
    _check_event_file(tmp_path_factory.mktemp("random"), blob, max_bytes)


@FUZZ
@given(data=st.data(), max_bytes=st.integers(64, 8192))
def test_the_event_reader_takes_damaged_rave_files(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, max_bytes: int
) -> None:
    _check_event_file(
        tmp_path_factory.mktemp("damaged"), _mutate_bytes(GENUINE_FILE, data), max_bytes
    )


def _one_by_one(payloads: list[bytes]) -> list[tuple[str, int, float, float]]:
    """The simple values of each record that parses, decoded alone."""
    points = []
    for data in payloads:
        event = Event()
        try:
            event.ParseFromString(data)
        except Exception:  # google.protobuf.message.DecodeError
            continue
        for value in event.summary.value:
            if value.HasField("simple_value"):
                points.append((value.tag, event.step, value.simple_value, event.wall_time))
    return points


def _same(a: list[tuple[str, int, float, float]], b: list[tuple[str, int, float, float]]) -> bool:
    """Equal point lists, NaN equal to NaN."""
    return len(a) == len(b) and all(
        x[:2] == y[:2]
        and all(
            u == v or (math.isnan(u) and math.isnan(v)) for u, v in zip(x[2:], y[2:], strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


@FUZZ
@given(data=st.data())
def test_columns_decode_mutated_events_as_record_by_record(data: st.DataObject) -> None:
    # Mutate the payloads themselves (framing intact), so the protobuf decoders see them.
    start = data.draw(st.integers(0, len(GENUINE_PAYLOADS) - 1), label="start")
    count = data.draw(st.integers(1, 200), label="count")
    payloads = list(GENUINE_PAYLOADS[start : start + count])
    for _ in range(data.draw(st.integers(0, 5), label="mutated")):
        index = data.draw(st.integers(0, len(payloads) - 1), label="index")
        payloads[index] = _mutate_bytes(payloads[index], data, edits=2)
    points: list[tuple[str, int, float, float]] = []

    def scalars(columns: event_columns.ScalarColumns) -> None:
        points.extend(zip(*columns, strict=True))

    def record(index: int) -> None:
        points.extend(_one_by_one([payloads[index]]))

    event_columns.decode_scalar_runs(payloads, scalars, record)
    assert _same(points, _one_by_one(payloads))
