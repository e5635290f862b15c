"""Validating the original API's config dict and building RAVE's argv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.rave.training_config import build_train_argv, validate_training_config
from ravelab.db import Database


def _config(dataset: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "run-1",
        "dataset_id": dataset,
        "config": "v2_small",
        "modifiers": ["causal"],
        "max_steps": 300,
        "batch_size": 4,
        "gpu": -1,
    }
    base.update(extra)
    return base


def test_argv_is_what_rave_2_3_1_needs(db: Database, dataset_id: int, dataset_dir: Path) -> None:
    spec = validate_training_config(
        _config(
            dataset_id,
            overrides=["PHASE_1_DURATION=150"],
            augment=["mute"],
            val_every=40,
            save_every=100,
            n_signal=65536,
            workers=0,
        ),
        db,
    )
    argv = build_train_argv("/bin/rave", spec, Path("/runs/0001-run-1"))
    assert argv == [
        "/bin/rave",
        "train",
        "--config",
        "v2_small",
        "--config",
        "causal",
        "--augment",
        "mute",
        "--db_path",
        str(dataset_dir.resolve()),
        "--out_path",
        "/runs/0001-run-1",
        "--name",
        "run-1",
        "--channels",
        "1",
        "--gpu",
        "-1",
        "--max_steps",
        "300",
        "--batch",
        "4",
        "--val_every",
        "40",
        "--save_every",
        "100",
        "--n_signal",
        "65536",
        "--workers",
        "0",
        "--override",
        "PHASE_1_DURATION=150",
    ]
    assert spec.phase_1_duration == 150


def test_dataset_by_path_only(db: Database, dataset_dir: Path) -> None:
    spec = validate_training_config({"name": "p", "dataset_path": str(dataset_dir), "gpu": -1}, db)
    assert spec.dataset_id == -1  # registered by the manager when the run starts
    assert spec.config == "v2" and spec.max_steps == 6_000_000 and spec.batch_size == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "bad name!"}, "run name 'bad name!' is not allowed"),
        ({"name": "../escape"}, "is not allowed"),
        ({"name": ""}, "run name is missing"),
        ({"dataset_id": 999}, "dataset id 999 not found"),
        ({"config": "v9"}, "unknown base config 'v9'"),
        ({"modifiers": ["turbo"]}, "unknown modifier 'turbo'"),
        ({"config": "v1", "modifiers": ["wasserstein"]}, "needs a v2-family base"),
        ({"augment": ["reverb"]}, "unknown augmentation 'reverb'"),
        ({"max_steps": -5}, "max_steps = -5 is out of range"),
        ({"max_steps": 10**12}, "out of range"),
        ({"batch_size": 0}, "batch_size = 0 is out of range"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"batch_size": "many"}, "batch_size must be a whole number"),
        ({"n_signal": 100}, "n_signal = 100 is out of range"),
        ({"gpu": -2}, "gpu -2 is not valid"),
        ({"gpu": "cuda"}, "gpu must be a GPU index"),
        ({"learning_rate": 3e-4}, "learning_rate 0.0003 cannot be applied: RAVE 2.3.1 has no"),
        ({"overrides": ["no equals"]}, "is not a gin binding"),
        ({"colour": "red"}, "unknown config key"),
    ],
)
def test_bad_values_are_refused_with_their_name(
    db: Database, dataset_id: int, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        validate_training_config(_config(dataset_id, **change), db)


def test_default_learning_rate_is_accepted(db: Database, dataset_id: int) -> None:
    spec = validate_training_config(_config(dataset_id, learning_rate=1e-3), db)
    assert spec.learning_rate == 1e-3


def test_folder_that_is_not_a_dataset(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is not a RAVE dataset: it has no metadata\.yaml"):
        validate_training_config({"name": "x", "dataset_path": str(tmp_path)}, db)


def test_empty_dataset_is_refused_before_rave_fails(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("channels: 1\nlazy: false\nn_seconds: 0\nsr: 44100\n")
    (folder / "data.mdb").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"is empty.*smaller --num_signal"):
        validate_training_config({"name": "x", "dataset_path": str(folder)}, db)
