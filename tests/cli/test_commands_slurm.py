"""`ravelab slurm show | set` through main(argv): the stored settings shown in words and
as JSON, changed flag by flag (an empty value removes one), and bad values refused with
nothing stored."""

from __future__ import annotations

import json
from typing import Any

from ravelab.cli.exit_codes import ExitCode


def test_the_settings_start_at_the_clusters_defaults(cli: Any) -> None:
    code, out, err = cli("slurm", "show")
    assert code == ExitCode.OK, err
    assert "slurm.partition = (cluster default)" in out
    assert "slurm.runs_dir = (the general runs folder)" in out
    assert "slurm.extra = (none)" in out
    code, out, _ = cli("slurm", "show", "--json")
    assert code == ExitCode.OK
    assert json.loads(out) == {
        "partition": None,
        "account": None,
        "time": None,
        "gres": None,
        "cpus": None,
        "mem": None,
        "extra": [],
        "runs_dir": None,
    }


def test_set_changes_only_the_flags_given_and_an_empty_value_removes_one(cli: Any) -> None:
    code, out, err = cli(
        "slurm", "set", "--partition", "gpu,gpu-long", "--time", "12:00:00", "--gres", "2"
    )
    assert code == ExitCode.OK, err
    assert "slurm.partition = gpu,gpu-long" in out and "slurm.time = 12:00:00" in out
    code, out, err = cli("slurm", "set", "--time", "", "--sbatch-line", "#SBATCH --qos=long")
    assert code == ExitCode.OK, err
    stored = json.loads(cli("slurm", "show", "--json")[1])
    assert stored["partition"] == "gpu,gpu-long" and stored["time"] is None
    assert stored["extra"] == ["#SBATCH --qos=long"]
    assert stored["gres"] == "gpu:2"  # a bare number is a count of GPUs


def test_nothing_to_set_and_bad_values_are_refused_with_nothing_stored(cli: Any) -> None:
    code, _, err = cli("slurm", "set")
    assert code == ExitCode.INVALID and "nothing to set: give at least one flag" in err
    code, _, err = cli("slurm", "set", "--partition", "gpu; rm -rf ~", "--time", "1:00:00")
    assert code == ExitCode.INVALID and "partition" in err and "Traceback" not in err
    assert json.loads(cli("slurm", "show", "--json")[1])["time"] is None
