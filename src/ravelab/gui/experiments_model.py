"""The runs table's model: one row per experiment dict, updated row by row.

``ExperimentsModel`` holds the experiment dicts of ``TrainingManager.list_experiments``
and merges updates into them (a run's progress, its latest metrics) by emitting
``dataChanged`` for that row only, so views keep their selection and scroll position.
Reloading the list merges too: rows are inserted and removed one by one, never reset.
``ExperimentsFilterProxy`` filters by text and by status and sorts on raw values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap

from ravelab.gui import formatting
from ravelab.gui.style import STATUS_COLOURS

ModelIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    """The table's columns, in order."""

    NAME = 0
    DATASET = 1
    CONFIG = 2
    STATUS = 3
    PROGRESS = 4
    SPEED = 5
    ETA = 6
    BEST_VALIDATION = 7
    STARTED = 8
    DURATION = 9


HEADERS = {
    Column.NAME: "Name",
    Column.DATASET: "Dataset",
    Column.CONFIG: "Config",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.SPEED: "Speed",
    Column.ETA: "ETA",
    Column.BEST_VALIDATION: "Best validation",
    Column.STARTED: "Started",
    Column.DURATION: "Duration",
}

HEADER_TIPS = {
    Column.CONFIG: "RAVE base config + modifiers (each a --config of `rave train`)",
    Column.PROGRESS: "Steps done of --max_steps",
    Column.SPEED: "Training speed, as Lightning's progress bar reports it",
    Column.ETA: "Time left at the current speed",
    Column.BEST_VALIDATION: "Lowest value of RAVE's `validation` loss so far (lower is better)",
}

#: Custom roles.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # (step, max_steps, percent, status)
EXPERIMENT_ID_ROLE = Qt.ItemDataRole.UserRole + 3
STATUS_ROLE = Qt.ItemDataRole.UserRole + 4  # the status as stored (running, stopped, ...)

#: The metric whose minimum is "best validation" (RAVE's TensorBoard scalar).
VALIDATION_METRIC = "validation"


_NUMERIC = {Column.SPEED, Column.ETA, Column.BEST_VALIDATION, Column.DURATION}


def display_status(experiment: Mapping[str, Any]) -> str:
    """``stopping`` for a run asked to stop that has not ended yet, else the status."""
    status = str(experiment.get("status") or "unknown")
    if status == "stopped" and not experiment.get("ended_at"):
        return "stopping"
    return status


def is_live(experiment: Mapping[str, Any]) -> bool:
    """True while the run's process may still be going (running or stopping)."""
    return display_status(experiment) in ("running", "stopping", "queued")


def _dot(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QIcon(pixmap)


class ExperimentsModel(QAbstractTableModel):
    """Experiments as table rows.

    Args:
        parent: the owning QObject.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._row_of: dict[int, int] = {}
        self._best: dict[int, float] = {}
        self._icons: dict[str, QIcon] = {}

    # -- reading -------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(column)
        return None

    def experiment(self, row: int) -> dict[str, Any]:
        """The experiment dict shown in a row."""
        return self._rows[row]

    def experiment_by_id(self, experiment_id: int) -> dict[str, Any] | None:
        """An experiment dict by id, or None when it is not in the table."""
        row = self._row_of.get(experiment_id)
        return None if row is None else self._rows[row]

    def row_of(self, experiment_id: int) -> int | None:
        """The row showing an experiment, or None."""
        return self._row_of.get(experiment_id)

    def experiment_ids(self) -> list[int]:
        """Ids of the experiments shown, in row order."""
        return [int(row["id"]) for row in self._rows]

    def best_validation(self, experiment_id: int) -> float | None:
        """The lowest ``validation`` value seen for a run, or None."""
        return self._best.get(experiment_id)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        experiment = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(experiment, column)
        if role == SORT_ROLE:
            return self._sort_key(experiment, column)
        if role == EXPERIMENT_ID_ROLE:
            return int(experiment["id"])
        if role == STATUS_ROLE:
            return str(experiment.get("status") or "")
        if role == PROGRESS_ROLE:
            progress = experiment.get("progress") or {}
            return (
                int(progress.get("step") or 0),
                _max_steps(experiment),
                _percent(experiment),
                display_status(experiment),
            )
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.STATUS:
            return QBrush(QColor(STATUS_COLOURS.get(display_status(experiment), "#424242")))
        if role == Qt.ItemDataRole.DecorationRole and column == Column.STATUS:
            return self._icon(display_status(experiment))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(experiment, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, experiment: Mapping[str, Any], column: Column) -> str:
        progress = experiment.get("progress") or {}
        live = is_live(experiment)
        if column == Column.NAME:
            return str(experiment.get("name") or "")
        if column == Column.DATASET:
            return str(experiment.get("dataset") or "-")
        if column == Column.CONFIG:
            return formatting.config_text(experiment.get("config") or {})
        if column == Column.STATUS:
            health = experiment.get("health")
            status = display_status(experiment)
            return f"{status} ({health})" if health not in (None, "ok") and live else status
        if column == Column.PROGRESS:
            step = int(progress.get("step") or 0)
            total = _max_steps(experiment)
            return f"{step:,} / {total:,}" if total else f"{step:,}"
        if column == Column.SPEED:
            return formatting.speed(formatting.progress_speed(progress)) if live else "-"
        if column == Column.ETA:
            return formatting.duration(progress.get("eta_s")) if live else "-"
        if column == Column.BEST_VALIDATION:
            return formatting.number(self._best.get(int(experiment["id"])))
        if column == Column.STARTED:
            return formatting.local_time(experiment.get("started_at"))
        if column == Column.DURATION:
            return formatting.duration(formatting.run_seconds(experiment))
        return ""

    def _sort_key(self, experiment: Mapping[str, Any], column: Column) -> Any:
        progress = experiment.get("progress") or {}
        if column == Column.PROGRESS:
            return _percent(experiment)
        if column == Column.SPEED:
            return _float(formatting.progress_speed(progress))
        if column == Column.ETA:
            return _float(progress.get("eta_s")) if is_live(experiment) else math.inf
        if column == Column.BEST_VALIDATION:
            best = self._best.get(int(experiment["id"]))
            return math.inf if best is None else best
        if column == Column.STARTED:
            return str(experiment.get("started_at") or "")
        if column == Column.DURATION:
            return formatting.run_seconds(experiment) or 0.0
        return self._display(experiment, column).lower()

    def _tooltip(self, experiment: Mapping[str, Any], column: Column) -> str | None:
        if column == Column.STATUS:
            reason = experiment.get("reason") or experiment.get("health_detail")
            return f"{display_status(experiment)}: {reason}" if reason else None
        if column == Column.NAME:
            return str(experiment.get("run_dir") or "")
        if column == Column.CONFIG:
            config = experiment.get("config") or {}
            extra = [f"--augment {a}" for a in config.get("augment") or []]
            extra += [f"--override {o}" for o in config.get("overrides") or []]
            return " ".join([formatting.config_text(config), *extra])
        if column == Column.PROGRESS:
            progress = experiment.get("progress") or {}
            parts = [formatting.percent_text(_percent(experiment))]
            if progress.get("epoch") is not None:
                parts.append(f"epoch {progress['epoch']}")
            if progress.get("phase") is not None:
                parts.append(f"phase {progress['phase']}")
            return ", ".join(parts)
        return None

    def _icon(self, status: str) -> QIcon:
        icon = self._icons.get(status)
        if icon is None:
            icon = self._icons[status] = _dot(STATUS_COLOURS.get(status, "#424242"))
        return icon

    # -- updating ------------------------------------------------------------------------------

    def set_experiments(
        self, experiments: Iterable[Mapping[str, Any]], best: Mapping[int, float] | None = None
    ) -> None:
        """Show these experiments (in this order), merging into the rows already shown.

        Rows of experiments no longer listed are removed, new ones inserted, the others
        updated in place, so selections and the scroll position survive a reload.
        """
        wanted = [dict(experiment) for experiment in experiments]
        if best is not None:
            self._best.update(best)
        wanted_ids = {int(experiment["id"]) for experiment in wanted}
        for row in reversed(range(len(self._rows))):
            if int(self._rows[row]["id"]) not in wanted_ids:
                self.beginRemoveRows(QModelIndex(), row, row)
                removed = self._rows.pop(row)
                self._best.pop(int(removed["id"]), None)
                self.endRemoveRows()
        self._reindex()
        for experiment in wanted:
            experiment_id = int(experiment["id"])
            shown_row = self._row_of.get(experiment_id)
            if shown_row is None:
                position = len(self._rows)
                self.beginInsertRows(QModelIndex(), position, position)
                self._rows.append(experiment)
                self._row_of[experiment_id] = position
                self.endInsertRows()
            else:
                self._rows[shown_row] = _newest(self._rows[shown_row], experiment)
                self._changed(shown_row)

    def update_experiment(
        self, experiment: Mapping[str, Any], best_validation: float | None = None
    ) -> None:
        """Replace one experiment's dict (after it ended, say), or add it on top."""
        experiment_id = int(experiment["id"])
        if best_validation is not None:
            self._best[experiment_id] = best_validation
        row = self._row_of.get(experiment_id)
        if row is None:
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._rows.insert(0, dict(experiment))
            self.endInsertRows()
            self._reindex()
        else:
            self._rows[row] = _newest(self._rows[row], dict(experiment))
            self._changed(row)

    def update_progress(self, experiment_id: int, progress: Mapping[str, Any]) -> bool:
        """Merge a run's latest progress into its row; False when the run is not shown."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        merged = dict(self._rows[row].get("progress") or {})
        merged.update(progress)
        self._rows[row]["progress"] = merged
        self._changed(row, Column.PROGRESS, Column.ETA)
        self._changed(row, Column.DURATION, Column.DURATION)
        return True

    def update_fields(self, experiment_id: int, **fields: Any) -> bool:
        """Set top-level fields of a run's dict (status, reason, health, ...)."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        self._rows[row].update(fields)
        self._changed(row)
        return True

    def update_metrics(self, experiment_id: int, metrics: Mapping[str, Any]) -> bool:
        """Merge a run's latest metric values into its row (and its best validation)."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        merged = dict(self._rows[row].get("metrics") or {})
        merged.update(metrics)
        self._rows[row]["metrics"] = merged
        value = metrics.get(VALIDATION_METRIC)
        if isinstance(value, int | float) and math.isfinite(value):
            best = self._best.get(experiment_id)
            self._best[experiment_id] = value if best is None else min(best, value)
            self._changed(row, Column.BEST_VALIDATION, Column.BEST_VALIDATION)
        return True

    def refresh_times(self) -> None:
        """Repaint the time columns of live runs (their duration grows by itself)."""
        for row, experiment in enumerate(self._rows):
            if is_live(experiment):
                self.dataChanged.emit(
                    self.index(row, Column.ETA),
                    self.index(row, Column.DURATION),
                    [Qt.ItemDataRole.DisplayRole],
                )

    def _changed(self, row: int, first: int = 0, last: int = len(Column) - 1) -> None:
        """One row changed (only columns ``first`` to ``last``)."""
        self.dataChanged.emit(self.index(row, first), self.index(row, last))

    def _reindex(self) -> None:
        self._row_of = {int(experiment["id"]): row for row, experiment in enumerate(self._rows)}


def _newest(shown: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    """``loaded`` (read from the DB in a worker), keeping the progress and metrics already
    shown when signals made them newer than what the worker read."""
    shown_at = (shown.get("progress") or {}).get("updated_at") or 0
    loaded_at = (loaded.get("progress") or {}).get("updated_at") or 0
    newer = (
        isinstance(shown_at, int | float)
        and isinstance(loaded_at, int | float)
        and shown_at > loaded_at
    )
    if newer:
        loaded["progress"] = shown.get("progress") or {}
        loaded["metrics"] = {**(loaded.get("metrics") or {}), **(shown.get("metrics") or {})}
    return loaded


def _max_steps(experiment: Mapping[str, Any]) -> int:
    progress = experiment.get("progress") or {}
    value = progress.get("max_steps") or (experiment.get("config") or {}).get("max_steps")
    return int(value) if isinstance(value, int | float) else 0


def _percent(experiment: Mapping[str, Any]) -> float:
    progress = experiment.get("progress") or {}
    percent = progress.get("percent")
    if isinstance(percent, int | float) and math.isfinite(percent):
        return float(max(0.0, min(100.0, percent)))
    total = _max_steps(experiment)
    step = progress.get("step") or 0
    return max(0.0, min(100.0, 100.0 * step / total)) if total else 0.0


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else -1.0


STATUS_FILTERS = ("running", "completed", "failed", "stopped")


class ExperimentsFilterProxy(QSortFilterProxyModel):
    """Filters rows by a text (name, dataset or config) and a status; sorts raw values."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._status: str | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def status_filter(self) -> str | None:
        """The status shown, or None for all."""
        return self._status

    def set_text_filter(self, text: str) -> None:
        """Show only rows whose name, dataset or config contains ``text`` (any case)."""
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_status_filter(self, status: str | None) -> None:
        """Show only rows with this stored status (``running`` includes stopping runs)."""
        self._refilter(lambda: setattr(self, "_status", status or None))

    def _refilter(self, change: Callable[[], None]) -> None:
        # Qt 6.9 replaced invalidateRowsFilter() by begin/endFilterChange(); support both.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - Qt < 6.9
            change()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, ExperimentsModel):
            return True
        experiment = model.experiment(source_row)
        if self._status is not None:
            shown = display_status(experiment)
            wanted = self._status
            if not (shown == wanted or (wanted == "running" and shown == "stopping")):
                return False
        if self._text:
            haystack = " ".join(
                [
                    str(experiment.get("name") or ""),
                    str(experiment.get("dataset") or ""),
                    formatting.config_text(experiment.get("config") or {}),
                ]
            ).lower()
            if self._text not in haystack:
                return False
        return True
