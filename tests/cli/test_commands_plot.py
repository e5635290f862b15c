"""`ravelab plot` through main(argv): a metric of several runs drawn to an image file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.cli.exit_codes import ExitCode


def test_plot_renders_an_image_of_two_runs(cli: Any, tmp_path: Path) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "a")
    _make_run_layout(tmp_path / "b")
    cli("import-run", str(tmp_path / "a"), "--name", "first")
    cli("import-run", str(tmp_path / "b"), "--name", "second")
    output = tmp_path / "plots" / "compare.png"
    code, out, err = cli("plot", "first", "second", "-o", str(output), "--smoothing", "0.6")
    assert code == ExitCode.OK, err
    assert "fullband_spectral_distance, 2 run(s), 12 points" in out
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = cli("plot", "first", "--metric", "nope", "-o", str(output))
    assert code == ExitCode.INVALID and "no 'nope' points" in err
    code, _, err = cli("plot", "first", "-o", str(tmp_path / "x.txt"))
    assert code == ExitCode.INVALID and "use a .png" in err


def test_plot_smooths_with_tensorboards_weight(cli: Any, tmp_path: Path) -> None:
    from tests.core.tensorboard.test_run_events import _make_run_layout

    _make_run_layout(tmp_path / "a")
    cli("import-run", str(tmp_path / "a"), "--name", "first")
    output = tmp_path / "smooth.svg"
    code, _, err = cli("plot", "first", "-o", str(output), "--smooth", "0.6")
    assert code == ExitCode.OK, err
    assert "(smoothing 0.6)" in output.read_text()  # the title says how it was smoothed
    code, _, err = cli("plot", "first", "-o", str(output), "--smooth", "1")
    assert code == ExitCode.INVALID and "--smooth 1.0 must be at least 0 and below 1" in err
