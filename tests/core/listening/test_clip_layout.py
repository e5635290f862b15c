"""The layout of one audio_val clip and its split into (input, reconstruction) pairs."""

from __future__ import annotations

import numpy as np
import pytest

from ravelab.core.listening.clip_layout import DEFAULT_SEGMENT, ClipLayout, layout_of


def test_the_run_s_own_n_signal_wins() -> None:
    assert layout_of(8 * 2 * 65536, 1, 65536) == ClipLayout(65536, 1, 8, "run")
    assert layout_of(3 * 2 * 2 * 4096, 2, 4096) == ClipLayout(4096, 2, 3, "run")


def test_without_n_signal_rave_s_default_is_assumed_first() -> None:
    assert layout_of(8 * 2 * DEFAULT_SEGMENT) == ClipLayout(DEFAULT_SEGMENT, 1, 8, "assumed")


def test_otherwise_the_longest_power_of_two_that_fits() -> None:
    # The genuine capture: --n_signal 65536, one validation example, 131072 frames.
    assert layout_of(131072) == ClipLayout(65536, 1, 1, "assumed")
    assert layout_of(3 * 2 * 8192) == ClipLayout(8192, 1, 3, "assumed")


def test_an_n_signal_that_does_not_fit_falls_back_to_the_clip_s_length() -> None:
    assert layout_of(131072, 1, 50000).source == "assumed"


def test_a_clip_no_split_fits_is_one_piece_without_pairs() -> None:
    layout = layout_of(12345)
    assert layout.source == "whole" and layout.pairs == 0
    with pytest.raises(IndexError):
        layout.split(np.zeros((12345, 1), dtype=np.float32), 0)


def test_stereo_pairs_follow_rave_s_order() -> None:
    # Segment codes 100*example + 10*channel + half, as RAVE flattens (examples, channels, 2T).
    segment = 4
    codes = [100 * e + 10 * c + h for e in range(2) for c in range(2) for h in range(2)]
    clip = np.repeat(np.array(codes, dtype=np.float32), segment)[:, None]
    layout = layout_of(len(clip), 2, segment)
    assert layout == ClipLayout(segment, 2, 2, "run")
    inputs, outputs = layout.split(clip, 1)
    assert inputs.shape == outputs.shape == (segment, 2)
    assert inputs[0].tolist() == [100, 110] and outputs[0].tolist() == [101, 111]
    inputs, outputs = layout.split(clip, 0)
    assert inputs[-1].tolist() == [0, 10] and outputs[-1].tolist() == [1, 11]


def test_a_pair_out_of_range_is_an_error() -> None:
    layout = layout_of(2 * 4096, 1, 4096)
    with pytest.raises(IndexError, match="pair 1 does not exist"):
        layout.split(np.zeros((8192, 1), dtype=np.float32), 1)
