"""The wizard's last page, ``ConfirmationPage``: a summary and the exact ``rave train``
command, how many periodic checkpoints to keep and whether the disk holds what the run
will write, what "Add to queue" would do on the run's device, and a way to locate ``rave``
when it is not found. A run on an SSH remote uses the remote's ``rave`` and disk: neither
is looked for here, and the queue (this computer's) is not offered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from ravelab.core.display import human_bytes
from ravelab.core.errors import RavelabError
from ravelab.core.operations import checkpoint_retention
from ravelab.core.operations.disk_space import check_run_space
from ravelab.core.operations.queue import device_summary
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.training_config import (
    build_train_argv,
    validate_training_config,
)
from ravelab.db import DatabaseError
from ravelab.gui import formatting
from ravelab.gui.rave_actions import choose_rave_executable
from ravelab.gui.style import HINT_COLOUR, TITLE_STYLE
from ravelab.gui.wizard_params_page import SLURM, SSH, remote_label
from ravelab.gui.wizard_widgets import error_label, hint_label

if TYPE_CHECKING:
    from ravelab.gui.new_training_wizard import NewTrainingWizard


#: The retention box's value that stands for "keep every periodic checkpoint".
KEEP_ALL = -1
#: Where the confirmation page shows the run folder: its id is known only once it starts.
OUT_PATH_PLACEHOLDER = "<id>-{name}"


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
        self.out_note = hint_label("")
        self.queue_note = hint_label("")
        # How many of RAVE's --save_every checkpoints to keep: they are never pruned by
        # RAVE, and a days-long run fills a disk with them.
        self.keep_box = QSpinBox()
        self.keep_box.setRange(KEEP_ALL, checkpoint_retention.MAX_KEEP)
        self.keep_box.setSpecialValueText("every one")
        default = checkpoint_retention.default_keep(wizard.db)
        self.keep_box.setValue(KEEP_ALL if default is None else default)
        self.keep_box.setToolTip(
            "Periodic checkpoints (one every --save_every steps) the run keeps; best and "
            "the latest always stay. ravelab removes older ones as new ones appear."
        )
        self.keep_box.setAccessibleName("Periodic checkpoints to keep")
        self.keep_box.valueChanged.connect(lambda _value: self._show_space())
        self.disk_note = hint_label("")
        self.disk_warning = error_label()
        self.reason = error_label()
        self.rave_button = QPushButton("Locate rave...")
        self.rave_button.setToolTip("Choose the `rave` executable of your RAVE installation")
        self.rave_button.clicked.connect(self._locate_rave)
        self.rave_button.hide()

        command_row = QHBoxLayout()
        self.command_label = QLabel("Command:")
        self.command_label.setStyleSheet(TITLE_STYLE)
        command_row.addWidget(self.command_label)
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
        keep_row = QHBoxLayout()
        keep_row.addWidget(QLabel("Periodic checkpoints to keep:"))
        keep_row.addWidget(self.keep_box)
        keep_row.addWidget(self.disk_note, 1)
        layout.addLayout(keep_row)
        layout.addWidget(self.disk_warning)
        layout.addWidget(self.queue_note)
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
        remote = wizard.params_page.selected_remote()
        if remote is not None:
            rave = remote.rave or "rave"  # the remote's: none is needed on this computer
        else:
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
        # On a remote the agent puts that machine's paths in place of these.
        self.command_label.setText(
            f"Command (on {remote.name}, with its own paths):" if remote else "Command:"
        )
        if remote is not None:
            self.out_note.setText(
                f"The run trains in {remote.name}'s runs folder ({remote.runs_dir}); "
                f"{out_path} keeps what comes back, where <id> is the run's number, given "
                "when it starts. Start training first sends the dataset (only what changed "
                "since the last copy) and waits until the run has started there."
            )
        else:
            self.out_note.setText(
                f"The run folder will be {out_path}, where <id> is the run's number, given "
                "when it starts."
            )
        self.summary.setText(self._summary(config))
        self.queue_note.setText(self._queue_text(spec.gpu if spec is not None else None, config))
        self._show_space()
        if self._problem is None and rave_problem is not None:
            self._problem = (
                f"{rave_problem.split(';')[0]}. Locate your `rave` executable to start the run."
            )
            self.rave_button.show()
        self.reason.setText(self._problem or "")
        self.copy_button.setEnabled(spec is not None)
        self.completeChanged.emit()

    @property
    def keep_periodic(self) -> int | str:
        """The chosen retention, as ``start_training`` takes it (a number, or "all")."""
        value = self.keep_box.value()
        return "all" if value == KEEP_ALL else value

    def _show_space(self) -> None:
        """What the run will write under this retention, against the free space (a local
        run only: a SLURM run writes on the cluster, an SSH run its checkpoints on the
        remote)."""
        config = self._wizard.get_config()
        if config.get("executor") in (SLURM, SSH):
            self.disk_note.setText(
                "checkpoints stay on the remote" if config.get("executor") == SSH else ""
            )
            self.disk_warning.setText("")
            self.disk_warning.hide()
            return
        keep = self.keep_box.value()
        check = check_run_space(
            config, self._wizard.manager.runs_dir, None if keep == KEEP_ALL else keep
        )
        free = "unknown" if check.free_bytes is None else human_bytes(check.free_bytes)
        self.disk_note.setText(
            f"about {human_bytes(check.needed_bytes)} of checkpoints and logs; {free} free"
        )
        warning = check.warning()
        self.disk_warning.setText(f"Disk: {warning}" if warning else "")
        self.disk_warning.setVisible(bool(warning))

    def _queue_text(self, gpu: int | None, config: dict[str, Any]) -> str:
        """What "Add to queue" would do: the device's run and queue now."""
        if config.get("executor") == SLURM:
            return "A SLURM run waits in SLURM's own queue: start it, SLURM schedules it."
        if config.get("executor") == SSH:
            return (
                "The queue is this computer's: a run over SSH starts on the remote at once "
                "(Start training)."
            )
        if gpu is None:
            return ""
        try:
            return f"Add to queue: {device_summary(self._wizard.db, gpu)}"
        except DatabaseError as error:
            return f"The queue cannot be read: {error}"

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
        elif (remote := wizard.params_page.selected_remote()) is not None:
            rows.append(
                (
                    "Runs on",
                    f"{remote_label(remote)}: the dataset is copied there once; metrics, "
                    "logs and clips come back as they are written",
                )
            )
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
