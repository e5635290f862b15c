"""Tests of ravelab.core.tensorboard.tfrecord: TFRecord framing read incrementally, with
damage handling.

The reader has a fast loop for the common case and a general step for everything else; a
plain reference reader and randomly damaged files check that both agree on every outcome."""

from __future__ import annotations

import io
import logging
import random
import struct
from pathlib import Path
from typing import BinaryIO

import pytest
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import (
    masked_crc32c as reference_masked_crc32c,
)

from ravelab.core.tensorboard.tfrecord import (
    HEADER_SIZE,
    MAX_RECORD_LENGTH,
    TRAILER_SIZE,
    PayloadsResult,
    ReadResult,
    Record,
    masked_crc32c,
    read_payloads,
    read_records,
)
from tests.helpers import tfrecord_frame as frame

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rave-2.3.1"
VERSION_0 = FIXTURES / "events.out.tfevents.1795672257.vm.29866.0"
VERSION_1 = FIXTURES / "events.out.tfevents.1795672861.vm.14705.0"


def read_all(f: BinaryIO, chunk_size: int = 1 << 20) -> ReadResult:
    """Read every record of ``f`` in one call with an unlimited budget."""
    return read_records(f, 0, 1 << 40, chunk_size=chunk_size)


def payloads(n: int, seed: int = 0) -> list[bytes]:
    """Return ``n`` payloads of varied lengths (0 to 300 bytes) and content."""
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, 300)) for _ in range(n)]


@pytest.mark.parametrize(
    "data", [b"", b"\x00" * 8, b"abc", bytes(range(256)), b"brain.Event:2" * 100]
)
def test_masked_crc32c_matches_tensorboard_reference(data: bytes) -> None:
    assert masked_crc32c(data) == reference_masked_crc32c(data)


def test_reads_every_record_of_the_genuine_event_files() -> None:
    for path, expected_count in ((VERSION_0, 81), (VERSION_1, 16)):
        size = path.stat().st_size
        with path.open("rb") as f:
            result = read_all(f)
        assert result.skipped == 0
        assert not result.resyncing
        assert not result.more_pending
        assert result.next_offset == size
        assert len(result.records) == expected_count
        assert result.records[0].offset == 0
        assert b"brain.Event:2" in result.records[0].data
        # Records tile the file exactly.
        offsets = [r.offset for r in result.records]
        ends = [r.offset + HEADER_SIZE + len(r.data) + TRAILER_SIZE for r in result.records]
        assert offsets[1:] == ends[:-1]
        assert ends[-1] == size


def test_records_are_named_tuples() -> None:
    result = read_all(io.BytesIO(frame(b"xyz")))
    assert result.records == [Record(0, b"xyz")]
    assert result.records[0].offset == 0
    assert result.records[0].data == b"xyz"
    assert isinstance(result.records[0], Record)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with path.open("rb") as f:
        result = read_records(f, 0)
    assert result == ReadResult([], 0)


def test_no_new_bytes_returns_nothing() -> None:
    data = b"".join(frame(p) for p in payloads(5))
    f = io.BytesIO(data)
    first = read_records(f, 0)
    assert len(first.records) == 5
    again = read_records(f, first.next_offset)
    assert again.records == []
    assert again.next_offset == len(data)
    assert again.skipped == 0


def test_offset_past_end_returns_nothing_and_keeps_offset() -> None:
    result = read_records(io.BytesIO(frame(b"abc")), 1000)
    assert result.records == []
    assert result.next_offset == 1000


def test_rejects_bad_arguments() -> None:
    f = io.BytesIO(frame(b"abc"))
    with pytest.raises(ValueError, match="offset"):
        read_records(f, -1)
    with pytest.raises(ValueError, match="positive"):
        read_records(f, 0, 0)


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 13, 20, 31])
def test_torn_record_is_left_for_next_call(cut: int) -> None:
    whole = [frame(p) for p in (b"first", b"second-record-data-xx", b"third")]
    complete = whole[0]
    torn = whole[1][:cut]  # the second record is 33 bytes long: every cut is partial
    f = io.BytesIO(complete + torn)
    result = read_records(f, 0)
    assert [r.data for r in result.records] == [b"first"]
    assert result.next_offset == len(complete)
    assert result.skipped == 0

    f = io.BytesIO(b"".join(whole))
    rest = read_records(f, result.next_offset)
    assert [r.data for r in rest.records] == [b"second-record-data-xx", b"third"]
    assert rest.next_offset == len(b"".join(whole))


def test_bad_data_crc_is_skipped_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    records = [frame(p) for p in (b"one", b"two", b"three")]
    damaged = bytearray(records[1])
    damaged[HEADER_SIZE] ^= 0xFF  # flip a data byte; the header stays valid
    data = records[0] + bytes(damaged) + records[2]
    with caplog.at_level(logging.WARNING, logger="ravelab.core.tensorboard.tfrecord"):
        result = read_all(io.BytesIO(data))
    assert [r.data for r in result.records] == [b"one", b"three"]
    assert result.records[1].offset == len(records[0]) + len(records[1])
    assert result.skipped == 1
    assert result.next_offset == len(data)
    assert not result.resyncing
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "data CRC" in warnings[0].getMessage()


def test_bad_length_crc_resynchronises(caplog: pytest.LogCaptureFixture) -> None:
    contents = payloads(6, seed=3)
    records = [frame(p) for p in contents]
    damaged = bytearray(records[2])
    damaged[0] ^= 0x01  # the length no longer matches its CRC
    data = b"".join(records[:2]) + bytes(damaged) + b"".join(records[3:])
    with caplog.at_level(logging.WARNING, logger="ravelab.core.tensorboard.tfrecord"):
        result = read_all(io.BytesIO(data))
    assert [r.data for r in result.records] == contents[:2] + contents[3:]
    assert result.skipped == 1
    assert result.next_offset == len(data)
    assert not result.resyncing
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "framing lost" in warnings[0].getMessage()


def test_garbage_between_records_is_scanned_over(caplog: pytest.LogCaptureFixture) -> None:
    contents = payloads(4, seed=5)
    garbage = random.Random(7).randbytes(3000)
    data = (
        frame(contents[0]) + frame(contents[1]) + garbage + frame(contents[2]) + frame(contents[3])
    )
    with caplog.at_level(logging.WARNING, logger="ravelab.core.tensorboard.tfrecord"):
        result = read_all(io.BytesIO(data), chunk_size=512)
    assert [r.data for r in result.records] == contents
    assert result.skipped == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_garbage_at_end_never_loops_and_warns_once_across_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = frame(b"good")
    garbage = random.Random(11).randbytes(5000)
    f = io.BytesIO(good + garbage)
    with caplog.at_level(logging.WARNING, logger="ravelab.core.tensorboard.tfrecord"):
        first = read_records(f, 0)
        assert [r.data for r in first.records] == [b"good"]
        assert first.resyncing
        assert first.skipped == 1
        # Fewer than a header's worth of bytes cannot be checked yet: they stay pending.
        assert len(good + garbage) - HEADER_SIZE < first.next_offset <= len(good + garbage)

        # The writer recovers: a valid record follows the garbage.
        f = io.BytesIO(good + garbage + frame(b"after"))
        second = read_records(f, first.next_offset, resyncing=first.resyncing)
    assert [r.data for r in second.records] == [b"after"]
    assert second.skipped == 0
    assert not second.resyncing
    assert second.next_offset == len(good + garbage + frame(b"after"))
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_zero_filled_region_is_scanned_over() -> None:
    data = frame(b"a") + b"\x00" * 100 + frame(b"b")
    result = read_all(io.BytesIO(data))
    assert [r.data for r in result.records] == [b"a", b"b"]
    assert result.skipped == 1


def test_max_bytes_caps_a_call_and_flags_more_pending() -> None:
    contents = payloads(200, seed=1)
    data = b"".join(frame(p) for p in contents)
    f = io.BytesIO(data)
    got: list[bytes] = []
    offset = 0
    calls = 0
    while True:
        result = read_records(f, offset, max_bytes=1000)
        calls += 1
        got.extend(r.data for r in result.records)
        assert result.next_offset - offset < 1000 + HEADER_SIZE + 300 + TRAILER_SIZE
        offset = result.next_offset
        if not result.more_pending:
            break
    assert got == contents
    assert offset == len(data)
    assert calls >= len(data) // (1000 + HEADER_SIZE + 300 + TRAILER_SIZE)


def test_record_larger_than_max_bytes_is_returned_whole() -> None:
    big = bytes(range(256)) * 100
    data = frame(big) + frame(b"next")
    result = read_records(io.BytesIO(data), 0, max_bytes=10, chunk_size=64)
    assert [r.data for r in result.records] == [big]
    assert result.more_pending
    rest = read_records(io.BytesIO(data), result.next_offset, max_bytes=10)
    assert [r.data for r in rest.records] == [b"next"]
    assert not rest.more_pending


@pytest.mark.parametrize("chunk_size", [1, 7, 13, 64, 4096])
def test_small_chunks_give_the_same_records(chunk_size: int) -> None:
    contents = payloads(50, seed=2)
    data = b"".join(frame(p) for p in contents)
    result = read_all(io.BytesIO(data), chunk_size=chunk_size)
    assert [r.data for r in result.records] == contents
    assert result.next_offset == len(data)


def test_growing_file_read_in_random_pieces(tmp_path: Path) -> None:
    data = VERSION_1.read_bytes()
    with VERSION_1.open("rb") as f:
        one_shot = read_all(f)
    # Cut inside headers and inside data on purpose, plus random cuts.
    cuts = set()
    for record in one_shot.records:
        cuts.add(record.offset + 3)
        cuts.add(record.offset + HEADER_SIZE + len(record.data) // 2)
    rng = random.Random(42)
    cuts.update(rng.randrange(1, len(data)) for _ in range(40))
    path = tmp_path / "events.out.tfevents.growing"
    got: list[Record] = []
    offset = 0
    resyncing = False
    with path.open("wb") as writer, path.open("rb") as reader:
        previous = 0
        for cut in [*sorted(cuts), len(data)]:
            writer.write(data[previous:cut])
            writer.flush()
            previous = cut
            result = read_records(reader, offset, resyncing=resyncing)
            assert result.skipped == 0
            got.extend(result.records)
            offset, resyncing = result.next_offset, result.resyncing
    assert got == one_shot.records
    assert offset == len(data)


# --- read_payloads, and the fast path checked against a plain reference reader ----------------


def reference_read(
    data: bytes, offset: int, max_bytes: int, resyncing: bool
) -> tuple[list[Record], int, int, bool, bool]:
    """The framing rules written as plainly as possible, over bytes held in memory.

    Returns (records, next_offset, skipped, resyncing, more_pending).
    """
    records: list[Record] = []
    skipped = 0
    pos = offset
    stop = offset + max_bytes
    end = len(data)
    while pos < end:
        if pos >= stop:
            return records, pos, skipped, resyncing, True
        if end - pos < HEADER_SIZE:
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if masked_crc32c(data[pos : pos + 8]) != length_crc or length > MAX_RECORD_LENGTH:
            if not resyncing:
                resyncing = True
                skipped += 1
            pos += 1
            continue
        resyncing = False
        record_end = pos + HEADER_SIZE + length + TRAILER_SIZE
        if record_end > end:
            break
        payload = data[pos + HEADER_SIZE : record_end - TRAILER_SIZE]
        if masked_crc32c(payload) == struct.unpack_from("<I", data, record_end - TRAILER_SIZE)[0]:
            records.append(Record(pos, payload))
        else:
            skipped += 1
        pos = record_end
    return records, pos, skipped, resyncing, False


def damaged_file(rng: random.Random, count: int) -> bytes:
    """Records of varied lengths, some repeated lengths, with random damage of every kind."""
    lengths = [rng.choice([0, 1, 7, 45, 46, 300, rng.randrange(0, 2000)]) for _ in range(count)]
    data = bytearray(b"".join(frame(rng.randbytes(n)) for n in lengths))
    for _ in range(rng.randrange(0, 6)):
        kind = rng.randrange(4)
        at = rng.randrange(len(data))
        if kind == 0:  # flip a bit anywhere (header, data or trailer)
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # insert garbage
            data[at:at] = rng.randbytes(rng.randrange(1, 40))
        elif kind == 2:  # cut some bytes out
            del data[at : at + rng.randrange(1, 40)]
        else:  # a zero-filled region (a file preallocated, then written)
            data[at : at + 30] = bytes(30)
    return bytes(data)


@pytest.mark.parametrize("seed", range(40))
def test_read_payloads_agrees_with_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    data = damaged_file(rng, rng.randrange(1, 120))
    offset = 0
    resyncing = False
    got: list[Record] = []
    expected: list[Record] = []
    logging.disable(logging.WARNING)
    try:
        while True:
            max_bytes = rng.choice([1, 50, 1000, 1 << 40])
            chunk_size = rng.choice([1, 13, 100, 4096, 1 << 20])
            want = reference_read(data, offset, max_bytes, resyncing)
            found = read_payloads(
                io.BytesIO(data), offset, max_bytes, resyncing=resyncing, chunk_size=chunk_size
            )
            assert len(found.payloads) == len(found.offsets)
            records = [Record(o, d) for o, d in zip(found.offsets, found.payloads, strict=True)]
            assert (
                records,
                found.next_offset,
                found.skipped,
                found.resyncing,
                found.more_pending,
            ) == want
            got.extend(records)
            expected.extend(want[0])
            offset, resyncing = found.next_offset, found.resyncing
            if not found.more_pending:
                break
    finally:
        logging.disable(logging.NOTSET)
    assert got == expected


def test_read_payloads_matches_read_records() -> None:
    with VERSION_0.open("rb") as f:
        found = read_payloads(f, 0, 1 << 40)
        records = read_records(f, 0, 1 << 40)
    assert found.payloads == [r.data for r in records.records]
    assert found.offsets == [r.offset for r in records.records]
    assert (found.next_offset, found.skipped, found.resyncing, found.more_pending) == (
        records.next_offset,
        records.skipped,
        records.resyncing,
        records.more_pending,
    )
    assert isinstance(found, PayloadsResult)


def test_a_cached_length_with_a_bad_header_crc_still_resynchronises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Many records of one length: after the first, their header CRC comes from the table.
    records = [frame(bytes([i]) * 20) for i in range(10)]
    damaged = bytearray(records[5])
    damaged[8] ^= 0x01  # the length is intact and known; its CRC is not
    data = b"".join(records[:5]) + bytes(damaged) + b"".join(records[6:])
    with caplog.at_level(logging.WARNING, logger="ravelab.core.tensorboard.tfrecord"):
        result = read_all(io.BytesIO(data))
    assert [r.data for r in result.records] == [
        bytes([i]) * 20 for i in (0, 1, 2, 3, 4, 6, 7, 8, 9)
    ]
    assert result.skipped == 1
    assert "framing lost" in caplog.records[0].getMessage()


def test_a_length_above_the_limit_is_lost_framing_even_with_a_valid_crc() -> None:
    header = struct.pack("<Q", MAX_RECORD_LENGTH + 1)
    bogus = header + struct.pack("<I", masked_crc32c(header))
    data = frame(b"before") + bogus + frame(b"after")
    logging.disable(logging.WARNING)
    try:
        result = read_all(io.BytesIO(data))
    finally:
        logging.disable(logging.NOTSET)
    assert [r.data for r in result.records] == [b"before", b"after"]
    assert result.skipped == 1


def test_max_bytes_stops_at_the_first_boundary_at_or_after_the_cap() -> None:
    contents = [b"x" * 20] * 30  # 36 bytes per record
    data = b"".join(frame(p) for p in contents)
    for max_bytes in (1, 35, 36, 37, 100, 36 * 29, 36 * 30, 36 * 31):
        found = read_payloads(io.BytesIO(data), 0, max_bytes)
        whole = min(-(-max_bytes // 36), 30)  # records started before the cap
        assert len(found.payloads) == whole, max_bytes
        assert found.next_offset == 36 * whole
        assert found.more_pending == (whole < 30)
