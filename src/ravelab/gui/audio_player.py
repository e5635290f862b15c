"""``AudioPlayer``: one output device, several sources, switched at the same position.

Playback goes through miniaudio (the ``miniaudio`` package bundles its C library, so a
plain ``pip install`` can play; see docs/LISTENING.md, "Playback in the app"). The device
pulls 16-bit stereo frames from a generator that reads the *current* source at the
*current* position; choosing another source (A/B: the input, then its reconstruction)
only changes which array the next pull reads, so the switch happens at the same position,
without a restart and without a gap.

The GUI thread never waits on audio: it only changes the state below (under a lock held
for a few array lookups), and a thread of the player's own opens, starts, stops and closes
the device. A device that cannot be opened is reported once (``output_failed`` with the
reason); everything else still works, and the position still moves when played (the
player keeps time with a clock instead), so a playhead and tests behave the same.

The backend comes from ``RAVELAB_AUDIO_BACKEND`` (or the constructor): empty or ``auto``
lets miniaudio choose (PulseAudio, ALSA, JACK, CoreAudio, WASAPI...), a backend's name
(``pulseaudio``, ``alsa``, ``null``...) asks for that one, and ``off`` disables sound.
``null`` is miniaudio's silent device, which consumes frames in real time: tests use it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QTimer, Signal

logger = logging.getLogger(__name__)

#: Environment variable naming the backend (see the module docstring).
BACKEND_ENV = "RAVELAB_AUDIO_BACKEND"
#: Output channels: every source is played as stereo (a mono source on both sides).
CHANNELS = 2
#: The device's period: short, so a switch or a pause is heard within ~20 ms.
PERIOD_MS = 20
#: How often the position is reported while playing (a playhead moves this smoothly).
TICK_MS = 30

Frames = npt.NDArray[np.int16]


def to_frames(samples: npt.NDArray[np.floating[Any]]) -> Frames:
    """Float samples in [-1, 1], (frames,) or (frames, channels), as 16-bit stereo frames."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[1] == 1:
        data = np.repeat(data, CHANNELS, axis=1)
    elif data.shape[1] > CHANNELS:
        data = data[:, :CHANNELS]
    ints = np.clip(np.round(data * 32767.0), -32768, 32767).astype(np.int16)
    return np.ascontiguousarray(ints)


def backend_setting(value: str | None = None) -> str:
    """The backend asked for: ``value``, else ``$RAVELAB_AUDIO_BACKEND``, else ``auto``."""
    chosen = value if value is not None else os.environ.get(BACKEND_ENV, "")
    return chosen.strip().lower() or "auto"


class _Device:
    """The miniaudio device, touched only by the player's device thread."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.device: Any = None
        self.rate = 0
        self.running = False

    def open(self, rate: int, generator: Generator[Any, int, None]) -> str:
        """Open (or reopen at another rate) and start; the backend's name."""
        import miniaudio

        if self.device is not None and self.rate != rate:
            self.close()
        if self.device is None:
            backends = None
            if self.backend != "auto":
                try:
                    backends = [miniaudio.Backend[self.backend.upper()]]
                except KeyError:
                    names = ", ".join(b.name.lower() for b in miniaudio.Backend)
                    raise ValueError(
                        f"{BACKEND_ENV}={self.backend!r} is not a backend: use auto, off or "
                        f"one of {names}"
                    ) from None
            self.device = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16,
                nchannels=CHANNELS,
                sample_rate=rate,
                buffersize_msec=PERIOD_MS,
                backends=backends,
                app_name="ravelab",
            )
            self.rate = rate
            self.running = False
            if self.backend == "auto" and self.device.backend.lower() == "null":
                # miniaudio fell back to its silent device: nothing would be heard.
                self.close()
                raise RuntimeError("no audio device found (only miniaudio's silent one)")
        if not self.running:
            self.device.start(generator)
            self.running = True
        return str(self.device.backend)

    def stop(self) -> None:
        if self.device is not None and self.running:
            self.device.stop()
            self.running = False

    def close(self) -> None:
        if self.device is not None:
            try:
                self.device.close()
            finally:
                self.device = None
                self.running = False


def _reason(error: BaseException) -> str:
    if isinstance(error, ImportError):
        return "the miniaudio package is missing (pip install 'ravelab[gui]')"
    args = [str(a) for a in error.args]
    if len(args) == 2 and args[1].lstrip("-").isdigit():
        return f"{args[0]} (miniaudio error {args[1]})"
    return " ".join(args) or type(error).__name__


class AudioPlayer(QObject):
    """Plays one of several same-rate sources, switching between them at one position.

    Args:
        backend: the backend's name (default: ``$RAVELAB_AUDIO_BACKEND``, else ``auto``).
        parent: the owning QObject.

    Signals:
        state_changed(): playing or paused, the current source or the sources changed.
        position_changed(int): the position in frames, ~30 times a second while playing,
            and at once after a seek or a switch.
        output_ready(str): the device plays, through this backend.
        output_failed(str): no device could be opened; the reason in words.
    """

    state_changed = Signal()
    position_changed = Signal(int)
    output_ready = Signal(str)
    output_failed = Signal(str)

    def __init__(self, backend: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend_setting(backend)
        self._lock = threading.Lock()
        self._sources: dict[str, Frames] = {}
        self._current: str | None = None
        self._position = 0
        self._playing = False
        self._rate = 44_100
        self._ended = False
        # Once no device can be opened the position follows a clock from the last play or
        # seek instead of the frames a device pulled.
        self._clocked = False
        self._clock_start: float | None = None
        self._clock_origin = 0
        self._has_device = False
        self.output_error: str | None = None
        self.output_backend: str | None = None
        if self.backend == "off":
            self.output_error = f"sound is off ({BACKEND_ENV}=off)"
            self._clocked = True
        self._commands: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)

    # -- state ---------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def current(self) -> str | None:
        """The key of the source that plays (or would)."""
        return self._current

    @property
    def keys(self) -> list[str]:
        return list(self._sources)

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def position(self) -> int:
        """Frames played of the current source (every source shares this position)."""
        with self._lock:
            self._follow_clock()
            return self._position

    @property
    def duration(self) -> int:
        """Frames in the current source (0 without one)."""
        with self._lock:
            source = self._sources.get(self._current or "")
            return 0 if source is None else len(source)

    def set_sources(
        self,
        sources: Mapping[str, npt.NDArray[np.floating[Any]]],
        sample_rate: int,
        current: str | None = None,
        keep_position: bool = False,
    ) -> None:
        """Replace the sources (float samples; converted to 16-bit once, here).

        ``current`` picks the one that plays (default: the one playing before if it is
        still there, else the first). The position goes back to 0 unless ``keep_position``
        (then it is kept, within the new length); playing goes on when it was playing.
        """
        frames = {key: to_frames(samples) for key, samples in sources.items()}
        with self._lock:
            self._follow_clock()
            self._sources = frames
            if current in frames:
                self._current = current
            elif self._current not in frames:
                self._current = next(iter(frames), None)
            longest = max((len(f) for f in frames.values()), default=0)
            self._position = min(self._position, longest) if keep_position else 0
            self._restart_clock()
            rate_changed = int(sample_rate) != self._rate
            self._rate = int(sample_rate)
            if not frames:
                self._playing = False
            playing = self._playing
        if playing and rate_changed:
            self._command("run")
        self.state_changed.emit()
        self.position_changed.emit(self.position)

    def clear(self) -> None:
        """No sources: silence, position 0."""
        self.set_sources({}, self._rate)

    def select(self, key: str) -> None:
        """Play ``key`` from now on, at the same position (A/B)."""
        with self._lock:
            if key not in self._sources or key == self._current:
                return
            self._follow_clock()
            self._current = key
            self._position = min(self._position, len(self._sources[key]))
            self._restart_clock()
        self.state_changed.emit()
        self.position_changed.emit(self.position)

    def toggle_between(self, first: str, second: str) -> str | None:
        """Switch to ``second`` when ``first`` is current, else to ``first``; the key now."""
        self.select(second if self._current == first else first)
        return self._current

    # -- transport -----------------------------------------------------------------------------

    def play(self, key: str | None = None) -> bool:
        """Play (``key`` if given) from the position; from the start when at the end.
        False when there is nothing to play."""
        if key is not None:
            self.select(key)
        with self._lock:
            source = self._sources.get(self._current or "")
            if source is None or len(source) == 0:
                return False
            if self._position >= len(source):
                self._position = 0
            self._playing = True
            self._ended = False
            self._restart_clock()
        self._command("run")
        self._tick.start()
        self.state_changed.emit()
        return True

    def pause(self) -> None:
        with self._lock:
            if not self._playing:
                return
            self._follow_clock()
            self._playing = False
        self._command("idle")
        self._tick.stop()
        self.state_changed.emit()
        self.position_changed.emit(self.position)

    def toggle(self) -> bool:
        """Play when paused, pause when playing; whether it plays now."""
        if self._playing:
            self.pause()
            return False
        return self.play()

    def stop(self) -> None:
        """Pause and go back to the start."""
        self.pause()
        self.seek(0)

    def seek(self, frame: int) -> None:
        with self._lock:
            source = self._sources.get(self._current or "")
            limit = 0 if source is None else len(source)
            self._position = max(0, min(int(frame), limit))
            self._restart_clock()
        self.position_changed.emit(self.position)

    def close(self, wait_s: float = 2.0) -> None:
        """Stop and close the device (the player cannot play afterwards)."""
        if self._closed:
            return
        self._closed = True
        self._tick.stop()
        with self._lock:
            self._playing = False
        if self._thread is not None:
            self._commands.put(("close", 0))
            self._thread.join(wait_s)

    # -- the device's side ---------------------------------------------------------------------

    def frames(self) -> Generator[Any, int, None]:
        """What the device pulls (started, then sent how many frames it wants): that many
        16-bit stereo frames of the current source from the position, or silence."""
        wanted = yield b""
        while True:
            with self._lock:
                source = self._sources.get(self._current or "") if self._playing else None
                if source is None:
                    chunk: Any = bytes(wanted * CHANNELS * 2)
                else:
                    start = self._position
                    end = min(start + wanted, len(source))
                    chunk = source[start:end]
                    self._position = end
                    if end >= len(source):
                        self._playing = False
                        self._ended = True
                    if len(chunk) < wanted:
                        chunk = np.concatenate(
                            [chunk, np.zeros((wanted - len(chunk), CHANNELS), np.int16)]
                        )
            wanted = yield chunk

    def _follow_clock(self) -> None:
        """Without a device, move the position with the wall clock (lock held)."""
        if not self._clocked or not self._playing or self._clock_start is None:
            return
        source = self._sources.get(self._current or "")
        limit = 0 if source is None else len(source)
        moved = int((time.monotonic() - self._clock_start) * self._rate)
        self._position = min(self._clock_origin + moved, limit)
        if self._position >= limit:
            self._playing = False
            self._ended = True

    def _restart_clock(self) -> None:
        self._clock_start = time.monotonic()
        self._clock_origin = self._position

    def _command(self, what: str) -> None:
        if self._closed or (self.output_error is not None and not self._has_device):
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._device_loop, name="ravelab-audio", daemon=True
            )
            self._thread.start()
        self._commands.put((what, self._rate))

    def _device_loop(self) -> None:
        device = _Device(self.backend)
        generator = self.frames()
        next(generator)
        try:
            while True:
                what, rate = self._commands.get()
                if what == "close":
                    return
                try:
                    if what == "run":
                        if device.running and device.rate != rate:
                            device.close()
                        if not device.running:
                            generator = self.frames()
                            next(generator)
                        backend = device.open(rate, generator)
                        if not self._has_device:
                            self._has_device = True
                            self.output_backend = backend
                            self.output_ready.emit(backend)
                    elif what == "idle" and not self._playing:
                        device.stop()
                except Exception as error:  # any failure: reported in words, never raised
                    reason = _reason(error)
                    logger.warning("no sound output: %s", reason)
                    with self._lock:
                        self._has_device = False
                        self._clocked = True
                        self._restart_clock()
                    self.output_error = reason
                    device.close()
                    self.output_failed.emit(reason)
                    return
        finally:
            device.close()

    def _on_tick(self) -> None:
        with self._lock:
            self._follow_clock()
            position, playing, ended = self._position, self._playing, self._ended
            if ended:
                self._ended = False
        self.position_changed.emit(position)
        if not playing:
            self._tick.stop()
            self._command("idle")
            if ended:
                self.state_changed.emit()
