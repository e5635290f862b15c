"""Preprocessed RAVE datasets: reading ``metadata.yaml`` and registering folders.

``metadata.yaml`` is written by ``rave preprocess`` (``channels``, ``sr``, ``n_seconds``,
``lazy``: a few dozen bytes), but ravelab reads it as untrusted input: at most
``MAX_METADATA_BYTES`` are read, it must be UTF-8, YAML aliases are refused (no "billion
laughs"), and every field is checked for its type and a finite value in range before
anything is stored. A bad file is refused with a message naming the file, the field and
the value; the other datasets are not affected.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError, DatasetError
from ravelab.core.names import check_name, shown, suggest_name
from ravelab.core.numbers import parse_id
from ravelab.core.projects import require_project
from ravelab.db import Database, DatasetRecord
from ravelab.db import datasets as dataset_rows

#: RAVE's metadata.yaml is under 100 bytes; anything this big is not one.
MAX_METADATA_BYTES = 64 * 1024

#: What a dataset's numbers may be: (low, high), both included.
CHANNELS_RANGE = (1, 64)
SAMPLE_RATE_RANGE = (1_000, 768_000)
#: Up to about 30 years of audio: more is a corrupt value, not a dataset.
N_SECONDS_MAX = 1e9


@dataclass(frozen=True)
class DatasetInfo:
    """What ``rave preprocess`` recorded about a dataset folder."""

    path: Path
    channels: int
    sample_rate: int
    n_seconds: float
    lazy: bool


@functools.cache
def _no_alias_loader() -> type[Any]:
    """``yaml.SafeLoader`` without anchors and aliases: RAVE never writes them, and a few
    hundred bytes of nested aliases expand to billions of nodes when walked. (Made on
    first use: PyYAML is imported only where a dataset is read.)"""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError("YAML aliases (*name) are not allowed here")
            return super().compose_node(parent, index)

    return NoAliasLoader


def read_metadata(metadata: Path) -> dict[str, Any]:
    """The mapping in a ``metadata.yaml``, read within bounds.

    Raises:
        DatasetError: unreadable, too big, not UTF-8, not YAML, or not a mapping.
    """
    try:
        with metadata.open("rb") as handle:
            raw = handle.read(MAX_METADATA_BYTES + 1)
    except OSError as error:
        raise DatasetError(f"{metadata} cannot be read: {error.strerror or error}") from error
    if len(raw) > MAX_METADATA_BYTES:
        raise DatasetError(
            f"{metadata} is over {MAX_METADATA_BYTES // 1024} KiB: not a RAVE metadata file "
            "(rave preprocess writes a few lines); preprocess the audio again"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{metadata} is not UTF-8 text (byte {error.start}): not a RAVE metadata file; "
            "preprocess the audio again"
        ) from error
    import yaml

    try:
        data: Any = yaml.load(text, Loader=_no_alias_loader())  # a SafeLoader
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(f"{metadata} is not valid YAML: {detail[:200]}") from error
    if not isinstance(data, dict):
        raise DatasetError(f"{metadata} is not a RAVE metadata file (expected key: value lines)")
    return data


def _describe(value: object) -> str:
    """A value for a message, without walking a container (it may be huge)."""
    if isinstance(value, dict | list | tuple | set):
        return f"a {type(value).__name__}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return "an integer too big to be one"
    if isinstance(value, int | float):
        return repr(value)
    return shown(value, 60)


def _field_error(metadata: Path, key: str, value: object, expected: str) -> DatasetError:
    return DatasetError(
        f"{metadata}: {key} is {_describe(value)}, expected {expected}; metadata.yaml is "
        "written by `rave preprocess`: preprocess the audio again"
    )


def _whole_field(metadata: Path, data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    low, high = CHANNELS_RANGE if key == "channels" else SAMPLE_RATE_RANGE
    expected = f"a whole number from {low:,} to {high:,}"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _field_error(metadata, key, value, expected)
    return value


def parse_metadata(metadata: Path, data: dict[str, Any]) -> tuple[int, int, float, bool]:
    """``(channels, sample_rate, n_seconds, lazy)`` from a metadata mapping, each checked.

    Raises:
        DatasetError: naming the file, the field and the value.
    """
    channels = _whole_field(metadata, data, "channels", 1)
    sample_rate = _whole_field(metadata, data, "sr", 44_100)
    n_seconds = data.get("n_seconds", 0)
    # NaN fails every comparison, so "not within the range" also refuses it; an int is
    # compared exactly (float() of a 400-digit int would overflow).
    if (
        isinstance(n_seconds, bool)
        or not isinstance(n_seconds, int | float)
        or not 0 <= n_seconds <= N_SECONDS_MAX
    ):
        raise _field_error(
            metadata, "n_seconds", n_seconds, f"a number of seconds from 0 to {N_SECONDS_MAX:g}"
        )
    lazy = data.get("lazy", False)
    if not isinstance(lazy, bool):
        raise _field_error(metadata, "lazy", lazy, "true or false")
    return channels, sample_rate, float(n_seconds), lazy


def read_dataset_folder(path: str | Path) -> DatasetInfo:
    """Read a RAVE dataset folder's ``metadata.yaml``.

    Raises:
        DatasetError: the folder is missing, not a RAVE dataset, empty, or its
            metadata.yaml holds a value that is not usable.
    """
    if not str(path).strip():
        # Path("") is the current folder: never what someone meant.
        raise DatasetError("no dataset folder given: give the folder rave preprocess wrote")
    try:
        folder = Path(path).expanduser()
        is_dir = folder.is_dir()
    except (OSError, ValueError, RuntimeError) as error:
        # ValueError: a NUL in the path; RuntimeError: an unknown ~user.
        raise DatasetError(f"dataset folder {shown(str(path))} is not usable: {error}") from error
    if not is_dir:
        raise DatasetError(f"dataset folder {shown(str(folder))} does not exist or is not a folder")
    metadata = folder / "metadata.yaml"
    if not metadata.is_file():
        raise DatasetError(
            f"{shown(str(folder))} is not a RAVE dataset: it has no metadata.yaml. Run "
            "`rave preprocess --input_path AUDIO --output_path DIR` on your audio first"
        )
    channels, sample_rate, n_seconds, lazy = parse_metadata(metadata, read_metadata(metadata))
    if not lazy and not (folder / "data.mdb").is_file():
        raise DatasetError(
            f"{shown(str(folder))} has metadata.yaml but no data.mdb: preprocess again"
        )
    if n_seconds <= 0:
        raise DatasetError(
            f"dataset {shown(str(folder))} is empty (n_seconds: {n_seconds}): RAVE keeps only "
            "whole chunks of 2 x --num_signal samples, so short files give nothing. Preprocess "
            "again with a smaller --num_signal (e.g. 65536) and train with the same --n_signal"
        )
    return DatasetInfo(folder.resolve(), channels, sample_rate, n_seconds, lazy)


def register_dataset(
    db: Database, path: str | Path, name: str | None = None, project_id: int = 1
) -> DatasetRecord:
    """Validate a preprocessed dataset folder and add it to the database.

    The checks for a taken name or an already registered folder and the insert run in one
    ``BEGIN IMMEDIATE`` transaction, so two registrations of one folder at once (two
    commands, the app and a command) give one row and one clear refusal.

    Raises:
        DatasetError: the folder is not a usable RAVE dataset.
        ConfigError: the name is unsafe or already taken, the folder is registered, or the
            project does not exist.
    """
    info = read_dataset_folder(path)
    name = check_name(name if name is not None else suggest_name(info.path.name), "dataset name")
    with db.atomic():
        require_project(db, project_id)
        existing = dataset_rows.find_dataset(db, path=str(info.path))
        if existing is not None:
            raise ConfigError(
                f"{str(info.path)!r} is registered already as dataset {existing.id} "
                f"({existing.name!r}): use that one, or `ravelab dataset remove "
                f"{existing.id}` first"
            )
        if dataset_rows.find_dataset(db, name=name) is not None:
            raise ConfigError(f"a dataset named {name!r} exists already: choose another --name")
        dataset_id = dataset_rows.insert_dataset(
            db,
            name=name,
            path=str(info.path),
            channels=info.channels,
            sample_rate=info.sample_rate,
            n_seconds=info.n_seconds,
            lazy=info.lazy,
            project_id=project_id,
        )
    record = dataset_rows.get_dataset(db, dataset_id)
    assert record is not None
    return record


def resolve_dataset(db: Database, ref: str | int) -> DatasetRecord:
    """A dataset by id or name (what users type on the command line)."""
    record = None
    number = parse_id(ref)
    if number is not None:
        record = dataset_rows.get_dataset(db, number)
    if record is None and isinstance(ref, str):
        record = dataset_rows.find_dataset(db, name=ref)
    if record is None:
        raise ConfigError(
            f"dataset {shown(ref)} not found: `ravelab dataset list` shows the registered ones, "
            "`ravelab dataset add DIR` registers one"
        )
    return record


def stored_number(value: object, low: float, high: float) -> float | None:
    """A number read back from a dataset row, or None when it is not a finite number in
    ``[low, high]`` (a row stored by an older version may hold inf, or text): shown as
    unknown rather than breaking a listing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and low <= number <= high else None
