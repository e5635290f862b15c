"""The SLURM settings: normalised, checked with what to use instead, stored and read back
through the database, and overridden per run."""

from __future__ import annotations

import json
import os

import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.slurm.settings import KEYS, SlurmSettings
from ravelab.db import Database


def test_settings_are_normalised() -> None:
    settings = SlurmSettings(
        partition="gpu,gpu-long",
        account="lab_1",
        time="2-00:00:00",
        gres="2",
        cpus="8",  # type: ignore[arg-type]  # as stored: text
        mem="32g",
        extra=["  #SBATCH --qos=high  "],  # type: ignore[arg-type]
        runs_dir="/shared/runs/",
    )
    assert settings.gres == "gpu:2"
    assert settings.cpus == 8
    assert settings.mem == "32G"
    assert settings.extra == ("#SBATCH --qos=high",)
    assert settings.runs_dir == "/shared/runs"
    assert settings.sbatch_options() == [
        ("--partition", "gpu,gpu-long"),
        ("--account", "lab_1"),
        ("--time", "2-00:00:00"),
        ("--gres", "gpu:2"),
        ("--cpus-per-task", "8"),
        ("--mem", "32G"),
    ]
    assert SlurmSettings().is_empty and not settings.is_empty


@pytest.mark.parametrize(
    "time", ["90", "30:00", "12:00:00", "1-12", "1-12:30", "1-0:0:0", "unlimited"]
)
def test_slurm_time_formats_are_accepted(time: str) -> None:
    assert SlurmSettings(time=time).time == time.upper()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("partition", "gpu; rm -rf /", "partition"),
        ("partition", "--gpus=8", "partition"),
        ("account", "my lab", "account"),
        ("time", "12h", "time"),
        ("time", "1:2:3:4", "time"),
        ("gres", "gpu 1", "gres"),
        ("cpus", "0", "at least 1"),
        ("cpus", "four", "cpus"),
        ("mem", "16GB", "mem"),
        ("mem", "-1", "mem"),
        ("extra", ["--qos=high"], "#SBATCH"),
        ("extra", ["#SBATCH"], "#SBATCH"),
        ("extra", ["#SBATCH --a\n#SBATCH --b"], "#SBATCH"),
        ("extra", "#SBATCH --qos=high", "list"),
        ("runs_dir", "relative/runs", "absolute"),
    ],
)
def test_bad_settings_are_refused_with_what_to_use(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SlurmSettings.from_mapping({field: value})


def test_settings_round_trip_through_the_database(db: Database) -> None:
    assert SlurmSettings.load(db) == SlurmSettings()
    settings = SlurmSettings(
        partition="gpu", time="1:00:00", cpus=2, extra=("#SBATCH --qos=x",), runs_dir="/s"
    )
    settings.save(db)
    assert db.get_setting(KEYS["extra"]) == json.dumps(["#SBATCH --qos=x"])
    assert db.get_setting(KEYS["cpus"]) == "2"
    assert db.get_setting("slurm.account") is None
    assert SlurmSettings.load(db) == settings
    SlurmSettings(partition="cpu").save(db)  # unset fields are removed
    assert SlurmSettings.load(db) == SlurmSettings(partition="cpu")


def test_a_bad_stored_setting_names_its_key(db: Database) -> None:
    db.set_setting("slurm.mem", "lots")
    with pytest.raises(ConfigError, match="stored SLURM settings: SLURM mem 'lots' is not valid"):
        SlurmSettings.load(db)
    db.set_setting("slurm.mem", None)
    db.set_setting("slurm.extra", "#SBATCH --qos=x")
    with pytest.raises(ConfigError, match=r"slurm\.extra must be a JSON list"):
        SlurmSettings.load(db)


def test_executor_options_override_the_settings_for_one_run() -> None:
    stored = SlurmSettings(partition="gpu", time="1:00:00", extra=("#SBATCH --qos=x",))
    merged = stored.merged({"partition": "debug", "time": None, "cpus": 3})
    assert merged == SlurmSettings(partition="debug", cpus=3, extra=("#SBATCH --qos=x",))
    assert stored.merged({"extra": None}).extra == ()
    assert stored.merged(None) is stored
    with pytest.raises(ConfigError, match=r"unknown executor option 'gpus'.*partition"):
        stored.merged({"gpus": 1})
    with pytest.raises(ConfigError, match="SLURM time"):
        stored.merged({"time": "soon"})


def test_settings_as_dict_is_json_ready() -> None:
    data = SlurmSettings(partition="gpu", extra=("#SBATCH --x=1",)).as_dict()
    assert json.loads(json.dumps(data))["extra"] == ["#SBATCH --x=1"]
    assert set(data) == {"partition", "account", "time", "gres", "cpus", "mem", "extra", "runs_dir"}


def test_expanduser_in_runs_dir() -> None:
    assert SlurmSettings(runs_dir="~/runs").runs_dir == os.path.expanduser("~/runs")
