"""``ravelab gpus [--watch] [--json]``: what each NVIDIA GPU is doing, and which ravelab
runs train on it.

Read through NVML (``core.operations.gpu_monitor``). On a machine without a GPU it prints
``No NVIDIA GPU: <reason>`` and exits 0: that is an answer, not an error. ``--watch``
redraws every 2 s until Ctrl-C (exit 0). ``--json`` prints one object (one per line with
``--watch``) whose shape is stable::

    {"available": true, "reason": null, "kind": null, "driver": "550.54.15",
     "gpus": [{"index": 0, "name": "...", "utilization_pct": 97.0,
               "memory_used_mib": 20000.0, "memory_total_mib": 24564.0,
               "temperature_c": 71.0, "power_w": 380.5,
               "processes": [{"pid": 1234, "memory_mib": 19000.0}],
               "problems": [], "runs": [{"id": 3, "name": "drums"}]}]}

``available`` false comes with ``reason`` and ``kind`` (see ``gpu_monitor.NoGpu``) and no
GPUs. A value the GPU does not report is null.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import table
from ravelab.core.operations.gpu_monitor import GpuReading, GpuState, NoGpu, read_gpus
from ravelab.core.operations.gpu_sampling import sampled_runs

#: Seconds between two redraws of ``--watch``.
WATCH_INTERVAL_S = 2.0
_CLEAR = "\x1b[H\x1b[2J"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gpus = subparsers.add_parser(
        "gpus",
        help="show what each NVIDIA GPU is doing and which runs train on it",
        description="Utilisation, memory, temperature and power of each NVIDIA GPU (read "
        "through NVML), with the ravelab runs of this machine that train on it.",
    )
    gpus.add_argument("--watch", action="store_true", help="redraw every 2 s until Ctrl-C")
    gpus.add_argument("--json", action="store_true", help="print JSON (a line per redraw)")
    gpus.set_defaults(handler=cmd_gpus)


def runs_by_gpu(ctx: Context) -> dict[int, list[tuple[int, str]]]:
    """The live local runs on each GPU index, as (id, name)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for record, index in sampled_runs(ctx.db):
        found.setdefault(index, []).append((record.id, record.name))
    return found


def as_json(state: GpuState, runs: dict[int, list[tuple[int, str]]]) -> dict[str, Any]:
    """The stable JSON shape of one reading (see the module docstring)."""
    if isinstance(state, NoGpu):
        return {"available": False, "reason": state.reason, "kind": state.kind, "driver": None,
                "gpus": []}  # fmt: skip
    return {
        "available": True,
        "reason": None,
        "kind": None,
        "driver": state.driver,
        "gpus": [
            {
                "index": gpu.index,
                "name": gpu.name,
                "utilization_pct": gpu.utilization_pct,
                "memory_used_mib": gpu.memory_used_mib,
                "memory_total_mib": gpu.memory_total_mib,
                "temperature_c": gpu.temperature_c,
                "power_w": gpu.power_w,
                "processes": [{"pid": p.pid, "memory_mib": p.memory_mib} for p in gpu.processes],
                "problems": list(gpu.problems),
                "runs": [{"id": i, "name": n} for i, n in runs.get(gpu.index, [])],
            }
            for gpu in state.gpus
        ],
    }


def _value(value: float | None, unit: str, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _memory(gpu: GpuReading) -> str:
    used, total = gpu.memory_used_mib, gpu.memory_total_mib
    if used is None and total is None:
        return "-"
    return f"{_value(used, '')} / {_value(total, '')} MiB"


def as_text(state: GpuState, runs: dict[int, list[tuple[int, str]]]) -> str:
    """The table (or the "No NVIDIA GPU" line) of one reading."""
    if isinstance(state, NoGpu):
        return f"No NVIDIA GPU: {state.reason}\n"
    rows = [
        (
            gpu.index,
            gpu.name,
            _value(gpu.utilization_pct, "%"),
            _memory(gpu),
            _value(gpu.temperature_c, " C"),
            _value(gpu.power_w, " W"),
            ", ".join(f"{name} ({i})" for i, name in runs.get(gpu.index, [])) or "-",
        )
        for gpu in state.gpus
    ]
    text = table(("GPU", "NAME", "UTIL", "MEMORY", "TEMP", "POWER", "RAVELAB RUNS"), rows)
    notes = [f"GPU {gpu.index}: {problem}" for gpu in state.gpus for problem in gpu.problems]
    return text + "\n" + "".join(f"note: {note}\n" for note in notes)


def _draw(ctx: Context, clear: bool) -> None:
    state = read_gpus()
    runs = runs_by_gpu(ctx)
    if ctx.args.json:
        ctx.out.write(json.dumps(as_json(state, runs), indent=None if ctx.args.watch else 2))
        ctx.out.write("\n")
    else:
        ctx.out.write((_CLEAR if clear else "") + as_text(state, runs))
    ctx.out.flush()


def cmd_gpus(ctx: Context) -> int:
    ctx.settle()  # runs that ended meanwhile are not shown on a GPU
    if not ctx.args.watch:
        _draw(ctx, clear=False)
        return ExitCode.OK
    clear = not ctx.args.json and ctx.out.isatty()
    try:
        while True:
            _draw(ctx, clear)
            if not clear and not ctx.args.json:
                ctx.out.write("\n")
            time.sleep(WATCH_INTERVAL_S)
    except KeyboardInterrupt:
        return ExitCode.OK  # how a watch ends: no traceback, no "interrupted"
