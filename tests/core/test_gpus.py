"""The GPUs as ``nvidia-smi`` lists them (a stand-in ``nvidia-smi`` on PATH): each sound
line read, other lines passed over, and no driver, a failing or a hanging tool read as no
GPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ravelab.core.gpus import GpuInfo, list_gpus


def _smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")


def test_each_sound_line_is_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _smi(
        tmp_path,
        monkeypatch,
        "printf '0, NVIDIA A100-SXM4-80GB, 81920\\n"
        "1, NVIDIA GeForce RTX 4090, [N/A]\\n"
        "No devices were found\\n"
        "x, broken, 12\\n'\n",
    )
    assert list_gpus() == [
        GpuInfo(0, "NVIDIA A100-SXM4-80GB", 81920),
        GpuInfo(1, "NVIDIA GeForce RTX 4090", None),
    ]


def test_no_tool_a_failing_one_or_a_hanging_one_is_no_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert list_gpus() == []
    _smi(tmp_path, monkeypatch, "echo 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert list_gpus() == []
    (tmp_path / "bin" / "nvidia-smi").write_text("#!/bin/sh\nexec sleep 60\n")
    assert list_gpus(timeout_s=0.2) == []  # a driver that does not answer
