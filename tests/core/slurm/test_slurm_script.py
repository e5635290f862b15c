"""The SLURM batch-script writer and the SLURM settings (no SLURM needed)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.slurm.script import (
    SCRIPT_NAME,
    job_name_for,
    output_name,
    render_batch_script,
    work_dir_for,
    write_batch_script,
)
from ravelab.core.slurm.settings import KEYS, SlurmSettings
from ravelab.db import Database

AWKWARD = 'it\'s a "run" $HOME `id` #1 & ; *'


def _sbatch_lines(script: str) -> dict[str, list[str]]:
    """Each ``#SBATCH`` option as sbatch reads it (its parser splits like a shell, and
    ravelab never writes a backslash there)."""
    options: dict[str, list[str]] = {}
    for line in script.splitlines():
        if line.startswith("#SBATCH"):
            for word in shlex.split(line[len("#SBATCH") :]):
                key, _, value = word.partition("=")
                options.setdefault(key, []).append(value)
    return options


@pytest.fixture
def awkward_run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / f"shared runs {AWKWARD}" / "0007-my.run"
    run_dir.mkdir(parents=True)
    return run_dir


def test_the_script_quotes_names_and_paths_with_spaces_and_quotes(awkward_run_dir: Path) -> None:
    settings = SlurmSettings(partition="gpu", time="12:00:00", gres="gpu:1", cpus=4, mem="16g")
    text = render_batch_script(
        awkward_run_dir, settings, python="/opt/my env/bin/python", job_name=AWKWARD
    )
    options = _sbatch_lines(text)
    assert options["--job-name"] == [AWKWARD]
    assert options["--output"] == [str(awkward_run_dir / "slurm-%j.out")]
    assert options["--partition"] == ["gpu"]
    assert options["--time"] == ["12:00:00"]
    assert options["--gres"] == ["gpu:1"]
    assert options["--cpus-per-task"] == ["4"]
    assert options["--mem"] == ["16G"]
    # The working directory SLURM records has no whitespace (see work_dir_for).
    assert options["--chdir"] == [str(awkward_run_dir.parent.parent)]
    assert text.startswith("#!/bin/bash\n")
    assert subprocess.run(["bash", "-n"], input=text, text=True, check=False).returncode == 0


def test_bash_runs_the_supervisor_with_exact_arguments(
    tmp_path: Path, awkward_run_dir: Path
) -> None:
    """The script's command, run by bash, hands the awkward paths over unchanged."""
    bin_dir = tmp_path / f"py {AWKWARD}"
    bin_dir.mkdir()
    fake_python = bin_dir / "python"
    record = tmp_path / "argv.json"
    fake_python.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump([os.getcwd(), sys.argv[1:]], open({str(record)!r}, 'w'))\n"
    )
    fake_python.chmod(0o755)
    script = write_batch_script(awkward_run_dir, SlurmSettings(), python=str(fake_python))
    subprocess.run(["bash", str(script)], check=True, cwd=tmp_path)
    cwd, argv = json.loads(record.read_text())
    assert cwd == str(awkward_run_dir)
    assert argv == ["-m", "ravelab.core.runs.supervisor", str(awkward_run_dir)]


def test_the_script_is_kept_in_the_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "0001-run"
    run_dir.mkdir()
    path = write_batch_script(run_dir, SlurmSettings(), python=sys.executable)
    assert path == run_dir / SCRIPT_NAME
    assert path.stat().st_mode & stat.S_IXUSR
    text = path.read_text()
    assert "#SBATCH --job-name=ravelab-0001-run\n" in text
    assert f"#SBATCH --chdir={run_dir}\n" in text
    assert f"exec {sys.executable} -m ravelab.core.runs.supervisor {run_dir}\n" in text
    assert "#SBATCH --partition" not in text  # nothing set: the cluster's defaults
    assert not list(run_dir.glob(".*"))  # no temporary file left


def test_extra_lines_come_last_and_verbatim(tmp_path: Path) -> None:
    extra = ("#SBATCH --constraint=a100", "#SBATCH --qos=long  # until Friday")
    text = render_batch_script(tmp_path, SlurmSettings(extra=extra), python="python3")
    sbatch_lines = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    assert tuple(sbatch_lines[-2:]) == extra


def test_percent_signs_in_the_folder_are_not_slurm_patterns(tmp_path: Path) -> None:
    run_dir = tmp_path / "100%-sure"
    options = _sbatch_lines(render_batch_script(run_dir, SlurmSettings(), python="python3"))
    assert options["--output"] == [str(tmp_path / "100%%-sure" / "slurm-%j.out")]


@pytest.mark.parametrize("bad", ["back\\slash", "line\nbreak", "tab\there"])
def test_values_sbatch_would_misread_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="backslash or a control character"):
        render_batch_script(tmp_path / bad, SlurmSettings(), python="python3")
    with pytest.raises(ConfigError, match="job name"):
        render_batch_script(tmp_path, SlurmSettings(), python="python3", job_name=bad)


def test_job_names_and_work_dirs_avoid_whitespace(tmp_path: Path) -> None:
    assert job_name_for(Path("/x/0003-a b")) == "ravelab-0003-a_b"
    assert work_dir_for(Path("/data/runs/0001-a")) == Path("/data/runs/0001-a")
    assert work_dir_for(Path("/data/my runs/0001-a")) == Path("/data")
    assert output_name("42") == "slurm-42.out"


# -- settings ----------------------------------------------------------------------------------


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
