"""Incremental reading of TFRecord framing, the container of TensorBoard event files.

A TFRecord file is a sequence of records, each framed as::

    uint64 LE  length of the data
    uint32 LE  masked CRC32C of the 8 length bytes
    bytes      data (``length`` bytes)
    uint32 LE  masked CRC32C of the data

The masked CRC is ``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` modulo 2**32. CRCs are computed
with ``google_crc32c`` (a C implementation).

:func:`read_payloads` (and :func:`read_records`, the same with each payload paired with its
offset) is meant to be called repeatedly on a file that another process is appending to. Each
call reads only the bytes from the given offset to the end of the file (at most about
``max_bytes`` of them), returns the complete records it found and the offset to resume from next
time. The cost of a call therefore grows with the number of new bytes, not with the size of the
file.

Damage is handled without raising:

* a record still being written (fewer bytes on disk than its header promises) is left for the
  next call: the resume offset is the start of that record;
* a record whose data CRC is wrong is skipped with a warning (its length is trusted);
* a header whose length CRC is wrong means the framing is lost: the reader scans forward for the
  next offset where a header validates, warning once per damaged region. Only offsets followed
  by four zero bytes can hold one (a length is below 2**31), so the scan jumps from one such
  offset to the next with ``bytes.find``: garbage costs about what valid records cost per byte.

Speed: a scalar event is a ~45-byte record, so per-record Python work dominates, not bytes.
The loop over records that lie wholly inside the buffer does one ``unpack_from`` per record (the
trailer of a record and the header of the next one together), one slice (the payload, which the
caller needs as ``bytes`` anyway), and one CRC call: the CRC of a header depends only on the
length it holds, so the masked CRC of each length seen is computed once (with google_crc32c)
and kept in a small table. Every other case (buffer ends, damage, resynchronisation, the
``max_bytes`` cap) is handled one record at a time by a plain, general step.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import google_crc32c

__all__ = [
    "DEFAULT_MAX_BYTES",
    "HEADER_SIZE",
    "MAX_RECORD_LENGTH",
    "TRAILER_SIZE",
    "PayloadsResult",
    "ReadResult",
    "Record",
    "masked_crc32c",
    "read_payloads",
    "read_records",
]

logger = logging.getLogger(__name__)

HEADER_SIZE = 12
"""Bytes before a record's data: the uint64 length and the uint32 masked CRC of the length."""

TRAILER_SIZE = 4
"""Bytes after a record's data: the uint32 masked CRC of the data."""

DEFAULT_MAX_BYTES = 1024 * 1024
"""Default soft cap on the bytes that one :func:`read_payloads` call consumes: about 18,000
scalar events, a few tens of milliseconds of work, so that a follower thread returns often and
keeps few objects alive at once. Larger caps were not faster in ``bench/bench_tb_ingest.py``."""

MAX_RECORD_LENGTH = 2**31 - 1
"""Largest data length accepted in a header (protobuf messages cannot be larger). A header that
claims more is treated like one whose CRC is wrong, even if its CRC happens to validate."""

_CHUNK_SIZE = 1024 * 1024
_HIGH_ZEROS = b"\x00\x00\x00\x00"  # the high half of a valid header's uint64 length
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_HEADER = struct.Struct("<QI")
_TRAILER = struct.Struct("<I")
# The trailer of one record followed by the header of the next: one call instead of two.
_TRAILER_HEADER = struct.Struct("<IQI")
_TRAILER_HEADER_SIZE = TRAILER_SIZE + HEADER_SIZE
_crc32c = google_crc32c.value

# Masked CRC of the 8 length bytes, by length. Event files use few distinct lengths (a scalar
# event's length depends only on its tag and on the varint sizes of its fields), so this stays
# small; it is capped all the same, for files of many sizes (audio, text).
_HEADER_CRCS: dict[int, int] = {}
_HEADER_CRCS_MAX = 4096


class Record(NamedTuple):
    """One complete record whose CRCs both validated.

    Attributes:
        offset: Offset of the record's header in the file.
        data: The record's payload (for event files, one serialized ``Event`` protobuf).
    """

    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PayloadsResult:
    """What one :func:`read_payloads` call found.

    Attributes:
        payloads: Data of the complete, valid records, in file order.
        offsets: File offset of each record's header, parallel to ``payloads``.
        next_offset: Offset to pass to the next call. It never lies inside a record that was
            returned, and it is the start of a record that is still being written, if any.
        skipped: Number of damaged places passed over: records whose data CRC was wrong, plus
            regions where the framing was lost and had to be resynchronised.
        resyncing: True when the call ended while scanning for a valid header after lost
            framing. Pass it back as ``resyncing`` so the next call does not warn again.
        more_pending: True when the call stopped because of ``max_bytes`` while complete data
            was still waiting: call again right away to read the rest.
    """

    payloads: list[bytes]
    offsets: list[int]
    next_offset: int
    skipped: int = 0
    resyncing: bool = False
    more_pending: bool = False


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What one :func:`read_records` call found.

    Attributes:
        records: Complete, valid records in file order.
        next_offset: As in :class:`PayloadsResult`.
        skipped: As in :class:`PayloadsResult`.
        resyncing: As in :class:`PayloadsResult`.
        more_pending: As in :class:`PayloadsResult`.
    """

    records: list[Record]
    next_offset: int
    skipped: int = 0
    resyncing: bool = False
    more_pending: bool = False


def masked_crc32c(data: bytes) -> int:
    """Return the masked CRC32C that TFRecord stores for ``data``.

    Args:
        data: The bytes to checksum.

    Returns:
        ``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` modulo 2**32, where ``crc`` is the
        CRC32C (Castagnoli) of ``data``.
    """
    crc: int = _crc32c(data)
    # The bits that (crc << 17) pushes above bit 31 vanish in the final modulo.
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


def _file_size(f: BinaryIO) -> int:
    """Return the current size of an open file, without reading it."""
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        # Not backed by a file descriptor (e.g. io.BytesIO): ask the stream itself.
        return f.seek(0, os.SEEK_END)


def _header_valid(header: bytes, length: int, length_crc: int) -> bool:
    """Check a record header the slow way, remembering the CRC of a length that validates."""
    if length > MAX_RECORD_LENGTH or masked_crc32c(header) != length_crc:
        return False
    if len(_HEADER_CRCS) < _HEADER_CRCS_MAX:
        _HEADER_CRCS[length] = length_crc
    return True


def read_records(
    f: BinaryIO,
    offset: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    resyncing: bool = False,
    chunk_size: int = _CHUNK_SIZE,
) -> ReadResult:
    """Read the complete records between ``offset`` and the current end of ``f``.

    The same as :func:`read_payloads`, with each payload paired with its offset.

    Args:
        f: A binary file open for reading and seekable. Its position is changed.
        offset: Where to start: ``0`` or a ``next_offset`` from an earlier call.
        max_bytes: Soft cap on the bytes consumed by this call (see :func:`read_payloads`).
        resyncing: The ``resyncing`` flag of the previous result.
        chunk_size: Bytes read from the file at a time.

    Returns:
        The records found, the offset to resume from, and what was skipped.

    Raises:
        ValueError: If ``offset`` is negative or ``max_bytes`` / ``chunk_size`` are not positive.
    """
    found = read_payloads(f, offset, max_bytes, resyncing=resyncing, chunk_size=chunk_size)
    records = [Record(o, d) for o, d in zip(found.offsets, found.payloads, strict=True)]
    return ReadResult(
        records, found.next_offset, found.skipped, found.resyncing, found.more_pending
    )


def read_payloads(
    f: BinaryIO,
    offset: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    resyncing: bool = False,
    chunk_size: int = _CHUNK_SIZE,
) -> PayloadsResult:
    """Read the payloads of the complete records between ``offset`` and the end of ``f``.

    Only bytes at or after ``offset`` are read, in chunks of about ``chunk_size`` bytes (more
    when a single record is larger), so memory stays bounded by ``max_bytes`` plus one record
    and one chunk whatever the size of the backlog.

    Args:
        f: A binary file open for reading and seekable. Its position is changed.
        offset: Where to start: ``0`` or a ``next_offset`` from an earlier call.
        max_bytes: Soft cap on the bytes consumed by this call. The call stops at the first
            record boundary at or after ``offset + max_bytes`` and sets ``more_pending``; a
            single record larger than the cap is still returned whole.
        resyncing: The ``resyncing`` flag of the previous result, so that a damaged region that
            spans several calls is warned about only once.
        chunk_size: Bytes read from the file at a time.

    Returns:
        The payloads and their offsets, the offset to resume from, and what was skipped.

    Raises:
        ValueError: If ``offset`` is negative or ``max_bytes`` / ``chunk_size`` are not positive.
    """
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if max_bytes <= 0 or chunk_size <= 0:
        raise ValueError("max_bytes and chunk_size must be positive")

    end = _file_size(f)
    payloads: list[bytes] = []
    offsets: list[int] = []
    skipped = 0
    if end <= offset:
        return PayloadsResult(payloads, offsets, offset, skipped, resyncing)

    stop = offset + max_bytes
    add_payload = payloads.append
    add_offset = offsets.append
    unpack_header = _HEADER.unpack_from
    unpack_trailer = _TRAILER.unpack_from
    unpack_trailer_header = _TRAILER_HEADER.unpack_from
    header_crc = _HEADER_CRCS.get
    crc32c = _crc32c
    mask_delta = _MASK_DELTA
    u32 = _U32
    buf = b""
    base = offset  # file offset of buf[0]
    size = 0  # len(buf)
    i = 0  # index in buf of the next record (or resync candidate); its file offset is base + i

    while True:
        if not resyncing and size - i >= HEADER_SIZE:
            # Fast loop: records whose header length was seen before and that lie wholly
            # inside buf, followed by at least a header's worth of bytes, and end before the
            # cap. It stops, without consuming anything, at the first record that is not like
            # that; the general step below then handles that one record (and the cap).
            last = min(size - _TRAILER_HEADER_SIZE, stop - base)  # latest end of a record's data
            length, length_crc = unpack_header(buf, i)
            while header_crc(length) == length_crc:
                data_end = i + HEADER_SIZE + length
                if data_end > last:
                    break
                data = buf[i + HEADER_SIZE : data_end]
                # This record's trailer and the next record's header, read at once.
                stored, length, length_crc = unpack_trailer_header(buf, data_end)
                crc = crc32c(data)
                if ((crc >> 15 | crc << 17) + mask_delta) & u32 != stored:
                    break  # the general step reads this record's header again
                add_payload(data)
                add_offset(base + i)
                i = data_end + TRAILER_SIZE

        # General step: one record (or one byte of a resync scan), whatever its state.
        pos = base + i
        if pos >= end:
            break
        if pos >= stop:
            return PayloadsResult(payloads, offsets, pos, skipped, resyncing, more_pending=True)
        if size - i < HEADER_SIZE:
            if end - pos < HEADER_SIZE:
                break  # header not fully written yet (or trailing bytes while resyncing)
            buf, base = _refill(f, buf, base, pos, pos + HEADER_SIZE, end, chunk_size)
            size = len(buf)
            i = 0
            if size < HEADER_SIZE:
                end = base + size  # the file shrank under us
                break

        length, length_crc = unpack_header(buf, i)
        if header_crc(length) != length_crc and not _header_valid(
            buf[i : i + 8], length, length_crc
        ):
            if not resyncing:
                logger.warning(
                    "TFRecord framing lost at offset %d in %s (bad record header); "
                    "scanning for the next valid record",
                    pos,
                    _name_of(f),
                )
                resyncing = True
                skipped += 1
            # The next place a header may start: its length is at most MAX_RECORD_LENGTH,
            # so the length's four high bytes are zero. ``find`` skips in C what a byte-by-
            # byte scan would try in Python (all of random garbage, nearly).
            # It stops at the cap, and where fewer than a header's bytes are left in buf.
            zeros = buf.find(_HIGH_ZEROS, i + 5)
            candidate = zeros - 4 if zeros >= 0 else size - HEADER_SIZE + 1
            i = max(i + 1, min(candidate, stop - base))
            continue
        if resyncing:
            logger.info("TFRecord framing recovered at offset %d in %s", pos, _name_of(f))
            resyncing = False

        data_end = i + HEADER_SIZE + length
        if data_end + TRAILER_SIZE > size:
            record_end = pos + HEADER_SIZE + length + TRAILER_SIZE
            if record_end > end:
                break  # still being written: leave it for the next call
            buf, base = _refill(f, buf, base, pos, record_end, end, chunk_size)
            size = len(buf)
            i = 0
            if record_end - base > size:
                end = base + size  # the file shrank under us
                break
            data_end = HEADER_SIZE + length

        data = buf[i + HEADER_SIZE : data_end]
        if masked_crc32c(data) == unpack_trailer(buf, data_end)[0]:
            add_payload(data)
            add_offset(pos)
        else:
            logger.warning(
                "Skipping TFRecord at offset %d in %s: data CRC mismatch (%d bytes)",
                pos,
                _name_of(f),
                length,
            )
            skipped += 1
        i = data_end + TRAILER_SIZE

    return PayloadsResult(payloads, offsets, base + i, skipped, resyncing)


def _refill(
    f: BinaryIO, buf: bytes, buf_start: int, pos: int, need_end: int, end: int, chunk_size: int
) -> tuple[bytes, int]:
    """Return a buffer that starts at ``pos`` and covers up to at least ``need_end`` if possible.

    The bytes of ``buf`` before ``pos`` are dropped, the ones after it are kept, and new bytes are
    read from the file in one call: at least ``chunk_size``, never past ``end``.
    """
    kept = buf[pos - buf_start :] if pos - buf_start < len(buf) else b""
    read_from = pos + len(kept)
    want = min(max(need_end - read_from, chunk_size), end - read_from)
    if want > 0:
        f.seek(read_from)
        kept += f.read(want)
    return kept, pos


def _name_of(f: BinaryIO) -> str:
    """Return a printable name for a file object, for log messages."""
    name = getattr(f, "name", None)
    return str(name) if name is not None else repr(f)
