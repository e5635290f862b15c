"""The Training page's actions on a run's lifetime: rename, notes, tags, checkpoints kept,
archive, delete.

A mixin of :class:`ravelab.gui.training_page.TrainingPage`: each action asks (a dialog),
then calls the core's :mod:`ravelab.core.runs.lifetime` once, the way the CLI does, and
refreshes the run's row. Errors come back as a dialog naming what was refused.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from ravelab.core.errors import RavelabError
from ravelab.core.operations import checkpoint_retention as retention
from ravelab.core.runs import lifetime
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import DatabaseError, ExperimentRecord
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.checkpoints_dialog import CheckpointsDialog
from ravelab.gui.run_dialogs import DeleteRunDialog, NotesDialog


class RunLifetimeActions:
    """Rename, notes, tags, archive and delete for the page's selected runs."""

    # What the page provides.
    manager: TrainingManager
    app_signals: AppSignals
    selected_experiment: Callable[[], ExperimentRecord | None]
    _selected_records: Callable[[], list[ExperimentRecord]]
    _reread: Callable[[int], None]
    reload: Callable[..., None]

    def _parent(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def _lifetime_done(self, experiment_id: int) -> None:
        """A lifetime action changed a run: its row, and the pages that count runs."""
        self._reread(experiment_id)
        self.app_signals.experiments_changed.emit()

    def _lifetime_failed(self, title: str, error: Exception) -> None:
        QMessageBox.warning(self._parent(), title, str(error))

    def rename_selected(self) -> bool:
        """Ask for a new name (the rules of a new run's name); True when renamed."""
        experiment = self.selected_experiment()
        if experiment is None:
            return False
        name, ok = QInputDialog.getText(
            self._parent(),
            "Rename the run",
            f"New name for “{experiment.name}” (its folder stays where it is):",
            QLineEdit.EchoMode.Normal,
            experiment.name,
        )
        if not ok or name.strip() == experiment.name:
            return False
        try:
            lifetime.rename_run(self.manager.db, experiment.id, name.strip())
        except (RavelabError, DatabaseError) as error:
            self._lifetime_failed("The run was not renamed", error)
            return False
        self._lifetime_done(experiment.id)
        return True

    def make_notes_dialog(self) -> NotesDialog | None:
        """The notes editor of the selected run (not shown yet)."""
        experiment = self.selected_experiment()
        return None if experiment is None else NotesDialog(experiment, self._parent())

    def edit_notes_selected(self, dialog: NotesDialog | None = None) -> bool:
        """Edit the selected run's notes; True when they were saved."""
        experiment = self.selected_experiment()
        dialog = dialog or self.make_notes_dialog()
        if experiment is None or dialog is None:
            return False
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            lifetime.set_run_notes(self.manager.db, experiment.id, dialog.text())
        except (RavelabError, DatabaseError) as error:
            self._lifetime_failed("The notes were not saved", error)
            return False
        finally:
            dialog.deleteLater()
        self._lifetime_done(experiment.id)
        return True

    def edit_tags_selected(self) -> bool:
        """Edit the selected run's tags as a comma-separated list; True when changed."""
        experiment = self.selected_experiment()
        if experiment is None:
            return False
        text, ok = QInputDialog.getText(
            self._parent(),
            "Tags",
            f"Tags of “{experiment.name}”, separated by commas (up to {lifetime.MAX_TAG} "
            "characters each; the filter finds them, tag:x only tag x):",
            QLineEdit.EchoMode.Normal,
            ", ".join(experiment.tags),
        )
        if not ok:
            return False
        wanted = [word.strip() for word in text.split(",") if word.strip()]
        try:
            checked = [lifetime.check_tag(tag) for tag in wanted]
            kept = {tag.casefold() for tag in checked}
            lifetime.change_run_tags(
                self.manager.db,
                experiment.id,
                add=checked,
                remove=[tag for tag in experiment.tags if tag.casefold() not in kept],
            )
        except (RavelabError, DatabaseError) as error:
            self._lifetime_failed("The tags were not changed", error)
            return False
        self._lifetime_done(experiment.id)
        return True

    def archive_selected(self) -> bool:
        """Archive the selected runs (or unarchive them, when all are archived)."""
        records = self._selected_records()
        if not records:
            return False
        archive = not all(record.archived for record in records)
        try:
            for record in records:
                lifetime.set_run_archived(self.manager.db, record.id, archive)
        except (RavelabError, DatabaseError) as error:
            self._lifetime_failed("The runs were not all archived", error)
        for record in records:
            self._reread(record.id)
        self.app_signals.experiments_changed.emit()
        return True

    def make_delete_dialog(self) -> DeleteRunDialog | None:
        """The confirmation of deleting the selected run (not shown yet)."""
        experiment = self.selected_experiment()
        if experiment is None:
            return None
        return DeleteRunDialog(self.manager, experiment, self._parent())

    def delete_selected(self, dialog: DeleteRunDialog | None = None) -> bool:
        """Confirm, then delete the selected (ended) run, with its folder when asked and
        ravelab made it; True when deleted. A live run is refused, in words."""
        experiment = self.selected_experiment()
        if experiment is None:
            return False
        if experiment.ended_at is None:
            QMessageBox.warning(
                self._parent(), "The run was not deleted", "The run has not ended: stop it first."
            )
            return False
        dialog = dialog or self.make_delete_dialog()
        if dialog is None:
            return False
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            manager = self.manager
            deleted = lifetime.delete_run(
                manager.db,
                experiment.id,
                with_files=dialog.with_files,
                still_lives=lambda record: manager.processes_live(record.id),
            )
        except (RavelabError, DatabaseError, OSError) as error:
            self._lifetime_failed("The run was not deleted", error)
            return False
        finally:
            dialog.deleteLater()
        if deleted.folder_problem:
            QMessageBox.warning(
                self._parent(), "The run folder was not removed entirely", deleted.folder_problem
            )
        self.reload()
        self.app_signals.experiments_changed.emit()
        return True

    def make_checkpoints_dialog(self) -> CheckpointsDialog | None:
        """The selected run's checkpoints dialog (not shown yet)."""
        experiment = self.selected_experiment()
        if experiment is None:
            return None
        return CheckpointsDialog(self.manager.db, experiment, self._parent())

    def edit_checkpoints_selected(self, dialog: CheckpointsDialog | None = None) -> bool:
        """Set how many periodic checkpoints the selected run keeps, and prune now when
        asked; True when the choice was stored."""
        experiment = self.selected_experiment()
        dialog = dialog or self.make_checkpoints_dialog()
        if experiment is None or dialog is None:
            return False
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            if dialog.changed:
                keep = "all" if dialog.keep is None else dialog.keep
                retention.set_retention(self.manager.db, experiment.id, keep)
            if dialog.prune_requested:
                result = retention.prune_run(self.manager.db, experiment.id)
                if result.errors:
                    QMessageBox.warning(
                        self._parent(),
                        "Some checkpoints were not removed",
                        "\n".join(result.errors[:20]),
                    )
        except (RavelabError, DatabaseError) as error:
            self._lifetime_failed("The checkpoints were not changed", error)
            return False
        finally:
            dialog.deleteLater()
        self._lifetime_done(experiment.id)
        return True
