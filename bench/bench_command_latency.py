"""How long short `ravelab` commands take from exec to exit, next to a bare interpreter.

    python bench/bench_command_latency.py [--reps 7] [--before SRC_DIR]

Each command runs ``--reps`` times on an empty database (a fresh temporary folder), in
turn with the others so that a busy moment of the machine spreads over all of them, and
the median wall time is printed with its ratio to ``python -c pass``. ``--before`` also
runs the same commands from another source tree (for example a ``git worktree`` of an
earlier commit, its ``src`` folder), interleaved, so both are measured side by side.
The import times of the heavy libraries are printed too (``python -X importtime``).

The commands run as from an installed package: with compiled bytecode cached (written to
the source tree's ``__pycache__`` folders even where ``PYTHONDONTWRITEBYTECODE`` is set),
after one untimed run of each, so that compiling the sources is not what is measured.
"""

from __future__ import annotations

import argparse
import os
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


def run_once(args: list[str], src: Path, db: Path) -> float:
    env = child_env(src, db)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another source tree to measure alongside")
    args = parser.parse_args()
    trees = {"now": SRC}
    if args.before is not None:
        trees = {"before": args.before.resolve(), "now": SRC}
    times: dict[tuple[str, str], list[float]] = {}
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
                    times.setdefault((tree, name), []).append(run_once(command, src, db))
        base = statistics.median(times[("now", "python -c pass")])
        print(f"median of {args.reps}, ms (ratio to a bare `python -c pass`, {base * 1000:.0f} ms)")
        header = "".join(f"{tree:>18}" for tree in trees)
        print(f"{'command':<24}{header}")
        for name in COMMANDS:
            cells = ""
            for tree in trees:
                median = statistics.median(times[(tree, name)])
                cells += f"{median * 1000:>10.0f} ({median / base:4.1f}x)"
            print(f"{name:<24}{cells}")
        for tree, src in trees.items():
            db = Path(folder) / f"{tree}.db"
            loaded = heavy_imports(src, db, COMMANDS["ravelab list"][0:])
            listed = ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(loaded.items())) or "none"
            print(f"heavy libraries `ravelab list` imports ({tree}): {listed}")


if __name__ == "__main__":
    main()
