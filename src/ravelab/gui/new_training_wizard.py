"""``NewTrainingWizard``: the seed's four-page wizard that makes a training config dict.

Pages: ``DatasetSelectionPage`` (registered datasets, "Add dataset..."),
``ConfigSelectionPage`` (RAVE's base configs, modifiers and augmentations, with what
RAVE refuses refused here), ``TrainingParametersPage`` (name, steps, batch, GPU,
intervals, each with RAVE's default) and ``ConfirmationPage`` (a summary and the exact
``rave train`` command). ``get_config()`` returns the dict
``TrainingManager.start_training`` takes; ``prefill(config)`` fills the pages from one
(``TrainingManager.clone_config``: "Clone" on the Training page). Where SLURM is set up
(stored settings or ``sbatch`` on the PATH) the parameters page offers "Run on: this
computer / SLURM cluster" with the job's resources. Invalid input keeps Next disabled, with the
reason next to the field; all checks are the core's (``check_name``,
``validate_training_config``, ``rave_configs``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ravelab.core import dataset_catalog, rave_configs, run_queries
from ravelab.core.errors import RavelabError
from ravelab.core.gpus import GpuInfo, list_gpus
from ravelab.core.learning_rate import GENERATOR_START_LR, describe_schedule
from ravelab.core.names import check_name
from ravelab.core.numbers import is_ascii_integer
from ravelab.core.rave_locator import find_rave
from ravelab.core.slurm_settings import SlurmSettings
from ravelab.core.training_config import (
    RAVE_DEFAULTS,
    build_train_argv,
    validate_training_config,
)
from ravelab.core.training_manager import TrainingManager
from ravelab.db import DatabaseError, DatasetRecord
from ravelab.gui import formatting
from ravelab.gui.dataset_actions import add_dataset
from ravelab.gui.rave_actions import choose_rave_executable
from ravelab.gui.style import ERROR_STYLE, HINT_COLOUR, HINT_STYLE, TITLE_STYLE
from ravelab.gui.workers import TaskRunner

CPU = -1
LOCAL = "local"
SLURM = "slurm"
#: The SLURM resources the wizard asks for (``SlurmSettings`` fields): label, hint.
SLURM_FIELDS = {
    "partition": ("Partition:", "--partition, e.g. gpu"),
    "time": ("Time limit:", "--time, e.g. 12:00:00 or 2-00:00:00"),
    "gres": ("GPUs (gres):", "--gres, e.g. gpu:1 or gpu:a100:1"),
    "cpus": ("CPUs:", "--cpus-per-task, e.g. 8"),
    "mem": ("Memory:", "--mem, e.g. 32G"),
}


def slurm_available(db: Any) -> tuple[bool, SlurmSettings]:
    """Whether to offer SLURM (settings stored, or ``sbatch`` found), and the settings."""
    try:
        settings = SlurmSettings.load(db)
    except RavelabError:
        settings = SlurmSettings()
    return (not settings.is_empty or shutil.which("sbatch") is not None), settings


#: Where the confirmation page shows the run folder: its id is known only once it starts.
OUT_PATH_PLACEHOLDER = "<id>-{name}"


def _item(tree: QTreeWidget, index: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(index)
    assert item is not None
    return item


def _wrapping(label: QLabel) -> QLabel:
    # A word-wrapped label otherwise asks for a narrow width and wraps after 40 characters.
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def _error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    return _wrapping(label)


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(HINT_STYLE)
    return _wrapping(label)


# -- page 1 ----------------------------------------------------------------------------------


class DatasetSelectionPage(QWizardPage):
    """Choose a registered dataset, or register one."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Dataset")
        self.setSubTitle(
            "Choose the preprocessed dataset to train on (a folder made by `rave preprocess`)."
        )
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Channels", "Sample rate", "Duration", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in (1, 2, 3):
            self.tree.headerItem().setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.itemDoubleClicked.connect(lambda *_: self._wizard.next())
        self.empty_label = _hint(
            "No dataset is registered yet. Click “Add dataset...” and choose a folder made by "
            "`rave preprocess --input_path AUDIO --output_path FOLDER`."
        )
        self.reason = _error_label()
        self.add_button = QPushButton("Add dataset...")
        self.add_button.setToolTip("Register a folder made by `rave preprocess`")
        self.add_button.clicked.connect(self.add_dataset)

        buttons = QHBoxLayout()
        buttons.addWidget(self.reason, 1)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        self._datasets: list[DatasetRecord] = []
        self.reload()

    def reload(self, select_id: int | None = None) -> None:
        """List the ready datasets again (and select one)."""
        current = self.selected_dataset()
        select_id = select_id if select_id is not None else (current.id if current else None)
        self._datasets = [
            record
            for record in dataset_catalog.list_datasets(self._wizard.db)
            if record.status == "ready"
        ]
        self.tree.clear()
        for record in self._datasets:
            item = QTreeWidgetItem(
                [
                    record.name,
                    str(record.channels) if record.channels else "-",
                    formatting.sample_rate(record.sample_rate),
                    formatting.seconds_of_audio(record.n_seconds),
                    record.path,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(4, record.path)
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
            if record.id == select_id:
                item.setSelected(True)
                self.tree.setCurrentItem(item)
        if select_id is None and len(self._datasets) == 1:
            _item(self.tree, 0).setSelected(True)
        self.empty_label.setVisible(not self._datasets)
        self._on_selection()

    def selected_dataset(self) -> DatasetRecord | None:
        """The dataset chosen, or None."""
        items = self.tree.selectedItems()
        if not items:
            return None
        dataset_id = items[0].data(0, Qt.ItemDataRole.UserRole)
        return next((d for d in self._datasets if d.id == dataset_id), None)

    def select_dataset(self, dataset_id: int) -> None:
        """Select a dataset by id."""
        self.reload(select_id=dataset_id)

    def add_dataset(self) -> DatasetRecord | None:
        """Register a folder (picker) and select it."""
        record = add_dataset(self, self._wizard.db, self._wizard.project_id)
        if record is not None:
            self.reload(select_id=record.id)
            self._wizard.dataset_added.emit(record.id)
        return record

    def _on_selection(self) -> None:
        if self.selected_dataset() is None:
            self.reason.setText(
                "Choose a dataset to continue." if self._datasets else "Add a dataset to continue."
            )
        else:
            self.reason.setText("")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.selected_dataset() is not None


# -- page 2 ----------------------------------------------------------------------------------


class ConfigSelectionPage(QWizardPage):
    """Choose RAVE's base config, modifiers and augmentations."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("RAVE configuration")
        self.setSubTitle(
            "A base config, plus modifiers (each an extra `--config`) and augmentations. "
            "GPU memory is what RAVE's README gives."
        )
        self.base_tree = self._tree(["Base config", "GPU memory", "Description"])
        for info in rave_configs.BASE_CONFIGS.values():
            item = self._item(info)
            self.base_tree.addTopLevelItem(item)
            if info.name == "v2":
                self.base_tree.setCurrentItem(item)
                item.setSelected(True)
        self.base_tree.itemSelectionChanged.connect(self._on_changed)

        self.modifier_tree = self._tree(["Modifier", "GPU memory", "Description"])
        self.modifier_tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for info in rave_configs.MODIFIERS.values():
            item = self._item(info)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            self.modifier_tree.addTopLevelItem(item)
        for info in rave_configs.AUGMENTATIONS.values():
            item = self._item(info, augmentation=True)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            self.modifier_tree.addTopLevelItem(item)
        self.modifier_tree.itemChanged.connect(lambda *_: self._on_changed())

        self.reason = _error_label()
        self.phase_label = _hint("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.base_tree, 5)
        layout.addWidget(self.modifier_tree, 6)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.reason)
        self._on_changed()

    @staticmethod
    def _tree(headers: list[str]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        header = tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        return tree

    @staticmethod
    def _item(info: rave_configs.ConfigInfo, augmentation: bool = False) -> QTreeWidgetItem:
        name = f"{info.name} (augmentation)" if augmentation else info.name
        item = QTreeWidgetItem([name, info.gpu_memory or "-", info.description])
        item.setData(0, Qt.ItemDataRole.UserRole, info.name)
        item.setData(1, Qt.ItemDataRole.UserRole, "augment" if augmentation else "config")
        item.setToolTip(2, info.description)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignCenter)
        return item

    def base_config(self) -> str:
        """The chosen base config (``v2`` by default)."""
        items = self.base_tree.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else ""

    def _checked(self, kind: str) -> list[str]:
        names = []
        for index in range(self.modifier_tree.topLevelItemCount()):
            item = _item(self.modifier_tree, index)
            if (
                item.data(1, Qt.ItemDataRole.UserRole) == kind
                and item.checkState(0) == Qt.CheckState.Checked
            ):
                names.append(str(item.data(0, Qt.ItemDataRole.UserRole)))
        return names

    def modifiers(self) -> list[str]:
        """The checked modifiers, in RAVE's listing order."""
        return self._checked("config")

    def augmentations(self) -> list[str]:
        """The checked augmentations."""
        return self._checked("augment")

    def set_selection(
        self, base: str, modifiers: list[str] | None = None, augment: list[str] | None = None
    ) -> None:
        """Choose a base config, modifiers and augmentations (tests, presets)."""
        for index in range(self.base_tree.topLevelItemCount()):
            item = _item(self.base_tree, index)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == base)
        wanted = {("config", m) for m in modifiers or []}
        wanted |= {("augment", a) for a in augment or []}
        for index in range(self.modifier_tree.topLevelItemCount()):
            item = _item(self.modifier_tree, index)
            key = (item.data(1, Qt.ItemDataRole.UserRole), item.data(0, Qt.ItemDataRole.UserRole))
            item.setCheckState(
                0, Qt.CheckState.Checked if key in wanted else Qt.CheckState.Unchecked
            )
        self._on_changed()

    def problem(self) -> str | None:
        """Why RAVE would refuse this combination, or None."""
        base = self.base_config()
        if not base:
            return "Choose a base config."
        needs_v2 = [m for m in self.modifiers() if m in rave_configs.V2_ONLY_MODIFIERS]
        if needs_v2 and base not in rave_configs.V2_FAMILY:
            family = ", ".join(sorted(rave_configs.V2_FAMILY))
            return (
                f"{' and '.join(needs_v2)} need{'s' if len(needs_v2) == 1 else ''} a v2-family "
                f"base config ({family}), not {base}."
            )
        return None

    def phase_1_duration(self) -> int:
        """RAVE's phase-1 length for the chosen configs (and the overrides given)."""
        return rave_configs.phase_1_duration(
            self.base_config() or "v2", self.modifiers(), self._wizard.overrides()
        )

    def _on_changed(self) -> None:
        problem = self.problem()
        self.reason.setText(problem or "")
        self.phase_label.setText(
            f"With this configuration RAVE's phase 1 (the autoencoder alone) lasts "
            f"{self.phase_1_duration():,} steps; the adversarial phase 2 follows."
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.problem() is None


# -- page 3 ----------------------------------------------------------------------------------


def _with_note(field: QWidget, note: QLabel) -> QWidget:
    """A field with its note (a reason or a hint) under it, as one form row."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(
        field,
        0,
        Qt.AlignmentFlag.AlignLeft if field.maximumWidth() < 10_000 else Qt.AlignmentFlag(0),
    )
    column.addWidget(note)
    return box


def _spin(minimum: int, maximum: int, value: int, step: int = 1) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setValue(value)
    spin.setSingleStep(step)
    spin.setGroupSeparatorShown(True)
    spin.setMinimumWidth(140)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


class TrainingParametersPage(QWizardPage):
    """The run's name and `rave train`'s numbers, each with RAVE's default."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._name_edited = False
        self.setTitle("Training parameters")
        self.setSubTitle("Each field shows RAVE's default; hover over a field for what it does.")

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. drums-v2")
        self.name_edit.setToolTip(
            "The run's name: its folder and RAVE's --name. Letters, digits, '-', '_' and '.'."
        )
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.name_edit.textChanged.connect(self._validate)
        self.name_error = _error_label()

        self.max_steps = _spin(1, 1_000_000_000, RAVE_DEFAULTS["max_steps"], 10_000)
        self.max_steps.setToolTip(
            "--max_steps: when training stops. RAVE's phase 1 (autoencoder) runs first, then "
            "the adversarial phase 2."
        )
        self.batch_size = _spin(1, 4096, RAVE_DEFAULTS["batch_size"])
        self.batch_size.setToolTip(
            "--batch: examples per step. Larger needs more GPU memory (CUDA out of memory: "
            "lower it)."
        )
        self.learning_rate = QLineEdit(f"{GENERATOR_START_LR:g}, then RAVE's schedule")
        self.learning_rate.setReadOnly(True)
        self.learning_rate.setFixedWidth(260)
        self.learning_rate.setCursorPosition(0)
        self.learning_rate.setStyleSheet("QLineEdit { background: palette(window); }")
        self.learning_rate.setToolTip(
            "RAVE 2.3.1 has no learning-rate flag: the rate follows its fixed schedule."
        )
        self.lr_note = _hint("")
        self.gpu = QComboBox()
        self.gpu.setToolTip("--gpu: the GPU to train on, or the CPU (-1; very slow).")
        self.gpu.addItem("CPU (--gpu -1)", CPU)
        self.gpu.setMinimumWidth(260)
        self.gpu.setMaximumWidth(480)
        self.gpu_note = _hint("Looking for GPUs...")
        self.val_every = _spin(1, 1_000_000_000, RAVE_DEFAULTS["val_every"], 1000)
        self.val_every.setToolTip(
            "--val_every: steps between validations. RAVE saves its checkpoints at each "
            "validation, so this is also how much a stop can lose."
        )
        self.save_every = _spin(1, 1_000_000_000, RAVE_DEFAULTS["save_every"], 10_000)
        self.save_every.setToolTip("--save_every: steps between extra epoch_N.ckpt checkpoints.")
        self.n_signal = _spin(2048, 4_194_304, RAVE_DEFAULTS["n_signal"], 2048)
        self.n_signal.setToolTip(
            "--n_signal: training crop length in samples. It must not exceed the chunks "
            "`rave preprocess --num_signal` wrote (2 x num_signal)."
        )
        self.overrides_edit = QLineEdit()
        self.overrides_edit.setPlaceholderText("optional, e.g. PHASE_1_DURATION=200000")
        self.overrides_edit.setToolTip(
            "--override: gin bindings, separated by spaces (KEY=VALUE). Advanced."
        )
        self.overrides_edit.textChanged.connect(self._validate)
        self.overrides_error = _error_label()

        offered, slurm = slurm_available(wizard.db)
        self.slurm_offered = offered
        self.run_on = QComboBox()
        self.run_on.addItem("This computer", LOCAL)
        self.run_on.addItem("SLURM cluster (sbatch)", SLURM)
        self.run_on.setToolTip("Where the run trains: here, or as a SLURM batch job.")
        self.run_on.setMaximumWidth(480)
        self.slurm_edits: dict[str, QLineEdit] = {}
        self.slurm_box = QWidget()
        slurm_form = QFormLayout(self.slurm_box)
        slurm_form.setContentsMargins(0, 0, 0, 0)
        for key, (label, hint) in SLURM_FIELDS.items():
            edit = QLineEdit()
            value = getattr(slurm, key)
            edit.setText("" if value is None else str(value))
            edit.setPlaceholderText(f"cluster default ({hint})")
            edit.setToolTip(hint)
            edit.setMaximumWidth(320)
            edit.textChanged.connect(self._validate)
            self.slurm_edits[key] = edit
            slurm_form.addRow(label, edit)
        self.slurm_error = _error_label()
        slurm_form.addRow("", self.slurm_error)
        self.run_on.currentIndexChanged.connect(self._on_run_on)

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Name:", _with_note(self.name_edit, self.name_error))
        form.addRow("Max steps:", self._with_default(self.max_steps, "max_steps"))
        form.addRow("Batch size:", self._with_default(self.batch_size, "batch_size"))
        form.addRow("Learning rate:", _with_note(self.learning_rate, self.lr_note))
        form.addRow("Run on:", self.run_on)
        form.addRow("", self.slurm_box)
        self._device_row = _with_note(self.gpu, self.gpu_note)
        form.addRow("Device:", self._device_row)
        form.addRow("Validation every:", self._with_default(self.val_every, "val_every", "steps"))
        form.addRow("Checkpoint every:", self._with_default(self.save_every, "save_every", "steps"))
        form.addRow("n_signal:", self._with_default(self.n_signal, "n_signal", "samples"))
        form.addRow("Gin overrides:", _with_note(self.overrides_edit, self.overrides_error))
        self._form = form
        form.setRowVisible(self.run_on, offered)
        form.setRowVisible(self.slurm_box, False)
        self._pending_gpu: int | None = None
        self._detect_gpus()

    @property
    def executor(self) -> str:
        """``local`` or ``slurm``."""
        return str(self.run_on.currentData()) if self.slurm_offered else LOCAL

    def set_executor(self, executor: str, options: Mapping[str, Any] | None = None) -> None:
        """Choose where to run (SLURM only where offered) and, for SLURM, its resources."""
        if executor == SLURM and self.slurm_offered:
            self.run_on.setCurrentIndex(self.run_on.findData(SLURM))
            for key, value in (options or {}).items():
                if key in self.slurm_edits:
                    self.slurm_edits[key].setText("" if value is None else str(value))
        else:
            self.run_on.setCurrentIndex(self.run_on.findData(LOCAL))

    def executor_options(self) -> dict[str, Any]:
        """The SLURM fields filled in (``cpus`` as a number when it is one)."""
        options: dict[str, Any] = {}
        for key, edit in self.slurm_edits.items():
            text = edit.text().strip()
            if text:
                options[key] = int(text) if key == "cpus" and is_ascii_integer(text) else text
        return options

    def slurm_problem(self) -> str | None:
        """Why the SLURM fields are refused (the core's checks), or None."""
        if self.executor != SLURM:
            return None
        try:
            SlurmSettings.from_mapping(self.executor_options())
        except (RavelabError, TypeError, ValueError) as error:
            return str(error)
        return None

    def _on_run_on(self, _index: int) -> None:
        slurm = self.executor == SLURM
        self._form.setRowVisible(self.slurm_box, slurm)
        # On SLURM the run uses the GPU that --gres grants (the core passes --gpu 0).
        self._form.setRowVisible(self._device_row, not slurm)
        self._validate()

    @staticmethod
    def _with_default(spin: QSpinBox, key: str, unit: str = "") -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(spin)
        suffix = f" {unit}" if unit else ""
        default = _hint(f"RAVE's default: {RAVE_DEFAULTS[key]:,}{suffix}")
        default.setWordWrap(False)
        row.addWidget(default, 1)
        spin.setToolTip(f"{spin.toolTip()}\nRAVE's default: {RAVE_DEFAULTS[key]:,}{suffix}.")
        return box

    def _detect_gpus(self) -> None:
        runner = self._wizard.runner
        runner.submit(list_gpus, self._on_gpus, lambda _error: self._on_gpus([]))

    def _on_gpus(self, gpus: list[GpuInfo]) -> None:
        for gpu in gpus:
            memory = f", {gpu.memory_mib / 1024:.0f} GB" if gpu.memory_mib else ""
            self.gpu.addItem(f"GPU {gpu.index}: {gpu.name}{memory}", gpu.index)
        pending = self.gpu.findData(self._pending_gpu) if self._pending_gpu is not None else -1
        if pending >= 0:
            self.gpu.setCurrentIndex(pending)
        elif gpus:
            self.gpu.setCurrentIndex(1)
            self.gpu_note.setText(f"{len(gpus)} NVIDIA GPU(s) found.")
        else:
            self.gpu_note.setText(
                "No NVIDIA GPU found (nvidia-smi): training on the CPU is very slow."
            )

    def initializePage(self) -> None:
        duration = self._wizard.config_page.phase_1_duration()
        self.lr_note.setText(
            "Cannot be changed: RAVE 2.3.1 has no learning-rate setting. "
            f"{describe_schedule(duration)}."
        )
        if not self._name_edited:
            self.name_edit.setText(self.suggested_name())
        self._validate()

    def suggested_name(self) -> str:
        """``<dataset>-<config>``, numbered when taken."""
        dataset = self._wizard.dataset_page.selected_dataset()
        base = f"{dataset.name if dataset else 'run'}-{self._wizard.config_page.base_config()}"
        name, number = base[:64], 2
        while run_queries.find_experiment_by_name(self._wizard.db, name) is not None:
            suffix = f"-{number}"
            name = f"{base[: 64 - len(suffix)]}{suffix}"
            number += 1
        return name

    def _on_name_edited(self, _text: str) -> None:
        self._name_edited = True

    def name_problem(self) -> str | None:
        """Why the name cannot be used, or None."""
        name = self.name_edit.text()
        try:
            check_name(name, "The run name")
        except RavelabError as error:
            return str(error)
        try:
            taken = run_queries.find_experiment_by_name(self._wizard.db, name) is not None
        except DatabaseError as error:
            return f"The names cannot be checked: {error}"
        if taken:
            return f"A run named {name!r} exists already: choose another name."
        return None

    def overrides(self) -> list[str]:
        """The gin overrides typed (split on spaces)."""
        return self.overrides_edit.text().split()

    def overrides_problem(self) -> str | None:
        """A quick check of the overrides' form (the core checks them fully on page 4)."""
        for override in self.overrides():
            key, equals, value = override.partition("=")
            if not equals or not key or not value:
                return f"{override!r} is not KEY=VALUE (e.g. PHASE_1_DURATION=200000)."
        return None

    def _validate(self) -> None:
        self.name_error.setText(self.name_problem() or "")
        self.overrides_error.setText(self.overrides_problem() or "")
        slurm_problem = self.slurm_problem()
        self.slurm_error.setText(slurm_problem or "")
        self.slurm_error.setVisible(bool(slurm_problem))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return (
            self.name_problem() is None
            and self.overrides_problem() is None
            and self.slurm_problem() is None
        )

    def set_gpu(self, gpu: int) -> None:
        """Choose a device by ``--gpu`` value (kept until the GPUs are listed)."""
        index = self.gpu.findData(gpu)
        if index >= 0:
            self.gpu.setCurrentIndex(index)
        else:
            self._pending_gpu = gpu


# -- page 4 ----------------------------------------------------------------------------------


class ConfirmationPage(QWizardPage):
    """A summary and the exact `rave train` command."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self._problem: str | None = None
        self.setTitle("Confirm")
        self.setSubTitle(
            "ravelab will start this command in the background; closing the app does not stop it."
        )
        self.setButtonText(QWizard.WizardButton.FinishButton, "Start training")

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.command.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.command.setMinimumHeight(70)
        self.command.setMaximumHeight(110)
        self.copy_button = QPushButton("Copy command")
        self.copy_button.clicked.connect(self.copy_command)
        self.out_note = _hint("")
        self.reason = _error_label()
        self.rave_button = QPushButton("Locate rave...")
        self.rave_button.setToolTip("Choose the `rave` executable of your RAVE installation")
        self.rave_button.clicked.connect(self._locate_rave)
        self.rave_button.hide()

        command_row = QHBoxLayout()
        command_label = QLabel("Command:")
        command_label.setStyleSheet(TITLE_STYLE)
        command_row.addWidget(command_label)
        command_row.addStretch(1)
        command_row.addWidget(self.copy_button)
        problems = QHBoxLayout()
        problems.addWidget(self.reason, 1)
        problems.addWidget(self.rave_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(command_row)
        layout.addWidget(self.command)
        layout.addWidget(self.out_note)
        layout.addLayout(problems)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Validate the config with the core and show the command it makes."""
        wizard = self._wizard
        config = wizard.get_config()
        self._problem = None
        self.rave_button.hide()
        try:
            spec = validate_training_config(config, wizard.db)
        except (RavelabError, DatabaseError) as error:
            self._problem = str(error)
            spec = None
        rave_problem = None
        try:
            rave = find_rave(wizard.manager.rave, wizard.db)
        except RavelabError as error:
            rave, rave_problem = "rave", str(error)
        runs = wizard.manager.runs_dir
        out_path = runs / OUT_PATH_PLACEHOLDER.format(name=config["name"])
        if spec is not None:
            self.command.setPlainText(
                formatting.command_line(build_train_argv(rave, spec, out_path=out_path))
            )
        else:
            self.command.setPlainText("")
        self.out_note.setText(
            f"The run folder will be {out_path}, where <id> is the run's number, given when "
            "it starts."
        )
        self.summary.setText(self._summary(config))
        if self._problem is None and rave_problem is not None:
            self._problem = (
                f"{rave_problem.split(';')[0]}. Locate your `rave` executable to start the run."
            )
            self.rave_button.show()
        self.reason.setText(self._problem or "")
        self.copy_button.setEnabled(spec is not None)
        self.completeChanged.emit()

    def _summary(self, config: dict[str, Any]) -> str:
        wizard = self._wizard
        dataset = wizard.dataset_page.selected_dataset()
        gpu = wizard.params_page.gpu.currentText()
        rows = [
            ("Name", config["name"]),
            (
                "Dataset",
                f"{dataset.name} ({formatting.seconds_of_audio(dataset.n_seconds)}, "
                f"{dataset.channels} ch, {formatting.sample_rate(dataset.sample_rate)})"
                if dataset
                else "-",
            ),
            ("Config", formatting.config_text(config)),
            ("Augmentations", ", ".join(config.get("augment") or []) or "none"),
            ("Steps", f"{config['max_steps']:,} (batch {config['batch_size']})"),
            ("Device", gpu if config.get("executor") != SLURM else "the GPU SLURM grants"),
            (
                "Validation / checkpoints",
                f"every {config['val_every']:,} steps; extra checkpoint every "
                f"{config['save_every']:,} steps",
            ),
            ("n_signal", f"{config['n_signal']:,} samples"),
            ("Project", wizard.project_name),
        ]
        if config.get("executor") == SLURM:
            options = config.get("executor_options") or {}
            resources = ", ".join(f"{key} {value}" for key, value in options.items())
            rows.append(("Runs on", f"SLURM cluster ({resources or 'cluster defaults'})"))
        else:
            rows.append(("Runs on", "this computer"))
        if config.get("overrides"):
            rows.append(("Overrides", " ".join(config["overrides"])))
        cells = "".join(
            f"<tr><td style='padding-right:12px;color:{HINT_COLOUR}'>{label}</td>"
            f"<td>{_escape(value)}</td></tr>"
            for label, value in rows
        )
        return f"<table>{cells}</table>"

    def copy_command(self) -> None:
        """Put the command on the clipboard."""
        QGuiApplication.clipboard().setText(self.command.toPlainText())

    def _locate_rave(self) -> None:
        if choose_rave_executable(self, self._wizard.db):
            self._wizard.rave_changed.emit()
        self.refresh()

    @property
    def problem(self) -> str | None:
        """Why the run cannot start, or None."""
        return self._problem

    def isComplete(self) -> bool:
        return self._problem is None


def _escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- the wizard ------------------------------------------------------------------------------


class NewTrainingWizard(QWizard):
    """The seed's wizard: four pages that make the config dict of a new run.

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
        self.finished.connect(lambda _result: self.runner.shutdown())

    def overrides(self) -> list[str]:
        """The gin overrides typed on the parameters page."""
        return self.params_page.overrides() if hasattr(self, "params_page") else []

    def get_config(self) -> dict[str, Any]:
        """The config dict for ``TrainingManager.start_training`` (the seed's contract)."""
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
    "ConfigSelectionPage",
    "ConfirmationPage",
    "DatasetSelectionPage",
    "NewTrainingWizard",
    "TrainingParametersPage",
]
