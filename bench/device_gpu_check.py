"""The GPU monitoring against a real NVIDIA GPU: NVML's readings, and the sampler seeing a
load it did not make up.

    python bench/device_gpu_check.py [--gpu 0] [--load-seconds 20]

1. Prints what ``read_gpus`` reads (every GPU; a "no GPU" answer with its reason ends the
   check with exit status 2).
2. If torch with CUDA is importable: starts a child process that multiplies 4096 x 4096
   matrices on the GPU for ``--load-seconds`` (about 200 MB of GPU memory) and carries a
   run marker in its environment, as a trainer does; records it as a live local run on
   that GPU in a throwaway database; and ticks the warden's ``GpuDuty`` once a second,
   moving the run's step. It then checks the stored series: ``gpu/utilization`` rose
   (its highest sample at least 30 % and above the idle reading), and
   ``gpu/run_memory_mib`` found the child's memory (a 0 there is reported, not failed:
   inside a container NVML may report the host's pids).
3. Without torch it stops after step 1 (exit 0): the readings alone.

Exit status 0 when every check held, 1 when one failed, 2 without a GPU. Safe on a shared
machine: a short load on one GPU, a temporary folder, nothing else touched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ravelab.core.operations.duties import WardenContext
from ravelab.core.operations.gpu_monitor import GpuSnapshot, NoGpu, read_gpus
from ravelab.core.operations.gpu_sampling import GpuDuty
from ravelab.core.runs.run_files import RUN_MARKER_ENV, marker_value
from ravelab.db import Database
from ravelab.db import experiments as rows

LOAD = """
import sys, time, torch
device = torch.device(f"cuda:{int(sys.argv[1])}")
a = torch.randn(4096, 4096, device=device)
b = torch.randn(4096, 4096, device=device)
print("loaded", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    for _ in range(20):
        c = a @ b
    torch.cuda.synchronize(device)
print("done", flush=True)
"""


def _has_cuda_torch() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], timeout=120, stderr=subprocess.DEVNULL, check=False
        )
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", type=int, default=0)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    args = parser.parse_args()

    started = time.monotonic()
    state = read_gpus()
    print(f"read_gpus: {time.monotonic() - started:.3f} s")
    if isinstance(state, NoGpu):
        print(f"NO GPU: {state.kind}: {state.reason}")
        return 2
    print(f"driver {state.driver}")
    for gpu in state.gpus:
        print(json.dumps(asdict(gpu)))
    idle = state.gpu(args.gpu)
    if idle is None:
        print(f"FAIL: no GPU {args.gpu}")
        return 1
    if not _has_cuda_torch():
        print("torch with CUDA not importable: readings only")
        return 0

    failures: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        run_dir.mkdir()
        env = {**os.environ, RUN_MARKER_ENV: marker_value(run_dir)}
        child = subprocess.Popen(
            [sys.executable, "-c", LOAD, str(args.gpu), str(args.load_seconds)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        db = Database(Path(folder) / "check.db")
        try:
            print("child:", child.stdout.readline().strip())
            run = rows.insert_experiment(
                db, name="gpu-check", project_id=1, dataset_id=None,
                config={"gpu": args.gpu}, status="running",
            )  # fmt: skip
            rows.update_fields(db, run, pid=child.pid, run_dir=str(run_dir), executor="local")
            duty = GpuDuty()
            step = 0
            while child.poll() is None and step < 600:
                rows.merge_progress(db, run, {"step": step})
                duty.tick(WardenContext(db=db, manager=None, now=time.time()))  # type: ignore[arg-type]
                step += 1
                time.sleep(1.0)
            series = {
                name: [value for _, value in rows.metric_history(db, run, name)]
                for name in rows.metric_names(db, run)
            }
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=60)
            db.close()
    for name, values in sorted(series.items()):
        shown = f"min {min(values):.1f} max {max(values):.1f}" if values else "none"
        print(f"{name}: {len(values)} samples, {shown}")
    utilization = series.get("gpu/utilization", [])
    before = idle.utilization_pct or 0.0
    if not utilization or max(utilization) < max(30.0, before + 1):
        failures.append(f"utilisation did not rise (idle {before:.0f}%, samples {utilization})")
    memory = series.get("gpu/run_memory_mib", [])
    if not memory:
        failures.append("no gpu/run_memory_mib sample")
    elif max(memory) <= 0:
        print("NOTE: the load's process was not found among NVML's (a container's pids?)")
    for name in ("gpu/memory_used_mib", "gpu/temperature_c", "gpu/power_w"):
        if not series.get(name):
            print(f"NOTE: no {name} samples (not supported by this board?)")
    after = read_gpus()
    if not isinstance(after, GpuSnapshot):
        failures.append(f"NVML stopped answering: {after.reason}")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("OK" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
