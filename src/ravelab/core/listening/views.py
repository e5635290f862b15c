"""What the app draws of a clip, computed without Qt: waveform peaks and a spectrogram.

A waveform is drawn as one vertical line per pixel column, from the smallest to the
largest sample that column covers (so a click one sample wide still shows). A spectrogram
is a short-time Fourier transform in decibels on a fixed scale (0 dB is a full-scale sine),
so an input and its reconstruction, or two runs, are shaded alike; its rows are spaced
logarithmically in frequency, the way pitch is heard, and it comes as 8-bit levels that a
colour table turns into a picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Quietest level shown (dB relative to full scale); anything below is the darkest colour.
FLOOR_DB = -100.0
#: Lowest frequency on the log axis (Hz); below it, the first row.
LOWEST_HZ = 30.0
_COLOUR_ANCHORS = (
    # A dark-to-bright ramp (black, indigo, crimson, orange, pale yellow): loudness reads
    # as brightness, in colour and in grey print alike.
    (0.00, (0, 0, 4)),
    (0.25, (60, 15, 110)),
    (0.50, (160, 40, 100)),
    (0.75, (240, 110, 30)),
    (1.00, (252, 250, 170)),
)


@dataclass(frozen=True)
class Spectrogram:
    """A spectrogram ready to paint.

    Attributes:
        levels: uint8 (rows, frames); row 0 is the HIGHEST frequency (the top of a picture),
            255 is 0 dBFS, 0 is ``FLOOR_DB`` or quieter.
        top_hz, bottom_hz: the frequencies of the first and last rows.
        seconds: the time the frames span.
    """

    levels: npt.NDArray[np.uint8]
    top_hz: float
    bottom_hz: float
    seconds: float


def mono(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """One channel to look at: a (frames, channels) array's mean, a 1-D array as it is."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return data


def peaks(
    samples: npt.NDArray[np.float32], columns: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The smallest and largest sample under each of ``columns`` pixel columns.

    With fewer samples than columns a column holds the sample it falls on; with none, both
    arrays are zeros.
    """
    data = mono(samples)
    columns = max(int(columns), 1)
    if data.size == 0:
        zeros = np.zeros(columns, dtype=np.float32)
        return zeros, zeros.copy()
    if data.size < columns:
        at = np.minimum((np.arange(columns) * data.size) // columns, data.size - 1)
        picked = data[at]
        return picked.copy(), picked.copy()
    edges = (np.arange(columns) * data.size) // columns
    return (
        np.minimum.reduceat(data, edges).astype(np.float32),
        np.maximum.reduceat(data, edges).astype(np.float32),
    )


def spectrogram(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    rows: int = 128,
    n_fft: int = 1024,
    max_frames: int = 1024,
) -> Spectrogram:
    """A log-frequency spectrogram of ``samples`` with ``rows`` rows.

    The hop is chosen so that at most ``max_frames`` frames come out (a picture never needs
    more columns than a screen has); 3 s at 44.1 kHz gives 256 frames of 512 samples.
    """
    data = mono(samples)
    rows = max(int(rows), 2)
    rate = max(int(sample_rate), 1)
    seconds = data.size / rate
    nyquist = rate / 2
    bottom = min(LOWEST_HZ, nyquist / 2)
    if data.size < n_fft:
        data = np.pad(data, (0, n_fft - data.size))
    hop = max(n_fft // 2, -(-(data.size - n_fft) // max(max_frames - 1, 1)))
    frames = 1 + (data.size - n_fft) // hop
    starts = np.arange(frames) * hop
    window = np.hanning(n_fft).astype(np.float32)
    # Frames gathered as a strided view: no copy of the signal per frame.
    view = np.lib.stride_tricks.sliding_window_view(data, n_fft)[starts]
    spectrum = np.abs(np.fft.rfft(view * window, axis=1)).astype(np.float32)
    # Bins along rows (contiguous), so each picture row is a max over a few whole rows.
    spectrum = np.ascontiguousarray(spectrum.T)
    # Rows at log-spaced frequencies, top row highest, each the loudest bin near it.
    bin_hz = rate / n_fft
    wanted = np.geomspace(nyquist, bottom, rows)
    edges = np.sqrt(wanted[:-1] * wanted[1:])
    upper = np.concatenate([[nyquist], edges])
    lower = np.concatenate([edges, [bottom]])
    # A row takes the bins whose centres fall in its band; a band narrower than a bin (low
    # rows) takes the bin nearest its centre.
    bins = spectrum.shape[0]
    first = np.ceil(lower / bin_hz).astype(int)
    last = np.floor(upper / bin_hz).astype(int) + 1
    narrow = last <= first
    first[narrow] = np.round(wanted[narrow] / bin_hz).astype(int)
    first = np.clip(first, 0, bins - 1)
    last = np.clip(np.where(narrow, first + 1, last), first + 1, bins)
    picked = np.empty((rows, frames), dtype=np.float32)
    for row in range(rows):
        picked[row] = spectrum[first[row] : last[row]].max(axis=0)
    # A full-scale sine peaks at sum(window) / 2 in its bin: that is 0 dB.
    picked *= np.float32(2.0 / window.sum())
    decibels = 20.0 * np.log10(np.maximum(picked, np.float32(1e-10)))
    scaled = np.clip((decibels - FLOOR_DB) / -FLOOR_DB, 0.0, 1.0) * 255.0
    return Spectrogram(scaled.round().astype(np.uint8), float(nyquist), float(bottom), seconds)


def colour_table() -> list[int]:
    """256 colours as 0xAARRGGBB integers, level 0 (quiet) to 255 (full scale)."""
    at = np.linspace(0.0, 1.0, 256)
    stops = np.array([a for a, _ in _COLOUR_ANCHORS])
    channels = [
        np.interp(at, stops, [rgb[k] for _, rgb in _COLOUR_ANCHORS]).round().astype(int)
        for k in range(3)
    ]
    return [
        (0xFF << 24) | (int(r) << 16) | (int(g) << 8) | int(b)
        for r, g, b in zip(*channels, strict=True)
    ]


def level_db(samples: npt.NDArray[np.float32]) -> float:
    """RMS level in dBFS (``FLOOR_DB`` for silence)."""
    data = mono(samples)
    if data.size == 0:
        return FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(data, dtype=np.float64))))
    return max(FLOOR_DB, 20.0 * np.log10(rms * np.sqrt(2.0))) if rms > 0 else FLOOR_DB
