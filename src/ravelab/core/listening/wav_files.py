"""Reading and writing the plain PCM WAV files that clips and renders are made of.

Everything read here may be damaged or hostile (a clip in a run folder, a user's file), so
reading checks the header (PCM 8/16/24/32-bit or IEEE float 32/64-bit, 1-64 channels, a
sane rate) and a size cap before any sample is decoded, and every failure is a
:class:`~ravelab.core.errors.ConfigError` naming the file. Python's own ``wave`` module
parses PCM; it refuses float files (what a render writes, and what DAWs often export), whose
``fmt`` and ``data`` chunks are read here instead.
"""

from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ravelab.core.errors import ConfigError

#: Largest WAV read whole (a default RAVE clip is about 4 MB; an hour of stereo 48 kHz
#: 16-bit is 690 MB).
MAX_WAV_BYTES = 1 << 30
_RATES = (1000, 768_000)
_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}
#: WAVE format tags: IEEE float, and "extensible" (whose sub-format may be float).
_FLOAT_TAG = 3
_EXTENSIBLE_TAG = 0xFFFE

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says."""

    sample_rate: int
    channels: int
    frames: int
    sample_width: int
    is_float: bool = False

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def sample_format(self) -> str:
        """``"pcm16"``, ``"pcm24"``, ``"float32"``..."""
        return f"{'float' if self.is_float else 'pcm'}{self.sample_width * 8}"


@dataclass(frozen=True)
class _FloatLayout:
    """Where a float WAV's samples are."""

    info: WavInfo
    data_offset: int
    data_size: int


def _open(path: Path) -> wave.Wave_read | _FloatLayout:
    """A PCM reader from ``wave``, or where a float WAV (which ``wave`` refuses) keeps its
    samples.

    Raises:
        ConfigError: unreadable, too large, or neither.
    """
    try:
        size = os.stat(path).st_size
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    if size > MAX_WAV_BYTES:
        raise ConfigError(
            f"{str(path)!r} is {size / 2**20:.0f} MiB, more than ravelab reads at once "
            f"({MAX_WAV_BYTES >> 20} MiB): cut it into shorter files"
        )
    try:
        return wave.open(str(path), "rb")
    except (wave.Error, EOFError, ValueError) as error:
        why = str(error) or "the file ends early"
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    found = _float_layout(path)
    if found is None:
        raise ConfigError(
            f"{str(path)!r} is not a PCM or float WAV file ({why}): convert it, for "
            "example with `ffmpeg -i INPUT -c:a pcm_s16le OUTPUT.wav`"
        )
    return found


def _float_layout(path: Path) -> _FloatLayout | None:
    """The fmt and data chunks of an IEEE float WAV, or None when it is not one."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return None
            fmt: tuple[int, ...] | None = None
            for _ in range(64):  # a few chunks come before the data; never loop on junk
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt " and length >= 16:
                    body = handle.read(length + (length & 1))
                    fmt = struct.unpack("<HHIIHH", body[:16])
                    if fmt[0] == _EXTENSIBLE_TAG and length >= 26:
                        # The sub-format GUID starts with the real format tag.
                        fmt = (struct.unpack("<H", body[24:26])[0], *fmt[1:])
                elif name == b"data" and fmt is not None:
                    tag, channels, rate, _bytes_per_s, align, bits = fmt
                    if tag != _FLOAT_TAG or bits not in (32, 64) or align != channels * bits // 8:
                        return None
                    offset = handle.tell()
                    available = max(os.fstat(handle.fileno()).st_size - offset, 0)
                    size = min(length, available)  # a truncated file keeps what it has
                    info = WavInfo(rate, channels, size // max(align, 1), bits // 8, True)
                    return _FloatLayout(info, offset, size)
                else:
                    handle.seek(length + (length & 1), 1)
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    except struct.error:
        return None
    return None


def _checked(path: Path, handle: wave.Wave_read) -> WavInfo:
    info = WavInfo(
        handle.getframerate(), handle.getnchannels(), handle.getnframes(), handle.getsampwidth()
    )
    return _checked_info(path, info)


def _checked_info(path: Path, info: WavInfo) -> WavInfo:
    if not _RATES[0] <= info.sample_rate <= _RATES[1]:
        raise ConfigError(f"{str(path)!r} says its sample rate is {info.sample_rate} Hz: not audio")
    widths = (4, 8) if info.is_float else (1, 2, 3, 4)
    if not 1 <= info.channels <= 64 or info.sample_width not in widths:
        raise ConfigError(
            f"{str(path)!r} has {info.channels} channels of {info.sample_width} bytes: "
            "expected 1-64 channels of 8, 16, 24 or 32-bit PCM, or 32 or 64-bit float"
        )
    return info


def read_info(path: Path) -> WavInfo:
    """The header of a WAV file, checked.

    Raises:
        ConfigError: not a readable PCM WAV, or out of range.
    """
    opened = _open(path)
    if isinstance(opened, _FloatLayout):
        return _checked_info(path, opened.info)
    with opened as handle:
        return _checked(path, handle)


def read_wav(path: Path) -> tuple[Samples, WavInfo]:
    """Samples as float32 in [-1, 1], shaped (frames, channels), and the header.

    Raises:
        ConfigError: not a readable PCM WAV, or out of range.
    """
    opened = _open(path)
    if isinstance(opened, _FloatLayout):
        return _read_float(path, opened)
    with opened as handle:
        info = _checked(path, handle)
        try:
            raw = handle.readframes(info.frames)
        except (wave.Error, EOFError, OSError) as error:
            raise ConfigError(f"cannot read the samples of {str(path)!r}: {error}") from None
    width = info.sample_width
    usable = len(raw) - len(raw) % (width * info.channels)
    raw = raw[:usable]  # a truncated file: keep the whole frames it has
    if width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(bytes3), 4), dtype=np.uint8)
        padded[:, 1:] = bytes3
        ints = padded.view("<i4").reshape(-1)
        scaled = ints.astype(np.float32) / np.float32(2**31)
    else:
        ints = np.frombuffer(raw, dtype=np.dtype(_DTYPES[width]).newbyteorder("<"))
        if width == 1:
            scaled = (ints.astype(np.float32) - 128.0) / 128.0
        else:
            scaled = ints.astype(np.float32) / np.float32(2 ** (8 * width - 1))
    samples = scaled.reshape(-1, info.channels)
    return samples, WavInfo(info.sample_rate, info.channels, len(samples), width)


def _read_float(path: Path, layout: _FloatLayout) -> tuple[Samples, WavInfo]:
    info = _checked_info(path, layout.info)
    try:
        with open(path, "rb") as handle:
            handle.seek(layout.data_offset)
            raw = handle.read(layout.data_size)
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    usable = len(raw) - len(raw) % (info.sample_width * info.channels)
    values = np.frombuffer(raw[:usable], dtype="<f4" if info.sample_width == 4 else "<f8")
    # NaN or infinite samples would poison every later computation: silence and full scale.
    samples = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    samples = samples.reshape(-1, info.channels)
    return samples, WavInfo(info.sample_rate, info.channels, len(samples), info.sample_width, True)


def write_wav(path: Path, samples: Samples, sample_rate: int, overwrite: bool = False) -> None:
    """Write 16-bit PCM (samples shaped (frames,) or (frames, channels), clipped to [-1, 1]).

    The file appears whole or not at all (written beside it, then renamed), and an existing
    file is never replaced unless ``overwrite``.

    Raises:
        ConfigError: the file exists (and not ``overwrite``), or cannot be written.
    """
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    # The scale reading uses (2**15), so a 16-bit file read and written back is unchanged.
    ints = np.clip((data * 32768.0).round(), -32768, 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # The file object is opened here, not by ``wave``: a ``wave`` writer that fails to
        # open its file complains again when it is garbage collected.
        with open(tmp, "wb") as stream, wave.open(stream, "wb") as handle:
            handle.setnchannels(data.shape[1])
            handle.setsampwidth(2)
            handle.setframerate(int(sample_rate))
            handle.writeframes(ints.tobytes())
        if overwrite:
            os.replace(tmp, path)
        else:
            taken = ConfigError(
                f"{str(path)!r} already exists: choose another name or remove it first"
            )
            try:
                os.link(tmp, path)  # fails when the name is taken: never replaces a file
            except FileExistsError:
                raise taken from None
            except OSError:  # no hard links on this file system: check, then rename
                if path.exists():
                    raise taken from None
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
