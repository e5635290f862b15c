"""Per-user settings for a SLURM target, stored in the ``settings`` table.

Keys: ``slurm.partition``, ``slurm.account``, ``slurm.time``, ``slurm.gres``,
``slurm.cpus``, ``slurm.mem``, ``slurm.extra`` (a JSON list of ``#SBATCH`` lines) and
``slurm.runs_dir`` (the folder, shared with the compute nodes, that holds run folders).
A config's ``executor_options`` override them for one run (``SlurmSettings.merged``).
Every value is checked when a ``SlurmSettings`` is made, so a bad one is refused with what
to type instead, before anything reaches ``sbatch``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ravelab.core.errors import ConfigError
from ravelab.core.numbers import is_ascii_integer

PREFIX = "slurm."
FIELDS = ("partition", "account", "time", "gres", "cpus", "mem", "extra", "runs_dir")
#: The database key of each field.
KEYS = {name: PREFIX + name for name in FIELDS}

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
_PARTITION = re.compile(rf"{_NAME}(,{_NAME})*")
_ACCOUNT = re.compile(_NAME)
# SLURM's --time: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (or UNLIMITED/INFINITE).
# [0-9], not \d: \d also matches other scripts' digits, which sbatch refuses.
_TIME = re.compile(
    r"[0-9]+(:[0-9]{1,2}){0,2}|[0-9]+-[0-9]{1,2}(:[0-9]{1,2}){0,2}|UNLIMITED|INFINITE"
)
_GRES_ITEM = r"[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_.-]+){0,2}"
_GRES = re.compile(rf"{_GRES_ITEM}(,{_GRES_ITEM})*")
_MEM = re.compile(r"[0-9]+[KMGT]?")
_EXTRA = re.compile(r"#SBATCH\s+\S.*")


class SettingsStore(Protocol):
    """What settings need from a database (``ravelab.db.Database`` has it)."""

    def get_setting(self, key: str) -> str | None: ...

    def set_setting(self, key: str, value: str | None) -> None: ...


@dataclass(frozen=True)
class SlurmSettings:
    """Where and how runs are submitted; None leaves a value to the cluster's defaults.

    Attributes:
        partition: ``--partition`` (one name, or several separated by commas).
        account: ``--account``.
        time: ``--time``, in SLURM's formats (``90``, ``12:00:00``, ``2-00:00:00``).
        gres: ``--gres`` (``gpu:1``, ``gpu:a100:2``); a bare number N means ``gpu:N``.
        cpus: ``--cpus-per-task``.
        mem: ``--mem`` (``16G``, ``16000M``; a bare number is megabytes).
        extra: more ``#SBATCH`` lines, copied into the batch script as they are.
        runs_dir: the folder for run folders, shared between this machine and the nodes.
    """

    partition: str | None = None
    account: str | None = None
    time: str | None = None
    gres: str | None = None
    cpus: int | None = None
    mem: str | None = None
    extra: tuple[str, ...] = ()
    runs_dir: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise in place once, here
        put(self, "partition", _checked("partition", self.partition, _PARTITION, "gpu or gpu,long"))
        put(self, "account", _checked("account", self.account, _ACCOUNT, "my_lab"))
        put(self, "time", _checked("time", self.time, _TIME, "12:00:00", upper=True))
        gres = _text("gres", self.gres)
        if gres is not None and is_ascii_integer(gres):
            gres = f"gpu:{int(gres)}"
        put(self, "gres", _checked("gres", gres, _GRES, "gpu:1 or gpu:a100:2"))
        put(self, "cpus", _positive_int("cpus", self.cpus))
        put(self, "mem", _checked("mem", self.mem, _MEM, "16G or 16000M", upper=True))
        put(self, "extra", _extra_lines(self.extra))
        put(self, "runs_dir", _runs_dir(self.runs_dir))

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SlurmSettings:
        """Settings from a dict with the field names as keys (unknown keys are refused)."""
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown SLURM option {', '.join(map(repr, unknown))}: use {', '.join(FIELDS)}"
            )
        return cls(**{key: values[key] for key in FIELDS if key in values})

    def merged(self, options: Mapping[str, Any] | None) -> SlurmSettings:
        """These settings with a run's ``executor_options`` on top (a None value clears
        one; ``extra`` replaces the stored lines)."""
        if not options:
            return self
        unknown = sorted(set(options) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown executor option {', '.join(map(repr, unknown))} for SLURM: use "
                f"{', '.join(FIELDS)}"
            )
        values = {key: options[key] for key in FIELDS if key in options}
        if values.get("extra") is None and "extra" in values:
            values["extra"] = ()
        return dataclasses.replace(self, **values)

    @property
    def is_empty(self) -> bool:
        """True when nothing is set (the cluster's defaults apply to everything)."""
        return self == SlurmSettings()

    # -- storing -------------------------------------------------------------------------------

    @classmethod
    def load(cls, db: SettingsStore) -> SlurmSettings:
        """The stored settings.

        Raises:
            ConfigError: a stored value is invalid (the message names its key).
        """
        values: dict[str, Any] = {}
        for name, key in KEYS.items():
            raw = db.get_setting(key)
            if raw is None or raw == "":
                continue
            if name == "extra":
                try:
                    lines = json.loads(raw)
                except ValueError:
                    lines = None
                if not isinstance(lines, list):
                    raise ConfigError(
                        f"setting {key} must be a JSON list of '#SBATCH ...' lines, not {raw!r}"
                    )
                values[name] = tuple(lines)
            else:
                values[name] = raw
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"stored SLURM settings: {error}") from error

    def save(self, db: SettingsStore) -> None:
        """Store every field (an unset one removes its key)."""
        for name, key in KEYS.items():
            value = getattr(self, name)
            if name == "extra":
                db.set_setting(key, json.dumps(list(value)) if value else None)
            else:
                db.set_setting(key, None if value is None else str(value))

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``extra`` as a list), for JSON and display."""
        data = dataclasses.asdict(self)
        data["extra"] = list(self.extra)
        return data

    def sbatch_options(self) -> list[tuple[str, str]]:
        """The ``sbatch`` options these settings ask for, as (option, value) pairs."""
        pairs = (
            ("--partition", self.partition),
            ("--account", self.account),
            ("--time", self.time),
            ("--gres", self.gres),
            ("--cpus-per-task", None if self.cpus is None else str(self.cpus)),
            ("--mem", self.mem),
        )
        return [(option, value) for option, value in pairs if value is not None]


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"SLURM {name} must be text, not {value!r}")
    text = str(value).strip()
    return text or None


def _checked(
    name: str, value: object, pattern: re.Pattern[str], example: str, upper: bool = False
) -> str | None:
    text = _text(name, value)
    if text is None:
        return None
    normal = text.upper() if upper else text
    if not pattern.fullmatch(normal):
        raise ConfigError(f"SLURM {name} {text!r} is not valid: use a value such as {example}")
    return normal


def _positive_int(name: str, value: object) -> int | None:
    text = _text(name, value)
    if text is None:
        return None
    if not is_ascii_integer(text) or int(text) < 1:
        raise ConfigError(f"SLURM {name} {text!r} must be a whole number of at least 1")
    return int(text)


def _extra_lines(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"SLURM extra must be a list of '#SBATCH ...' lines, not {value!r}")
    lines = []
    for item in value:
        line = item.strip() if isinstance(item, str) else item
        if not isinstance(line, str) or not _EXTRA.fullmatch(line) or not line.isprintable():
            raise ConfigError(
                f"SLURM extra line {item!r} must be one line starting with '#SBATCH ', such as "
                "'#SBATCH --constraint=a100'"
            )
        lines.append(line)
    return tuple(lines)


def _runs_dir(value: object) -> str | None:
    text = _text("runs_dir", value)
    if text is None:
        return None
    path = Path(text).expanduser()
    if not path.is_absolute() or not text.isprintable():
        raise ConfigError(
            f"SLURM runs_dir {text!r} must be an absolute path to a folder that the compute "
            "nodes also see (a shared filesystem), such as /home/me/ravelab-runs"
        )
    return str(path)


__all__ = ["FIELDS", "KEYS", "SettingsStore", "SlurmSettings"]
