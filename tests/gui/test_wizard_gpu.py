"""The wizard's GPU choice: GPUs listed through NVML, and a warning (never a block) when
the chosen GPU is busy or too small for the config."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.gui.new_training_wizard import NewTrainingWizard
from tests.gui.conftest import save_screenshot
from tests.nvml_double import FakeNvml, fake_nvml, gpu

pytestmark = pytest.mark.gui
__all__ = ["fake_nvml"]


def _to_params(wizard: NewTrainingWizard) -> None:
    while wizard.currentPage() is not wizard.params_page:
        assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        wizard.next()


def test_a_busy_or_small_gpu_is_warned_about(
    qtbot: QtBot, manager: TrainingManager, dataset_id: int, fake_nvml: FakeNvml
) -> None:
    fake_nvml.set(
        [
            gpu("NVIDIA GeForce RTX 4090", utilization=91, used=9000, total=24564),
            gpu("NVIDIA A100-SXM4-80GB", utilization=0, used=400, total=81920),
        ]
    )
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.resize(820, 640)
    wizard.show()
    wizard.config_page.set_selection("v3", [], [])
    _to_params(wizard)
    page = wizard.params_page
    qtbot.waitUntil(lambda: page.gpu.count() == 3, timeout=15_000)
    assert page.gpu.itemText(1) == "GPU 0: NVIDIA GeForce RTX 4090, 24 GB"
    assert page.gpu.currentData() == 0
    qtbot.waitUntil(lambda: page.gpu_warning.isVisibleTo(page), timeout=15_000)
    text: Any = page.gpu_warning.text()
    assert "GPU 0 is at 91% utilisation now" in text
    assert "RAVE's README asks 32 GB for v3" in text
    assert page.isComplete()  # a warning, not a block
    label = page.gpu_warning
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=15_000)
    save_screenshot(wizard, "wizard_gpu_warning.png")
    # The big idle GPU: nothing to say.
    page.gpu.setCurrentIndex(page.gpu.findData(1))
    qtbot.waitUntil(lambda: not page.gpu_warning.isVisibleTo(page), timeout=15_000)
    page.gpu.setCurrentIndex(page.gpu.findData(-1))
    assert not page.gpu_warning.isVisibleTo(page)
