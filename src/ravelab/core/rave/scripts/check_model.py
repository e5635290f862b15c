# mypy: disable-error-code="import-not-found,import-untyped,no-any-return"
"""Check that an exported RAVE ``.ts`` will play in nn~ (runs in RAVE's environment).

ravelab runs it as ``[python, check_model.py, --model M.ts, [--block B], [--seconds S]]``
and reads one JSON object per line on stdout: ``{"event": "progress", "stage": ...,
"fraction": ...}`` messages, then one ``{"event": "result", ...}``; or ``{"event":
"error", "kind": "environment", "message": ...}`` (exit 1) when torch cannot be imported.
A model that fails to load is a result with ``ok`` false, not an error.

What it checks, as nn~ uses a model: ``torch.jit.load``; the methods from ``get_methods()``
(else every ``<name>_params`` buffer); each method's params (4 whole numbers: in channels,
in ratio, out channels, out ratio); the attributes ``sr``, ``n_channels``,
``target_channels``, ``latent_size``, ``full_latent_size``; streaming or not (buffers named
``*.pad`` / ``*.cache``: cached convolutions' state); each method called once with zeros
``(1, in_ch, B // in_ratio)``, which must return float32 ``(1, out_ch, B // out_ratio)``;
then a stream of ``--seconds`` of a test signal (a sine sweep with a little noise) through
``forward`` in consecutive blocks of B samples (a power of two at least the compression
ratio, 4096 by default like nn~), each output checked the same way and for NaN or inf.
The result carries ``torch.__version__`` of this environment.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

ATTRIBUTES = ("sr", "n_channels", "target_channels", "latent_size", "full_latent_size")


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="check_model.py")
    parser.add_argument("--model", required=True)
    parser.add_argument("--block", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=2.0)
    return parser.parse_args(argv)


def scalar(value: Any) -> Any:
    """A TorchScript attribute as JSON (numbers, bools, strings; else its repr)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    try:
        return value.item()
    except Exception:
        return repr(value)[:80]


def list_methods(model: Any) -> list[str]:
    try:
        return [str(m) for m in model.get_methods()]
    except Exception:
        names = [name for name, _ in model.named_buffers() if name.endswith("_params")]
        return [name[: -len("_params")] for name in names if "." not in name]


def call_ok(output: Any, out_channels: int, length: int) -> str | None:
    """None when ``output`` is what nn~ accepts, else why not."""
    import torch

    if not isinstance(output, torch.Tensor):
        return f"returned {type(output).__name__}, not a tensor"
    if output.dtype != torch.float32:
        return f"returned {output.dtype}, not float32"
    shape = tuple(output.shape)
    if shape != (1, out_channels, length):
        return f"returned shape {list(shape)}, nn~ needs {[1, out_channels, length]}"
    if not bool(torch.isfinite(output).all()):
        return "returned NaN or inf"
    return None


def check(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_grad_enabled(False)
    problems: list[str] = []
    warnings: list[str] = []
    result: dict[str, Any] = {
        "event": "result",
        "torch_version": str(torch.__version__),
        "model": args.model,
        "problems": problems,
        "warnings": warnings,
    }
    emit(event="progress", stage="loading", fraction=0.0)
    try:
        model = torch.jit.load(args.model, map_location="cpu")
        model.eval()
    except Exception as error:
        text = str(error).strip().splitlines()
        problems.append(f"torch.jit.load fails: {text[0] if text else type(error).__name__}")
        result["ok"] = False
        return result
    attributes: dict[str, Any] = {}
    for name in ATTRIBUTES:
        if hasattr(model, name):
            attributes[name] = scalar(getattr(model, name))
    result["attributes"] = attributes
    buffers = [name for name, _ in model.named_buffers()]
    pads = [n for n in buffers if n.endswith((".pad", ".cache"))]
    # Cached convolutions keep their state in buffers named pad (CachedPadding1d) and
    # cache (CachedConvTranspose1d); a plain export has none (CachedSequential and
    # CachedPQMF exist in both kinds, so module names do not tell).
    result["streaming"] = bool(pads)
    result["cache_buffers"] = len(pads)
    if not result["streaming"]:
        warnings.append(
            "not a streaming export: in nn~ it is called block by block and clicks; "
            "export with --streaming for live use"
        )
    latent, full = attributes.get("latent_size"), attributes.get("full_latent_size")
    if latent == 1 and isinstance(full, int) and full > 1:
        warnings.append(
            "the export kept 1 latent dimension of "
            f"{full}: its checkpoint had no fidelity measured yet (exported before the "
            "first validation?)"
        )
    methods = list_methods(model)
    result["method_names"] = methods
    if not methods:
        problems.append("no methods nn~ can list (no get_methods(), no *_params buffers)")
    params: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    block = args.block
    for index, name in enumerate(methods):
        emit(event="progress", stage="methods", fraction=round(index / max(1, len(methods)), 3))
        try:
            raw = getattr(model, f"{name}_params")
            values = [int(v) for v in raw.tolist()]
        except Exception:
            problems.append(f"method {name}: no usable {name}_params buffer")
            continue
        params[name] = values
        if len(values) != 4 or min(values) < 1:
            problems.append(f"method {name}: params {values} are not 4 positive numbers")
            continue
        in_ch, in_ratio, out_ch, out_ratio = values
        if block % in_ratio or block % out_ratio:
            problems.append(f"method {name}: block {block} is not a multiple of its ratios")
            continue
        try:
            started = time.perf_counter()
            output = getattr(model, name)(torch.zeros(1, in_ch, block // in_ratio))
            elapsed = time.perf_counter() - started
        except Exception as error:
            text = str(error).strip().splitlines()
            problems.append(f"method {name} fails on zeros: {text[-1] if text else error}")
            continue
        why = call_ok(output, out_ch, block // out_ratio)
        checks[name] = {"ok": why is None, "ms": round(elapsed * 1000, 2)}
        if why:
            problems.append(f"method {name} {why}")
    result["params"] = params
    result["calls"] = checks
    if "forward" not in methods:
        problems.append("no forward method: nn~'s default method is forward")
    elif "forward" in params and len(params["forward"]) == 4:
        result["stream"] = stream_pass(model, params["forward"], attributes, args, problems)
    ratio = params.get("encode", [0, 0, 0, 0])[3] if "encode" in params else None
    result["ratio"] = ratio
    result["ok"] = not problems
    return result


def stream_pass(
    model: Any,
    params: list[int],
    attributes: dict[str, Any],
    args: argparse.Namespace,
    problems: list[str],
) -> dict[str, Any]:
    """``forward`` on a test signal, block after block, as nn~ calls it."""
    import torch

    in_ch, in_ratio, out_ch, out_ratio = params
    rate = attributes.get("sr") if isinstance(attributes.get("sr"), int) else 44100
    block = args.block
    count = max(1, math.ceil(args.seconds * rate / block))
    samples = count * block
    t = torch.arange(samples, dtype=torch.float64) / rate
    sweep = torch.sin(2 * math.pi * (110 * t + (2000 - 110) * t * t / (2 * samples / rate)))
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(samples, generator=generator, dtype=torch.float64) * 0.01
    signal = (0.5 * sweep + noise).to(torch.float32)[::in_ratio].repeat(in_ch, 1)[None]
    length = block // in_ratio
    peak = 0.0
    bad = 0
    started = time.perf_counter()
    for index in range(count):
        piece = signal[..., index * length : (index + 1) * length]
        try:
            output = model.forward(piece)
        except Exception as error:
            text = str(error).strip().splitlines()
            problems.append(f"forward fails on block {index}: {text[-1] if text else error}")
            bad += 1
            break
        why = call_ok(output, out_ch, block // out_ratio)
        if why:
            if not bad:
                problems.append(f"forward on block {index} {why}")
            bad += 1
        else:
            peak = max(peak, float(output.abs().max()))
        if index % 4 == 3 or index == count - 1:
            emit(event="progress", stage="streaming", fraction=round((index + 1) / count, 3))
    elapsed = time.perf_counter() - started
    seconds = samples / rate
    return {
        "block": block,
        "blocks": count,
        "bad_blocks": bad,
        "peak": peak,
        "ms_per_block": round(elapsed * 1000 / count, 2),
        "realtime_factor": round(seconds / elapsed, 2) if elapsed > 0 else None,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.block < 1 or args.block & (args.block - 1):
        emit(event="error", kind="input", message=f"block {args.block} is not a power of two")
        return 1
    try:
        import torch  # noqa: F401
    except ImportError as error:
        emit(event="error", kind="environment", message=f"RAVE's environment lacks torch: {error}")
        return 1
    emit(**check(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
