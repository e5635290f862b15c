"""Decoding many scalar events at once: a column view of TensorBoard's ``Event`` message.

Decoding events one by one costs a parse and half a dozen field reads per point, each of
which builds a Python object; for a million points that is seconds. But protobuf merges a
message parsed from concatenated serializations: a repeated field collects every
occurrence, a singular sub-message merges. So this module derives, from the descriptors of
the ``Event`` and ``Summary`` messages (:mod:`ravelab.core.tensorboard.event_proto`: the same field
numbers and types as TensorBoard's, no hand-written wire parsing), a message in which:

- ``EventColumns.wall_time`` and ``.step`` are repeated (one element per event that has one);
- ``EventColumns.summary`` is a singular ``SummaryColumns`` whose ``value`` is a singular
  ``ValueColumns``, whose ``tag`` and ``simple_value`` are repeated.

Parsing the concatenated payloads of ``n`` records into it with protobuf's C parser gives
the tags, steps, values and wall times as four columns. A second derived view,
``EventShape``, keeps each event's ``summary`` as raw bytes, so that the number of
summaries can be counted too. The columns are trusted only when all five counts equal
``n``: every record then had one wall time, one step, one summary, one tag and one simple
value (writers serialize a singular field once), which is exactly the shape that
``SummaryWriter.add_scalar`` writes. Any other batch (a ``file_version`` or audio event, a
step 0, which proto3 does not serialize, a tensor value, a record that does not parse) is
cut in halves until the parts that are plain scalars are found; what is left is decoded one
record at a time with ``Event`` by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)

from ravelab.core.tensorboard.event_proto import Event, Summary

__all__ = ["ScalarColumns", "decode_scalar_runs"]

_PACKAGE = "ravelab.event_columns"

#: Below this many records a batch is decoded one record at a time by the caller. It bounds
#: the cost of a file where few events are plain scalars: each record is then parsed in at
#: most log2(batch / 32) concatenations (9 for a poll's ~18,000 records) before its own.
_SMALLEST_RUN = 32

ScalarColumns = tuple[list[str], list[int], list[float], list[float]]
"""Tags, steps, values and wall times of consecutive scalar events."""


def _copy(message: Any, name: str, keep: dict[str, tuple[bool, str | None]]) -> Any:
    """A copy of ``message``'s descriptor named ``name`` with only the ``keep`` fields.

    ``keep`` maps a field name to (repeated, new type): the type is None to keep the
    field's own, ``"bytes"`` for raw bytes, else the name of a derived message. Fields lose
    their oneof (a repeated field cannot be a oneof member).
    """
    proto = descriptor_pb2.DescriptorProto()
    message.DESCRIPTOR.CopyToProto(proto)
    fields = [field for field in proto.field if field.name in keep]
    derived = descriptor_pb2.DescriptorProto(name=name)
    for field in fields:
        copy = derived.field.add()
        copy.CopyFrom(field)
        copy.ClearField("oneof_index")
        copy.ClearField("proto3_optional")
        repeated, type_name = keep[field.name]
        copy.label = (
            descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            if repeated
            else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        )
        if type_name == "bytes":
            copy.ClearField("type_name")
            copy.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        elif type_name is not None:
            copy.type_name = f".{_PACKAGE}.{type_name}"
        copy.ClearField("options")
    if len(derived.field) != len(keep):
        raise RuntimeError(f"{message.DESCRIPTOR.full_name} lacks one of {sorted(keep)}")
    return derived


def _build() -> tuple[Any, Any]:
    """The ``EventColumns`` and ``EventShape`` message classes."""
    file = descriptor_pb2.FileDescriptorProto(
        name="ravelab/event_columns.proto", package=_PACKAGE, syntax="proto3"
    )
    file.message_type.extend(
        [
            _copy(
                Event,
                "EventColumns",
                {"wall_time": (True, None), "step": (True, None), "summary": (False, "Summary")},
            ),
            _copy(Summary, "Summary", {"value": (False, "Value")}),
            _copy(
                Summary.Value,
                "Value",
                {"tag": (True, None), "simple_value": (True, None)},
            ),
            _copy(Event, "EventShape", {"summary": (True, "bytes")}),
        ]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    columns = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.EventColumns")
    )
    shape = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.EventShape"))
    return columns, shape


_EventColumns, _EventShape = _build()


def _columns(data: bytes, count: int) -> ScalarColumns | None:
    """The columns of ``count`` concatenated records, if each is a plain scalar event."""
    columns = _EventColumns()
    try:
        columns.ParseFromString(data)
        value = columns.summary.value
        if not (
            len(columns.step) == count
            and len(columns.wall_time) == count
            and len(value.tag) == count
            and len(value.simple_value) == count
        ):
            return None
        # Only now the second parse: a run that is to be split never pays for it.
        shape = _EventShape()
        shape.ParseFromString(data)
    except Exception:  # google.protobuf.message.DecodeError (protobuf has no type stubs)
        return None
    if len(shape.summary) != count:
        return None
    return list(value.tag), list(columns.step), list(value.simple_value), list(columns.wall_time)


def decode_scalar_runs(
    payloads: list[bytes],
    on_scalars: Callable[[ScalarColumns], None],
    on_record: Callable[[int], None],
) -> None:
    """Decode serialized ``Event`` records, in order, by the cheapest way that is exact.

    Runs of consecutive plain scalar events go to ``on_scalars`` as columns; every other
    record goes to ``on_record`` by its index in ``payloads``, for the caller to decode with
    ``Event``. The calls follow the order of the records.

    Args:
        payloads: Serialized ``Event`` records, in file order.
        on_scalars: Receives the columns of each run of plain scalar events.
        on_record: Receives the index of each other record.
    """
    _split(payloads, 0, len(payloads), on_scalars, on_record)


def _split(
    payloads: list[bytes],
    start: int,
    end: int,
    on_scalars: Callable[[ScalarColumns], None],
    on_record: Callable[[int], None],
) -> None:
    count = end - start
    if count < _SMALLEST_RUN:
        for index in range(start, end):
            on_record(index)
        return
    found = _columns(b"".join(payloads[start:end]), count)
    if found is not None:
        on_scalars(found)
        return
    middle = start + count // 2
    _split(payloads, start, middle, on_scalars, on_record)
    _split(payloads, middle, end, on_scalars, on_record)
