"""The follower records every validation point per version, NaN or not (clips map to them)."""

from __future__ import annotations

import math
import wave
from io import BytesIO
from pathlib import Path

from tensorboard.compat.proto.summary_pb2 import Summary

from ravelab.core.tensorboard.run_events import RunEventsFollower
from tests.core.tensorboard.test_run_events import _make_run_layout
from tests.core.tensorboard.test_tensorboard_events import event_bytes, file_version_bytes


def _wav(frames: int = 8) -> bytes:
    buffer = BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


def test_the_genuine_run_s_validations_come_with_their_version(tmp_path: Path) -> None:
    follower = RunEventsFollower(_make_run_layout(tmp_path), {}, tmp_path / "audio")
    validations, clips = [], []
    while True:  # a poll reads a bounded batch
        poll = follower.poll(rescan=True)
        validations += poll.validations
        clips += poll.clips
        if not poll.more_pending:
            break
    assert [(v, s) for v, s, _w in validations] == [
        *((0, s) for s in (39, 79, 119, 159, 199, 239, 279)),
        (1, 318),
    ]
    assert len(clips) == len(validations)


def test_a_nan_validation_still_counts_so_later_clips_keep_their_steps(tmp_path: Path) -> None:
    version = tmp_path / "run_0123456789" / "version_0"
    version.mkdir(parents=True)
    events = file_version_bytes()
    for index, (step, value) in enumerate([(9, 1.0), (19, math.nan), (29, 0.5)]):
        clip = Summary.Audio(sample_rate=8000.0, num_channels=1, encoded_audio_string=_wav())
        clip.content_type = "audio/wav"
        events += event_bytes(index, Summary.Value(tag="audio_val", audio=clip), wall_time=100.0)
        events += event_bytes(
            step, Summary.Value(tag="validation", simple_value=value), wall_time=100.1
        )
    (version / "events.out.tfevents.1.host.1.0").write_bytes(events)
    poll = RunEventsFollower(tmp_path, {}, tmp_path / "audio").poll(rescan=True)
    assert [s for _v, s, _w in poll.validations] == [9, 19, 29]
    assert [c.step for c in poll.clips] == [0, 1, 2]
    assert [p.step for p in poll.nonfinite] == [19]
