"""The original API's training config dict: validation, and the ``rave train`` command it makes.

``validate_training_config`` checks everything before anything is created, so bad input
never leaves a row, a folder or a process behind. ``build_train_argv`` writes the
command exactly as RAVE 2.3.1 needs it (its flags and pitfalls: docs/REAL_RAVE.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.datasets import read_dataset_folder
from ravelab.core.errors import ConfigError, DatasetError
from ravelab.core.names import check_name, shown
from ravelab.core.numbers import (
    brief,
    finite_number,
    is_ascii_integer,
    parse_id,
    whole_number,
)
from ravelab.core.projects import require_project
from ravelab.core.rave import configs as rave_configs
from ravelab.core.rave.learning_rate import describe_schedule, is_default_learning_rate
from ravelab.db import Database, DatasetStatus
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as experiment_rows

#: Defaults RAVE 2.3.1 uses when a flag is not given.
RAVE_DEFAULTS: dict[str, int] = {
    "max_steps": 6_000_000,
    "batch_size": 8,
    "val_every": 10_000,
    "save_every": 500_000,
    "n_signal": 131_072,
    "workers": 8,
}

_LIMITS: dict[str, tuple[int, int]] = {
    "max_steps": (1, 1_000_000_000),
    "batch_size": (1, 4096),
    "val_every": (1, 1_000_000_000),
    "save_every": (1, 1_000_000_000),
    "n_signal": (2048, 4_194_304),
    "workers": (0, 256),
    "channels": (1, 64),
}

#: The ``--n_signal`` values ravelab accepts.
N_SIGNAL_RANGE = _LIMITS["n_signal"]
#: A gin binding longer than this is not one a person wrote.
MAX_OVERRIDE_LENGTH = 1000
#: GPU indices beyond this are typing errors, not GPUs.
MAX_GPU_INDEX = 1023

_OVERRIDE = re.compile(r"^[A-Za-z_][\w.]*\s*=\s*\S.*$")

KNOWN_KEYS = frozenset(
    {
        "name",
        "dataset_id",
        "dataset_path",
        "config",
        "modifiers",
        "max_steps",
        "batch_size",
        "learning_rate",
        "gpu",
        "val_every",
        "save_every",
        "n_signal",
        "channels",
        "workers",
        "overrides",
        "augment",
        "project_id",
        "executor",
        "executor_options",
    }
)


@dataclass(frozen=True)
class TrainingSpec:
    """A validated training configuration."""

    name: str
    dataset_id: int
    dataset_path: str
    config: str
    modifiers: list[str]
    max_steps: int
    batch_size: int
    channels: int
    gpu: int
    project_id: int = 1
    learning_rate: float | None = None
    val_every: int | None = None
    save_every: int | None = None
    n_signal: int | None = None
    workers: int | None = None
    overrides: list[str] = field(default_factory=list)
    augment: list[str] = field(default_factory=list)
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)

    @property
    def phase_1_duration(self) -> int:
        """Steps of RAVE's phase 1 for this config."""
        return rave_configs.phase_1_duration(self.config, self.modifiers, self.overrides)

    def as_config(self) -> dict[str, Any]:
        """The config dict as stored with the experiment (the original API's shape)."""
        return asdict(self)


def _integer(config: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = config.get(key)
    if value is None or value == "":
        return default
    low, high = _LIMITS[key]
    return whole_number(value, key, low, high)


def _string_list(config: Mapping[str, Any], key: str) -> list[str]:
    value = config.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings, not {shown(value)}")
    return [v.strip() for v in value if v.strip()]


def _check_config_name(name: str, allowed: Mapping[str, Any], what: str) -> str:
    if "\0" in name or len(name) > 4096:
        raise ConfigError(f"{what} {shown(name)} is neither a config name nor a usable path")
    bare = rave_configs.strip_gin(name)
    if bare in allowed:
        return bare
    if rave_configs.is_custom_gin(name):
        try:
            path = Path(name).expanduser()
            found = path.is_file()
        except (OSError, RuntimeError) as error:  # RuntimeError: an unknown ~user
            raise ConfigError(f"{what} file {shown(name)} is not usable: {error}") from None
        if not found:
            raise ConfigError(f"{what} file {shown(name)} does not exist")
        return str(path.resolve())
    raise ConfigError(
        f"unknown {what} {shown(name)}: choose one of {', '.join(sorted(allowed))} "
        "(`ravelab configs` describes them), or give the path of your own .gin file"
    )


def validate_training_config(config: Mapping[str, Any], db: Database) -> TrainingSpec:
    """Check a config dict against RAVE 2.3.1 and the database.

    Raises:
        ConfigError: naming the bad value and what to do instead.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"the training config must be a dict, not {type(config).__name__}")
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(unknown)}: known keys are "
            f"{', '.join(sorted(KNOWN_KEYS))}"
        )
    name = check_name(config.get("name"), "run name")
    if experiment_rows.find_experiment_by_name(db, name) is not None:
        raise ConfigError(f"a run named {name!r} exists already: choose another name")

    # Dataset: by id, or by path (registered on the fly when it is a RAVE dataset).
    dataset_id = config.get("dataset_id")
    dataset_path = config.get("dataset_path")
    record = None
    if dataset_id is not None:
        number = parse_id(dataset_id)
        if number is None:
            raise ConfigError(f"dataset_id must be a dataset's number, not {shown(dataset_id)}")
        record = dataset_rows.get_dataset(db, number)
        if record is None:
            raise ConfigError(
                f"dataset id {number} not found: `ravelab dataset list` shows the datasets"
            )
    elif dataset_path:
        if not isinstance(dataset_path, str | Path) or "\0" in str(dataset_path):
            raise ConfigError(f"dataset_path must be a folder's path, not {shown(dataset_path)}")
        record = dataset_rows.find_dataset(db, path=str(Path(dataset_path).resolve()))
    if record is None and not dataset_path:
        raise ConfigError("no dataset given: set dataset_id (or dataset_path)")
    if record is not None and record.status != DatasetStatus.READY:
        detail = f": {record.reason}" if record.reason else ""
        raise ConfigError(
            f"dataset {record.name!r} is not ready to train on (status {record.status}{detail})"
        )
    folder = record.path if record is not None else str(dataset_path)
    try:
        info = read_dataset_folder(folder)
    except DatasetError as error:
        raise ConfigError(str(error)) from error
    if record is not None and dataset_path and Path(str(dataset_path)).resolve() != info.path:
        raise ConfigError(
            f"dataset_path {shown(dataset_path)} is not the folder of dataset {record.id} "
            f"({record.path})"
        )

    base_raw = config.get("config") or "v2"
    if not isinstance(base_raw, str):
        raise ConfigError(f"config must be a base config name such as 'v2', not {shown(base_raw)}")
    base = _check_config_name(base_raw, rave_configs.BASE_CONFIGS, "base config")
    modifiers = [
        _check_config_name(m, rave_configs.MODIFIERS, "modifier")
        for m in _string_list(config, "modifiers")
    ]
    for modifier in modifiers:
        if (
            modifier in rave_configs.V2_ONLY_MODIFIERS
            and base not in rave_configs.V2_FAMILY
            and (base in rave_configs.BASE_CONFIGS)
        ):
            raise ConfigError(
                f"modifier {modifier!r} needs a v2-family base config (v2, v2_small, v3...), "
                f"not {base!r}"
            )
    if len(set(modifiers)) != len(modifiers):
        raise ConfigError(f"a modifier is listed twice in {modifiers}")
    augment = _string_list(config, "augment")
    for aug in augment:
        if aug not in rave_configs.AUGMENTATIONS:
            raise ConfigError(
                f"unknown augmentation {shown(aug)}: choose from "
                f"{', '.join(rave_configs.AUGMENTATIONS)}"
            )
    overrides = _string_list(config, "overrides")
    for override in overrides:
        if not _OVERRIDE.match(override) or any(ord(c) < 32 or ord(c) == 127 for c in override):
            raise ConfigError(
                f"override {shown(override)} is not a gin binding: write KEY=VALUE, e.g. "
                "PHASE_1_DURATION=200000"
            )
        if len(override) > MAX_OVERRIDE_LENGTH:
            raise ConfigError(
                f"override {shown(override)} is {len(override):,} characters long: at most "
                f"{MAX_OVERRIDE_LENGTH:,}"
            )
        try:  # ravelab reads the phase-1 length from these itself
            phase_1 = rave_configs.phase_1_duration("v2", [], [override])
        except ValueError:
            phase_1 = -1
        if not 0 <= phase_1 <= _LIMITS["max_steps"][1]:
            raise ConfigError(
                f"override {shown(override)}: the phase-1 length must be a whole number of "
                f"steps from 0 to {_LIMITS['max_steps'][1]:,}"
            )

    max_steps = _integer(config, "max_steps", RAVE_DEFAULTS["max_steps"])
    batch_size = _integer(config, "batch_size", RAVE_DEFAULTS["batch_size"])
    assert max_steps is not None and batch_size is not None
    channels = _integer(config, "channels", info.channels)
    assert channels is not None

    gpu_raw = config.get("gpu")
    if (gpu_raw is None or gpu_raw == "") and config.get("executor") == "slurm":
        # The submitting machine (a login node) may have no GPU: SLURM numbers the GPUs it
        # grants from 0, so a GPU request in --gres means --gpu 0.
        from ravelab.core.slurm.settings import SlurmSettings

        gres = (config.get("executor_options") or {}).get("gres") or SlurmSettings.load(db).gres
        gpu = 0 if gres and "gpu" in str(gres) else -1
    elif gpu_raw is None or gpu_raw == "":
        from ravelab.core.gpus import list_gpus

        gpu = 0 if list_gpus() else -1
    else:
        gpu_text = gpu_raw.strip() if isinstance(gpu_raw, str) else gpu_raw
        if not (
            (isinstance(gpu_text, int) and not isinstance(gpu_text, bool))
            or is_ascii_integer(gpu_text, signed=True)
        ):
            raise ConfigError(
                f"gpu must be a GPU index (0, 1, ...) or -1 for the CPU, not {shown(gpu_raw)}"
            )
        gpu = int(gpu_text)
        if not -1 <= gpu <= MAX_GPU_INDEX:
            raise ConfigError(f"gpu {brief(gpu)} is not valid: use a GPU index or -1 for the CPU")

    learning_rate = config.get("learning_rate")
    if isinstance(learning_rate, str) and learning_rate.strip():
        try:
            learning_rate = float(learning_rate)
        except ValueError:
            raise ConfigError(
                f"learning_rate must be a number, not {shown(learning_rate)}"
            ) from None
    if learning_rate is not None and learning_rate != "":
        learning_rate = finite_number(learning_rate, "learning_rate", 0.0, 1.0)
    else:
        learning_rate = None
    if not is_default_learning_rate(learning_rate):
        duration = rave_configs.phase_1_duration(base, modifiers, overrides)
        raise ConfigError(
            f"learning_rate {learning_rate!r} cannot be applied: RAVE 2.3.1 has no learning-rate "
            f"setting ({describe_schedule(duration)}). Leave it unset (or 1e-3)"
        )

    project_id = require_project(db, config.get("project_id", 1)).id
    executor = config.get("executor") or "local"
    if not isinstance(executor, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", executor):
        raise ConfigError(
            f"executor must be a name such as 'local' or 'slurm', not {shown(executor)}"
        )
    executor_options = config.get("executor_options") or {}
    if not isinstance(executor_options, Mapping):
        raise ConfigError(f"executor_options must be a dict, not {shown(executor_options)}")
    return TrainingSpec(
        name=name,
        dataset_id=record.id if record is not None else -1,
        dataset_path=str(info.path),
        config=base,
        modifiers=modifiers,
        max_steps=max_steps,
        batch_size=batch_size,
        channels=channels,
        gpu=gpu,
        project_id=project_id,
        learning_rate=learning_rate,
        val_every=_integer(config, "val_every", None),
        save_every=_integer(config, "save_every", None),
        n_signal=_integer(config, "n_signal", None),
        workers=_integer(config, "workers", None),
        overrides=overrides,
        augment=augment,
        executor=executor,
        executor_options=dict(executor_options),
    )


def build_train_argv(
    rave: str, spec: TrainingSpec, out_path: Path, ckpt: str | None = None
) -> list[str]:
    """The ``rave train`` argv for a spec (an argv list: never a shell string).

    ``--channels`` is always passed (RAVE 2.3.1 builds a 0-channel model without it)
    and ``--gpu`` too (without it GPUtil may pick no device).
    """
    argv = [rave, "train", "--config", spec.config]
    for modifier in spec.modifiers:
        argv += ["--config", modifier]
    for aug in spec.augment:
        argv += ["--augment", aug]
    argv += [
        "--db_path",
        spec.dataset_path,
        "--out_path",
        str(out_path),
        "--name",
        spec.name,
        "--channels",
        str(spec.channels),
        "--gpu",
        str(spec.gpu),
        "--max_steps",
        str(spec.max_steps),
        "--batch",
        str(spec.batch_size),
    ]
    optional = (
        ("--val_every", spec.val_every),
        ("--save_every", spec.save_every),
        ("--n_signal", spec.n_signal),
        ("--workers", spec.workers),
    )
    for flag, value in optional:
        if value is not None:
            argv += [flag, str(value)]
    for override in spec.overrides:
        argv += ["--override", override]
    if ckpt is not None:
        argv += ["--ckpt", ckpt]
    return argv
