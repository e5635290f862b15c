"""The column view decodes exactly what ``event_pb2.Event`` decodes, record by record."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto

from ravelab.core.tensorboard import event_columns
from ravelab.core.tensorboard.events import EventFileFollower
from ravelab.core.tensorboard.tfrecord import read_payloads

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rave-2.3.1"
EVENT_FILES = sorted(FIXTURES.glob("events.out.tfevents.*"))


# Together these two balance the step, wall time, tag and value counts: only the count of
# summaries tells they are not one scalar each.
TWO_VALUES = Event(
    step=7,
    wall_time=2.0,
    summary=Summary(
        value=[Summary.Value(tag="a", simple_value=1.0), Summary.Value(tag="b", simple_value=2.0)]
    ),
).SerializeToString()
NO_SUMMARY = Event(
    step=8, wall_time=3.0, session_log=SessionLog(status=SessionLog.START)
).SerializeToString()


def _scalar(tag: str, step: int, value: float, wall: float = 1.5e9) -> bytes:
    summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    return Event(step=step, wall_time=wall, summary=summary).SerializeToString()


def _one_by_one(payloads: list[bytes]) -> list[tuple[str, int, float, float]]:
    """What a record-by-record decode of the simple values gives."""
    points = []
    for data in payloads:
        event = Event()
        event.ParseFromString(data)
        for value in event.summary.value:
            if value.HasField("simple_value"):
                points.append((value.tag, event.step, value.simple_value, event.wall_time))
    return points


def _decode(payloads: list[bytes]) -> tuple[list[tuple[str, int, float, float]], list[int]]:
    """Points from the column view (others decoded by ``_one_by_one``), and the others."""
    points: list[tuple[str, int, float, float]] = []
    others: list[int] = []

    def record(index: int) -> None:
        others.append(index)
        if not payloads[index].startswith(b"\xff"):  # the test's undecodable record
            points.extend(_one_by_one([payloads[index]]))

    def scalars(columns: event_columns.ScalarColumns) -> None:
        points.extend(zip(*columns, strict=True))

    event_columns.decode_scalar_runs(payloads, scalars, record)
    return points, others


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name[-12:])
def test_the_genuine_rave_files_decode_as_record_by_record(path: Path) -> None:
    payloads = read_payloads(io.BytesIO(path.read_bytes()), max_bytes=2**40).payloads
    points, others = _decode(payloads)
    assert points == _one_by_one(payloads)
    assert others  # the file_version, audio and text events at least
    batch = EventFileFollower(path).poll(max_bytes=2**40)
    assert [p for p in batch.points if p[0] in {t for t, *_ in points}] == points


def test_a_mixed_batch_keeps_its_order_and_sends_the_rest_one_by_one() -> None:
    tensor = TensorProto(dtype=1, float_val=[2.5])
    tensor.tensor_shape.SetInParent()
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    special = {
        10: Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString(),
        20: _scalar("at_step_zero", 0, 1.0),  # proto3 does not write a zero step
        30: TWO_VALUES,
        31: NO_SUMMARY,
        40: Event(
            step=9,
            wall_time=4.0,
            summary=Summary(value=[Summary.Value(tag="t", tensor=tensor, metadata=metadata)]),
        ).SerializeToString(),
        50: b"\xff\xff not a protobuf",
        60: _scalar("zero_value", 5, 0.0),
    }
    payloads = [special.get(i, _scalar(("loss", "lr")[i % 2], 100 + i, i / 3)) for i in range(1000)]
    points, others = _decode(payloads)
    assert points == _one_by_one([p for p in payloads if not p.startswith(b"\xff")])
    assert set(special) - {60} <= set(others)
    assert len(others) < 100  # the 1,000 records are not all read one by one


def test_small_batches_go_one_by_one() -> None:
    payloads = [_scalar("loss", s, 1.0) for s in range(1, 4)]
    points, others = _decode(payloads)
    assert others == [0, 1, 2] and len(points) == 3


def test_counts_that_balance_by_chance_are_not_trusted() -> None:
    plain = [_scalar("loss", s, s / 7) for s in range(1, 65)]
    payloads = [*plain, TWO_VALUES, NO_SUMMARY, *plain]
    points, _others = _decode(payloads)
    assert points == _one_by_one(payloads)
    assert ("b", 7, 2.0, 2.0) in points
