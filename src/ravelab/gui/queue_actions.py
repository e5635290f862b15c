"""The Training page's actions on queued runs: move to the top, up, down, remove.

A mixin of :class:`ravelab.gui.training_page.TrainingPage`, as ``RunLifetimeActions`` is:
the table's context menu offers them for a run that waits in the queue (its status reads
``queued (2nd on cuda:0)``). Each calls ``ravelab.core.operations.queue`` once, the way
``ravelab queue move | remove`` does, then reloads the list (every queued run's place may
have changed). Errors (the run started meanwhile) come back as a dialog.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from ravelab.core.errors import RavelabError
from ravelab.core.operations import queue
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import DatabaseError, ExperimentRecord
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.experiments_model import is_waiting_in_queue


class QueueActions:
    """Move and remove for the page's selected queued run."""

    # What the page provides.
    manager: TrainingManager
    app_signals: AppSignals
    selected_experiment: Callable[[], ExperimentRecord | None]
    reload: Callable[..., None]

    def _queue_parent(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def add_queue_actions(self, menu: QMenu) -> list[QAction]:
        """Add the queue's actions to ``menu`` when the selected run is queued; them."""
        experiment = self.selected_experiment()
        if experiment is None or not is_waiting_in_queue(experiment):
            return []
        entry = queue.queue_positions(self.manager.db).get(experiment.id)
        rank = entry.rank if entry is not None else 1
        last = entry is not None and rank == max(
            e.rank for e in queue.list_queue(self.manager.db) if e.device == entry.device
        )
        menu.addSeparator()
        actions = []
        for text, enabled, slot in (
            ("Start next (top of the queue)", rank > 1, lambda: self.move_selected_in_queue(1)),
            ("Move up in the queue", rank > 1, lambda: self.move_selected_in_queue(rank - 1)),
            ("Move down in the queue", not last, lambda: self.move_selected_in_queue(rank + 1)),
            ("Remove from the queue...", True, self.remove_selected_from_queue),
        ):
            action = menu.addAction(text)
            action.setEnabled(enabled)
            action.triggered.connect(slot)
            actions.append(action)
        return actions

    def move_selected_in_queue(self, position: int) -> bool:
        """Move the selected queued run to ``position`` (1 = next); True when moved."""
        experiment = self.selected_experiment()
        if experiment is None:
            return False
        try:
            queue.move(self.manager.db, experiment.id, position)
        except (RavelabError, DatabaseError) as error:
            QMessageBox.warning(self._queue_parent(), "The run was not moved", str(error))
            return False
        self._queue_changed()
        return True

    def remove_selected_from_queue(self, confirm: bool = True) -> bool:
        """Ask, then take the selected run out of the queue (its row is deleted: it never
        started); True when removed."""
        experiment = self.selected_experiment()
        if experiment is None:
            return False
        if confirm:
            answer = QMessageBox.question(
                self._queue_parent(),
                "Remove from the queue",
                f"Remove “{experiment.name}” from the queue? It never started: its "
                "settings go with it (clone it first to keep them).",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            queue.remove(self.manager.db, experiment.id)
        except (RavelabError, DatabaseError) as error:
            QMessageBox.warning(self._queue_parent(), "The run was not removed", str(error))
            return False
        self._queue_changed()
        return True

    def _queue_changed(self) -> None:
        self.reload()
        self.app_signals.experiments_changed.emit()
