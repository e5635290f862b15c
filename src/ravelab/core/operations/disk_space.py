"""Free space for runs: how much a run will write, and whether its disk has it.

A RAVE checkpoint holds the model and both optimisers' moments. Measured with RAVE 2.3.1:
v2_small's are 121 MB in phase 1 and 175 MB once phase 2 has started (its discriminator
joins). The others are estimated from that by the square of their ``CAPACITY`` (parameter
counts grow with it): v2 (capacity 96) about 0.7 GB, which agrees with its 58.7 M
parameters and two Adam moments. A run that has written a checkpoint is sized by its
own largest one instead.

A run writes ``best.ckpt``, the rolling latest, and one ``epoch_<k>.ckpt`` per
``save_every`` steps (all of them unless its retention keeps fewer), plus logs and event
files (small next to a checkpoint; 100 MB is allowed for them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ravelab.core.display import human_bytes

_MB = 1_000_000
#: Bytes per checkpoint by base config (phase 2, the larger): measured for v2_small,
#: estimated by capacity for the rest.
CHECKPOINT_BYTES: dict[str, int] = {
    "v2_small": 176 * _MB,
    "v2": 700 * _MB,
    "v2_nopqmf": 700 * _MB,
    "v2_nopqmf_small": 176 * _MB,
    "v2_with_augs": 700 * _MB,
    "v3": 700 * _MB,
    "discrete": 700 * _MB,
    "v1": 311 * _MB,
    "onnx": 78 * _MB,
    "raspberry": 20 * _MB,
}
#: A config ravelab does not know (a custom .gin) is sized as v2, RAVE's default.
UNKNOWN_CHECKPOINT_BYTES = CHECKPOINT_BYTES["v2"]
LOGS_BYTES = 100 * _MB
#: RAVE's ``--save_every`` when none is given.
RAVE_SAVE_EVERY = 500_000


def checkpoint_bytes(config: str, measured: int | None = None) -> int:
    """The size of one checkpoint of ``config`` (``measured``: the run's own largest)."""
    if measured is not None and measured > 0:
        return measured
    name = Path(config).name.removesuffix(".gin")
    return CHECKPOINT_BYTES.get(name, UNKNOWN_CHECKPOINT_BYTES)


def run_bytes(
    config: str,
    *,
    max_steps: int | None,
    save_every: int | None,
    keep_periodic: int | None,
    measured: int | None = None,
) -> int:
    """What a run will write in all: best, latest, its periodic checkpoints, its logs."""
    periodic = 0
    if save_every and save_every > 0 and max_steps and max_steps > 0:
        periodic = max_steps // save_every
    if keep_periodic is not None:
        periodic = min(periodic, keep_periodic)
    return (2 + periodic) * checkpoint_bytes(config, measured) + LOGS_BYTES


@dataclass(frozen=True)
class SpaceCheck:
    """Free space where a run writes, against what it needs."""

    folder: Path
    free_bytes: int | None  # None: could not be read
    needed_bytes: int

    @property
    def enough(self) -> bool:
        return self.free_bytes is None or self.free_bytes >= self.needed_bytes

    def warning(self) -> str | None:
        """A line for the user when space is short (None when it is enough or unknown)."""
        if self.enough or self.free_bytes is None:
            return None
        return (
            f"only {human_bytes(self.free_bytes)} free under {self.folder}; this run may write "
            f"about {human_bytes(self.needed_bytes)} of checkpoints and logs. Free some space, "
            "or keep fewer periodic checkpoints (ravelab checkpoints ID --keep N)"
        )


def disk_usage(folder: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(free, total)`` bytes of the disk holding ``folder`` (or, while it does not exist
    yet, its nearest existing parent); None when none can be read."""
    path = Path(folder)
    for candidate in (path, *path.parents):
        try:
            usage = shutil.disk_usage(candidate)
        except (OSError, ValueError):
            continue
        return usage.free, usage.total
    return None


def free_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Free bytes on the disk holding ``folder`` (see ``disk_usage``)."""
    usage = disk_usage(folder)
    return None if usage is None else usage[0]


def check_space(folder: str | os.PathLike[str], needed_bytes: int) -> SpaceCheck:
    """Whether the disk holding ``folder`` has ``needed_bytes`` free."""
    return SpaceCheck(Path(folder), free_bytes(folder), needed_bytes)


def check_run_space(
    config: Mapping[str, Any], runs_dir: str | os.PathLike[str], keep_periodic: int | None
) -> SpaceCheck:
    """Free space under ``runs_dir`` against what a run of the original API's ``config``
    dict will write (its numbers read leniently: a bad one is refused by the launch itself,
    with its own message)."""

    def whole(key: str) -> int | None:
        value = config.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    needed = run_bytes(
        str(config.get("config") or "v2"),
        max_steps=whole("max_steps"),
        save_every=whole("save_every") or RAVE_SAVE_EVERY,
        keep_periodic=keep_periodic,
    )
    return check_space(runs_dir, needed)


def dataset_bytes(chunks: int, num_signal: int, channels: int) -> int:
    """What ``rave preprocess`` writes for ``chunks`` chunks: each is an int16 waveform of
    ``channels x 2 * num_signal`` samples in LMDB (a tenth more for the records and the
    database's pages)."""
    return int(chunks * channels * 2 * num_signal * 2 * 1.1)
