"""Reading and writing the plain PCM WAV files that clips and renders are made of.

Everything read here may be damaged or hostile (a clip in a run folder, a user's file), so
reading checks the header (PCM, 8/16/24/32-bit, 1-64 channels, a sane rate) and a size cap
before any sample is decoded, and every failure is a :class:`~ravelab.core.errors.ConfigError`
naming the file. Python's own ``wave`` module does the parsing: these files need nothing more.
"""

from __future__ import annotations

import os
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

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says."""

    sample_rate: int
    channels: int
    frames: int
    sample_width: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _open(path: Path) -> wave.Wave_read:
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
        raise ConfigError(
            f"{str(path)!r} is not a PCM WAV file ({error}): convert it, for example with "
            "`ffmpeg -i INPUT -c:a pcm_s16le OUTPUT.wav`"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None


def _checked(path: Path, handle: wave.Wave_read) -> WavInfo:
    info = WavInfo(
        handle.getframerate(), handle.getnchannels(), handle.getnframes(), handle.getsampwidth()
    )
    if not _RATES[0] <= info.sample_rate <= _RATES[1]:
        raise ConfigError(f"{str(path)!r} says its sample rate is {info.sample_rate} Hz: not audio")
    if not 1 <= info.channels <= 64 or info.sample_width not in (1, 2, 3, 4):
        raise ConfigError(
            f"{str(path)!r} has {info.channels} channels of {info.sample_width} bytes: "
            "expected 1-64 channels of 8, 16, 24 or 32-bit PCM"
        )
    return info


def read_info(path: Path) -> WavInfo:
    """The header of a WAV file, checked.

    Raises:
        ConfigError: not a readable PCM WAV, or out of range.
    """
    with _open(path) as handle:
        return _checked(path, handle)


def read_wav(path: Path) -> tuple[Samples, WavInfo]:
    """Samples as float32 in [-1, 1], shaped (frames, channels), and the header.

    Raises:
        ConfigError: not a readable PCM WAV, or out of range.
    """
    with _open(path) as handle:
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
