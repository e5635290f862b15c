"""Benchmark: what following a remote run costs per poll, over a real ssh connection.

    .venv/bin/python bench/bench_ssh_pull.py [--rounds 5] [--sizes-mib 1 16 128]
        [--host ravelab-test] [--ssh-config FILE]

Not a test: it prints figures and asserts nothing about time. It needs an OpenSSH server
(``bash .ci/ssh.sh start`` runs one on this machine; ``bash .ci/ssh.sh env`` prints the
``RAVELAB_SSH_CONFIG`` and ``RAVELAB_SSH_HOST`` it reads by default). On the remote it
makes a folder of its own, ``ravelab/bench-<random>`` in the remote user's home, and
removes it at the end; the local copies go under a ``tempfile.mkdtemp()`` folder, removed
too. It measures, side by side in one run:

1. Pull cost against new bytes, not file size. For each size S, a run folder holds an
   ``events.out.tfevents.1.x`` of S random bytes and a ``stdout.log``. It is pulled once
   with ``sync.pull_run`` (a full copy, timed), then, ``--rounds`` times, 16 KiB is
   appended to the event file on the remote and the run pulled again: the wall time and
   ``Transfer.received`` of each incremental pull. The incremental cost should stay flat
   as S grows (``--append`` sends only the new bytes).
2. The same 16 KiB append pulled, for the largest size, by a plain ``rsync -rt`` without
   ``--append`` (what a naive mirror does), in the same rounds: rsync's delta algorithm
   reads the whole file on both sides and sends a checksum per block, so its cost grows
   with S.
3. The cost of one ``state`` round trip, reduced to its ssh part: ``connection.run(["true"])``
   through the reused ControlMaster, and on a fresh connection (the first command after
   ``connection.close()``, which pays the handshake).

Every timing is wall-clock (``time.perf_counter``). With the server on this machine the
network is loopback: the figures show the work each way does, not a real link's latency.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from ravelab.core.ssh.connection import Connection
    from ravelab.core.ssh.remotes import Remote
    from ravelab.core.ssh.sync import pull_run
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ravelab.core.ssh.connection import Connection
    from ravelab.core.ssh.remotes import Remote
    from ravelab.core.ssh.sync import pull_run

EVENT_FILE = "events.out.tfevents.1.x"
APPEND_BYTES = 16 * 1024
MIB = 1024 * 1024
NAIVE_TIMEOUT_S = 300.0

_TOTAL = {
    "received": re.compile(r"Total bytes received: ([0-9,.]+)"),
    "sent": re.compile(r"Total bytes sent: ([0-9,.]+)"),
}


def rsync_totals(stats: str) -> tuple[int, int]:
    """(sent, received) bytes from rsync's ``--stats`` text."""
    found = [_TOTAL[key].search(stats) for key in ("sent", "received")]
    sent, received = (int(re.sub(r"[,.]", "", m.group(1))) if m else 0 for m in found)
    return sent, received


def remote_sh(connection: Connection, script: str) -> None:
    """Run a short shell script on the remote as its user; stop the bench if it fails."""
    done = connection.run(["sh", "-c", script], timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"remote command failed ({done.returncode}): {script}\n{done.stderr}")


def append_event_bytes(connection: Connection, run_dir: str) -> None:
    """Append ``APPEND_BYTES`` random bytes to the run's event file, and a log line."""
    event = shlex.quote(f"{run_dir}/{EVENT_FILE}")
    log = shlex.quote(f"{run_dir}/stdout.log")
    remote_sh(
        connection,
        f"head -c {APPEND_BYTES} /dev/urandom >> {event} && echo 'step done' >> {log}",
    )


def naive_pull(connection: Connection, run_dir: str, local: Path) -> tuple[int, int]:
    """A plain mirror: ``rsync -rt`` of the whole folder, no ``--append``; (sent, received)."""
    done = connection.rsync(
        ["-rt", "--stats", connection.remote_path(f"{run_dir}/"), f"{local}/"],
        timeout=NAIVE_TIMEOUT_S,
    )
    return rsync_totals(done.stdout)


def timed_run(connection: Connection) -> float:
    """Seconds one ``true`` takes on the remote."""
    started = time.perf_counter()
    done = connection.run(["true"])
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`true` failed on the remote: {done.stderr}")
    return elapsed


def human(size: float) -> str:
    """Bytes as B / KiB / MiB, short."""
    for unit, scale in (("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def bench_pulls(
    connection: Connection, remote_root: str, local_root: Path, sizes: list[int], rounds: int
) -> None:
    """Sections 1 and 2: full and incremental pulls per size, a naive mirror for the largest."""
    largest = max(sizes)
    rows: list[tuple[str, float, list[float], list[int], list[int]]] = []
    naive_ms: list[float] = []
    naive_received: list[int] = []
    naive_sent: list[int] = []
    for size in sizes:
        run_dir = f"{remote_root}/run-{size // MIB}mib"
        event = shlex.quote(f"{run_dir}/{EVENT_FILE}")
        remote_sh(
            connection,
            f"mkdir -p {shlex.quote(run_dir)} && head -c {size} /dev/urandom > {event} && "
            f"echo 'training started' > {shlex.quote(run_dir + '/stdout.log')}",
        )
        local = local_root / f"run-{size // MIB}mib"
        local.mkdir()
        started = time.perf_counter()
        pull_run(connection, run_dir, local)
        initial = time.perf_counter() - started
        if (local / EVENT_FILE).stat().st_size != size:
            raise SystemExit(f"the initial pull of {human(size)} did not copy the event file")
        mirror = local_root / f"naive-{size // MIB}mib"
        if size == largest:
            mirror.mkdir()
            naive_pull(connection, run_dir, mirror)  # the mirror's own full copy, untimed
        times: list[float] = []
        received: list[int] = []
        sent: list[int] = []
        for _ in range(rounds):
            append_event_bytes(connection, run_dir)
            started = time.perf_counter()
            transfer = pull_run(connection, run_dir, local)
            times.append(time.perf_counter() - started)
            received.append(transfer.received)
            sent.append(transfer.sent)
            if size == largest:
                started = time.perf_counter()
                out, got = naive_pull(connection, run_dir, mirror)
                naive_ms.append((time.perf_counter() - started) * 1000)
                naive_received.append(got)
                naive_sent.append(out)
        expected = size + rounds * APPEND_BYTES
        if (local / EVENT_FILE).stat().st_size != expected:
            raise SystemExit(f"the pulls of {human(size)} lost bytes of the event file")
        rows.append((human(size), initial, times, received, sent))
        # Free the local disk before the next (larger) size.
        shutil.rmtree(local)
        if mirror.exists():
            shutil.rmtree(mirror)

    print(f"1. sync.pull_run: full copy, then {rounds} polls each after a 16 KiB append")
    print(
        f"{'event file':>12}{'initial pull s':>16}{'incr. median ms':>17}{'incr. max ms':>14}"
        f"{'received/poll':>15}{'sent/poll':>11}"
    )
    for label, initial, times, received, sent in rows:
        print(
            f"{label:>12}{initial:>16.2f}{statistics.median(times) * 1000:>17.1f}"
            f"{max(times) * 1000:>14.1f}{human(statistics.median(received)):>15}"
            f"{human(statistics.median(sent)):>11}"
        )
    print()
    print(f"2. the same appends, {human(largest)} event file, median of {rounds}")
    print(f"{'how':>28}{'median ms':>11}{'received/poll':>15}{'sent/poll':>11}")
    label, _, times, received, sent = rows[sizes.index(largest)]
    print(
        f"{'pull_run (--append)':>28}{statistics.median(times) * 1000:>11.1f}"
        f"{human(statistics.median(received)):>15}{human(statistics.median(sent)):>11}"
    )
    print(
        f"{'plain rsync -rt':>28}{statistics.median(naive_ms):>11.1f}"
        f"{human(statistics.median(naive_received)):>15}{human(statistics.median(naive_sent)):>11}"
    )
    print()


def bench_round_trip(connection: Connection, warm_reps: int, fresh_reps: int) -> None:
    """Section 3: one command through the reused master, and on a fresh connection."""
    timed_run(connection)  # make sure a master is up
    warm = [timed_run(connection) for _ in range(warm_reps)]
    fresh = []
    for _ in range(fresh_reps):
        connection.close()
        fresh.append(timed_run(connection))
    print("3. one `connection.run(['true'])` (the ssh part of a state round)")
    print(f"{'connection':>28}{'median ms':>11}{'max ms':>9}")
    for label, times in ((f"ControlMaster reused (x{warm_reps})", warm),
                         (f"fresh, after close() (x{fresh_reps})", fresh)):  # fmt: skip
        print(f"{label:>28}{statistics.median(times) * 1000:>11.1f}{max(times) * 1000:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("RAVELAB_SSH_HOST"))
    parser.add_argument("--ssh-config", default=os.environ.get("RAVELAB_SSH_CONFIG"))
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[1, 16, 128])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm-reps", type=int, default=20)
    parser.add_argument("--fresh-reps", type=int, default=5)
    args = parser.parse_args()
    if not args.host:
        raise SystemExit(
            'no ssh host: give --host, or run `eval "$(bash .ci/ssh.sh env)"` first '
            "(it sets RAVELAB_SSH_HOST and RAVELAB_SSH_CONFIG)"
        )
    if any(size <= 0 for size in args.sizes_mib) or args.rounds <= 0:
        raise SystemExit("--sizes-mib and --rounds take positive numbers")
    sizes = [size * MIB for size in sorted(set(args.sizes_mib))]
    connection = Connection(Remote(name="bench", host=args.host, ssh_config=args.ssh_config))

    home = connection.run(["sh", "-c", 'printf %s "$HOME"']).stdout.strip()
    if not home.startswith("/"):
        raise SystemExit(f"the remote's home is not an absolute path: {home!r}")
    remote_root = f"{home}/ravelab/bench-{secrets.token_hex(4)}"
    local_root = Path(tempfile.mkdtemp(prefix="ravelab-bench-ssh-"))
    print(f"remote {connection.remote.destination}: {remote_root}; local {local_root}")
    print()
    started = time.perf_counter()
    try:
        remote_sh(connection, f"mkdir -p {shlex.quote(remote_root)}")
        bench_pulls(connection, remote_root, local_root, sizes, args.rounds)
        bench_round_trip(connection, args.warm_reps, args.fresh_reps)
    finally:
        # Only the folder this run made, on both sides.
        connection.run(["rm", "-rf", "--", remote_root])
        connection.close()
        shutil.rmtree(local_root, ignore_errors=True)
    print()
    print(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
