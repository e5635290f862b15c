"""``ravelab logs --merged``: both streams in arrival order with times and stream tags, a
line per attempt; a run without merged.log falls back to the two files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.runs.merged_log import MERGED_LOG
from tests.cli.test_cli import TRAIN


def test_logs_merged_and_its_fallback(cli: Any, dataset_dir: Path) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    code, _, err = cli(*TRAIN, "--follow")
    assert code == ExitCode.OK, err
    code, out, err = cli("logs", "1", "--merged")
    assert code == ExitCode.OK, err
    lines = out.splitlines()
    assert lines[0].endswith("--- attempt 1 started ---")
    assert lines[-1].endswith("--- attempt 1 ended (exit code 0) ---")
    tagged = [line.split(" ", 2)[1:] for line in lines[1:-1]]
    assert ["out", "train set: 19 examples"] in tagged
    assert any(tag == "err" and "Path not found" in text for tag, text in tagged)
    code, out, _ = cli("logs", "1", "--merged", "--stream", "stdout")
    assert " err " not in out and " out train set: 19 examples" in out

    # The plain reading is unchanged.
    code, out, err = cli("logs", "1")
    assert out.splitlines()[:2] == ["train set: 19 examples", "val set: 1 examples"]

    code, out, _ = cli("show", "1", "--json")
    run_dir = Path(json.loads(out)["run_dir"])
    (run_dir / MERGED_LOG).unlink()  # as for a run started before merged.log
    code, out, err = cli("logs", "1", "--merged")
    assert code == ExitCode.OK and "has no merged.log" in err
    assert out.splitlines()[:2] == ["train set: 19 examples", "val set: 1 examples"]
