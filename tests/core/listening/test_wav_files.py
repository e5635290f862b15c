"""WAV reading and writing: checked headers, every PCM width, no file ever replaced."""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.listening import wav_files
from ravelab.core.listening.wav_files import read_info, read_wav, write_wav


def _raw_wav(path: Path, width: int, frames: bytes, channels: int = 1, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(frames)
    return path


def test_written_samples_read_back_within_16_bit_rounding(tmp_path: Path) -> None:
    signal = np.sin(np.linspace(0, 20, 1000, dtype=np.float32))[:, None] * 0.5
    stereo = np.concatenate([signal, -signal], axis=1)
    write_wav(tmp_path / "a.wav", stereo, 22050)
    samples, info = read_wav(tmp_path / "a.wav")
    assert (info.sample_rate, info.channels, info.frames, info.sample_width) == (22050, 2, 1000, 2)
    assert samples.dtype == np.float32 and samples.shape == (1000, 2)
    assert np.abs(samples - stereo).max() < 1 / 32767
    assert read_info(tmp_path / "a.wav") == info
    assert info.seconds == pytest.approx(1000 / 22050)


def test_values_beyond_full_scale_are_clipped_not_wrapped(tmp_path: Path) -> None:
    write_wav(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.25], dtype=np.float32), 8000)
    samples, _ = read_wav(tmp_path / "loud.wav")
    assert samples[:, 0].tolist() == pytest.approx([1.0, -1.0, 0.25], abs=1e-4)


@pytest.mark.parametrize(
    ("width", "frames", "expected"),
    [
        (1, bytes([128, 255, 0]), [0.0, 127 / 128, -1.0]),
        (2, (16384).to_bytes(2, "little", signed=True), [0.5]),
        (3, (-(1 << 22)).to_bytes(3, "little", signed=True), [-0.5]),
        (4, (1 << 30).to_bytes(4, "little", signed=True), [0.5]),
    ],
)
def test_every_pcm_width_is_scaled_to_plus_minus_one(
    tmp_path: Path, width: int, frames: bytes, expected: list[float]
) -> None:
    samples, info = read_wav(_raw_wav(tmp_path / "w.wav", width, frames))
    assert info.sample_width == width
    assert samples[:, 0].tolist() == pytest.approx(expected, abs=1e-6)


def test_a_truncated_file_keeps_its_whole_frames(tmp_path: Path) -> None:
    path = _raw_wav(tmp_path / "cut.wav", 2, np.arange(100, dtype="<i2").tobytes(), channels=2)
    with path.open("r+b") as handle:
        handle.truncate(os.path.getsize(path) - 3)  # half a frame and a bit more gone
    samples, info = read_wav(path)
    assert samples.shape == (49, 2) and info.frames == 49  # 197 bytes: 49 frames of 4


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a PCM or float WAV"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "not a PCM or float WAV"),
        (b"ID3\x04" + b"\x00" * 200, "not a PCM or float WAV"),
    ],
)
def test_what_is_not_a_wav_gets_a_message_naming_it(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=words) as raised:
        read_wav(path)
    assert "song.mp3" in str(raised.value) and "ffmpeg" in str(raised.value)


def test_an_absurd_rate_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sample rate is 10 Hz"):
        read_info(_raw_wav(tmp_path / "slow.wav", 2, b"\x00\x00", rate=10))
    with pytest.raises(ConfigError, match="cannot read"):
        read_info(tmp_path / "absent.wav")


def test_a_file_over_the_cap_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _raw_wav(tmp_path / "long.wav", 2, b"\x00\x00" * 1000)
    monkeypatch.setattr(wav_files, "MAX_WAV_BYTES", 100)
    with pytest.raises(ConfigError, match="shorter files"):
        read_wav(path)


def test_writing_never_replaces_a_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "mine.wav"
    target.write_bytes(b"the user's")
    with pytest.raises(ConfigError, match="already exists"):
        write_wav(target, np.zeros(10, dtype=np.float32), 8000)
    assert target.read_bytes() == b"the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.wav"]
    write_wav(target, np.zeros(10, dtype=np.float32), 8000, overwrite=True)
    assert read_info(target).frames == 10


def test_without_hard_links_an_existing_file_is_still_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(_src: object, _dst: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "mine.wav"
    target.write_bytes(b"kept")
    with pytest.raises(ConfigError, match="already exists"):
        write_wav(target, np.zeros(10, dtype=np.float32), 8000)
    assert target.read_bytes() == b"kept"
    write_wav(tmp_path / "new.wav", np.zeros(10, dtype=np.float32), 8000)
    assert read_info(tmp_path / "new.wav").frames == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.wav", "new.wav"]


def test_an_unwritable_folder_gets_a_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        write_wav(tmp_path / "absent" / "x.wav", np.zeros(4, dtype=np.float32), 8000)


def _float_wav(path: Path, values: np.ndarray, rate: int = 8000, extensible: bool = False) -> Path:
    """An IEEE float WAV (which Python's ``wave`` does not write), by hand."""
    data = np.asarray(values, dtype="<f4")
    channels = 1 if data.ndim == 1 else data.shape[1]
    align = 4 * channels
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, 32, 22, 32, 0)
        fmt += struct.pack("<H", 3) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    else:
        fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * align, align, 32)
    body = data.tobytes()
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # an odd-sized chunk before data
    chunks += b"data" + struct.pack("<I", len(body)) + body
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


@pytest.mark.parametrize("extensible", [False, True])
def test_float_wavs_are_read_with_their_values(tmp_path: Path, extensible: bool) -> None:
    values = np.array([[0.25, -0.5], [1.5, np.nan], [np.inf, 0.0]], dtype=np.float32)
    path = _float_wav(tmp_path / "f.wav", values, extensible=extensible)
    info = read_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.sample_format) == (
        8000, 2, 3, "float32"
    )  # fmt: skip
    samples, _ = read_wav(path)
    # Values beyond full scale are kept; NaN becomes silence and infinities full scale.
    assert samples.tolist() == [[0.25, -0.5], [1.5, 0.0], [1.0, 0.0]]


def test_a_truncated_float_wav_keeps_its_whole_frames(tmp_path: Path) -> None:
    path = _float_wav(tmp_path / "f.wav", np.zeros((10, 2), dtype=np.float32))
    with path.open("r+b") as handle:
        handle.truncate(os.path.getsize(path) - 5)
    samples, info = read_wav(path)
    assert samples.shape == (9, 2) and info.frames == 9  # 75 bytes: 9 frames of 8
