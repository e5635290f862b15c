"""A test double of the Python inside RAVE's environment, for ravelab's two scripts.

``write_rave_env(directory)`` makes ``directory/bin/python`` (this double) and
``directory/bin/rave`` (the usual ``rave`` double, whose ``#!`` line names that python, as
a console script's does). Run as ``python SCRIPT ARGS``:

* ``.../render_audio.py``: parses the script's own arguments, reads the input WAV (16-bit
  PCM or 32-bit float) with numpy, mixes or copies channels and resamples (linear) the way
  the real script says it does, and writes a real 32-bit float WAV at the model's rate
  (SAMPLING_RATE of the run's config.gin): ``0.5 * tanh(input)``, so the output is neither
  silent nor the input. It emits the same JSON lines (progress, notes, result).
* ``.../check_model.py``: reads the ``.ts`` the ``rave export`` double wrote (a ZIP with
  ``fake_torchscript/info.json``) and emits the result a real check gives such a model
  (streaming from info.json, torch ``2.9.1+cu128``); anything else fails to load, as
  ``torch.jit.load`` would.
* anything else (``rave`` itself, ``-c CODE``): runs with the real interpreter.

It never imports torch. Knobs (environment; not ``FAKE_RAVE_*``, which the ``rave`` double
refuses when it does not know them):

* ``FAKE_ENV_FAIL=environment|model|crash``: the script reports RAVE's environment
  lacking torch, a checkpoint that does not fit, or dies with a traceback (exit 1).
* ``FAKE_ENV_TORCH``: the torch version reported (default ``2.9.1+cu128``).
* ``FAKE_ENV_PROBLEM``: a problem the check reports (the model then fails).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import runpy
import stat
import struct
import sys
import wave
import zipfile
from pathlib import Path
from typing import Any

TORCH = "2.9.1+cu128"


def write_rave_env(directory: Path) -> Path:
    """Write ``directory/bin/python`` and ``directory/bin/rave``; return the rave path."""
    root = Path(__file__).resolve().parent.parent.parent
    bin_dir = Path(directory) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python"
    python.write_text(
        f"#!{sys.executable}\n"
        '"""The fake Python of RAVE\'s environment (tests/fake_rave/env_python.py)."""\n'
        "import sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from tests.fake_rave.env_python import main\n"
        "sys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    rave = bin_dir / "rave"
    rave.write_text(
        f"#!{python}\n"
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        f"runpy.run_path({str(root / 'tests' / 'fake_rave' / 'rave_cli.py')!r}, "
        "run_name='__main__')\n",
        encoding="utf-8",
    )
    for path in (python, rave):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return rave


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(argv: list[str]) -> int:
    if argv and argv[0].endswith("render_audio.py"):
        return fake_render(argv[1:])
    if argv and argv[0].endswith("check_model.py"):
        return fake_check(argv[1:])
    if argv and argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
        return 0
    if argv:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")
        return 0
    print("the fake RAVE Python runs scripts only", file=sys.stderr)
    return 2


def _fail_knob() -> int | None:
    fail = os.environ.get("FAKE_ENV_FAIL")
    if fail == "environment":
        emit(
            event="error",
            kind="environment",
            message="RAVE's environment lacks torch: No module named 'torch'",
        )
        return 1
    if fail == "crash":
        print(
            'Traceback (most recent call last):\n  File "<fake>", line 1\nRuntimeError: fake crash',
            file=sys.stderr,
        )
        return 1
    return None


def read_wav(path: Path) -> tuple[Any, int]:
    """(channels, frames) float array and the rate of a 16-bit PCM or 32-bit float WAV."""
    import numpy as np

    try:
        with wave.open(str(path), "rb") as handle:
            raw = handle.readframes(handle.getnframes())
            channels, rate = handle.getnchannels(), handle.getframerate()
            data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    except wave.Error:
        blob = path.read_bytes()
        fmt = blob.index(b"fmt ")
        _, channels, rate = struct.unpack("<HHI", blob[fmt + 8 : fmt + 16])
        start = blob.index(b"data") + 8
        size = struct.unpack("<I", blob[start - 4 : start])[0]
        data = np.frombuffer(blob[start : start + size], dtype="<f4")
    return data.reshape(-1, channels).T, rate


def write_float_wav(path: Path, audio: Any, rate: int) -> None:
    import numpy as np

    audio = np.asarray(audio, dtype="<f4")
    channels, frames = audio.shape
    data = np.ascontiguousarray(audio.T).tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, rate, rate * channels * 4, channels * 4, 32, 0)
    body = (
        b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<II", 4, frames)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def fake_render(argv: list[str]) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(prog="render_audio.py")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--streaming", action="store_true")
    parser.add_argument("--block", type=int, default=4096)
    args = parser.parse_args(argv)
    emit(event="progress", stage="loading", fraction=0.0)
    failed = _fail_knob()
    if failed is not None:
        return failed
    if os.environ.get("FAKE_ENV_FAIL") == "model":
        emit(
            event="error",
            kind="model",
            message="the checkpoint does not fit the run's "
            "config: Error(s) in loading state_dict for RAVE:",
        )
        return 1
    if not args.checkpoint.is_file():
        emit(event="error", kind="model", message=f"cannot read the checkpoint {args.checkpoint}")
        return 1
    match = re.search(r"^SAMPLING_RATE\s*=\s*(\d+)", args.config.read_text(), re.MULTILINE)
    rate = int(match.group(1)) if match else 44100
    audio, source = read_wav(args.input)
    notes = []
    channels_in = audio.shape[0]
    if channels_in != args.channels:
        if args.channels == 1:
            audio = audio.mean(axis=0, keepdims=True)
            notes.append(f"mixed {channels_in} channels down to mono (the model is mono)")
        else:
            audio = np.repeat(audio, args.channels, axis=0)
            notes.append(
                f"mono input copied to {args.channels} channels (the model has {args.channels})"
            )
    if source != rate:
        frames = audio.shape[1]
        length = max(1, round(frames * rate / source))
        positions = np.linspace(0, frames - 1, length)
        audio = np.stack([np.interp(positions, np.arange(frames), c) for c in audio])
        notes.append(f"resampled from {source} Hz to {rate} Hz (the model's rate)")
    for note in notes:
        emit(event="note", message=note)
    ratio = 512
    emit(event="progress", stage="rendering", fraction=0.0)
    if args.streaming:
        count = math.ceil(audio.shape[1] / args.block)
        for index in range(count):
            if index % 8 == 7 or index == count - 1:
                emit(event="progress", stage="rendering", fraction=round((index + 1) / count, 4))
    else:
        emit(event="progress", stage="rendering", fraction=1.0)
    out = (0.5 * np.tanh(audio)).astype(np.float32)
    write_float_wav(args.output, out, rate)
    seconds = out.shape[1] / rate
    emit(
        event="result",
        output=str(args.output),
        sample_rate=rate,
        channels=int(out.shape[0]),
        frames=int(out.shape[1]),
        seconds=seconds,
        render_seconds=seconds / 20,
        realtime_factor=20.0,
        delay_samples=None,
        latent="mean",
        streaming=args.streaming,
        block=args.block if args.streaming else None,
        ratio=ratio,
        clipped_samples=0,
        peak=float(np.abs(out).max()),
        notes=notes,
    )
    return 0


def fake_check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check_model.py")
    parser.add_argument("--model", required=True)
    parser.add_argument("--block", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    failed = _fail_knob()
    if failed is not None:
        return failed
    torch = os.environ.get("FAKE_ENV_TORCH", TORCH)
    emit(event="progress", stage="loading", fraction=0.0)
    result: dict[str, Any] = {
        "event": "result",
        "torch_version": torch,
        "model": args.model,
        "problems": [],
        "warnings": [],
    }
    try:
        with zipfile.ZipFile(args.model) as archive:
            info = json.loads(archive.read("fake_torchscript/info.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        result["problems"].append(f"torch.jit.load fails: {error}")
        result["ok"] = False
        emit(**result)
        return 0
    channels, target = int(info["n_channels"]), int(info["channels"])
    streaming = bool(info["streaming"])
    params = {
        "encode": [channels, 1, 8, 512],
        "decode": [8, 512, target, 1],
        "forward": [channels, 1, target, 1],
    }
    result.update(
        attributes={
            "sr": int(info["sr"]),
            "n_channels": channels,
            "target_channels": target,
            "latent_size": 8,
            "full_latent_size": 128,
        },
        streaming=streaming,
        cache_buffers=162 if streaming else 0,
        method_names=list(params),
        params=params,
        calls={name: {"ok": True, "ms": 5.0} for name in params},
        stream={
            "block": args.block,
            "blocks": 22,
            "bad_blocks": 0,
            "peak": 0.3,
            "ms_per_block": 8.0,
            "realtime_factor": 11.6,
        },
        ratio=512,
    )
    if not streaming:
        result["warnings"].append(
            "not a streaming export: in nn~ it is called block by block and clicks; "
            "export with --streaming for live use"
        )
    problem = os.environ.get("FAKE_ENV_PROBLEM")
    if problem:
        result["problems"].append(problem)
    result["ok"] = not result["problems"]
    emit(event="progress", stage="streaming", fraction=1.0)
    emit(**result)
    return 0
