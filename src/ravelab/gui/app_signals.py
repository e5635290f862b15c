"""``AppSignals``: the events pages of the main window tell each other about.

The main window owns one instance and hands it to every page (no global singleton),
so pages stay unaware of each other: the Training page announces a run, the Datasets
page refreshes its run counts.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class AppSignals(QObject):
    """Application-wide events.

    Signals:
        training_started(int): a run was started (its experiment id).
        training_completed(int, str): a run ended, with its final status.
        experiments_changed(): runs were added, ended or removed.
        datasets_changed(): a dataset was registered or changed.
        project_changed(int): the current project is now this one.
        projects_changed(): a project was created or renamed.
        rave_changed(): the ``rave`` executable setting changed.
        models_changed(): a model was exported (the Models page reads its list again).
    """

    training_started = Signal(int)
    training_completed = Signal(int, str)
    experiments_changed = Signal()
    datasets_changed = Signal()
    project_changed = Signal(int)
    projects_changed = Signal()
    rave_changed = Signal()
    models_changed = Signal()
