"""Registering a dataset from the GUI: a folder picker, then ``core.datasets.register_dataset``.

Shared by the Datasets page and the wizard's first page. Errors (not a RAVE dataset,
already registered, empty) are shown in a dialog with the core's message, never as a
traceback.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ravelab.core import dataset_catalog
from ravelab.core.datasets import register_dataset
from ravelab.core.errors import RavelabError
from ravelab.core.names import suggest_name
from ravelab.db import Database, DatabaseError, DatasetRecord


def unique_dataset_name(db: Database, folder: str | Path) -> str:
    """A safe name from the folder's name, numbered when it is taken (``drums-2``)."""
    base = suggest_name(Path(folder).name)
    name, number = base, 2
    while dataset_catalog.find_dataset(db, name=name) is not None:
        suffix = f"-{number}"
        name = f"{base[: 64 - len(suffix)]}{suffix}"
        number += 1
    return name


def choose_dataset_folder(parent: QWidget | None) -> str | None:
    """Ask for a preprocessed dataset folder; None when cancelled."""
    folder = QFileDialog.getExistingDirectory(
        parent,
        "Choose a dataset folder made by `rave preprocess`",
        str(Path.home()),
    )
    return folder or None


def add_dataset(
    parent: QWidget | None, db: Database, project_id: int, folder: str | None = None
) -> DatasetRecord | None:
    """Pick a folder (unless given), register it, and return the new dataset.

    Returns:
        The registered dataset, or None when cancelled or refused (the reason was shown).
    """
    if folder is None:
        folder = choose_dataset_folder(parent)
        if folder is None:
            return None
    try:
        return register_dataset(
            db, folder, name=unique_dataset_name(db, folder), project_id=project_id
        )
    except (RavelabError, DatabaseError) as error:
        QMessageBox.warning(parent, "This folder cannot be added", str(error))
        return None
