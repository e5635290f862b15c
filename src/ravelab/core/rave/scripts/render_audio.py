# mypy: disable-error-code="import-not-found,import-untyped,no-any-return"
"""Render an audio file through a RAVE checkpoint: encode, then decode (runs in RAVE's env).

ravelab never imports torch: it runs this file with the Python of RAVE's own environment,
as ``[python, render_audio.py, --config C, --checkpoint K, --input IN, --output OUT,
--channels N, [--streaming], [--block B]]``, and reads one JSON object per line on stdout:

* ``{"event": "progress", "stage": "loading"|"rendering", "fraction": 0.0-1.0}``
* ``{"event": "note", "message": "..."}``: something done to the audio (resampling,
  channels), in words;
* ``{"event": "result", ...}``: the last line of a good render (output, sample_rate,
  channels, frames, seconds, render_seconds, realtime_factor, delay_samples, latent,
  streaming, block, ratio, clipped_samples, peak, notes);
* ``{"event": "error", "kind": "environment"|"input"|"model", "message": "..."}``, exit 1.

What it does, like ``rave export`` builds a model: ``cc.use_cached_conv(streaming)`` before
anything is built, the run's ``config.gin``, ``RAVE.n_channels`` bound when the run has more
than one channel (RAVE 2.3.1 leaves it out of config.gin), ``rave.RAVE()``, the checkpoint's
``state_dict`` loaded with ``strict=False``, ``eval()``, no gradients. The checkpoint is a
pickle, loaded like ``rave export`` loads it: only render checkpoints you trust.

The latent is the deterministic one: the mean half of a variational encoder's output (other
encoders: their own ``reparametrize``), so the same file renders the same way twice, except
for the noise a decoder's noise generator adds (v2_small has one).

Offline: the whole file in one call, padded with zeros to a multiple of the compression
ratio and cropped back. Streaming: consecutive blocks of ``--block`` samples (a power of two
at least the ratio, 4096 by default like nn~), in order, through cached convolutions, as nn~
plays a streaming export; the output keeps the stream's latency (not compensated, reported
as unknown: ``delay_samples`` is null) and is cropped to the input's length.

Input: WAV (read with soundfile when RAVE's environment has it, else scipy, else the wave
module), resampled to the model's rate with scipy's polyphase filter; a mono model gets the
mean of the channels, a stereo model given mono gets it on both channels. Output: 32-bit
float WAV at the model's rate (an untrained model's output may be far below 16-bit's
resolution), written to a temporary name and renamed; samples beyond +-1 are counted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time
import wave
from pathlib import Path
from typing import Any

DEFAULT_BLOCK = 4096


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


class Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="render_audio.py")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--streaming", action="store_true")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    return parser.parse_args(argv)


def read_audio(path: Path) -> tuple[Any, int]:
    """(frames, channels) float32 array and the sample rate."""
    import numpy as np

    try:
        import soundfile

        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except ImportError:
        pass
    except Exception as error:  # soundfile's own error types vary between versions
        raise Failure("input", f"cannot read {path}: {error}") from None
    try:
        from scipy.io import wavfile

        rate, data = wavfile.read(str(path))
        if data.dtype.kind in "iu":
            info = np.iinfo(data.dtype)
            data = (data.astype(np.float64) - (info.max + info.min + 1) / 2) / (
                (info.max - info.min + 1) / 2
            )
        data = np.asarray(data, dtype=np.float32)
        return (data[:, None] if data.ndim == 1 else data), int(rate)
    except ImportError:
        pass
    with wave.open(str(path), "rb") as handle:
        width, channels = handle.getsampwidth(), handle.getnchannels()
        raw = handle.readframes(handle.getnframes())
        rate = handle.getframerate()
    if width != 2:
        raise Failure("input", f"{path}: only 16-bit WAV can be read without soundfile/scipy")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels), rate


def write_wav(path: Path, audio: Any, rate: int) -> int:
    """Write (channels, frames) audio as a 32-bit float WAV; return how many samples lie
    beyond +-1 (kept as they are: a float WAV does not clip, a player may)."""
    import numpy as np

    audio = np.asarray(audio, dtype="<f4")
    clipped = int(np.count_nonzero(np.abs(audio) > 1.0))
    channels, frames = audio.shape
    data = np.ascontiguousarray(audio.T).tobytes()
    # WAVE_FORMAT_IEEE_FLOAT (3): an 18-byte fmt chunk and a fact chunk (frames).
    fmt = struct.pack("<HHIIHHH", 3, channels, rate, rate * channels * 4, channels * 4, 32, 0)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<II", 4, frames)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(temporary, "wb") as handle:
            handle.write(b"RIFF" + struct.pack("<I", len(body)) + body)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return clipped


def resample(audio: Any, source: int, target: int) -> Any:
    """(channels, frames) from ``source`` Hz to ``target`` Hz."""
    import numpy as np

    try:
        from scipy.signal import resample_poly
    except ImportError:
        frames = audio.shape[1]
        length = max(1, round(frames * target / source))
        positions = np.linspace(0, frames - 1, length)
        return np.stack([np.interp(positions, np.arange(frames), c) for c in audio])
    divisor = math.gcd(source, target)
    return resample_poly(audio, target // divisor, source // divisor, axis=1).astype(np.float32)


def build_model(args: argparse.Namespace) -> Any:
    import cached_conv as cc
    import gin
    import rave
    import torch

    cc.use_cached_conv(args.streaming)  # read when each layer is built: before rave.RAVE()
    try:
        gin.parse_config_file(str(args.config))
        if args.channels > 1 and "n_channels" not in args.config.read_text(errors="replace"):
            gin.bind_parameter("RAVE.n_channels", args.channels)
    except Exception as error:
        raise Failure("model", f"cannot read the run's config {args.config}: {error}") from None
    try:
        model = rave.RAVE()
    except Exception as error:
        raise Failure("model", f"cannot build the model from {args.config}: {error}") from None
    try:
        checkpoint = torch.load(str(args.checkpoint), map_location="cpu", weights_only=False)
        state = checkpoint["state_dict"]
    except Exception as error:
        raise Failure("model", f"cannot read the checkpoint {args.checkpoint}: {error}") from None
    try:
        result = model.load_state_dict(state, strict=False)
    except Exception as error:  # shapes that do not match the config (channels...)
        first = str(error).strip().splitlines()
        raise Failure(
            "model",
            f"the checkpoint does not fit the run's config: {' '.join(first[:2])}",
        ) from None
    if result.missing_keys:
        emit(
            event="note",
            message=f"{len(result.missing_keys)} weights missing from the checkpoint "
            "(left at their initial values)",
        )
    return model.eval()


def latent(model: Any, x: Any) -> Any:
    """The deterministic latent: a variational encoder's mean half, else reparametrize."""
    z = model.encode(x)
    if type(model.encoder).__name__ == "VariationalEncoder":
        return z[:, : z.shape[1] // 2]
    return model.encoder.reparametrize(z)[0]


def compression_ratio(model: Any, channels: int) -> int:
    import torch

    probe = 2**14
    frames = model.encode(torch.zeros(1, channels, probe)).shape[-1]
    return max(1, probe // max(1, frames))


def reset_caches(model: Any) -> None:
    """Zero cached_conv's caches: a stream starts again from silence, as after loading."""
    for module in model.modules():
        for name in ("pad", "cache"):
            buffer = module._buffers.get(name)
            if buffer is not None:
                buffer.zero_()


def render(args: argparse.Namespace) -> dict[str, Any]:
    emit(event="progress", stage="loading", fraction=0.0)
    try:
        import numpy as np
        import torch
    except ImportError as error:
        raise Failure("environment", f"RAVE's environment lacks {error.name}: {error}") from None
    torch.set_grad_enabled(False)
    audio, source_rate = read_audio(args.input)
    audio = np.ascontiguousarray(audio.T)  # (channels, frames)
    frames_in, channels_in = audio.shape[1], audio.shape[0]
    if frames_in == 0:
        raise Failure("input", f"{args.input} holds no audio frames")
    try:
        import cached_conv  # noqa: F401
        import gin  # noqa: F401
        import rave  # noqa: F401
    except ImportError as error:
        raise Failure("environment", f"RAVE's environment lacks {error.name}: {error}") from None
    if args.streaming:
        block = args.block
        if block < 1 or block & (block - 1):
            raise Failure("input", f"block {block} is not a power of two")
    model = build_model(args)
    notes: list[str] = []
    rate = int(model.sr)
    channels = int(getattr(model, "n_channels", args.channels))
    if channels_in != channels:
        if channels == 1:
            audio = audio.mean(axis=0, keepdims=True)
            notes.append(f"mixed {channels_in} channels down to mono (the model is mono)")
        elif channels_in == 1:
            audio = np.repeat(audio, channels, axis=0)
            notes.append(f"mono input copied to {channels} channels (the model has {channels})")
        else:
            raise Failure("input", f"{channels_in}-channel input for a {channels}-channel model")
    if source_rate != rate:
        audio = resample(audio, source_rate, rate)
        notes.append(f"resampled from {source_rate} Hz to {rate} Hz (the model's rate)")
    for note in notes:
        emit(event="note", message=note)
    frames = audio.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
    ratio = compression_ratio(model, channels)
    if args.streaming:
        reset_caches(model)  # the probe above left its state in the caches
        if block < ratio or block % ratio:
            raise Failure(
                "input",
                f"block {block} is not a multiple of the model's compression ratio {ratio}: "
                f"give --block {max(ratio, DEFAULT_BLOCK)}",
            )
    else:
        block = 0
    emit(event="progress", stage="rendering", fraction=0.0)
    started = time.perf_counter()
    if args.streaming:
        padded = math.ceil(frames / block) * block
        x = torch.nn.functional.pad(x, (0, padded - frames))
        outputs = []
        count = padded // block
        for index in range(count):
            piece = x[..., index * block : (index + 1) * block]
            outputs.append(model.decode(latent(model, piece)))
            if index % 8 == 7 or index == count - 1:
                emit(event="progress", stage="rendering", fraction=round((index + 1) / count, 4))
        y = torch.cat(outputs, -1)
    else:
        padded = math.ceil(frames / ratio) * ratio
        y = model.decode(latent(model, torch.nn.functional.pad(x, (0, padded - frames))))
        emit(event="progress", stage="rendering", fraction=1.0)
    elapsed = time.perf_counter() - started
    out = y[0, :, :frames].numpy().astype(np.float32)
    clipped = write_wav(args.output, out, rate)
    seconds = frames / rate
    return {
        "event": "result",
        "output": str(args.output),
        "sample_rate": rate,
        "channels": int(out.shape[0]),
        "frames": int(out.shape[1]),
        "seconds": seconds,
        "render_seconds": elapsed,
        "realtime_factor": seconds / elapsed if elapsed > 0 else None,
        "delay_samples": None,
        "latent": "mean",
        "streaming": bool(args.streaming),
        "block": block or None,
        "ratio": ratio,
        "clipped_samples": clipped,
        "peak": float(np.abs(out).max()),
        "notes": notes,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        emit(**render(args))
    except Failure as failure:
        emit(event="error", kind=failure.kind, message=str(failure))
        return 1
    except MemoryError:
        emit(event="error", kind="input", message=f"{args.input} is too long to render at once")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
