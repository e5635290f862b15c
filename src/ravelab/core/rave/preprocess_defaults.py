"""What ``rave preprocess`` takes by default (RAVE 2.3.1): the audio extensions it looks
for and its signal length, and the ranges ravelab accepts. In a module of their own so
that building the CLI's ``dataset`` parsers does not load the preprocess job."""

from __future__ import annotations

#: The file extensions ``rave preprocess`` looks for (``--ext``), without the dot.
AUDIO_EXTENSIONS = ("aif", "aiff", "wav", "opus", "mp3", "aac", "flac", "ogg")
#: ``--num_signal``'s default: samples per example.
DEFAULT_NUM_SIGNAL = 131_072
#: What ``rave preprocess`` is given: (low, high), both included.
NUM_SIGNAL_RANGE = (2048, 4_194_304)
SAMPLE_RATE_RANGE = (8000, 384_000)
