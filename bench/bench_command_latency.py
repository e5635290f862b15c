"""How long short `ravelab` commands take from exec to exit, next to a bare interpreter.

    python bench/bench_command_latency.py [--reps 7] [--before SRC_DIR]

Each command runs ``--reps`` times on an empty database (a fresh temporary folder), in
turn with the others so that a busy moment of the machine spreads over all of them, and
the median wall time is printed with its ratio to ``python -c pass``. ``--before`` also
runs the same commands from another source tree (for example a ``git worktree`` of an
earlier commit, its ``src`` folder), interleaved, so both are measured side by side.
The import times of the heavy libraries are printed too (``python -X importtime``).
A second table gives the CPU time (user + system) each command's process used: on a busy
machine the wall times wander with the load, the CPU times much less.

The commands run as from an installed package: with compiled bytecode cached (written to
the source tree's ``__pycache__`` folders even where ``PYTHONDONTWRITEBYTECODE`` is set),
after one untimed run of each, so that compiling the sources is not what is measured.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "ravelab --help": ["-m", "ravelab", "--help"],
    "ravelab list": ["-m", "ravelab", "list"],
    "ravelab show 1": ["-m", "ravelab", "show", "1"],
    "ravelab dataset list": ["-m", "ravelab", "dataset", "list"],
    "ravelab --version": ["-m", "ravelab", "--version"],
}

HEAVY = ("numpy", "matplotlib", "google.protobuf", "tensorboard", "yaml", "psutil", "psygnal")


def child_env(src: Path, db: Path) -> dict[str, str]:
    """The environment of a timed command: ``src`` first on the path, bytecode cached."""
    env = dict(os.environ, PYTHONPATH=str(src), RAVELAB_DB=str(db))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str], src: Path, db: Path) -> tuple[float, float]:
    """The wall time and the CPU time of one run of a command."""
    env = child_env(src, db)
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def heavy_imports(src: Path, db: Path, args: list[str]) -> dict[str, float]:
    """Cumulative import time (ms) of each heavy top-level library a command loads."""
    env = child_env(src, db)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        if name in HEAVY and cumulative.isascii() and cumulative.isdigit():
            found[name] = int(cumulative) / 1000
    return found


def print_table(
    what: str, table: dict[tuple[str, str], list[float]], trees: list[str], reps: int
) -> None:
    """Medians (ms) per command and tree, with their ratio to a bare interpreter."""
    base = statistics.median(table[("now", "python -c pass")])
    print(
        f"{what} time, median of {reps}, ms "
        f"(ratio to a bare `python -c pass`, {base * 1000:.0f} ms)"
    )
    header = "".join(f"{tree:>18}" for tree in trees)
    print(f"{'command':<24}{header}")
    for name in COMMANDS:
        cells = ""
        for tree in trees:
            median = statistics.median(table[(tree, name)])
            cells += f"{median * 1000:>10.0f} ({median / base:4.1f}x)"
        print(f"{name:<24}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another source tree to measure alongside")
    args = parser.parse_args()
    trees = {"now": SRC}
    if args.before is not None:
        trees = {"before": args.before.resolve(), "now": SRC}
    times: dict[tuple[str, str], list[float]] = {}
    cpu_times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for tree, src in trees.items():
            # An empty database, created (and migrated) once before timing; each command
            # run once untimed, which caches its bytecode.
            db = Path(folder) / f"{tree}.db"
            for command in COMMANDS.values():
                run_once(command, src, db)
        for _ in range(args.reps):
            for name, command in COMMANDS.items():
                for tree, src in trees.items():
                    db = Path(folder) / f"{tree}.db"
                    wall, cpu = run_once(command, src, db)
                    times.setdefault((tree, name), []).append(wall)
                    cpu_times.setdefault((tree, name), []).append(cpu)
        for what, table in (("wall", times), ("CPU", cpu_times)):
            print_table(what, table, list(trees), args.reps)
        for tree, src in trees.items():
            db = Path(folder) / f"{tree}.db"
            loaded = heavy_imports(src, db, COMMANDS["ravelab list"][0:])
            listed = ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(loaded.items())) or "none"
            print(f"heavy libraries `ravelab list` imports ({tree}): {listed}")


if __name__ == "__main__":
    main()
