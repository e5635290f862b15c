"""NewTrainingWizard: its pages, their validation, and the config dict it returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWizard
from pytestqt.qtbot import QtBot

from ravelab.core.rave.training_config import KNOWN_KEYS, RAVE_DEFAULTS, validate_training_config
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.new_training_wizard import NewTrainingWizard
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui


@pytest.fixture
def wizard(qtbot: QtBot, manager: TrainingManager, dataset_id: int) -> NewTrainingWizard:
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _next_enabled(wizard: NewTrainingWizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def _to_page(qtbot: QtBot, wizard: NewTrainingWizard, page: Any) -> None:
    while wizard.currentPage() is not page:
        assert _next_enabled(wizard), wizard.currentPage().title()
        wizard.next()


def test_the_four_pages_of_the_original_api(wizard: NewTrainingWizard) -> None:
    assert [wizard.page(i).title() for i in wizard.pageIds()] == [
        "Dataset",
        "RAVE configuration",
        "Training parameters",
        "Confirm",
    ]


def test_the_dataset_page_lists_datasets_and_needs_one(
    qtbot: QtBot, wizard: NewTrainingWizard, dataset_id: int
) -> None:
    page = wizard.dataset_page
    assert page.tree.topLevelItemCount() == 1
    item = page.tree.topLevelItem(0)
    assert [item.text(c) for c in range(4)] == ["synth", "1", "44.1 kHz", "0:56"]
    assert page.selected_dataset() is not None  # the only one is preselected
    assert _next_enabled(wizard)
    page.tree.clearSelection()
    assert not page.isComplete() and not _next_enabled(wizard)
    assert page.reason.text() == "Choose a dataset to continue."


def test_add_dataset_right_there(
    qtbot: QtBot,
    wizard: NewTrainingWizard,
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    second = tmp_path / "datasets" / "strings"
    second.mkdir()
    (second / "metadata.yaml").write_text((dataset_dir / "metadata.yaml").read_text())
    (second / "data.mdb").write_bytes(b"\0" * 16)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(second))
    with qtbot.waitSignal(wizard.dataset_added, timeout=30_000) as added:
        record = wizard.dataset_page.add_dataset()
    assert record is not None and added.args == [record.id]
    assert wizard.dataset_page.selected_dataset() == record
    assert wizard.dataset_page.tree.topLevelItemCount() == 2

    # A folder that is not a RAVE dataset: the core's reason in a dialog, nothing added.
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    assert wizard.dataset_page.add_dataset() is None
    assert "no metadata.yaml" in warnings[0]
    assert wizard.dataset_page.tree.topLevelItemCount() == 2


def test_modifiers_rave_rejects_are_refused_on_the_config_page(
    qtbot: QtBot, wizard: NewTrainingWizard
) -> None:
    _to_page(qtbot, wizard, wizard.config_page)
    page = wizard.config_page
    assert page.base_config() == "v2"
    assert _next_enabled(wizard)
    page.set_selection("v1", ["wasserstein"])
    assert not page.isComplete() and not _next_enabled(wizard)
    assert "wasserstein needs a v2-family base config" in page.reason.text()
    assert "not v1" in page.reason.text()
    page.set_selection("v2_small", ["wasserstein", "causal"], ["gain"])
    assert page.isComplete() and _next_enabled(wizard)
    assert page.reason.text() == ""
    assert page.modifiers() == ["wasserstein", "causal"]
    assert page.augmentations() == ["gain"]
    # Each choice shows its description and GPU memory.
    item = page.base_tree.topLevelItem(0)
    assert item.text(0) == "v1" and item.text(1) == "8 GB"
    assert item.text(2) == "Original continuous model"
    assert "200,000" in page.phase_label.text()  # wasserstein sets phase 1 to 200k steps


def test_a_bad_or_taken_name_keeps_next_disabled_with_the_reason(
    qtbot: QtBot, wizard: NewTrainingWizard, db: Database, dataset_id: int
) -> None:
    rows.insert_experiment(
        db, name="taken", project_id=1, dataset_id=dataset_id, config={}, status="completed"
    )
    _to_page(qtbot, wizard, wizard.params_page)
    page = wizard.params_page
    assert page.name_edit.text() == "synth-v2"  # suggested from dataset and config
    assert _next_enabled(wizard) and page.name_error.text() == ""

    qtbot.keyClicks(page.name_edit, "x y")  # typed: "synth-v2x y"
    assert not _next_enabled(wizard)
    assert "is not allowed" in page.name_error.text()
    page.name_edit.setText("taken")
    assert not _next_enabled(wizard)
    assert page.name_error.text() == "A run named 'taken' exists already: choose another name."
    page.name_edit.setText("")
    assert "run name is missing" in page.name_error.text()
    page.name_edit.setText("fresh-name")
    assert _next_enabled(wizard) and page.name_error.text() == ""

    page.overrides_edit.setText("PHASE_1_DURATION")
    assert not _next_enabled(wizard) and "KEY=VALUE" in page.overrides_error.text()
    page.overrides_edit.setText("PHASE_1_DURATION=150")
    assert _next_enabled(wizard)


def test_parameters_show_raves_defaults_and_the_fixed_learning_rate(
    qtbot: QtBot, wizard: NewTrainingWizard
) -> None:
    _to_page(qtbot, wizard, wizard.params_page)
    page = wizard.params_page
    assert page.max_steps.value() == RAVE_DEFAULTS["max_steps"]
    assert page.batch_size.value() == RAVE_DEFAULTS["batch_size"]
    assert page.val_every.value() == RAVE_DEFAULTS["val_every"]
    assert page.save_every.value() == RAVE_DEFAULTS["save_every"]
    assert page.n_signal.value() == RAVE_DEFAULTS["n_signal"]
    assert "RAVE's default: 8" in page.batch_size.toolTip()
    assert page.learning_rate.isReadOnly() and page.learning_rate.text().startswith("0.001")
    assert "1e-3 decaying linearly to 1e-4 over the 1,000,000 steps" in page.lr_note.text()
    assert page.lr_note.text().startswith("Cannot be changed: RAVE 2.3.1 has no learning-rate")
    qtbot.waitUntil(lambda: "GPU" in page.gpu_note.text(), timeout=15_000)
    assert page.gpu.itemData(0) == -1
    save_screenshot(wizard, "wizard_params.png")


def test_get_config_is_what_start_training_takes(
    qtbot: QtBot, wizard: NewTrainingWizard, db: Database, dataset_id: int, dataset_dir: Path
) -> None:
    _to_page(qtbot, wizard, wizard.config_page)
    wizard.config_page.set_selection("v2", ["causal"], ["mute"])
    _to_page(qtbot, wizard, wizard.params_page)
    params = wizard.params_page
    params.name_edit.setText("drums-causal")
    params.max_steps.setValue(20)
    params.batch_size.setValue(4)
    params.val_every.setValue(8)
    params.n_signal.setValue(65536)
    params.gpu.setCurrentIndex(params.gpu.findData(-1))

    config = wizard.get_config()
    assert set(config) <= KNOWN_KEYS
    assert config == {
        "name": "drums-causal",
        "dataset_id": dataset_id,
        "dataset_path": str(dataset_dir.resolve()),
        "config": "v2",
        "modifiers": ["causal"],
        "max_steps": 20,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "gpu": -1,
        "val_every": 8,
        "save_every": RAVE_DEFAULTS["save_every"],
        "n_signal": 65536,
        "project_id": 1,
        "augment": ["mute"],
    }
    spec = validate_training_config(config, db)
    assert spec.modifiers == ["causal"] and spec.augment == ["mute"] and spec.gpu == -1


def test_the_confirmation_shows_the_exact_command(
    qtbot: QtBot, wizard: NewTrainingWizard, manager: TrainingManager, rave_double: Path
) -> None:
    _to_page(qtbot, wizard, wizard.params_page)
    wizard.params_page.name_edit.setText("confirm-me")
    _to_page(qtbot, wizard, wizard.confirm_page)
    page = wizard.confirm_page
    command = page.command.toPlainText()
    assert command.startswith(f"{rave_double.resolve()} train --config v2 --db_path ")
    assert f"--out_path '{manager.runs_dir}/<id>-confirm-me'" in command
    assert "--name confirm-me --channels 1" in command
    assert page.isComplete() and page.reason.text() == ""
    assert wizard.button(QWizard.WizardButton.FinishButton).text() == "Start training"
    assert "confirm-me" in page.summary.text()
    page.copy_button.click()
    assert QApplication.clipboard().text() == command
    # RAVE keeps every periodic checkpoint unless told otherwise; the space is shown.
    assert page.keep_periodic == "all" and "of checkpoints and logs;" in page.disk_note.text()
    page.keep_box.setValue(3)
    assert page.keep_periodic == 3 and page.disk_warning.text() == ""
    save_screenshot(wizard, "wizard_confirm.png")


def test_the_confirmation_warns_when_the_disk_is_short_and_the_run_keeps_its_choice(
    qtbot: QtBot,
    wizard: NewTrainingWizard,
    manager: TrainingManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.operations import checkpoint_retention, disk_space
    from ravelab.gui.training_page import TrainingPage

    monkeypatch.setattr(disk_space, "free_bytes", lambda folder: 5_000_000)
    _to_page(qtbot, wizard, wizard.params_page)
    wizard.params_page.name_edit.setText("kept")
    _to_page(qtbot, wizard, wizard.confirm_page)
    page = wizard.confirm_page
    assert "Disk: only 5.0 MB free" in page.disk_warning.text()
    assert page.isComplete()  # a warning: the start is never refused on an estimate
    page.keep_box.setValue(1)
    training = TrainingPage(manager, AppSignals())
    qtbot.addWidget(training)
    run = training.start_from_wizard(wizard)
    assert run is not None
    assert checkpoint_retention.effective_keep(manager.db, run) == 1
    manager.stop_training(run)
    manager.wait(run, timeout=60)
    training.cleanup()


def test_the_confirmation_refuses_when_rave_is_missing(
    qtbot: QtBot,
    make_manager: Any,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    manager = make_manager(rave=None)
    wizard = NewTrainingWizard(manager)
    qtbot.addWidget(wizard)
    wizard.show()
    _to_page(qtbot, wizard, wizard.confirm_page)
    page = wizard.confirm_page
    assert not page.isComplete()
    assert "`rave` command was not found" in page.reason.text()
    assert page.rave_button.isVisibleTo(page)
    assert page.command.toPlainText().startswith("rave train --config v2")


def test_run_on_is_hidden_without_slurm(
    qtbot: QtBot, manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.show()
    _to_page(qtbot, wizard, wizard.params_page)
    params = wizard.params_page
    assert not params.slurm_offered
    assert not params.run_on.isVisible() and not params.slurm_box.isVisible()
    assert params.executor == "local"
    assert "executor" not in wizard.get_config()


def test_slurm_settings_prefill_the_fields_and_reach_the_config(
    qtbot: QtBot,
    manager: TrainingManager,
    db: Database,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.slurm.settings import SlurmSettings

    SlurmSettings(partition="gpu", time="12:00:00", gres="gpu:1", account="lab").save(db)
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.resize(820, 760)
    wizard.show()
    _to_page(qtbot, wizard, wizard.params_page)
    params = wizard.params_page
    assert params.slurm_offered and params.run_on.isVisible()
    assert not params.slurm_box.isVisible()
    params.run_on.setCurrentIndex(params.run_on.findData("slurm"))
    assert params.slurm_box.isVisible() and not params.gpu.isVisible()
    assert params.slurm_edits["partition"].text() == "gpu"
    assert params.slurm_edits["gres"].text() == "gpu:1"
    params.slurm_edits["mem"].setText("32G")
    params.slurm_edits["cpus"].setText("8")
    qtbot.wait(100)
    save_screenshot(wizard, "wizard_slurm.png")

    config = wizard.get_config()
    assert config["executor"] == "slurm"
    assert config["executor_options"] == {
        "partition": "gpu",
        "time": "12:00:00",
        "gres": "gpu:1",
        "cpus": 8,
        "mem": "32G",
    }
    assert "gpu" not in config
    assert validate_training_config(config, db).gpu == 0  # --gres asks for a GPU

    # A value SLURM would refuse keeps Next disabled, with the core's reason.
    params.slurm_edits["mem"].setText("lots")
    assert not _next_enabled(wizard) and "mem" in params.slurm_error.text()
    params.slurm_edits["mem"].setText("")
    assert _next_enabled(wizard)
    wizard.next()
    assert wizard.currentPage() is wizard.confirm_page
    assert "SLURM cluster (partition gpu" in wizard.confirm_page.summary.text()


def test_prefill_from_a_clone(qtbot: QtBot, manager: TrainingManager, dataset_id: int) -> None:
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.prefill(
        {
            "dataset_id": dataset_id,
            "config": "v2_small",
            "modifiers": [],
            "augment": ["mute"],
            "max_steps": 1234,
            "batch_size": 3,
            "gpu": -1,
            "val_every": 17,
            "save_every": 19,
            "n_signal": 65536,
            "overrides": ["PHASE_1_DURATION=100"],
            "workers": 2,
        }
    )
    wizard.show()
    _to_page(qtbot, wizard, wizard.confirm_page)
    config = wizard.get_config()
    assert config["dataset_id"] == dataset_id
    assert (config["config"], config["augment"]) == ("v2_small", ["mute"])
    assert (config["max_steps"], config["batch_size"], config["gpu"]) == (1234, 3, -1)
    assert (config["val_every"], config["save_every"]) == (17, 19)
    assert config["overrides"] == ["PHASE_1_DURATION=100"]
    assert config["workers"] == 2
    assert config["name"]  # suggested anew
    assert wizard.confirm_page.isComplete(), wizard.confirm_page.problem


def _no_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)


def test_no_ssh_entry_without_a_remote(
    qtbot: QtBot, manager: TrainingManager, db: Database, dataset_id: int
) -> None:
    from ravelab.core.slurm.settings import SlurmSettings

    SlurmSettings(partition="gpu").save(db)  # "Run on" shows, for SLURM only
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.show()
    _to_page(qtbot, wizard, wizard.params_page)
    params = wizard.params_page
    assert params.run_on.isVisible()
    entries = [params.run_on.itemText(i) for i in range(params.run_on.count())]
    assert entries == ["This computer", "SLURM cluster (sbatch)"]
    assert params.run_on.findData("ssh") == -1 and params.selected_remote() is None


def test_a_remote_is_offered_and_reaches_the_config(
    qtbot: QtBot,
    manager: TrainingManager,
    db: Database,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.ssh.remotes import add_remote

    _no_slurm(monkeypatch)
    add_remote(db, "lab", "me@gpu.example.org", runs_dir="/scratch/runs")
    add_remote(db, "spare", "other.example.org")
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.resize(820, 760)
    wizard.show()
    _to_page(qtbot, wizard, wizard.params_page)
    params = wizard.params_page
    # No SLURM here, yet "Run on" shows: for the remotes.
    assert params.run_on.isVisible()
    entries = [params.run_on.itemText(i) for i in range(params.run_on.count())]
    assert entries == [
        "This computer",
        "lab (me@gpu.example.org) over SSH",
        "spare (other.example.org) over SSH",
    ]
    params.run_on.setCurrentIndex(1)
    assert params.executor == "ssh" and params.selected_remote() is not None
    # The device is the remote's GPU index (this computer's GPUs say nothing about it).
    assert params.gpu.isVisible() and not params.slurm_box.isVisible()
    assert params.gpu.currentData() == 0
    assert params.gpu.currentText() == "GPU 0 on lab (--gpu 0)"
    assert params.gpu.toolTip().startswith("--gpu on lab: that machine's GPU index")
    params.gpu.setCurrentIndex(params.gpu.findData(1))
    qtbot.wait(100)  # let the form lay out before the picture
    picture = wizard.grab()
    assert not picture.isNull()
    picture.save("/tmp/sshgui_wizard.png")

    config = wizard.get_config()
    assert config["executor"] == "ssh"
    assert config["executor_options"] == {"remote": "lab"}
    assert config["gpu"] == 1
    spec = validate_training_config(config, db)
    assert (spec.executor, spec.executor_options, spec.gpu) == ("ssh", {"remote": "lab"}, 1)

    wizard.next()
    page = wizard.confirm_page
    assert wizard.currentPage() is page and page.isComplete(), page.problem
    assert (
        "lab (me@gpu.example.org) over SSH: the dataset is copied there once; metrics, "
        "logs and clips come back as they are written"
    ) in page.summary.text()
    assert "/scratch/runs" in page.out_note.text()
    assert page.command_label.text() == "Command (on lab, with its own paths):"
    assert "checkpoints stay on the remote" in page.disk_note.text()
    confirm_picture = wizard.grab()
    assert not confirm_picture.isNull()
    confirm_picture.save("/tmp/sshgui_confirm.png")
    # The queue is this computer's: not offered for a run over SSH.
    queue = wizard.button(QWizard.WizardButton.CustomButton1)
    assert queue.isVisible() and not queue.isEnabled()
    assert "queue is this computer's" in page.queue_note.text()
    assert not wizard.add_to_queue() and not wizard.queue_requested

    # Back to this computer: the local devices, no executor, the queue offered again.
    wizard.back()
    params.run_on.setCurrentIndex(0)
    assert params.gpu.currentText().startswith(("CPU", "GPU 0:"))
    assert "executor" not in wizard.get_config()
    wizard.next()
    assert wizard.button(QWizard.WizardButton.CustomButton1).isEnabled()


def test_an_ssh_run_needs_no_rave_on_this_computer(
    qtbot: QtBot,
    make_manager: Any,
    db: Database,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from ravelab.core.ssh.remotes import add_remote

    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    add_remote(db, "lab", "gpu.example.org", rave="/opt/rave/bin/rave")
    wizard = NewTrainingWizard(make_manager(rave=None))
    qtbot.addWidget(wizard)
    wizard.show()
    _to_page(qtbot, wizard, wizard.params_page)
    wizard.params_page.run_on.setCurrentIndex(wizard.params_page.run_on.findData("ssh"))
    wizard.next()
    page = wizard.confirm_page
    assert page.isComplete(), page.problem
    assert not page.rave_button.isVisibleTo(page)
    assert page.command.toPlainText().startswith("/opt/rave/bin/rave train --config v2")


def test_prefill_chooses_the_remote_of_a_cloned_ssh_run(
    qtbot: QtBot,
    manager: TrainingManager,
    db: Database,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.ssh.remotes import add_remote

    _no_slurm(monkeypatch)
    add_remote(db, "one", "a.example.org")
    add_remote(db, "two", "b.example.org")
    wizard = NewTrainingWizard(manager, project_id=1, project_name="Default")
    qtbot.addWidget(wizard)
    wizard.prefill(
        {
            "dataset_id": dataset_id,
            "config": "v2",
            "gpu": 2,
            "executor": "ssh",
            "executor_options": {"remote": "two"},
        }
    )
    wizard.show()
    _to_page(qtbot, wizard, wizard.confirm_page)
    config = wizard.get_config()
    assert config["executor_options"] == {"remote": "two"} and config["gpu"] == 2
    # A remote since removed falls back to this computer.
    wizard.params_page.set_executor("ssh", {"remote": "gone"})
    assert "executor" not in wizard.get_config()
