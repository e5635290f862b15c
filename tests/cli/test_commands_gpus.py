"""``ravelab gpus``: the table with the runs on each GPU, the stable JSON, "No NVIDIA GPU"
with exit 0, and ``--watch`` redrawing until Ctrl-C ends it with exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from tests.helpers import wait_until
from tests.nvml_double import FakeNvml, fake_nvml, gpu

__all__ = ["fake_nvml"]

TRAIN = ("train", "--dataset", "synth", "--name", "held", "--config", "v2_small",
         "--max-steps", "20", "--batch-size", "4", "--workers", "0")  # fmt: skip


def test_no_gpu_is_an_answer(cli: Any, fake_nvml: FakeNvml) -> None:
    fake_nvml.set([], init_error="DRIVER_NOT_LOADED")
    code, out, err = cli("gpus")
    assert (code, out, err) == (ExitCode.OK, "No NVIDIA GPU: the NVIDIA driver is not loaded\n", "")
    code, out, _ = cli("gpus", "--json")
    assert code == ExitCode.OK
    assert json.loads(out) == {
        "available": False,
        "reason": "the NVIDIA driver is not loaded",
        "kind": "no-driver",
        "driver": None,
        "gpus": [],
    }


def test_the_table_and_the_json_with_a_run_on_a_gpu(
    cli: Any,
    fake_nvml: FakeNvml,
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold = tmp_path / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    fake_nvml.set(
        [
            gpu("NVIDIA A100", 97, 20000, 24564, 71, 380.5, [{"pid": 99, "memory_mib": 19000}]),
            gpu("NVIDIA T4", fail={"power": "NOT_SUPPORTED"}),
        ],
        driver="550.54.15",
    )
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    try:
        code, _, err = cli(*TRAIN, "--gpu", "0")
        assert code == ExitCode.OK, err
        # Started, with the GPU's state as warnings on stderr.
        assert err.splitlines() == [
            "ravelab: warning: GPU 0 is at 97% utilisation now",
            "ravelab: warning: GPU 0 has 4.5 GB free of 24.0 GB now; v2_small wants about 8 GB",
        ]
        wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
        code, out, err = cli("gpus")
        assert code == ExitCode.OK and err == ""
        lines = out.splitlines()
        assert lines[0].split() == ["GPU", "NAME", "UTIL", "MEMORY", "TEMP", "POWER", "RAVELAB",
                                    "RUNS"]  # fmt: skip
        assert lines[2].split() == ["0", "NVIDIA", "A100", "97%", "20000", "/", "24564", "MiB",
                                    "71", "C", "380", "W", "held", "(1)"]  # fmt: skip
        assert lines[3].split()[-2:] == ["-", "-"]  # no power reading, no run
        assert "note: GPU 1: power: NVMLError_NotSupported: Not Supported" in out
        code, out, _ = cli("gpus", "--json")
        data = json.loads(out)
        assert (data["available"], data["driver"]) == (True, "550.54.15")
        first, second = data["gpus"]
        assert first == {
            "index": 0,
            "name": "NVIDIA A100",
            "utilization_pct": 97.0,
            "memory_used_mib": 20000.0,
            "memory_total_mib": 24564.0,
            "temperature_c": 71.0,
            "power_w": 380.5,
            "processes": [{"pid": 99, "memory_mib": 19000.0}],
            "problems": [],
            "runs": [{"id": 1, "name": "held"}],
        }
        assert second["power_w"] is None and second["runs"] == []
    finally:
        hold.touch()
    code, _, _ = cli("stop", "1", "--timeout", "60")  # ends it, whatever it reached


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_redraws_until_ctrl_c(fake_nvml: FakeNvml, tmp_path: Path, as_json: bool) -> None:
    fake_nvml.set([gpu("NVIDIA L4", utilization=12)])
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    command = [sys.executable, "-m", "ravelab", "--db", str(tmp_path / "w.db"), "gpus", "--watch"]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [*command, *(["--json"] if as_json else [])],
            stdout=out,
            stderr=err,
            env={**os.environ, **fake_nvml.env()},
        )
    try:
        first, then = (
            ('"utilization_pct": 12', '"utilization_pct": 55') if as_json else ("12%", "55%")
        )
        wait_until(lambda: first in out_path.read_text(), timeout=60, what="the first draw")
        fake_nvml.set([gpu("NVIDIA L4", utilization=55)])
        wait_until(lambda: then in out_path.read_text(), timeout=60, what="a redraw")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0
    assert "Traceback" not in err_path.read_text() and "interrupted" not in err_path.read_text()
    text = out_path.read_text()
    if as_json:
        readings = [json.loads(line) for line in text.splitlines()]
        utilization = [r["gpus"][0]["utilization_pct"] for r in readings]
        assert utilization[0] == 12.0 and utilization[-1] == 55.0
    else:
        assert text.count("NVIDIA L4") >= 2 and "12%" in text and "55%" in text


def test_the_sampling_interval_setting(cli: Any) -> None:
    code, out, _ = cli("settings", "set", "gpu_sample_seconds", "30")
    assert (code, out) == (ExitCode.OK, "gpu_sample_seconds = 30\n")
    for bad in ("0", "soon", "nan", "99999"):
        code, _, err = cli("settings", "set", "gpu_sample_seconds", bad)
        assert code == ExitCode.INVALID and "from 1 to 3600" in err, err
    code, out, _ = cli("settings", "show")
    assert "30" in out
