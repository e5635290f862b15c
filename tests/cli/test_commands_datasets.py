"""`ravelab dataset add | list` through main(argv): a dataset folder registered with its
facts, and a folder that is not one refused in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ravelab.cli.exit_codes import ExitCode


def test_dataset_add_and_list(cli: Any, dataset_dir: Path) -> None:
    code, out, _ = cli("dataset", "add", str(dataset_dir), "--name", "synth")
    assert code == ExitCode.OK
    assert "registered dataset 1 'synth': 1 channel(s), 44100 Hz" in out
    code, out, _ = cli("dataset", "list", "--json")
    data = json.loads(out)
    assert [(d["id"], d["name"], d["channels"]) for d in data] == [(1, "synth", 1)]
    code, out, _ = cli("dataset", "list")
    assert "synth" in out and "0:00:56" in out


def test_dataset_add_refuses_a_folder_that_is_not_a_dataset(cli: Any, tmp_path: Path) -> None:
    code, _out, err = cli("dataset", "add", str(tmp_path))
    assert code == ExitCode.INVALID
    assert "is not a RAVE dataset: it has no metadata.yaml" in err
    assert "Traceback" not in err
