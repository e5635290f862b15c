"""Preprocessed RAVE datasets: reading ``metadata.yaml`` and registering folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ravelab.core.errors import ConfigError, DatasetError
from ravelab.core.names import check_name, suggest_name
from ravelab.db import Database, DatasetRecord
from ravelab.db import datasets as dataset_rows


@dataclass(frozen=True)
class DatasetInfo:
    """What ``rave preprocess`` recorded about a dataset folder."""

    path: Path
    channels: int
    sample_rate: int
    n_seconds: float
    lazy: bool


def read_dataset_folder(path: str | Path) -> DatasetInfo:
    """Read a RAVE dataset folder's ``metadata.yaml``.

    Raises:
        DatasetError: the folder is missing, not a RAVE dataset, or empty.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {str(folder)!r} does not exist or is not a folder")
    metadata = folder / "metadata.yaml"
    if not metadata.is_file():
        raise DatasetError(
            f"{str(folder)!r} is not a RAVE dataset: it has no metadata.yaml. Run "
            "`rave preprocess --input_path AUDIO --output_path DIR` on your audio first"
        )
    try:
        data: Any = yaml.safe_load(metadata.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DatasetError(f"{metadata} cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise DatasetError(f"{metadata} is not a RAVE metadata file (expected key: value lines)")
    try:
        channels = int(data.get("channels", 1))
        sample_rate = int(data.get("sr", 44100))
        n_seconds = float(data.get("n_seconds", 0))
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{metadata} has a value that is not a number: {error}") from error
    lazy = bool(data.get("lazy", False))
    if not lazy and not (folder / "data.mdb").is_file():
        raise DatasetError(f"{str(folder)!r} has metadata.yaml but no data.mdb: preprocess again")
    if n_seconds <= 0:
        raise DatasetError(
            f"dataset {str(folder)!r} is empty (n_seconds: {n_seconds}): RAVE keeps only whole "
            "chunks of 2 x --num_signal samples, so short files give nothing. Preprocess "
            "again with a smaller --num_signal (e.g. 65536) and train with the same --n_signal"
        )
    return DatasetInfo(folder.resolve(), channels, sample_rate, n_seconds, lazy)


def register_dataset(
    db: Database, path: str | Path, name: str | None = None, project_id: int = 1
) -> DatasetRecord:
    """Validate a preprocessed dataset folder and add it to the database.

    Raises:
        DatasetError: the folder is not a usable RAVE dataset.
        ConfigError: the name is unsafe or already taken, or the folder is registered.
    """
    info = read_dataset_folder(path)
    name = check_name(name if name is not None else suggest_name(info.path.name), "dataset name")
    if dataset_rows.find_dataset(db, name=name) is not None:
        raise ConfigError(f"a dataset named {name!r} exists already: choose another --name")
    existing = dataset_rows.find_dataset(db, path=str(info.path))
    if existing is not None:
        raise ConfigError(
            f"{str(info.path)!r} is registered already as dataset {existing.id} ({existing.name})"
        )
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
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        record = dataset_rows.get_dataset(db, int(ref))
    if record is None and isinstance(ref, str):
        record = dataset_rows.find_dataset(db, name=ref)
    if record is None:
        raise ConfigError(
            f"dataset {ref!r} not found: `ravelab dataset list` shows the registered ones, "
            "`ravelab dataset add DIR` registers one"
        )
    return record
