"""``NewTrainingWizard``: the original API's four-page wizard that makes a training config dict.

Pages (a module each, beside this one: ``wizard_dataset_page``, ``wizard_config_page``,
``wizard_params_page``, ``wizard_confirm_page``; their names are importable from here too):
``DatasetSelectionPage`` (registered datasets, "Add dataset..."),
``ConfigSelectionPage`` (RAVE's base configs, modifiers and augmentations, with what
RAVE refuses refused here), ``TrainingParametersPage`` (name, steps, batch, GPU,
intervals, each with RAVE's default) and ``ConfirmationPage`` (a summary and the exact
``rave train`` command). ``get_config()`` returns the dict
``TrainingManager.start_training`` takes; ``prefill(config)`` fills the pages from one
(``TrainingManager.clone_config``: "Clone" on the Training page). Where SLURM is set up
(stored settings or ``sbatch`` on the PATH) the parameters page offers "Run on: this
computer / SLURM cluster" with the job's resources, and one entry per stored SSH remote
(``executor`` "ssh", ``executor_options`` ``{"remote": NAME}``). Invalid input keeps
Next disabled, with the reason next to the field; all checks are the core's (``check_name``,
``validate_training_config``, ``rave_configs``).

Besides "Start training", the last page offers "Add to queue": the run then waits for its
device (``TrainingManager.queue_training``; it starts at once when the device is free);
``queue_requested`` tells the caller which button finished the wizard. The queue is this
computer's: a SLURM or SSH run is not offered it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QWidget,
    QWizard,
)

from ravelab.core.rave.learning_rate import GENERATOR_START_LR
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.gui.wizard_config_page import ConfigSelectionPage
from ravelab.gui.wizard_confirm_page import OUT_PATH_PLACEHOLDER, ConfirmationPage
from ravelab.gui.wizard_dataset_page import DatasetSelectionPage
from ravelab.gui.wizard_params_page import (
    CPU,
    LOCAL,
    SLURM,
    SLURM_FIELDS,
    SSH,
    TrainingParametersPage,
    slurm_available,
)
from ravelab.gui.workers import TaskRunner


class NewTrainingWizard(QWizard):
    """The original API's wizard: four pages that make the config dict of a new run.

    Args:
        manager: where runs start (its database, rave and runs folder are used).
        project_id: the project the run will belong to.
        project_name: shown in the summary.
        parent: the parent widget.

    Signals:
        dataset_added(int): a dataset was registered from the first page.
        rave_changed(): the `rave` executable was set from the last page.
    """

    dataset_added = Signal(int)
    rave_changed = Signal()

    def __init__(
        self,
        manager: TrainingManager,
        project_id: int = 1,
        project_name: str = "Default",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.db = manager.db
        self.project_id = project_id
        self.project_name = project_name
        self.runner = TaskRunner(self)
        self._carried: dict[str, Any] = {}
        self.setWindowTitle("New training")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(820, 620)
        self.dataset_page = DatasetSelectionPage(self)
        self.config_page = ConfigSelectionPage(self)
        self.params_page = TrainingParametersPage(self)
        self.confirm_page = ConfirmationPage(self)
        for page in (self.dataset_page, self.config_page, self.params_page, self.confirm_page):
            self.addPage(page)
        #: Whether "Add to queue" (not "Start training") finished the wizard.
        self.queue_requested = False
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Add to queue")
        queue_button = self.button(QWizard.WizardButton.CustomButton1)
        queue_button.setToolTip(
            "Wait for the device and start when the run before it there ends (at once "
            "when the device is free), with no app open"
        )
        self.customButtonClicked.connect(self._on_custom_button)
        self.currentIdChanged.connect(lambda _id: self.update_queue_button())
        self.confirm_page.completeChanged.connect(self.update_queue_button)
        self.update_queue_button()
        self.finished.connect(lambda _result: self.runner.shutdown())

    def update_queue_button(self) -> None:
        """ "Add to queue" only on the last page, enabled when the run could start there
        and it runs on this computer (a SLURM run waits in SLURM's own queue; the queue
        does not send runs to a remote)."""
        button = self.button(QWizard.WizardButton.CustomButton1)
        on_confirm = self.currentPage() is self.confirm_page
        button.setVisible(on_confirm)
        button.setEnabled(
            on_confirm and self.confirm_page.isComplete() and self.params_page.executor == LOCAL
        )

    def _on_custom_button(self, which: int) -> None:
        if which != QWizard.WizardButton.CustomButton1.value:
            return
        self.add_to_queue()

    def add_to_queue(self) -> bool:
        """Finish the wizard asking for the run to be queued; False when it cannot be."""
        self.update_queue_button()
        if not self.button(QWizard.WizardButton.CustomButton1).isEnabled():
            return False
        self.queue_requested = True
        self.accept()
        return True

    def overrides(self) -> list[str]:
        """The gin overrides typed on the parameters page."""
        return self.params_page.overrides() if hasattr(self, "params_page") else []

    def get_config(self) -> dict[str, Any]:
        """The config dict for ``TrainingManager.start_training`` (the original API's contract)."""
        dataset = self.dataset_page.selected_dataset()
        params = self.params_page
        config: dict[str, Any] = {
            "name": params.name_edit.text(),
            "dataset_id": dataset.id if dataset else None,
            "dataset_path": dataset.path if dataset else None,
            "config": self.config_page.base_config(),
            "modifiers": self.config_page.modifiers(),
            "max_steps": params.max_steps.value(),
            "batch_size": params.batch_size.value(),
            "learning_rate": GENERATOR_START_LR,
            "gpu": int(params.gpu.currentData()),
            "val_every": params.val_every.value(),
            "save_every": params.save_every.value(),
            "n_signal": params.n_signal.value(),
            "project_id": self.project_id,
        }
        augment = self.config_page.augmentations()
        if augment:
            config["augment"] = augment
        overrides = params.overrides()
        if overrides:
            config["overrides"] = overrides
        config.update(self._carried)
        if params.executor == SLURM:
            config["executor"] = SLURM
            config["executor_options"] = params.executor_options()
            config.pop("gpu")  # the core picks --gpu 0 when --gres asks for a GPU
        elif params.executor == SSH:
            config["executor"] = SSH
            config["executor_options"] = params.executor_options()  # {"remote": NAME}
        return config

    def prefill(self, config: Mapping[str, Any]) -> None:
        """Fill the pages from a config dict (``clone_config``); the name is suggested
        anew. Settings the wizard has no field for (``workers``) are kept as they are."""
        dataset_id = config.get("dataset_id")
        if isinstance(dataset_id, int):
            self.dataset_page.select_dataset(dataset_id)
        if config.get("config"):
            self.config_page.set_selection(
                str(config["config"]),
                list(config.get("modifiers") or []),
                list(config.get("augment") or []),
            )
        params = self.params_page
        for key, spin in (
            ("max_steps", params.max_steps),
            ("batch_size", params.batch_size),
            ("val_every", params.val_every),
            ("save_every", params.save_every),
            ("n_signal", params.n_signal),
        ):
            value = config.get(key)
            if isinstance(value, int):
                spin.setValue(value)
        gpu = config.get("gpu")
        if isinstance(gpu, int):
            params.set_gpu(gpu)
        params.overrides_edit.setText(" ".join(config.get("overrides") or []))
        params.set_executor(str(config.get("executor") or LOCAL), config.get("executor_options"))
        self._carried = {key: config[key] for key in ("workers",) if config.get(key) is not None}


__all__ = [
    "CPU",
    "LOCAL",
    "OUT_PATH_PLACEHOLDER",
    "SLURM",
    "SLURM_FIELDS",
    "SSH",
    "ConfigSelectionPage",
    "ConfirmationPage",
    "DatasetSelectionPage",
    "NewTrainingWizard",
    "TrainingParametersPage",
    "slurm_available",
]
