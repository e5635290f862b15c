"""ThreadedCanvas: the pause between frames is bounded, and closing never waits it out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from pytestqt.qtbot import QtBot

from ravelab.gui import threaded_canvas
from ravelab.gui.threaded_canvas import (
    MAX_FRAMES_PER_S,
    MAX_PAUSE_S,
    RENDER_DUTY,
    ThreadedCanvas,
    pause_after,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def canvas(qtbot: QtBot) -> Iterator[ThreadedCanvas]:
    figure = Figure(figsize=(4, 3), dpi=100)
    figure.add_subplot().plot([0, 1, 2], [1, 3, 2])
    canvas = ThreadedCanvas(figure)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    yield canvas
    canvas.cleanup()


def test_the_pause_keeps_the_render_duty_but_never_exceeds_its_cap() -> None:
    assert pause_after(0.05) == pytest.approx(0.05 * (1 / RENDER_DUTY - 1))  # 10% rendering
    assert pause_after(0.7) == MAX_PAUSE_S  # a slow frame on a loaded machine: capped
    assert pause_after(60.0) == MAX_PAUSE_S
    assert pause_after(0.0) == pytest.approx(1 / MAX_FRAMES_PER_S)  # at most 10 a second


@given(st.floats(min_value=-1.0, max_value=1e6, allow_nan=False))
def test_pause_bounds(duration: float) -> None:
    pause = pause_after(duration)
    assert 0 <= pause <= MAX_PAUSE_S
    assert max(duration, 0) + pause >= 1 / MAX_FRAMES_PER_S - 1e-12


def test_closing_wakes_the_worker_from_its_pause(
    qtbot: QtBot, canvas: ThreadedCanvas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pause of an hour after each frame: a worker that slept it out would keep the
    # GUI thread waiting in cleanup() (and still be running when cleanup gave up).
    monkeypatch.setattr(threaded_canvas, "pause_after", lambda duration: 3600.0)
    qtbot.waitUntil(lambda: canvas.frames >= 1 and canvas.settled, timeout=30_000)
    frames = canvas.frames
    canvas.request_frame()  # waits for the pause to end
    assert canvas.busy
    canvas.cleanup(wait_ms=120_000)
    assert not canvas.busy  # the worker woke and ended, without rendering the frame
    qtbot.wait(10)
    assert canvas.frames == frames
    canvas.request_frame()  # closed: nothing is started
    canvas.submit(lambda: None)
    assert not canvas.busy


def test_a_request_after_an_idle_spell_is_drawn_at_once(
    qtbot: QtBot, canvas: ThreadedCanvas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No pause after a frame: a request made while nothing renders starts a frame without
    # waiting for anything else (frames are never lost between two bursts of requests).
    monkeypatch.setattr(threaded_canvas, "pause_after", lambda duration: 0.0)
    for _ in range(5):
        qtbot.waitUntil(lambda: canvas.settled and canvas.frames >= 1, timeout=30_000)
        frames = canvas.frames
        changed: list[bool] = []
        canvas.submit(lambda changed=changed: changed.append(True))
        qtbot.waitUntil(lambda frames=frames: canvas.frames > frames, timeout=30_000)
        assert changed == [True]


def test_a_failing_change_does_not_stop_the_plot(
    qtbot: QtBot, canvas: ThreadedCanvas, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise RuntimeError("bad data")

    qtbot.waitUntil(lambda: canvas.settled and canvas.frames >= 1, timeout=30_000)
    frames = canvas.frames
    canvas.submit(fail)
    qtbot.waitUntil(lambda: canvas.settled and canvas.frames > frames, timeout=30_000)
    assert "plot update failed" in caplog.text and "bad data" in caplog.text
