"""``ProjectSelector``: the toolbar's project combo box, with "New..." and "Rename...".

Projects live in the database (``db.projects``); the current one is remembered there
too (setting ``gui_project_id``), so the CLI could read it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QToolButton,
    QWidget,
)

from ravelab.core import projects as projects_core
from ravelab.core.errors import ConfigError
from ravelab.core.numbers import is_ascii_integer
from ravelab.db import Database, DatabaseError

CURRENT_PROJECT_SETTING = "gui_project_id"


class ProjectSelector(QWidget):
    """Choose, create and rename projects.

    Signals:
        project_changed(int, str): the current project is now this one (id, name).
        projects_changed(): a project was created or renamed.
    """

    project_changed = Signal(int, str)
    projects_changed = Signal()

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.combo = QComboBox()
        self.combo.setMinimumWidth(180)
        self.combo.setToolTip("The project whose runs the Training page lists")
        self.new_button = QToolButton()
        self.new_button.setText("New...")
        self.new_button.setToolTip("Create a project")
        self.new_button.clicked.connect(self.create_project)
        self.rename_button = QToolButton()
        self.rename_button.setText("Rename...")
        self.rename_button.setToolTip("Rename the current project")
        self.rename_button.clicked.connect(self.rename_project)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Project:"))
        layout.addWidget(self.combo)
        layout.addWidget(self.new_button)
        layout.addWidget(self.rename_button)
        stored = db.get_setting(CURRENT_PROJECT_SETTING)
        self.reload(
            int(stored)
            if stored is not None and is_ascii_integer(stored)
            else projects_core.DEFAULT_PROJECT_ID
        )
        self.combo.currentIndexChanged.connect(self._on_index_changed)

    @property
    def project_id(self) -> int:
        """The current project's id."""
        data = self.combo.currentData()
        return int(data) if data is not None else projects_core.DEFAULT_PROJECT_ID

    @property
    def project_name(self) -> str:
        """The current project's name."""
        return self.combo.currentText()

    def reload(self, select_id: int | None = None) -> None:
        """List the projects again, keeping (or choosing) the current one."""
        select_id = select_id if select_id is not None else self.project_id
        blocked = self.combo.blockSignals(True)
        self.combo.clear()
        for project in projects_core.list_projects(self.db):
            self.combo.addItem(project.name, project.id)
        index = self.combo.findData(select_id)
        self.combo.setCurrentIndex(index if index >= 0 else 0)
        self.combo.blockSignals(blocked)

    def select_project(self, project_id: int) -> None:
        """Make a project current."""
        index = self.combo.findData(project_id)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def _on_index_changed(self, _index: int) -> None:
        self.db.set_setting(CURRENT_PROJECT_SETTING, str(self.project_id))
        self.project_changed.emit(self.project_id, self.project_name)

    def create_project(self, name: str | None = None) -> int | None:
        """Ask for a name (unless given), create the project and make it current."""
        if name is None:
            name, ok = QInputDialog.getText(self, "New project", "Name of the new project:")
            if not ok:
                return None
        try:
            project_id = projects_core.create_project(self.db, name)
        except (ConfigError, DatabaseError) as error:
            QMessageBox.warning(self, "Cannot create the project", str(error))
            return None
        self.reload(select_id=self.project_id)
        self.projects_changed.emit()
        self.select_project(project_id)
        return project_id

    def rename_project(self, name: str | None = None) -> bool:
        """Ask for a new name (unless given) for the current project."""
        if name is None:
            name, ok = QInputDialog.getText(
                self, "Rename project", "New name of the project:", text=self.project_name
            )
            if not ok:
                return False
        try:
            projects_core.rename_project(self.db, self.project_id, name)
        except (ConfigError, DatabaseError) as error:
            QMessageBox.warning(self, "Cannot rename the project", str(error))
            return False
        self.reload()
        self.projects_changed.emit()
        self.project_changed.emit(self.project_id, self.project_name)
        return True
