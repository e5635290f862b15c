"""The GPU list (the wizard's, ``doctor``'s) comes from NVML when NVML answers, and from
``nvidia-smi`` when it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ravelab.core.gpus import GpuInfo, list_gpus
from tests.nvml_double import FakeNvml, fake_nvml, gpu

__all__ = ["fake_nvml"]


def _smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nprintf '0, Tesla from nvidia-smi, 16160\\n'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")


def test_nvml_first(fake_nvml: FakeNvml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _smi(tmp_path, monkeypatch)
    fake_nvml.set([gpu("NVIDIA A100", total=40960.4), gpu("NVIDIA T4", total=15360)])
    assert list_gpus() == [GpuInfo(0, "NVIDIA A100", 40960), GpuInfo(1, "NVIDIA T4", 15360)]


@pytest.mark.parametrize("state", [{"init_error": "UNKNOWN"}, {"init_error": "DRIVER_NOT_LOADED"}])
def test_nvidia_smi_when_nvml_cannot_answer(
    fake_nvml: FakeNvml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: dict[str, str]
) -> None:
    _smi(tmp_path, monkeypatch)
    fake_nvml.set([gpu()], **state)
    assert list_gpus() == [GpuInfo(0, "Tesla from nvidia-smi", 16160)]


def test_neither_is_no_gpu(
    fake_nvml: FakeNvml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    fake_nvml.remove()
    assert list_gpus() == []
