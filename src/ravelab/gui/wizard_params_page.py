"""The wizard's third page, ``TrainingParametersPage``: name, steps, batch, device, intervals
(each with RAVE's default), gin overrides, and "Run on": this computer, the SLURM cluster
(where SLURM is set up, with the job's resources) or a stored SSH remote (one entry each, only
when remotes exist). On a remote the device list offers that machine's GPU indexes: this
computer's GPUs say nothing about it."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ravelab.core.errors import RavelabError
from ravelab.core.gpus import GpuInfo, list_gpus
from ravelab.core.names import check_name
from ravelab.core.numbers import is_ascii_integer
from ravelab.core.rave.gpu_memory import choice_warnings
from ravelab.core.rave.learning_rate import GENERATOR_START_LR, describe_schedule
from ravelab.core.rave.training_config import (
    RAVE_DEFAULTS,
)
from ravelab.core.runs import run_queries
from ravelab.core.slurm.settings import SlurmSettings
from ravelab.core.ssh.remotes import Remote, list_remotes
from ravelab.db import DatabaseError
from ravelab.gui.style import WARNING_COLOUR
from ravelab.gui.wizard_widgets import error_label, hint_label, wrapping

if TYPE_CHECKING:
    from ravelab.gui.new_training_wizard import NewTrainingWizard

#: The device list's tooltip for a run on this computer.
LOCAL_GPU_TIP = "--gpu: the GPU to train on, or the CPU (-1; very slow)."

CPU = -1
LOCAL = "local"
SLURM = "slurm"
SSH = "ssh"
#: The "Run on" item role holding an SSH entry's remote name (the item's data is ``SSH``).
REMOTE_ROLE = Qt.ItemDataRole.UserRole + 1
#: GPU indexes offered for a remote: its GPUs are not listed here (Remotes... > Check
#: lists them), and --gpu takes an index.
REMOTE_GPUS = 8
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


def stored_remotes(db: Any) -> list[Remote]:
    """The remotes to offer (none when the database cannot be read: the wizard still works
    for this computer)."""
    try:
        return list_remotes(db)
    except (RavelabError, DatabaseError):
        return []


def remote_label(remote: Remote) -> str:
    """How a remote is named in "Run on" and on the confirm page."""
    return f"{remote.name} ({remote.destination}) over SSH"


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
        self.name_error = error_label()

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
        self.lr_note = hint_label("")
        self.gpu = QComboBox()
        self.gpu.setToolTip(LOCAL_GPU_TIP)
        self.gpu.addItem("CPU (--gpu -1)", CPU)
        #: This computer's GPUs, once listed (the device list shows them for a local run).
        self._local_gpus: list[GpuInfo] = []
        self.gpu.setMinimumWidth(260)
        self.gpu.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.gpu.setMaximumWidth(480)
        self._local_note = "Looking for GPUs..."
        self.gpu_note = hint_label(self._local_note)
        # Warns (never blocks) when the chosen GPU is busy or too small for the config.
        self.gpu_warning = wrapping(QLabel())
        self.gpu_warning.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.gpu_warning.setVisible(False)
        self.gpu.currentIndexChanged.connect(lambda _index: self._check_gpu())
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
        self.overrides_error = error_label()

        offered, slurm = slurm_available(wizard.db)
        self.slurm_offered = offered
        self.remotes = stored_remotes(wizard.db)
        self.run_on = QComboBox()
        self.run_on.addItem("This computer", LOCAL)
        if offered:
            self.run_on.addItem("SLURM cluster (sbatch)", SLURM)
        for remote in self.remotes:
            self.run_on.addItem(remote_label(remote), SSH)
            self.run_on.setItemData(self.run_on.count() - 1, remote.name, REMOTE_ROLE)
            self.run_on.setItemData(
                self.run_on.count() - 1,
                f"Train on {remote.destination}: the dataset is copied there once; metrics, "
                "logs and clips come back here as they are written.",
                Qt.ItemDataRole.ToolTipRole,
            )
        self.run_on.setToolTip(
            "Where the run trains: here, as a SLURM batch job, or on a remote over SSH "
            "(Settings > Remotes...)."
        )
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
        self.slurm_error = error_label()
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
        device_layout = self._device_row.layout()
        assert device_layout is not None
        device_layout.addWidget(self.gpu_warning)
        form.addRow("Device:", self._device_row)
        form.addRow("Validation every:", self._with_default(self.val_every, "val_every", "steps"))
        form.addRow("Checkpoint every:", self._with_default(self.save_every, "save_every", "steps"))
        form.addRow("n_signal:", self._with_default(self.n_signal, "n_signal", "samples"))
        form.addRow("Gin overrides:", _with_note(self.overrides_edit, self.overrides_error))
        self._form = form
        form.setRowVisible(self.run_on, self.run_on.count() > 1)
        form.setRowVisible(self.slurm_box, False)
        self._pending_gpu: int | None = None
        self._detect_gpus()

    @property
    def executor(self) -> str:
        """``local``, ``slurm`` or ``ssh``."""
        return str(self.run_on.currentData() or LOCAL)

    def selected_remote(self) -> Remote | None:
        """The remote chosen in "Run on", or None (this computer or SLURM)."""
        if self.executor != SSH:
            return None
        name = self.run_on.currentData(REMOTE_ROLE)
        return next((remote for remote in self.remotes if remote.name == name), None)

    def set_executor(self, executor: str, options: Mapping[str, Any] | None = None) -> None:
        """Choose where to run (SLURM and remotes only where offered) and, for SLURM, its
        resources; an unknown remote falls back to this computer."""
        index = self.run_on.findData(LOCAL)
        if executor == SLURM and self.slurm_offered:
            index = self.run_on.findData(SLURM)
            for key, value in (options or {}).items():
                if key in self.slurm_edits:
                    self.slurm_edits[key].setText("" if value is None else str(value))
        elif executor == SSH:
            remote = (options or {}).get("remote")
            found = self.run_on.findData(remote, REMOTE_ROLE) if isinstance(remote, str) else -1
            index = found if found >= 0 else index
        self.run_on.setCurrentIndex(index)

    def executor_options(self) -> dict[str, Any]:
        """``{"remote": NAME}`` for a remote, else the SLURM fields filled in (``cpus`` as a
        number when it is one)."""
        remote = self.selected_remote()
        if remote is not None:
            return {"remote": remote.name}
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
        wanted = self.gpu.currentData()
        if self.selected_remote() is not None and wanted == CPU:
            # A laptop without a GPU lists only its CPU: on the remote take the device asked
            # for (a clone's), else its first GPU.
            wanted = self._pending_gpu if self._pending_gpu is not None else 0
        self._fill_devices(wanted)
        self._validate()
        self._check_gpu()

    def _fill_devices(self, wanted: object) -> None:
        """List the devices of where the run trains (this computer's GPUs, or a remote's
        indexes), keeping ``wanted`` chosen where it is listed."""
        remote = self.selected_remote()
        self.gpu.blockSignals(True)  # one device check after the refill, not one per item
        while self.gpu.count() > 1:  # the CPU stays first
            self.gpu.removeItem(1)
        if remote is not None:
            for index in range(REMOTE_GPUS):
                self.gpu.addItem(f"GPU {index} on {remote.name} (--gpu {index})", index)
            self.gpu.setToolTip(
                f"--gpu on {remote.name}: that machine's GPU index, or its CPU (-1; very "
                f"slow). Settings > Remotes... > Check lists {remote.name}'s GPUs."
            )
            self.gpu_note.setText(
                f"A GPU index on {remote.name} (Settings > Remotes... > Check lists its GPUs)."
            )
        else:
            for gpu in self._local_gpus:
                memory = f", {gpu.memory_mib / 1024:.0f} GB" if gpu.memory_mib else ""
                self.gpu.addItem(f"GPU {gpu.index}: {gpu.name}{memory}", gpu.index)
            self.gpu.setToolTip(LOCAL_GPU_TIP)
            self.gpu_note.setText(self._local_note)
        found = self.gpu.findData(wanted)
        self.gpu.setCurrentIndex(found if found >= 0 else min(1, self.gpu.count() - 1))
        self.gpu.blockSignals(False)

    @staticmethod
    def _with_default(spin: QSpinBox, key: str, unit: str = "") -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(spin)
        suffix = f" {unit}" if unit else ""
        default = hint_label(f"RAVE's default: {RAVE_DEFAULTS[key]:,}{suffix}")
        default.setWordWrap(False)
        row.addWidget(default, 1)
        spin.setToolTip(f"{spin.toolTip()}\nRAVE's default: {RAVE_DEFAULTS[key]:,}{suffix}.")
        return box

    def _detect_gpus(self) -> None:
        runner = self._wizard.runner
        runner.submit(list_gpus, self._on_gpus, lambda _error: self._on_gpus([]))

    def _on_gpus(self, gpus: list[GpuInfo]) -> None:
        self._local_gpus = list(gpus)
        self._local_note = (
            f"{len(gpus)} NVIDIA GPU(s) found."
            if gpus
            else "No NVIDIA GPU found: training on the CPU is very slow."
        )
        if self.selected_remote() is not None:
            return  # the remote's indexes stay listed; these are shown when "here" is chosen
        wanted = self._pending_gpu if self._pending_gpu is not None else self.gpu.currentData()
        if self._pending_gpu is None and gpus:
            wanted = gpus[0].index
        self._fill_devices(wanted)
        self._check_gpu()

    def _check_gpu(self) -> None:
        """Read the chosen GPU's state off the GUI thread and show what is wrong with it."""
        data = self.gpu.currentData()
        gpu = int(data) if isinstance(data, int) else CPU
        config = self._wizard.config_page.base_config()
        # A remote's GPUs are not read from here: its state and memory are that machine's.
        if gpu == CPU or self.executor != LOCAL or not config:
            self._show_gpu_warnings(gpu, config, [])
            return
        db = self._wizard.db
        self._wizard.runner.submit(
            lambda: choice_warnings(db, config, gpu),
            lambda found: self._show_gpu_warnings(gpu, config, found),
            lambda _error: self._show_gpu_warnings(gpu, config, []),
        )

    def _show_gpu_warnings(self, gpu: int, config: str, warnings: list[str]) -> None:
        current = self.gpu.currentData()
        if current != gpu or config != self._wizard.config_page.base_config():
            return  # an answer about an earlier choice
        self.gpu_warning.setText("\n".join(f"Warning: {line}." for line in warnings))
        self.gpu_warning.setVisible(bool(warnings))
        # The form sized its rows without the warning: lay it out again (a wrapped label's
        # height depends on its width, which the form does not recompute on its own).
        self._form.invalidate()

    def initializePage(self) -> None:
        duration = self._wizard.config_page.phase_1_duration()
        self.lr_note.setText(
            "Cannot be changed: RAVE 2.3.1 has no learning-rate setting. "
            f"{describe_schedule(duration)}."
        )
        if not self._name_edited:
            self.name_edit.setText(self.suggested_name())
        self._validate()
        self._check_gpu()  # the config may have changed since

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
        """Choose a device by ``--gpu`` value (kept for when the GPUs are listed, or the
        list changes with "Run on")."""
        self._pending_gpu = gpu
        index = self.gpu.findData(gpu)
        if index >= 0:
            self.gpu.setCurrentIndex(index)
