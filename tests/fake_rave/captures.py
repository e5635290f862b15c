"""Reading the genuine captures: timed records, TFRecord event files, traceback pieces.

``*.timed.jsonl`` holds the two streams of a real ``rave`` run in arrival order, each record
with its exact bytes (base64) and its time since start. The TensorBoard event files are
TFRecord framed (uint64 length, masked crc32c, data, masked crc32c); only whole records are
copied, so no crc is ever computed, and only the few Event fields the double needs are read.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fake_rave import FIXTURES

DEFAULT_TIME_SCALE = 0.02
#: Where every RAVE traceback leaves the genuine outer frames (bin/rave, main_cli, absl).
_TRAIN_PY_FRAME = b'  File "/opt/rave-env/lib/python3.11/site-packages/scripts/train.py"'


def time_scale() -> float:
    """``FAKE_RAVE_TIME_SCALE`` (capture seconds -> real seconds), default 0.02."""
    try:
        return max(float(os.environ.get("FAKE_RAVE_TIME_SCALE", DEFAULT_TIME_SCALE)), 0.0)
    except ValueError:
        return DEFAULT_TIME_SCALE


def emit(stream: str, data: bytes) -> None:
    """Write bytes to stdout or stderr and flush, as RAVE under PYTHONUNBUFFERED=1 does."""
    handle = sys.stdout.buffer if stream == "stdout" else sys.stderr.buffer
    handle.write(data)
    handle.flush()


def substitute(data: bytes, pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    for old, new in pairs:
        data = data.replace(old, new)
    return data


@dataclass(frozen=True)
class Record:
    """One record of a ``*.timed.jsonl`` capture."""

    t: float
    stream: str | None  # "stdout" / "stderr"; None for the capture tool's own events
    data: bytes = b""
    event: str | None = None
    returncode: int | None = None


def load_capture(prefix: str) -> list[Record]:
    records = []
    with open(FIXTURES / f"{prefix}.timed.jsonl", encoding="utf-8") as handle:
        for line in handle:
            raw = json.loads(line)
            if "event" in raw:
                records.append(Record(raw["t"], None, b"", raw["event"], raw.get("returncode")))
            else:
                records.append(Record(raw["t"], raw["stream"], base64.b64decode(raw["b64"])))
    return records


def replay_plain(prefix: str, pairs: Sequence[tuple[bytes, bytes]] = ()) -> int:
    """Replay a short capture (help, a failure) as it was; return its exit code."""
    scale, start, returncode = time_scale(), time.monotonic(), 0
    for record in load_capture(prefix):
        delay = start + record.t * scale - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if record.stream:
            emit(record.stream, substitute(record.data, pairs))
        elif record.event == "exit" and record.returncode is not None:
            returncode = record.returncode
    return returncode


@dataclass(frozen=True)
class TfRecord:
    """One whole TFRecord (length, masked crc, Event bytes, masked crc) of an event file."""

    raw: bytes
    t: float  # Event.wall_time minus the capture's start: when to write it
    step: int | None
    tag: str | None
    value: float | None
    group_step: int  # step it belongs to (audio_val: the validation after it; -1: header)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _fields(data: bytes) -> Iterator[tuple[int, bytes | int]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def read_tfrecords(path: Path, started_unix: float) -> list[TfRecord]:
    """Event(wall_time=1, step=2, summary=5 -> value=1 -> tag=1, simple_value=2)."""
    data, pos, parsed = path.read_bytes(), 0, []
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        event, raw = data[pos + 12 : pos + 12 + length], data[pos : pos + 16 + length]
        pos += 16 + length
        wall, step, tag, value = 0.0, None, None, None
        for number, field in _fields(event):
            if number == 1 and isinstance(field, bytes):
                (wall,) = struct.unpack("<d", field)
            elif number == 2 and isinstance(field, int):
                step = field
            elif number == 5 and isinstance(field, bytes):
                for sub_number, summary_value in _fields(field):
                    if sub_number != 1 or not isinstance(summary_value, bytes):
                        continue
                    for leaf, content in _fields(summary_value):
                        if leaf == 1 and isinstance(content, bytes):
                            tag = content.decode("utf-8", "replace")
                        elif leaf == 2 and isinstance(content, bytes):
                            (value,) = struct.unpack("<f", content)
        parsed.append([raw, wall - started_unix, step, tag, value])
    records, following = [], -1
    for raw, t, step, tag, value in reversed(parsed):
        if tag == "audio_val":  # its step counts validations: it belongs to the next scalar
            group = following
        else:
            group = step if step is not None else -1
            following = group
        records.append(TfRecord(raw, t, step, tag, value, group))
    records.reverse()
    return records


def rave_traceback(frames: str, last_line: str) -> bytes:
    """The genuine outer frames of a RAVE traceback, then ``frames`` and the exception line."""
    head = (FIXTURES / "train_bad_db_path.stderr.raw").read_bytes()
    return head[: head.index(_TRAIN_PY_FRAME)] + frames.encode() + last_line.encode() + b"\n"


#: Where the captures' virtualenv keeps RAVE, absl, gin, tqdm and torch.
SITE = "/opt/rave-env/lib/python3.11/site-packages"
#: The capture machine's standard library: never shown in a capture. /usr/local is where the
#: official python:3.11.7 (Debian 12) build lives; an assumption, used only in tracebacks.
STDLIB = "/usr/local/lib/python3.11"
#: scripts/main_cli.py: the line of ``app.run(<command>.main)`` for each command.
MAIN_CLI_LINE = {"train": 30, "export": 38, "preprocess": 42}


def cli_traceback(command: str, frames: str, last_line: str) -> bytes:
    """A traceback through ``app.run(<command>.main)``: the genuine outer frames of
    ``train_bad_db_path`` with main_cli's line for ``command``, then ``frames``."""
    head = rave_traceback("", "")[:-1]  # the outer frames, down to absl's _run_main
    head = head.replace(
        b"line 30, in main\n    app.run(train.main)",
        f"line {MAIN_CLI_LINE[command]}, in main\n    app.run({command}.main)".encode(),
    )
    return head + frames.encode() + last_line.encode() + b"\n"


def fatal_flag_error(message: str) -> int:
    """absl's ``FATAL Flags parsing error: …`` (multi-line messages start with a newline)."""
    gap = "" if message.startswith("\n") else " "
    emit("stderr", f"FATAL Flags parsing error:{gap}{message}\n".encode())
    emit("stderr", b"Pass --helpshort or --helpfull to see help on flags.\n")
    return 1


def absl_value_error(command: str, message: str) -> bytes:
    """``--noflag=1``: the plain ValueError absl raises while parsing (as rave_cli's train)."""
    head = cli_traceback(command, "", "")
    cut = head.index(b'  File "/opt/rave-env/lib/python3.11/site-packages/absl/app.py"')
    return head[:cut] + f"ValueError: {message}\n".encode()
