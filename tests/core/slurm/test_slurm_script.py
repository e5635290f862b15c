"""The SLURM batch-script writer (no SLURM needed)."""

from __future__ import annotations

import json
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
from ravelab.core.slurm.settings import SlurmSettings

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
