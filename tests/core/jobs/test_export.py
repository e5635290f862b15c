"""Export's checkpoint choice, stereo fix, paths, argv and progress on the genuine capture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.jobs.export import (
    build_export_argv,
    choose_checkpoint,
    expected_model_path,
    fix_stereo_config,
    parse_export_line,
)
from ravelab.core.runs.text_stream import LineSplitter
from tests.conftest import FIXTURES


def _run_folder(root: Path) -> Path:
    run = root / "demo_0123456789"
    for version, names in ((0, ["best.ckpt", "epoch_100.ckpt"]), (1, ["epoch-epoch=0079.ckpt"])):
        folder = run / f"version_{version}" / "checkpoints"
        folder.mkdir(parents=True)
        for offset, name in enumerate(names):
            path = folder / name
            path.write_bytes(b"ckpt")
            stamp = 1_000_000 + version * 100 + offset
            os.utime(path, (stamp, stamp))
    (run / "config.gin").write_text("SAMPLING_RATE = 44100\n")
    return run


def test_choose_best_latest_or_a_path(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    assert choose_checkpoint(tmp_path, "best").path.name == "best.ckpt"
    assert choose_checkpoint(tmp_path, "latest").path.name == "epoch-epoch=0079.ckpt"
    given = run / "version_0" / "checkpoints" / "epoch_100.ckpt"
    assert choose_checkpoint(tmp_path, str(given)).path == given
    with pytest.raises(NotFoundError, match="does not exist"):
        choose_checkpoint(tmp_path, str(tmp_path / "x.ckpt"))
    with pytest.raises(NotFoundError, match=r"RAVE writes best\.ckpt"):
        choose_checkpoint(tmp_path / "empty", "best")


def test_stereo_config_gets_n_channels_once(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    checkpoint = run / "version_0" / "checkpoints" / "best.ckpt"
    assert not fix_stereo_config(checkpoint, 1)
    assert fix_stereo_config(checkpoint, 2)
    assert "RAVE.n_channels = 2" in (run / "config.gin").read_text()
    assert (run / "config.gin.orig").read_text() == "SAMPLING_RATE = 44100\n"
    assert not fix_stereo_config(checkpoint, 2)  # already there
    (run / "config.gin").write_text("model.RAVE.n_channels = 2\n")  # as users add it
    assert not fix_stereo_config(checkpoint, 2)


def test_model_paths_and_argv(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    checkpoint = run / "version_0" / "checkpoints" / "best.ckpt"
    path, extra = expected_model_path(checkpoint, True, None)
    assert path == checkpoint.parent / "demo_0123456789_streaming.ts" and extra == []
    path, extra = expected_model_path(checkpoint, True, tmp_path / "out" / "drums.ts")
    assert path == (tmp_path / "out" / "drums_streaming.ts").resolve()
    assert extra == ["--output", str((tmp_path / "out").resolve()), "--name", "drums"]
    with pytest.raises(ConfigError, match=r"must be a \.ts file"):
        expected_model_path(checkpoint, False, tmp_path / "model.pt")
    argv = build_export_argv("/bin/rave", checkpoint, streaming=False, fidelity=0.9, extra=[])
    assert argv == [
        "/bin/rave",
        "export",
        "--run",
        str(checkpoint),
        "--nostreaming",
        "--fidelity",
        "0.9",
    ]
    with pytest.raises(ConfigError, match=r"fidelity 2\.0 is out of range"):
        build_export_argv("/bin/rave", checkpoint, streaming=True, fidelity=2.0, extra=[])


def test_export_progress_from_the_genuine_capture() -> None:
    splitter = LineSplitter()
    data = (FIXTURES / "export_streaming.stderr.raw").read_bytes()
    progress: dict[str, object] = {}
    stages = []
    for line in splitter.feed(data) + splitter.flush():
        update = parse_export_line(line.text, "stderr")
        if "stage" in update:
            stages.append(update["stage"])
        progress.update(update)
    assert stages[0] == "building rave" and stages[-1] == "done"
    assert str(progress["exported_path"]).endswith("capture_65097e39f0_streaming.ts")
