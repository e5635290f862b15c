"""ravelab's own ``Event`` message is TensorBoard's, field for field, and parses alike."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

from ravelab.core.tensorboard import event_proto

_Field = descriptor_pb2.FieldDescriptorProto


def _fields(descriptor: Any) -> dict[str, tuple[Any, ...]]:
    """Each field of a message: number, label, wire-relevant type, message type, oneof."""
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    found = {}
    for field in proto.field:
        kind = _Field.TYPE_INT32 if field.type == _Field.TYPE_ENUM else field.type
        message = field.type_name.split(".")[-1] if field.type == _Field.TYPE_MESSAGE else ""
        oneof = proto.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else ""
        found[field.name] = (field.number, field.label, kind, message, oneof)
    return found


def _reachable(descriptor: Any, seen: dict[str, Any]) -> dict[str, Any]:
    """Every message type an ``Event`` can hold, by full name."""
    if descriptor.full_name not in seen:
        seen[descriptor.full_name] = descriptor
        for field in descriptor.fields:
            if field.message_type is not None:
                _reachable(field.message_type, seen)
    return seen


def test_every_message_an_event_can_hold_has_tensorboard_s_fields() -> None:
    theirs = _reachable(event_pb2.Event.DESCRIPTOR, {})
    ours = _reachable(event_proto.Event.DESCRIPTOR, {})
    assert sorted(ours) == sorted(theirs)
    for name, descriptor in theirs.items():
        assert _fields(ours[name]) == _fields(descriptor), name


def _event(
    step: int, wall: float, tag: str, value: float, *, audio: bool, text: str | None
) -> bytes:
    values = [summary_pb2.Summary.Value(tag=tag, simple_value=value)]
    if audio:
        clip = summary_pb2.Summary.Audio(sample_rate=44100.0, num_channels=1, length_frames=3)
        values.append(summary_pb2.Summary.Value(tag=f"{tag}/audio", audio=clip))
    if text is not None:
        tensor = tensor_pb2.TensorProto(dtype=7, string_val=[text.encode()])
        values.append(summary_pb2.Summary.Value(tag=f"{tag}/text", tensor=tensor))
    summary = summary_pb2.Summary(value=values)
    return event_pb2.Event(step=step, wall_time=wall, summary=summary).SerializeToString()


def _parsed(cls: Any, data: bytes) -> bytes | None:
    """What the message parsed from ``data`` holds, serialized again (the same bytes for
    the same content; an enum and its int32 serialize alike), or None when it does not
    parse."""
    message = cls()
    try:
        message.ParseFromString(data)
    except Exception:  # google.protobuf.message.DecodeError
        return None
    serialized: bytes = message.SerializeToString(deterministic=True)
    return serialized


@settings(max_examples=150, deadline=None)
@given(
    step=st.integers(0, 2**62),
    wall=st.floats(allow_nan=False),
    tag=st.text(max_size=20),
    value=st.floats(allow_nan=False),
    audio=st.booleans(),
    text=st.none() | st.text(max_size=20),
    cut=st.integers(0, 400),
    flip=st.integers(0, 400),
)
def test_damaged_events_parse_or_fail_as_with_tensorboard(
    step: int,
    wall: float,
    tag: str,
    value: float,
    audio: bool,
    text: str | None,
    cut: int,
    flip: int,
) -> None:
    data = bytearray(_event(step, wall, tag, value, audio=audio, text=text))
    if data:
        data[flip % len(data)] ^= 0xA5
    for blob in (bytes(data), bytes(data[: cut % (len(data) + 1)])):
        assert _parsed(event_proto.Event, blob) == _parsed(event_pb2.Event, blob)


@pytest.mark.parametrize(
    "blob",
    [
        b"\x2a\x04\x0a\x02\xff\xfe",  # summary.value with a tag that is not UTF-8
        b"\x2a\x03\x0a\x01\x22",  # an image cut short
        b"\x1a\x01\x80",  # file_version that is not UTF-8
        b"\x2a\x06\x0a\x04\x42\x02\x10\x01",  # a tensor with a dtype only
    ],
)
def test_hand_made_records_parse_or_fail_as_with_tensorboard(blob: bytes) -> None:
    assert _parsed(event_proto.Event, blob) == _parsed(event_pb2.Event, blob)
