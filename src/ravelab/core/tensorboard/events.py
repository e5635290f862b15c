"""Reading RAVE's TensorBoard event files: scalars, audio clips and text summaries.

RAVE logs nothing useful on stdout; its losses live in TensorBoard event files written by
PyTorch Lightning's ``TensorBoardLogger`` under ``<out>/<name>_<hash>/version_N/``. This module
follows those files while a run trains and turns their records into plain tuples (scalars) and
frozen dataclasses (audio, text). It knows nothing about Qt or the database.

Decoding uses TensorBoard's ``Event`` message as
:mod:`ravelab.core.tensorboard.event_proto` builds it from its wire definition (protobuf
alone; TensorBoard is not needed). What is understood:

* scalars written as ``summary.value[].simple_value`` (torch's ``SummaryWriter``, which
  Lightning 1.9 uses), and scalars written as a one-element float tensor under the ``scalars``
  plugin (newer writers such as ``tf.summary.scalar``); the plugin of a tag is remembered from
  its first value, as writers may send the metadata only once per tag;
* audio written as ``summary.value[].audio`` (an encoded WAV per clip);
* text written as a string tensor under the ``text`` plugin (RAVE's ``config/text_summary``
  and ``model/text_summary``).

Everything else (the leading ``file_version`` event, graphs, images, histograms, events
without a summary) is ignored.

An event file is untrusted input. A point, clip or text whose step is outside
``[0, MAX_STEP]`` or whose wall time is not a time (NaN, negative, past year 9999) is
skipped and counted in ``EventBatch.rejected`` (the follower warns once per file), as is
one whose tag is longer than :data:`MAX_TAG_CHARS`;
a clip's absurd sample rate, channel count or length reads as 0 (unknown), a clip larger
than :data:`MAX_CLIP_BYTES` is skipped, and a text is cut at :data:`MAX_TEXT_CHARS`.
Scalar values themselves may be NaN or infinite: that is the run's health, reported apart.

Speed: ingesting a long run means decoding millions of one-scalar events, so the common case (an
event whose summary holds one ``simple_value``) takes a short path that appends a plain
``(tag, step, value, wall_time)`` tuple; :class:`EventBatch` keeps those tuples as they are and
builds :class:`ScalarPoint` objects only when asked (``EventBatch.scalars``). Each event is parsed
into one reused ``Event`` (a C call in the upb protobuf runtime); reading its fields costs more
than parsing it.

Decoding many events per C call was tried and left out: wrapping a chunk of records as a
runtime-built message ``{ repeated tensorboard.Event events = 1; }`` (still the official
``Event`` descriptor decoding every event; only the length-delimited wrapper framing is ours)
saves the per-record ``ParseFromString`` call, but reading the fields of each element costs the
same, building the wrapper bytes costs about what it saves, and one bad record fails the whole
chunk. It measured within noise of the per-record parse.
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ravelab.core.rave.trainer_numbers import MAX_STEP, MAX_WALL_TIME, digits_value, is_step
from ravelab.core.runs.regular_files import open_regular
from ravelab.core.tensorboard.event_columns import ScalarColumns, decode_scalar_runs
from ravelab.core.tensorboard.event_proto import Event
from ravelab.core.tensorboard.tfrecord import DEFAULT_MAX_BYTES, read_payloads

__all__ = [
    "EVENT_FILE_GLOB",
    "AudioClip",
    "EventBatch",
    "EventFileFollower",
    "ScalarPoint",
    "ScalarRow",
    "TextSummary",
    "event_file_version",
    "find_event_files",
    "is_finite_value",
    "merge_by_step",
    "read_event_file",
]

logger = logging.getLogger(__name__)

EVENT_FILE_GLOB = "events.out.tfevents.*"
"""Name pattern of TensorBoard event files."""

_VERSION_DIR = re.compile(r"version_([0-9]+)")
#: A validation clip larger than this is skipped (RAVE's are a few MB).
MAX_CLIP_BYTES = 64 * 1024 * 1024
#: A scalar, clip or text whose tag is longer than this is skipped (a tag names a metric,
#: a file or a row).
MAX_TAG_CHARS = 512
#: A text summary is cut at this many characters (RAVE's gin config is a few KB).
MAX_TEXT_CHARS = 1024 * 1024
#: Sample rates, channel counts and lengths above these read as 0 (unknown).
_MAX_SAMPLE_RATE = 10_000_000.0
_MAX_CHANNELS = 1024
_MAX_FRAMES = 2**40

# tensorflow.DataType values (tensorboard/compat/proto/types.proto).
_DT_FLOAT = 1
_DT_DOUBLE = 2
_DT_STRING = 7
_DT_BFLOAT16 = 14
_DT_HALF = 19

_SCALARS_PLUGIN = "scalars"
_TEXT_PLUGIN = "text"

ScalarRow = tuple[str, int, float, float]
"""One scalar value as a plain tuple: ``(tag, step, value, wall_time)``, as stored."""


class ScalarPoint(NamedTuple):
    """One value of a scalar series (a named :data:`ScalarRow`; it compares equal to one).

    Attributes:
        tag: Series name as logged, e.g. ``"fullband_spectral_distance"``.
        step: Global step (for RAVE: batches processed).
        value: The value, widened to a Python float (may be NaN or infinite).
        wall_time: Unix time at which the writer created the event, in seconds.
    """

    tag: str
    step: int
    value: float
    wall_time: float


@dataclass(frozen=True, slots=True)
class AudioClip:
    """One audio summary (RAVE logs ``audio_val``: inputs and reconstructions, one per validation).

    Attributes:
        tag: Summary tag, e.g. ``"audio_val"``.
        step: Step of the event (RAVE counts validations 0, 1, 2, ... here, not global steps).
        wall_time: Unix time of the event, in seconds.
        sample_rate: Sample rate in Hz.
        num_channels: Channel count.
        length_frames: Length in frames (samples per channel).
        content_type: MIME type of ``encoded``, e.g. ``"audio/wav"``.
        encoded: The encoded audio file (a complete WAV for torch's writer).
    """

    tag: str
    step: int
    wall_time: float
    sample_rate: float
    num_channels: int
    length_frames: int
    content_type: str
    encoded: bytes


@dataclass(frozen=True, slots=True)
class TextSummary:
    """One text summary (RAVE logs its gin config and its model's ``repr`` once per start).

    Attributes:
        tag: Summary tag, e.g. ``"config/text_summary"``.
        step: Step of the event.
        wall_time: Unix time of the event, in seconds.
        text: The text (Markdown as logged; the elements of a multi-element tensor are joined
            with newlines).
    """

    tag: str
    step: int
    wall_time: float
    text: str


@dataclass(frozen=True, slots=True)
class EventBatch:
    """What one poll of an event file produced, in file order.

    Attributes:
        points: Scalar values as plain ``(tag, step, value, wall_time)`` tuples, ready for
            ``executemany``; see :attr:`scalars` for the same as :class:`ScalarPoint`.
        audio: Audio clips.
        texts: Text summaries.
        next_offset: Byte offset to resume from (also the follower's new ``offset``).
        skipped: Damaged places passed over: records with a bad CRC, regions of lost framing and
            records that did not decode as an ``Event``.
        more_pending: True when the poll stopped at its ``max_bytes`` cap while more complete
            data was waiting; poll again right away to get the rest.
        rejected: Points, clips and texts skipped because a number in them was out of range
            (a step outside ``[0, MAX_STEP]``, a wall time that is not a time, a huge clip).
    """

    points: tuple[ScalarRow, ...]
    audio: tuple[AudioClip, ...]
    texts: tuple[TextSummary, ...]
    next_offset: int
    skipped: int = 0
    more_pending: bool = False
    rejected: int = 0

    @property
    def scalars(self) -> tuple[ScalarPoint, ...]:
        """The scalar points as :class:`ScalarPoint` (built on each access, from ``points``)."""
        return tuple(map(ScalarPoint._make, self.points))


def is_finite_value(value: float) -> bool:
    """Return whether a scalar value is a finite number (not NaN, not +/-infinity).

    Args:
        value: The value to test.

    Returns:
        ``True`` for finite values.
    """
    return math.isfinite(value)


class _Rejects:
    """Values skipped as out of range: how many, and the first one described."""

    def __init__(self) -> None:
        self.count = 0
        self.first = ""

    def add(self, description: str) -> None:
        if not self.count:
            self.first = description
        self.count += 1


class _EventDecoder:
    """Decodes serialized ``Event`` records, remembering each tag's plugin across calls."""

    def __init__(self) -> None:
        self._plugins: dict[str, str] = {}
        self._event: Any = Event()
        #: What the last ``decode`` skipped as absurd.
        self.rejected = _Rejects()

    def decode(
        self,
        payloads: list[bytes],
        offsets: list[int],
        points: list[ScalarRow],
        audio: list[AudioClip],
        texts: list[TextSummary],
    ) -> list[int]:
        """Decode records, appending what they hold to the given lists, in record order.

        Args:
            payloads: Serialized ``Event`` protos.
            offsets: The file offset of each payload's record, for warnings.
            points: Receives the scalar values, as ``(tag, step, value, wall_time)``.
            audio: Receives the audio clips.
            texts: Receives the text summaries.

        Returns:
            The offsets of the records that are not valid ``Event`` protos (they add nothing).
        """
        failed: list[int] = []
        self.rejected = _Rejects()
        event = self._event  # reused: ParseFromString clears it first
        add_point = points.append
        add_points = points.extend

        rejected = self.rejected

        def scalars(columns: ScalarColumns) -> None:
            tags, steps, _values, walls = columns
            if _columns_in_range(tags, steps, walls):
                add_points(zip(*columns, strict=True))
            else:
                add_points(p for p in zip(*columns, strict=True) if _point_kept(p, rejected))

        def record(index: int) -> None:
            # One record the column view could not take (not a plain scalar event).
            try:
                event.ParseFromString(payloads[index])
            except Exception:  # google.protobuf.message.DecodeError; protobuf has no stubs
                failed.append(offsets[index])
                return
            # An event without a summary (file_version, graph_def, ...) reads as an empty one.
            values = event.summary.value
            count = len(values)
            if not count:
                return
            step: int = event.step
            wall: float = event.wall_time
            if not (0 <= step <= MAX_STEP and 0.0 <= wall <= MAX_WALL_TIME):
                rejected.add(f"an event at step {step}, wall time {wall}")
                return
            if count == 1:
                value = values[0]
                number = value.simple_value
                # simple_value reads 0.0 when the value holds something else (it is a oneof
                # member), so the costlier HasField is asked only for zeros.
                if number or value.HasField("simple_value"):
                    tag: str = value.tag
                    if len(tag) <= MAX_TAG_CHARS:
                        add_point((tag, step, number, wall))
                    else:
                        rejected.add(f"a value whose tag has {len(tag)} characters")
                    return
            self._decode_values(values, step, wall, points, audio, texts)

        # Runs of plain scalar events are decoded as columns, many records per parse; the
        # rest one record at a time, in file order either way.
        decode_scalar_runs(payloads, scalars, record)
        return failed

    def _decode_values(
        self,
        values: Any,
        step: int,
        wall_time: float,
        points: list[ScalarRow],
        audio: list[AudioClip],
        texts: list[TextSummary],
    ) -> None:
        """Decode every ``Summary.Value`` of one event (the general path)."""
        for index in range(len(values)):
            value = values[index]
            if len(value.tag) > MAX_TAG_CHARS:
                self.rejected.add(f"a value whose tag has {len(value.tag)} characters")
                continue
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                points.append((value.tag, step, value.simple_value, wall_time))
            elif kind == "tensor":
                self._decode_tensor(value, step, wall_time, points, texts)
            elif kind == "audio":
                clip = value.audio
                if clip.ByteSize() > MAX_CLIP_BYTES:
                    self.rejected.add(f"a clip of {clip.ByteSize()} bytes in {value.tag}")
                    continue
                rate: float = clip.sample_rate
                channels: int = clip.num_channels
                frames: int = clip.length_frames
                audio.append(
                    AudioClip(
                        value.tag,
                        step,
                        wall_time,
                        rate if 0.0 < rate <= _MAX_SAMPLE_RATE else 0.0,
                        channels if 0 <= channels <= _MAX_CHANNELS else 0,
                        frames if 0 <= frames <= _MAX_FRAMES else 0,
                        clip.content_type,
                        clip.encoded_audio_string,
                    )
                )

    def _decode_tensor(
        self,
        value: Any,
        step: int,
        wall_time: float,
        points: list[ScalarRow],
        texts: list[TextSummary],
    ) -> None:
        """Decode a ``Summary.Value`` that holds a tensor (a scalar or a text, else ignored)."""
        tag: str = value.tag
        plugin: str = value.metadata.plugin_data.plugin_name
        # Writers may send a tag's metadata only with its first value: remember it.
        plugin = self._plugins.setdefault(tag, plugin) if plugin else self._plugins.get(tag, "")
        tensor = value.tensor
        if plugin == _SCALARS_PLUGIN or (not plugin and tensor.dtype != _DT_STRING):
            number = _tensor_scalar(tensor)
            if number is not None:
                points.append((tag, step, number, wall_time))
        elif plugin == _TEXT_PLUGIN and tensor.dtype == _DT_STRING:
            parts: list[bytes] = list(tensor.string_val)
            text = "\n".join(part.decode("utf-8", errors="replace") for part in parts)
            texts.append(TextSummary(tag, step, wall_time, text[:MAX_TEXT_CHARS]))


def _tensor_scalar(tensor: Any) -> float | None:
    """Return the value of a one-element floating-point ``TensorProto``, else ``None``."""
    if math.prod(dim.size for dim in tensor.tensor_shape.dim) != 1:
        return None
    dtype: int = tensor.dtype
    content: bytes = tensor.tensor_content
    if dtype == _DT_FLOAT:
        if content:
            return float(struct.unpack("<f", content)[0]) if len(content) == 4 else None
        return float(tensor.float_val[0]) if tensor.float_val else None
    if dtype == _DT_DOUBLE:
        if content:
            return float(struct.unpack("<d", content)[0]) if len(content) == 8 else None
        return float(tensor.double_val[0]) if tensor.double_val else None
    if dtype in (_DT_HALF, _DT_BFLOAT16):
        if content:
            if len(content) != 2:
                return None
            bits: int = struct.unpack("<H", content)[0]
        elif tensor.half_val:
            bits = tensor.half_val[0] & 0xFFFF
        else:
            return None
        if dtype == _DT_HALF:
            return float(struct.unpack("<e", struct.pack("<H", bits))[0])
        return float(struct.unpack("<f", struct.pack("<I", bits << 16))[0])
    return None


class EventFileFollower:
    """Follows one event file while it grows, returning only what is new on each poll.

    The file is opened for each poll and closed again, so a follower holds no file handle
    between polls and a file that does not exist yet simply yields empty batches. Records that
    are still being written are left for a later poll.

    Example::

        follower = EventFileFollower(path)
        while training:
            batch = follower.poll()
            store(batch.points)
            save_offset(follower.offset)
    """

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        """Create a follower.

        Args:
            path: The event file.
            offset: Byte offset to start from: ``0``, or an ``offset`` saved from an earlier
                follower of the same file (it must be a record boundary).

        Raises:
            ValueError: If ``offset`` is negative.
        """
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        self._path = Path(path)
        self._offset = offset
        self._resyncing = False
        self._decoder = _EventDecoder()
        self._warned = False

    @property
    def path(self) -> Path:
        """The followed file."""
        return self._path

    @property
    def offset(self) -> int:
        """Byte offset up to which the file has been consumed (a record boundary)."""
        return self._offset

    def poll(self, max_bytes: int = DEFAULT_MAX_BYTES) -> EventBatch:
        """Read and decode the records appended since the last poll.

        Args:
            max_bytes: Soft cap on the bytes consumed by this poll (a record larger than the cap
                is still read whole). When the cap stops the poll, the batch has
                ``more_pending`` set.

        Returns:
            The new scalars, audio clips and texts, and the new offset. Empty when nothing new
            and complete has been written, or when the file does not exist.

        Raises:
            OSError: the file cannot be read (``NotRegularFileError`` when it was replaced by
                a folder or a FIFO); the offset is unchanged.
        """
        try:
            f = open_regular(self._path)
        except FileNotFoundError:
            return EventBatch((), (), (), self._offset)
        with f:
            result = read_payloads(f, self._offset, max_bytes, resyncing=self._resyncing)
        points: list[ScalarRow] = []
        audio: list[AudioClip] = []
        texts: list[TextSummary] = []
        decoder = self._decoder
        failed = decoder.decode(result.payloads, result.offsets, points, audio, texts)
        for offset in failed:
            logger.warning("Skipping undecodable event at offset %d in %s", offset, self._path)
        skipped = result.skipped + len(failed)
        self._offset = result.next_offset
        self._resyncing = result.resyncing
        rejected = decoder.rejected
        if rejected.count and not self._warned:
            self._warned = True  # once per file: a broken writer repeats itself
            logger.warning(
                "Skipping %d value(s) out of range in %s, first: %s (further ones are "
                "skipped silently)",
                rejected.count,
                self._path,
                rejected.first,
            )
        return EventBatch(
            tuple(points),
            tuple(audio),
            tuple(texts),
            result.next_offset,
            skipped,
            result.more_pending,
            rejected.count,
        )


def _columns_in_range(tags: list[str], steps: list[int], walls: list[float]) -> bool:
    """Whether every point of a run of scalar events may be kept (nearly always).

    C-level passes over the columns decide it without a Python loop: a NaN wall time makes
    the sum of the wall times NaN, and min/max bound the rest.
    """
    return (
        min(steps) >= 0
        and max(steps) <= MAX_STEP
        and math.isfinite(sum(walls))
        and min(walls) >= 0.0
        and max(walls) <= MAX_WALL_TIME
        and max(map(len, tags)) <= MAX_TAG_CHARS
    )


def _point_kept(point: ScalarRow, rejected: _Rejects) -> bool:
    """Whether one point may be kept; notes why not."""
    tag, step, _value, wall = point
    if len(tag) > MAX_TAG_CHARS:
        rejected.add(f"a value whose tag has {len(tag)} characters")
    elif not is_step(step) or not 0.0 <= wall <= MAX_WALL_TIME:
        rejected.add(f"a value of {tag!r} at step {step}, wall time {wall}")
    else:
        return True
    return False


def read_event_file(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> EventBatch:
    """Read a whole event file at once (all complete records present now).

    Args:
        path: The event file.
        max_bytes: Bytes read per internal poll; bounds the transient memory, not the result.

    Returns:
        Everything in the file, as one batch.
    """
    follower = EventFileFollower(path)
    points: list[ScalarRow] = []
    audio: list[AudioClip] = []
    texts: list[TextSummary] = []
    skipped = rejected = 0
    while True:
        batch = follower.poll(max_bytes)
        points.extend(batch.points)
        audio.extend(batch.audio)
        texts.extend(batch.texts)
        skipped += batch.skipped
        rejected += batch.rejected
        if not batch.more_pending:
            return EventBatch(
                tuple(points),
                tuple(audio),
                tuple(texts),
                batch.next_offset,
                skipped,
                rejected=rejected,
            )


def event_file_version(path: str | os.PathLike[str]) -> int | None:
    """Return N for an event file inside a ``version_N`` folder, else ``None``.

    Args:
        path: Path of an event file.

    Returns:
        The version number of the folder that holds the file.
    """
    match = _VERSION_DIR.fullmatch(Path(path).parent.name)
    return digits_value(match.group(1)) if match else None


def find_event_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """List the event files of a RAVE run, oldest version first.

    Looks for ``events.out.tfevents.*`` files in ``<run_dir>/version_N/`` (``run_dir`` is a
    ``<name>_<hash>`` folder) and in ``<run_dir>/<anything>/version_N/`` (``run_dir`` is the
    ``--out_path`` folder). Checkpoint folders and other depths are not searched.

    Args:
        run_dir: The run folder or the folder above it. A missing folder gives ``[]``.

    Returns:
        The files, sorted by version number N, then file name, then full path.
    """
    root = Path(run_dir)
    found: dict[Path, int] = {}
    for pattern in (f"version_*/{EVENT_FILE_GLOB}", f"*/version_*/{EVENT_FILE_GLOB}"):
        for path in root.glob(pattern):
            version = event_file_version(path)
            if version is not None and path.is_file():
                found[path] = version
    return sorted(found, key=lambda p: (found[p], p.name, str(p)))


def merge_by_step(points_per_version: Iterable[Iterable[ScalarPoint]]) -> list[ScalarPoint]:
    """Merge the scalar points of the versions of a resumed run, one point per (tag, step).

    A resumed RAVE run logs the last step of the previous version again (``version_0`` and
    ``version_1`` both hold step 299 in the reference capture, with different values). The
    earliest version's point is kept. Within one version the first point of a (tag, step) is
    kept too (RAVE logs ``epoch`` twice when a validation step is also a logging step).

    Args:
        points_per_version: The points of each version, oldest version first, each in file
            order.

    Returns:
        The kept points, in input order.
    """
    seen: set[tuple[str, int]] = set()
    merged: list[ScalarPoint] = []
    for points in points_per_version:
        for point in points:
            key = (point.tag, point.step)
            if key not in seen:
                seen.add(key)
                merged.append(point)
    return merged
