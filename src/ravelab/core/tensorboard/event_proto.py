"""TensorBoard's ``Event`` message, built here from its wire definition.

An event file record is a serialized ``tensorboard.Event`` (TensorBoard's ``event.proto``
and ``summary.proto``, proto3). Decoding one needs only the field numbers and types of the
messages it can hold, not TensorBoard: this module describes them as data, in a
``FileDescriptorProto``, and lets protobuf's own runtime build the message classes (in a
private descriptor pool, so an installed TensorBoard never clashes with them). Parsing is
then protobuf's C parser, exactly as with TensorBoard's generated ``event_pb2``.

Every message an ``Event`` can reach is described with every field, so that what parses
and what is rejected (a malformed sub-message, a string that is not UTF-8) is the same as
with TensorBoard's classes; the tests compare these descriptors with TensorBoard's field
by field. The one liberty: enum fields are declared ``int32``. proto3 enums are open, so
both read any varint as a 32-bit integer; the enum names are never used here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)

__all__ = ["PACKAGE", "Event", "Summary", "TensorProto", "file_descriptor"]

PACKAGE = "tensorboard"

_Field = descriptor_pb2.FieldDescriptorProto
_DOUBLE = _Field.TYPE_DOUBLE
_FLOAT = _Field.TYPE_FLOAT
_INT64 = _Field.TYPE_INT64
_UINT64 = _Field.TYPE_UINT64
_INT32 = _Field.TYPE_INT32
_UINT32 = _Field.TYPE_UINT32
_BOOL = _Field.TYPE_BOOL
_STRING = _Field.TYPE_STRING
_BYTES = _Field.TYPE_BYTES
_ENUM = _INT32  # see the module docstring
_REPEATED = "repeated"

#: Each message: its fields as (name, number, type, then any of: "repeated", the name of
#: a message type, ("oneof", name)). Nested messages are named "Outer.Inner".
_MESSAGES: dict[str, list[tuple[Any, ...]]] = {
    "Event": [
        ("wall_time", 1, _DOUBLE),
        ("step", 2, _INT64),
        ("file_version", 3, _STRING, ("oneof", "what")),
        ("graph_def", 4, _BYTES, ("oneof", "what")),
        ("summary", 5, "Summary", ("oneof", "what")),
        ("log_message", 6, "LogMessage", ("oneof", "what")),
        ("session_log", 7, "SessionLog", ("oneof", "what")),
        ("tagged_run_metadata", 8, "TaggedRunMetadata", ("oneof", "what")),
        ("meta_graph_def", 9, _BYTES, ("oneof", "what")),
        ("source_metadata", 10, "SourceMetadata"),
    ],
    "LogMessage": [("level", 1, _ENUM), ("message", 2, _STRING)],
    "SessionLog": [("status", 1, _ENUM), ("checkpoint_path", 2, _STRING), ("msg", 3, _STRING)],
    "TaggedRunMetadata": [("tag", 1, _STRING), ("run_metadata", 2, _BYTES)],
    "SourceMetadata": [("writer", 1, _STRING)],
    "Summary": [("value", 1, "Summary.Value", _REPEATED)],
    "Summary.Value": [
        ("node_name", 7, _STRING),
        ("tag", 1, _STRING),
        ("metadata", 9, "SummaryMetadata"),
        ("simple_value", 2, _FLOAT, ("oneof", "value")),
        ("obsolete_old_style_histogram", 3, _BYTES, ("oneof", "value")),
        ("image", 4, "Summary.Image", ("oneof", "value")),
        ("histo", 5, "HistogramProto", ("oneof", "value")),
        ("audio", 6, "Summary.Audio", ("oneof", "value")),
        ("tensor", 8, "TensorProto", ("oneof", "value")),
    ],
    "Summary.Image": [
        ("height", 1, _INT32),
        ("width", 2, _INT32),
        ("colorspace", 3, _INT32),
        ("encoded_image_string", 4, _BYTES),
    ],
    "Summary.Audio": [
        ("sample_rate", 1, _FLOAT),
        ("num_channels", 2, _INT64),
        ("length_frames", 3, _INT64),
        ("encoded_audio_string", 4, _BYTES),
        ("content_type", 5, _STRING),
    ],
    "SummaryMetadata": [
        ("plugin_data", 1, "SummaryMetadata.PluginData"),
        ("display_name", 2, _STRING),
        ("summary_description", 3, _STRING),
        ("data_class", 4, _ENUM),
    ],
    "SummaryMetadata.PluginData": [("plugin_name", 1, _STRING), ("content", 2, _BYTES)],
    "HistogramProto": [
        ("min", 1, _DOUBLE),
        ("max", 2, _DOUBLE),
        ("num", 3, _DOUBLE),
        ("sum", 4, _DOUBLE),
        ("sum_squares", 5, _DOUBLE),
        ("bucket_limit", 6, _DOUBLE, _REPEATED),
        ("bucket", 7, _DOUBLE, _REPEATED),
    ],
    "TensorProto": [
        ("dtype", 1, _ENUM),
        ("tensor_shape", 2, "TensorShapeProto"),
        ("version_number", 3, _INT32),
        ("tensor_content", 4, _BYTES),
        ("half_val", 13, _INT32, _REPEATED),
        ("float_val", 5, _FLOAT, _REPEATED),
        ("double_val", 6, _DOUBLE, _REPEATED),
        ("int_val", 7, _INT32, _REPEATED),
        ("string_val", 8, _BYTES, _REPEATED),
        ("scomplex_val", 9, _FLOAT, _REPEATED),
        ("int64_val", 10, _INT64, _REPEATED),
        ("bool_val", 11, _BOOL, _REPEATED),
        ("dcomplex_val", 12, _DOUBLE, _REPEATED),
        ("resource_handle_val", 14, "ResourceHandleProto", _REPEATED),
        ("variant_val", 15, "VariantTensorDataProto", _REPEATED),
        ("uint32_val", 16, _UINT32, _REPEATED),
        ("uint64_val", 17, _UINT64, _REPEATED),
        ("float8_val", 18, _BYTES),
    ],
    "VariantTensorDataProto": [
        ("type_name", 1, _STRING),
        ("metadata", 2, _BYTES),
        ("tensors", 3, "TensorProto", _REPEATED),
    ],
    "TensorShapeProto": [
        ("dim", 2, "TensorShapeProto.Dim", _REPEATED),
        ("unknown_rank", 3, _BOOL),
    ],
    "TensorShapeProto.Dim": [("size", 1, _INT64), ("name", 2, _STRING)],
    "ResourceHandleProto": [
        ("device", 1, _STRING),
        ("container", 2, _STRING),
        ("name", 3, _STRING),
        ("hash_code", 4, _UINT64),
        ("maybe_type_name", 5, _STRING),
        ("dtypes_and_shapes", 6, "ResourceHandleProto.DtypeAndShape", _REPEATED),
    ],
    "ResourceHandleProto.DtypeAndShape": [("dtype", 1, _ENUM), ("shape", 2, "TensorShapeProto")],
}


def _message(name: str) -> Any:
    """The ``DescriptorProto`` of message ``name`` (its nested messages inside it)."""
    proto = descriptor_pb2.DescriptorProto(name=name.rsplit(".", 1)[-1])
    oneofs: list[str] = []
    for name_, number, kind, *extra in _MESSAGES[name]:
        field = proto.field.add(name=name_, number=number, json_name=_json_name(name_))
        field.label = _Field.LABEL_REPEATED if _REPEATED in extra else _Field.LABEL_OPTIONAL
        if isinstance(kind, str):
            field.type = _Field.TYPE_MESSAGE
            field.type_name = f".{PACKAGE}.{kind}"
        else:
            field.type = kind
        for item in extra:
            if isinstance(item, tuple):
                if item[1] not in oneofs:
                    oneofs.append(item[1])
                    proto.oneof_decl.add(name=item[1])
                field.oneof_index = oneofs.index(item[1])
    for inner in _MESSAGES:
        if inner.startswith(f"{name}.") and "." not in inner[len(name) + 1 :]:
            proto.nested_type.append(_message(inner))
    return proto


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def file_descriptor() -> Any:
    """The ``FileDescriptorProto`` of every message above (for the tests to compare)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="ravelab/tensorboard_event.proto", package=PACKAGE, syntax="proto3"
    )
    file.message_type.extend(_message(name) for name in _MESSAGES if "." not in name)
    return file


def _classes() -> tuple[Any, Any, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())

    def find(name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))

    return find("Event"), find("Summary"), find("TensorProto")


Event, Summary, TensorProto = _classes()
