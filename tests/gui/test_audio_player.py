"""The audio player on miniaudio's silent (NULL) device: what it feeds the device, A/B at
the same position, the end of a source, and playing on when no device opens."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from ravelab.gui.audio_player import BACKEND_ENV, AudioPlayer, to_frames

pytestmark = pytest.mark.gui

RATE = 8000


@pytest.fixture(autouse=True)
def silent_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "null")


@pytest.fixture
def player(qtbot: QtBot) -> Iterator[AudioPlayer]:
    made = AudioPlayer()
    yield made
    made.close()


def _sources(frames: int = RATE) -> dict[str, np.ndarray]:
    ramp = np.linspace(-0.5, 0.5, frames, dtype=np.float32)
    return {"a": ramp[:, None], "b": -ramp[:, None]}


def test_frames_are_16_bit_stereo() -> None:
    frames = to_frames(np.array([[0.0], [1.0], [-1.0], [2.0]], dtype=np.float32))
    assert frames.dtype == np.int16 and frames.shape == (4, 2)
    assert frames[:, 0].tolist() == [0, 32767, -32767, 32767]
    assert np.array_equal(frames[:, 0], frames[:, 1])
    stereo = to_frames(np.array([[0.5, -0.5]], dtype=np.float32))
    assert stereo.tolist() == [[16384, -16384]]


def test_the_device_gets_the_current_source_at_the_position(player: AudioPlayer) -> None:
    player.set_sources(_sources(), RATE, current="a")
    expected = {key: to_frames(value) for key, value in _sources().items()}
    pull = player.frames()
    next(pull)
    assert bytes(pull.send(100)) == bytes(100 * 4)  # not playing: silence
    player._playing = True  # as play() sets it, without waiting for a device
    assert np.array_equal(pull.send(100), expected["a"][0:100])
    player.select("b")  # A/B: the next pull is the other source, where the first stopped
    assert player.position == 100
    assert np.array_equal(pull.send(50), expected["b"][100:150])
    player.seek(RATE - 10)
    tail = pull.send(40)
    assert np.array_equal(tail[:10], expected["b"][-10:]) and not tail[10:].any()
    assert not player.playing and player.position == RATE


def test_play_pause_and_a_b_on_the_null_device(qtbot: QtBot, player: AudioPlayer) -> None:
    player.set_sources(_sources(RATE * 30), RATE, current="a")
    with qtbot.waitSignal(player.output_ready, timeout=10_000) as ready:
        assert player.play()
    assert ready.args == ["Null"] and player.output_error is None
    qtbot.waitUntil(lambda: player.position > RATE // 10, timeout=10_000)
    player.pause()
    paused_at = player.position
    player.select("b")
    assert player.current == "b" and player.position == paused_at
    player.play()
    qtbot.waitUntil(lambda: player.position > paused_at + RATE // 10, timeout=10_000)
    before = player.position
    player.toggle_between("a", "b")  # while playing: the same position, no restart
    assert player.current == "a" and player.position >= before
    player.stop()
    assert not player.playing and player.position == 0


def test_a_source_plays_to_its_end_then_again_from_the_start(
    qtbot: QtBot, player: AudioPlayer
) -> None:
    player.set_sources(_sources(RATE // 4), RATE)
    with qtbot.waitSignal(player.state_changed, timeout=10_000):
        player.play()
    qtbot.waitUntil(lambda: not player.playing, timeout=10_000)
    assert player.position == player.duration == RATE // 4
    player.play()
    assert player.playing and player.position < RATE // 4


def test_new_sources_keep_the_position_when_asked(player: AudioPlayer) -> None:
    player.set_sources(_sources(), RATE, current="b")
    player.seek(1234)
    player.set_sources(_sources(), RATE, keep_position=True)
    assert player.current == "b" and player.position == 1234
    player.set_sources({"c": np.zeros(100, dtype=np.float32)}, RATE, keep_position=True)
    assert player.current == "c" and player.position == 100  # within the new length
    player.set_sources(_sources(), RATE)
    assert player.position == 0


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ("nosuch", "'nosuch' is not a backend"),
        ("wasapi", "cannot init context"),  # a Windows backend: unavailable here
    ],
)
def test_no_device_is_reported_and_time_still_moves(qtbot: QtBot, backend: str, words: str) -> None:
    player = AudioPlayer(backend=backend)
    try:
        player.set_sources(_sources(RATE * 30), RATE)
        with qtbot.waitSignal(player.output_failed, timeout=10_000) as failed:
            player.play()
        assert words in failed.args[0] and player.output_error == failed.args[0]
        # Without a device the position follows the clock: a playhead still moves.
        qtbot.waitUntil(lambda: player.position > 0, timeout=10_000)
        player.pause()
        assert not player.playing
    finally:
        player.close()


def test_sound_off(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "off")
    player = AudioPlayer()
    try:
        assert player.output_error is not None and "sound is off" in player.output_error
        player.set_sources(_sources(), RATE)
        assert player.play()
        qtbot.waitUntil(lambda: player.position > 0, timeout=10_000)
    finally:
        player.close()


def test_another_rate_reopens_the_device(qtbot: QtBot, player: AudioPlayer) -> None:
    player.set_sources(_sources(RATE * 30), RATE)
    with qtbot.waitSignal(player.output_ready, timeout=10_000):
        player.play()
    player.set_sources(_sources(RATE * 30), RATE * 2, keep_position=False)
    assert player.sample_rate == RATE * 2 and player.playing
    qtbot.waitUntil(lambda: player.position > RATE // 10, timeout=10_000)
    assert player.output_error is None
