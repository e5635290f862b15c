"""`ravelab metrics` through main(argv): a run's metric points as CSV or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ravelab.cli.exit_codes import ExitCode


def test_metrics_prints_the_points_of_an_imported_run(cli: Any, tmp_path: Path) -> None:
    import csv
    import io

    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "a")
    cli("import-run", str(tmp_path / "a"), "--name", "first")
    code, out, err = cli("metrics", "first", "--metric", "fullband_spectral_distance")
    assert code == ExitCode.OK, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["metric", "step", "value", "wall_time"]
    assert len(table) == 1 + 6 and {row[0] for row in table[1:]} == {"fullband_spectral_distance"}
    steps = [int(row[1]) for row in table[1:]]
    assert steps == sorted(steps)
    code, out, err = cli("metrics", "first", "--format", "json")
    assert code == ExitCode.OK, err
    document = json.loads(out)
    full = document["metrics"]["fullband_spectral_distance"]
    assert full["steps"] == steps
    assert full["values"] == [float(row[2]) for row in table[1:]]
    assert len(full["wall_times"]) == 6
    output = tmp_path / "out" / "points.csv"
    code, _, err = cli("metrics", "first", "-o", str(output))
    assert code == ExitCode.OK and "wrote" in err
    assert output.read_text(encoding="utf-8").startswith("metric,step,value,wall_time\n")
    code, _, err = cli("metrics", "first", "--metric", "nope")
    assert code == ExitCode.INVALID and "no points for 'nope'" in err and "fullband" in err
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    code, _, err = cli("metrics", "first", "-o", str(blocked / "points.csv"))
    assert code == ExitCode.INVALID and "choose a file in a folder you can write to" in err
