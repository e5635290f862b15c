"""How RAVE lays out one ``audio_val`` clip, and splitting it into (input, reconstruction).

A clip is mono 16-bit, made at each validation from the first ``min(8, validation set)``
examples: for every example, for every channel, ``T`` samples of input then ``T`` samples
of the model's reconstruction, all one after the other (a stereo run is not a stereo WAV:
left input, left output, right input, right output). ``T`` is the run's ``--n_signal``
(131072 by default), which RAVE stores nowhere in the run folder: a run ravelab launched
knows it; for an imported one it is worked out from the clip's length, preferring RAVE's
default, and the listing says so (``layout_source``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ravelab.core.listening.wav_files import Samples

#: RAVE's default ``--n_signal``.
DEFAULT_SEGMENT = 131_072
#: RAVE keeps the first 8 validation examples.
MAX_EXAMPLES = 8
_SMALLEST_SEGMENT = 2048


@dataclass(frozen=True)
class ClipLayout:
    """The split of one clip.

    Attributes:
        segment: samples in each half (the run's ``--n_signal`` at the model's rate).
        channels: the run's channels (1 mono, 2 stereo).
        examples: validation examples in the clip; each is one (input, reconstruction) pair.
        source: ``"run"`` (the run's own ``--n_signal``), ``"assumed"`` (worked out from
            the clip's length) or ``"whole"`` (no split fits: the clip is one piece and
            has no pairs; it can still be played as it is).
    """

    segment: int
    channels: int
    examples: int
    source: str

    @property
    def pairs(self) -> int:
        return self.examples

    def split(self, samples: Samples, pair: int) -> tuple[Samples, Samples]:
        """The input and the reconstruction of one pair, each (segment, channels).

        Raises:
            IndexError: no such pair.
        """
        if not 0 <= pair < self.pairs:
            raise IndexError(f"pair {pair} does not exist (0 to {self.pairs - 1})")
        mono = samples[:, 0] if samples.ndim == 2 else samples
        size = self.segment
        start = pair * 2 * size * self.channels
        # Each channel of the example: its input half, then its reconstruction half.
        halves = [mono[start + k * size : start + (k + 1) * size] for k in range(2 * self.channels)]
        return np.stack(halves[0::2], axis=1), np.stack(halves[1::2], axis=1)


def _fits(frames: int, segment: int, channels: int) -> int | None:
    """Examples in a clip of ``frames`` with that segment, or None when it does not fit."""
    if segment < 1 or frames % (2 * channels * segment):
        return None
    examples = frames // (2 * channels * segment)
    return examples if 1 <= examples <= MAX_EXAMPLES else None


def layout_of(frames: int, channels: int = 1, n_signal: int | None = None) -> ClipLayout:
    """The layout of a clip of ``frames`` samples from a run with these settings.

    ``n_signal`` is the run's ``--n_signal`` when known. Otherwise (or when it does not fit
    the clip, e.g. a dataset at another rate stretched every half) the segment is RAVE's
    default if that fits, else the longest power of two that fits.
    """
    channels = channels if channels in (1, 2) else 1
    if n_signal is not None and (examples := _fits(frames, n_signal, channels)):
        return ClipLayout(n_signal, channels, examples, "run")
    if examples := _fits(frames, DEFAULT_SEGMENT, channels):
        return ClipLayout(DEFAULT_SEGMENT, channels, examples, "assumed")
    segment = 1 << max(frames // (2 * channels), 1).bit_length()
    while segment >= _SMALLEST_SEGMENT:
        if examples := _fits(frames, segment, channels):
            return ClipLayout(segment, channels, examples, "assumed")
        segment >>= 1
    return ClipLayout(frames, 1, 0, "whole")
