"""Tests of ravelab.core.tensorboard.events against RAVE 2.3.1's genuine event files."""

from __future__ import annotations

import json
import logging
import math
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import (
    TensorShapeProto,
)
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.plugins.text.summary_v2 import text_pb

from ravelab.core.tensorboard.events import (
    AudioClip,
    EventBatch,
    EventFileFollower,
    ScalarPoint,
    TextSummary,
    event_file_version,
    find_event_files,
    is_finite_value,
    merge_by_step,
    read_event_file,
)
from ravelab.core.tensorboard.run_events import EventsPoll, RunEventsFollower
from ravelab.core.tensorboard.tfrecord import HEADER_SIZE, read_records
from tests.helpers import tfrecord_frame as frame

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rave-2.3.1"
V0_NAME = "events.out.tfevents.1795672257.vm.29866.0"
V1_NAME = "events.out.tfevents.1795672861.vm.14705.0"
VERSION_0 = FIXTURES / V0_NAME
VERSION_1 = FIXTURES / V1_NAME
FLOAT32_REL = 1e-6


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """What TensorBoard's EventAccumulator read from the two files, keyed by file name."""
    raw = json.loads((FIXTURES / "tensorboard_capture_run.json").read_text(encoding="utf-8"))
    return {Path(key).name: value for key, value in raw.items()}


def event_bytes(step: int, *values: Any, wall_time: float = 1000.0) -> bytes:
    """Return a framed ``Event`` holding the given ``Summary.Value`` protos."""
    event = Event(step=step, wall_time=wall_time, summary=Summary(value=list(values)))
    return frame(event.SerializeToString())


def file_version_bytes() -> bytes:
    """Return the framed first event of every event file."""
    return frame(Event(wall_time=999.0, file_version="brain.Event:2").SerializeToString())


def by_tag(points: tuple[ScalarPoint, ...] | list[ScalarPoint]) -> dict[str, list[ScalarPoint]]:
    """Group points by tag, keeping file order."""
    grouped: dict[str, list[ScalarPoint]] = {}
    for point in points:
        grouped.setdefault(point.tag, []).append(point)
    return grouped


# --- genuine RAVE files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [V0_NAME, V1_NAME])
def test_scalars_match_tensorboard(name: str, expected: dict[str, Any]) -> None:
    batch = read_event_file(FIXTURES / name)
    reference = expected[name]
    assert batch.skipped == 0
    assert batch.next_offset == reference["size_bytes"]
    got = by_tag(batch.scalars)
    assert set(got) == set(reference["tags"]["scalars"])
    for tag, points in reference["scalars"].items():
        assert len(got[tag]) == len(points), tag
        assert [p.step for p in got[tag]] == [p["step"] for p in points], tag
        for mine, theirs in zip(got[tag], points, strict=True):
            assert mine.value == pytest.approx(theirs["value"], rel=FLOAT32_REL, abs=1e-30)
            assert mine.wall_time == pytest.approx(theirs["wall_time"], abs=1e-6)


def test_version_0_details(expected: dict[str, Any]) -> None:
    batch = read_event_file(VERSION_0)
    got = by_tag(batch.scalars)
    assert len(batch.scalars) == 71
    assert [p.step for p in got["validation"]] == [39, 79, 119, 159, 199, 239, 279]
    assert got["validation"][0].value == pytest.approx(16.598039627075195, rel=FLOAT32_REL)
    assert [p.step for p in got["loss_dis"]] == [199, 249, 299]
    # Lightning logs `epoch` twice at step 199 (a validation step that is also a logging step).
    assert [p.step for p in got["epoch"]].count(199) == 2
    # Every point carries its own wall time.
    assert len({p.wall_time for p in batch.scalars}) == len(batch.scalars)


def test_audio_matches_tensorboard(expected: dict[str, Any]) -> None:
    for name, count in ((V0_NAME, 7), (V1_NAME, 1)):
        batch = read_event_file(FIXTURES / name)
        reference = expected[name]["audio"]["audio_val"]
        assert len(batch.audio) == count
        assert [clip.step for clip in batch.audio] == list(range(count))
        for clip, theirs in zip(batch.audio, reference, strict=True):
            assert isinstance(clip, AudioClip)
            assert clip.tag == "audio_val"
            assert clip.step == theirs["step"]
            assert clip.sample_rate == 44100.0
            assert clip.num_channels == 1
            assert clip.length_frames == theirs["length_frames"] == 131072
            assert clip.content_type == theirs["content_type"] == "audio/wav"
            assert len(clip.encoded) == theirs["encoded_bytes"]
            assert clip.encoded[:4] == b"RIFF"
            assert clip.encoded[8:12] == b"WAVE"


def test_texts_match_tensorboard(expected: dict[str, Any]) -> None:
    for name in (V0_NAME, V1_NAME):
        batch = read_event_file(FIXTURES / name)
        reference = expected[name]["tensors"]
        assert [text.tag for text in batch.texts] == ["config/text_summary", "model/text_summary"]
        for text in batch.texts:
            assert isinstance(text, TextSummary)
            assert text.step == 0
            assert text.text.startswith(reference[text.tag][0]["string_val_first_200_chars"])
        assert "RAVE(" in batch.texts[1].text


def test_merge_by_step_keeps_the_earlier_version() -> None:
    v0 = read_event_file(VERSION_0).scalars
    v1 = read_event_file(VERSION_1).scalars
    merged = merge_by_step([v0, v1])
    keys = [(p.tag, p.step) for p in merged]
    assert len(keys) == len(set(keys))
    got = {(p.tag, p.step): p for p in merged}
    # Step 299 is in both versions: version_0's value wins.
    assert got[("epoch", 299)].value == 74.0
    assert got[("loss_dis", 299)].value == pytest.approx(3.8249, rel=1e-4)
    v0_loss_dis_299 = next(p for p in v0 if p.tag == "loss_dis" and p.step == 299)
    assert got[("loss_dis", 299)] is v0_loss_dis_299
    # Steps only in version_1 are added.
    assert got[("validation", 318)].value == pytest.approx(26.9606, rel=1e-4)
    assert got[("epoch", 318)].value == 79.0
    # 71 + 12 points, minus the duplicate epoch@199 in version_0 and 10 tags at step 299.
    assert len(merged) == 71 + 12 - 1 - 10
    assert merged[:70] == merge_by_step([v0])
    assert [(p.tag, p.step) for p in merged[70:]] == [("validation", 318), ("epoch", 318)]


def test_merge_by_step_first_point_wins_within_a_version() -> None:
    a = ScalarPoint("loss", 1, 1.0, 10.0)
    b = ScalarPoint("loss", 1, 2.0, 11.0)
    c = ScalarPoint("loss", 2, 3.0, 12.0)
    assert merge_by_step([[a, b, c]]) == [a, c]
    assert merge_by_step([]) == []


# --- following a growing file -----------------------------------------------------------------


def test_follower_over_a_growing_file(tmp_path: Path) -> None:
    data = VERSION_0.read_bytes()
    with VERSION_0.open("rb") as f:
        records = read_records(f, 0, 1 << 40).records
    one_shot = read_event_file(VERSION_0)
    rng = random.Random(1234)
    cuts: set[int] = set()
    for record in records:  # cuts inside headers and inside data, plus random ones
        cuts.add(record.offset + rng.randrange(1, HEADER_SIZE))
        cuts.add(record.offset + HEADER_SIZE + rng.randrange(0, len(record.data) + 4))
    cuts.update(rng.randrange(1, len(data)) for _ in range(60))
    cuts.discard(len(data))

    path = tmp_path / "version_0" / V0_NAME
    path.parent.mkdir()
    follower = EventFileFollower(path)
    assert follower.poll() == EventBatch((), (), (), 0)  # not created yet
    scalars: list[ScalarPoint] = []
    audio: list[AudioClip] = []
    texts: list[TextSummary] = []
    offsets = [0]
    with path.open("wb") as writer:
        previous = 0
        for cut in [*sorted(cuts), len(data)]:
            writer.write(data[previous:cut])
            writer.flush()
            previous = cut
            batch = follower.poll()
            assert batch.skipped == 0
            assert batch.next_offset == follower.offset
            assert follower.offset in {0, len(data)} | {r.offset for r in records}
            offsets.append(follower.offset)
            scalars.extend(batch.scalars)
            audio.extend(batch.audio)
            texts.extend(batch.texts)
    assert offsets == sorted(offsets)
    assert tuple(scalars) == one_shot.scalars
    assert tuple(audio) == one_shot.audio
    assert tuple(texts) == one_shot.texts
    assert follower.offset == len(data)
    assert follower.poll() == EventBatch((), (), (), len(data))


def test_follower_resumes_from_a_saved_offset() -> None:
    one_shot = read_event_file(VERSION_1)
    first = EventFileFollower(VERSION_1)
    head = first.poll(max_bytes=100_000)
    assert head.more_pending
    assert 0 < first.offset < VERSION_1.stat().st_size
    second = EventFileFollower(VERSION_1, offset=first.offset)
    assert second.offset == first.offset
    assert second.path == VERSION_1
    tail = second.poll()
    assert not tail.more_pending
    assert head.scalars + tail.scalars == one_shot.scalars
    assert head.audio + tail.audio == one_shot.audio
    assert head.texts + tail.texts == one_shot.texts


def test_follower_on_empty_file_and_without_new_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.host.1.0"
    path.write_bytes(b"")
    follower = EventFileFollower(path)
    assert follower.poll() == EventBatch((), (), (), 0)
    path.write_bytes(file_version_bytes() + event_bytes(5, Summary.Value(tag="x", simple_value=1)))
    batch = follower.poll()
    assert batch.scalars == (ScalarPoint("x", 5, 1.0, 1000.0),)
    offset = follower.offset
    assert offset == path.stat().st_size
    for _ in range(3):
        assert follower.poll() == EventBatch((), (), (), offset)
    assert follower.offset == offset


def test_follower_rejects_negative_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        EventFileFollower(VERSION_0, offset=-1)


def test_corrupted_data_crc_is_skipped_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(VERSION_1.read_bytes())
    with VERSION_1.open("rb") as f:
        records = read_records(f, 0, 1 << 40).records
    # Damage the data of the event that holds version_1's only beta_factor point.
    target = next(r for r in records if b"beta_factor" in r.data)
    data[target.offset + HEADER_SIZE + 2] ^= 0x55
    path = tmp_path / V1_NAME
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        batch = read_event_file(path)
    assert batch.skipped == 1
    assert [p.tag for p in batch.scalars].count("beta_factor") == 0
    assert len(batch.scalars) == 11
    assert len(batch.audio) == 1
    assert len(batch.texts) == 2
    assert any("data CRC" in r.getMessage() for r in caplog.records)


def test_corrupted_length_header_is_resynchronised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(VERSION_0.read_bytes())
    with VERSION_0.open("rb") as f:
        records = read_records(f, 0, 1 << 40).records
    audio_record = next(r for r in records if b"audio/wav" in r.data)  # a 262 KB record
    data[audio_record.offset + 1] ^= 0x10
    path = tmp_path / V0_NAME
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        batch = read_event_file(path)
    assert batch.skipped == 1
    assert len(batch.audio) == 6
    assert len(batch.scalars) == 71
    assert len(batch.texts) == 2
    assert batch.next_offset == len(data)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "framing lost" in warnings[0].getMessage()


def test_undecodable_record_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "events.out.tfevents.bad"
    good = event_bytes(1, Summary.Value(tag="x", simple_value=2.0))
    path.write_bytes(good + frame(b"\xff\xff\xff\xff not a protobuf") + good)
    with caplog.at_level(logging.WARNING):
        batch = read_event_file(path)
    assert [p.value for p in batch.scalars] == [2.0, 2.0]
    assert batch.skipped == 1
    assert any("undecodable" in r.getMessage() for r in caplog.records)


# --- other encodings ----------------------------------------------------------------------------


def scalar_tensor(dtype: int, **fields: Any) -> TensorProto:
    """Return a rank-0 ``TensorProto``."""
    return TensorProto(dtype=dtype, tensor_shape=TensorShapeProto(), **fields)


def test_tensor_scalars_of_newer_writers(tmp_path: Path) -> None:
    no_metadata = Summary.Value(tag="loss", tensor=scalar_tensor(1, float_val=[0.25]))
    path = tmp_path / "events.out.tfevents.tensor"
    path.write_bytes(
        file_version_bytes()
        + frame(Event(step=1, wall_time=1.5, summary=scalar_pb("loss", 1.5)).SerializeToString())
        # Later values of the tag come without metadata (writers may send it only once).
        + event_bytes(2, no_metadata, wall_time=2.5)
        + event_bytes(3, Summary.Value(tag="d", tensor=scalar_tensor(2, double_val=[0.1])))
        + event_bytes(
            4, Summary.Value(tag="c", tensor=scalar_tensor(1, tensor_content=struct.pack("<f", 3)))
        )
        + event_bytes(
            5,
            Summary.Value(tag="dc", tensor=scalar_tensor(2, tensor_content=struct.pack("<d", 0.2))),
        )
        + event_bytes(6, Summary.Value(tag="h", tensor=scalar_tensor(19, half_val=[0x3C00])))
        + event_bytes(7, Summary.Value(tag="bf", tensor=scalar_tensor(14, half_val=[0x4040])))
        # Not scalars: a vector, an int tensor, an empty one.
        + event_bytes(
            8,
            Summary.Value(
                tag="v",
                tensor=TensorProto(
                    dtype=1,
                    tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=2)]),
                    float_val=[1, 2],
                ),
            ),
        )
        + event_bytes(9, Summary.Value(tag="i", tensor=scalar_tensor(3, int_val=[4])))
        + event_bytes(10, Summary.Value(tag="e", tensor=scalar_tensor(1)))
    )
    batch = read_event_file(path)
    assert batch.skipped == 0
    assert [(p.tag, p.step, p.value) for p in batch.scalars] == [
        ("loss", 1, 1.5),
        ("loss", 2, 0.25),
        ("d", 3, 0.1),
        ("c", 4, 3.0),
        ("dc", 5, 0.2),
        ("h", 6, 1.0),
        ("bf", 7, 3.0),
    ]
    assert batch.scalars[0].wall_time == 1.5
    assert batch.scalars[1].wall_time == 2.5


def test_text_plugin_and_multiple_values_per_event(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.text"
    text_event = Event(step=0, wall_time=5.0, summary=text_pb("notes", "héllo **world**"))
    several = Summary(
        value=[
            Summary.Value(tag="a", simple_value=1.0),
            Summary.Value(tag="b", simple_value=float("nan")),
            Summary.Value(tag="c", simple_value=float("inf")),
        ]
    )
    path.write_bytes(
        frame(text_event.SerializeToString())
        + frame(Event(step=7, wall_time=6.0, summary=several).SerializeToString())
    )
    batch = read_event_file(path)
    assert batch.texts == (TextSummary("notes", 0, 5.0, "héllo **world**"),)
    assert [(p.tag, p.step) for p in batch.scalars] == [("a", 7), ("b", 7), ("c", 7)]
    assert math.isnan(batch.scalars[1].value)
    assert [is_finite_value(p.value) for p in batch.scalars] == [True, False, False]


def test_events_without_summary_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.misc"
    path.write_bytes(
        file_version_bytes()
        + frame(Event(step=3, wall_time=1.0, graph_def=b"\x00\x01").SerializeToString())
        + frame(Event(step=4, wall_time=2.0).SerializeToString())
        + event_bytes(5, Summary.Value(tag="img", image=Summary.Image(height=1, width=1)))
    )
    batch = read_event_file(path)
    assert batch == EventBatch((), (), (), path.stat().st_size)


def test_is_finite_value() -> None:
    assert is_finite_value(0.0)
    assert is_finite_value(-3.5e38)
    assert not is_finite_value(float("nan"))
    assert not is_finite_value(float("inf"))
    assert not is_finite_value(float("-inf"))


# --- finding files ------------------------------------------------------------------------------


def touch(path: Path) -> Path:
    """Create an empty file and its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_find_event_files_in_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "capture_65097e39f0"
    v10 = touch(run / "version_10" / "events.out.tfevents.1795672999.vm.1.0")
    v2 = touch(run / "version_2" / "events.out.tfevents.1795672900.vm.1.0")
    v0b = touch(run / "version_0" / "events.out.tfevents.1795672300.vm.2.0")
    v0a = touch(run / "version_0" / "events.out.tfevents.1795672257.vm.1.0")
    touch(run / "version_0" / "hparams.yaml")
    touch(run / "version_0" / "checkpoints" / "events.out.tfevents.1.vm.1.0")
    touch(run / "version_x" / "events.out.tfevents.1.vm.1.0")
    touch(run / "events.out.tfevents.1.vm.1.0")
    (run / "version_3" / "events.out.tfevents.dir").mkdir(parents=True)
    assert find_event_files(run) == [v0a, v0b, v2, v10]


def test_find_event_files_in_the_out_path(tmp_path: Path) -> None:
    v1 = touch(tmp_path / "capture_65097e39f0" / "version_1" / V1_NAME)
    v0 = touch(tmp_path / "capture_65097e39f0" / "version_0" / V0_NAME)
    assert find_event_files(tmp_path) == [v0, v1]
    assert find_event_files(tmp_path / "missing") == []
    assert event_file_version(v1) == 1
    assert event_file_version(tmp_path / "elsewhere" / V0_NAME) is None


# --- the short path of one-scalar events ----------------------------------------------------------


def test_points_are_plain_tuples_and_scalars_name_them() -> None:
    batch = read_event_file(VERSION_1)
    assert len(batch.points) == len(batch.scalars) == 12
    assert all(type(point) is tuple for point in batch.points)
    assert all(isinstance(point, ScalarPoint) for point in batch.scalars)
    assert batch.scalars == batch.points  # a ScalarPoint is a named (tag, step, value, wall)
    first = batch.scalars[0]
    assert (first.tag, first.step, first.value, first.wall_time) == batch.points[0]


def test_zero_values_and_values_that_only_read_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.zero"
    audio = Summary.Audio(sample_rate=8000.0, num_channels=1, length_frames=1)
    path.write_bytes(
        event_bytes(1, Summary.Value(tag="zero", simple_value=0.0))
        + event_bytes(2, Summary.Value(tag="neg", simple_value=-0.0))
        # Neither holds a simple_value, though reading one gives 0.0.
        + event_bytes(3, Summary.Value(tag="clip", audio=audio))
        + event_bytes(4, Summary.Value(tag="img", image=Summary.Image(height=1, width=1)))
        + event_bytes(5, Summary.Value(tag="nan", simple_value=math.nan))
    )
    batch = read_event_file(path)
    assert [(p.tag, p.step, p.value) for p in batch.scalars[:2]] == [
        ("zero", 1, 0.0),
        ("neg", 2, -0.0),
    ]
    assert math.copysign(1.0, batch.points[1][2]) == -1.0
    assert batch.scalars[2].tag == "nan" and math.isnan(batch.scalars[2].value)
    assert len(batch.points) == 3
    assert [(clip.tag, clip.step) for clip in batch.audio] == [("clip", 3)]


def test_several_values_in_one_event_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.mixed"
    mixed = Summary(
        value=[
            Summary.Value(tag="a", simple_value=1.0),
            Summary.Value(tag="clip", audio=Summary.Audio(sample_rate=8000.0, num_channels=1)),
            *text_pb("notes", "hello").value,
            *scalar_pb("t", 2.5).value,
            Summary.Value(tag="b", simple_value=0.0),
        ]
    )
    path.write_bytes(frame(Event(step=9, wall_time=3.0, summary=mixed).SerializeToString()))
    batch = read_event_file(path)
    assert batch.points == (("a", 9, 1.0, 3.0), ("t", 9, 2.5, 3.0), ("b", 9, 0.0, 3.0))
    assert [clip.tag for clip in batch.audio] == ["clip"]
    assert batch.texts == (TextSummary("notes", 9, 3.0, "hello"),)


# --- what RunEventsFollower makes of a batch (the consumer of EventBatch.points) -----------------


def _run_with(
    tmp_path: Path, events: list[tuple[str, int, float]], double: bool = False
) -> EventsPoll:
    """Poll a run whose one event file holds one scalar per event (float64 tensors if
    ``double``, else float32 simple_values)."""
    folder = tmp_path / "run" / "bench_0123456789" / "version_0"
    folder.mkdir(parents=True)

    def value(tag: str, number: float) -> Summary.Value:
        if double:
            return Summary.Value(tag=tag, tensor=scalar_tensor(2, double_val=[number]))
        return Summary.Value(tag=tag, simple_value=number)

    (folder / "events.out.tfevents.1.host.1.0").write_bytes(
        file_version_bytes()
        + b"".join(
            event_bytes(step, value(tag, number), wall_time=step + 0.5)
            for tag, step, number in events
        )
    )
    return RunEventsFollower(tmp_path / "run", {}).poll()


def test_run_follower_splits_non_finite_values_and_counts_training_steps(
    tmp_path: Path,
) -> None:
    found = _run_with(
        tmp_path,
        [
            ("loss", 49, 1.5),
            ("epoch", 49, 0.0),
            ("validation", 79, math.inf),
            ("fidelity_x", 79, 0.25),
            ("loss", 99, math.nan),
            ("loss", 149, 1.25),
        ],
    )
    assert found.points == [
        ("loss", 49, 1.5, 49.5),
        ("epoch", 49, 0.0, 49.5),
        ("fidelity_x", 79, 0.25, 79.5),
        ("loss", 149, 1.25, 149.5),
    ]
    assert [(p.tag, p.step) for p in found.nonfinite] == [("validation", 79), ("loss", 99)]
    assert all(isinstance(p, ScalarPoint) for p in found.nonfinite)
    assert found.train_steps == {49, 99, 149}  # a NaN loss is still a training step
    assert found.max_step == 149


def test_run_follower_keeps_finite_values_whose_sum_overflows(tmp_path: Path) -> None:
    # float32 simple_values cannot overflow a float64 sum; float64 tensor scalars can.
    found = _run_with(
        tmp_path, [("loss", 1, 1e308), ("loss", 2, 1e308), ("loss", 3, -2.0)], double=True
    )
    assert [p[2] for p in found.points] == [1e308, 1e308, -2.0]
    assert found.nonfinite == []
    assert found.train_steps == {1, 2, 3}


def test_run_follower_with_only_validation_tags(tmp_path: Path) -> None:
    found = _run_with(tmp_path, [("validation", 39, 2.0), ("epoch", 39, 1.0)])
    assert len(found.points) == 2
    assert found.train_steps == set()
    assert found.max_step == 39
