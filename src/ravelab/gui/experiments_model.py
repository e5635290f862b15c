"""The runs table's model: one row per experiment record, updated row by row.

``ExperimentsModel`` holds the records of ``TrainingManager.list_records`` and merges
updates into them (a run's progress, its latest metrics); what each cell
shows is computed then, once, and written into the cells of a ``QStandardItemModel``,
so views read it in C++: painting the table never calls into Python, and so never waits
for the interpreter lock that busy threads hold (a model answering in Python was entered
some 1,500 times to repaint five rows, each entry a possible wait of up to a switch
interval). Only the values that changed are
written, so ``dataChanged`` covers those cells of that row, and views keep their
selection and scroll position. Reloading the list merges too: rows are inserted and
removed one by one, never reset. ``ExperimentsFilterProxy`` filters by text (name,
dataset, config, tags, notes), by status and archived or not, and sorts on raw values.
A run's duration is the time it trained (its attempts summed, ``core.runs.lifetime``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QIcon,
    QPainter,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)

from ravelab.core.display import STOPPING
from ravelab.core.runs import lifetime
from ravelab.core.runs.lifetime import matches_filter
from ravelab.db import ExperimentRecord, Health, RunStatus
from ravelab.gui import formatting
from ravelab.gui.style import HINT_COLOUR, STATUS_COLOURS

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


def display_status(experiment: ExperimentRecord) -> str:
    """``stopping`` for a run asked to stop that has not ended yet, else the status."""
    if experiment.status == RunStatus.STOPPED and not experiment.ended_at:
        return STOPPING
    return str(experiment.status)


def status_text(experiment: ExperimentRecord) -> str:
    """The status as the table and the details show it: ``running · stopping at
    checkpoint`` while a stop at the next checkpoint is pending, ``queued (2nd on
    cuda:0)`` for a run waiting in the queue (its place is its reason)."""
    status = display_status(experiment)
    if status == RunStatus.RUNNING and experiment.progress.stopping_at_checkpoint:
        return f"{status} · stopping at checkpoint"
    if is_waiting_in_queue(experiment) and experiment.reason:
        return f"{status} ({experiment.reason})"  # its place: queued (2nd on cuda:0)
    return status


def is_waiting_in_queue(experiment: ExperimentRecord) -> bool:
    """Whether a run waits in ravelab's queue for its device (never started: no folder,
    no process; a SLURM run queued by SLURM has both)."""
    return (
        experiment.status == RunStatus.QUEUED
        and experiment.ended_at is None
        and experiment.run_dir is None
        and experiment.pid is None
        and experiment.job_id is None
    )


def trained_seconds(experiment: ExperimentRecord) -> float | None:
    """How long a run trained (the core's answer: its attempts summed, an imported run's
    logged span)."""
    return lifetime.run_seconds(experiment)


def name_text(experiment: ExperimentRecord) -> str:
    """The name, then the tags, then whether it is archived:
    ``drums-v2  [baseline, keep]  (archived)``."""
    text = experiment.name
    if experiment.tags:
        text += f"  [{', '.join(experiment.tags)}]"
    return f"{text}  (archived)" if experiment.archived else text


def is_live(experiment: ExperimentRecord) -> bool:
    """True while the run's process may still be going (queued, running or stopping)."""
    return experiment.status.is_live or display_status(experiment) == STOPPING


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


class _Keep:
    """The default of an argument left as it is (None is a value: no reason)."""


_KEEP = _Keep()


#: A cell's flags: selectable, not editable, no children.
_CELL_FLAGS = (
    Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ExperimentsModel(QStandardItemModel):
    """Experiments as table rows.

    Args:
        parent: the owning QObject.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(Column), parent)
        self._rows: list[ExperimentRecord] = []
        self._row_of: dict[int, int] = {}
        self._best: dict[int, float] = {}
        self._icons: dict[str, QIcon] = {}
        self._brushes: dict[str, QBrush] = {}
        #: What was written into each cell (row, column): the roles and their values.
        self._written: list[list[dict[int, object]]] = []
        for column in Column:
            header = QStandardItem(HEADERS[column])
            tip = HEADER_TIPS.get(column)
            if tip is not None:
                header.setToolTip(tip)
            self.setHorizontalHeaderItem(column, header)

    # -- reading -------------------------------------------------------------------------------

    def experiment(self, row: int) -> ExperimentRecord:
        """The experiment shown in a row."""
        return self._rows[row]

    def experiment_by_id(self, experiment_id: int) -> ExperimentRecord | None:
        """An experiment by id, or None when it is not in the table."""
        row = self._row_of.get(experiment_id)
        return None if row is None else self._rows[row]

    def row_of(self, experiment_id: int) -> int | None:
        """The row showing an experiment, or None."""
        return self._row_of.get(experiment_id)

    def experiment_ids(self) -> list[int]:
        """Ids of the experiments shown, in row order."""
        return [row.id for row in self._rows]

    def best_validation(self, experiment_id: int) -> float | None:
        """The lowest ``validation`` value seen for a run, or None."""
        return self._best.get(experiment_id)

    # -- what a cell shows ---------------------------------------------------------------------

    def _cell(self, experiment: ExperimentRecord, column: Column) -> dict[int, object]:
        """The roles of one cell and their values (a role left out has no value)."""
        status = display_status(experiment)
        display = self._display(experiment, column)
        values: dict[int, object] = {
            Qt.ItemDataRole.DisplayRole: display,
            SORT_ROLE: self._sort_key(experiment, column, display),
            EXPERIMENT_ID_ROLE: experiment.id,
            STATUS_ROLE: str(experiment.status),
        }
        if column == Column.PROGRESS:
            values[PROGRESS_ROLE] = (
                experiment.progress.step,
                _max_steps(experiment),
                _percent(experiment),
                status,
            )
        elif column == Column.STATUS:
            values[Qt.ItemDataRole.ForegroundRole] = self._brush(status)
            values[Qt.ItemDataRole.DecorationRole] = self._icon(status)
        elif column in _NUMERIC:
            values[Qt.ItemDataRole.TextAlignmentRole] = _RIGHT
        if column == Column.NAME and experiment.archived:
            values[Qt.ItemDataRole.ForegroundRole] = self._brush("archived")
        tip = self._tooltip(experiment, column)
        if tip is not None:
            values[Qt.ItemDataRole.ToolTipRole] = tip
        return {int(role): value for role, value in values.items()}

    def _display(self, experiment: ExperimentRecord, column: Column) -> str:
        progress = experiment.progress
        live = is_live(experiment)
        if column == Column.NAME:
            return name_text(experiment)
        if column == Column.DATASET:
            return experiment.dataset_name or "-"
        if column == Column.CONFIG:
            return formatting.config_text(experiment.config)
        if column == Column.STATUS:
            health = experiment.health
            status = status_text(experiment)
            return f"{status} ({health})" if health != Health.OK and live else status
        if column == Column.PROGRESS:
            step = progress.step
            total = _max_steps(experiment)
            return f"{step:,} / {total:,}" if total else f"{step:,}"
        if column == Column.SPEED:
            return formatting.speed(formatting.progress_speed(progress)) if live else "-"
        if column == Column.ETA:
            return formatting.duration(progress.eta_s) if live else "-"
        if column == Column.BEST_VALIDATION:
            return formatting.number(self._best.get(experiment.id))
        if column == Column.STARTED:
            return formatting.local_time(experiment.started_at)
        if column == Column.DURATION:
            return formatting.duration(trained_seconds(experiment))
        return ""

    def _sort_key(self, experiment: ExperimentRecord, column: Column, display: str) -> object:
        progress = experiment.progress
        if column == Column.PROGRESS:
            return _percent(experiment)
        if column == Column.SPEED:
            return _float(formatting.progress_speed(progress))
        if column == Column.ETA:
            return _float(progress.eta_s) if is_live(experiment) else math.inf
        if column == Column.BEST_VALIDATION:
            best = self._best.get(experiment.id)
            return math.inf if best is None else best
        if column == Column.STARTED:
            return experiment.started_at or ""
        if column == Column.DURATION:
            # Whole seconds, as shown: a live run's key then changes once a second.
            return float(round(trained_seconds(experiment) or 0.0))
        if column == Column.NAME:
            return experiment.name.lower()
        return display.lower()

    def _tooltip(self, experiment: ExperimentRecord, column: Column) -> str | None:
        if column == Column.STATUS:
            reason = experiment.reason or experiment.health_detail
            return f"{display_status(experiment)}: {reason}" if reason else None
        if column == Column.NAME:
            lines = [experiment.run_dir or ""]
            if experiment.archived:
                lines.append(f"archived {formatting.local_time(experiment.archived_at)}")
            if experiment.notes:
                first = experiment.notes.splitlines()[0]
                lines.append(first if len(first) <= 120 else first[:117] + "...")
            return "\n".join(line for line in lines if line)
        if column == Column.DURATION and experiment.attempts > 1:
            return f"trained in {experiment.attempts} attempts (the time between them not counted)"
        if column == Column.CONFIG:
            config = experiment.config
            extra = [f"--augment {a}" for a in config.get("augment") or []]
            extra += [f"--override {o}" for o in config.get("overrides") or []]
            return " ".join([formatting.config_text(config), *extra])
        if column == Column.PROGRESS:
            progress = experiment.progress
            parts = [formatting.percent_text(_percent(experiment))]
            if progress.epoch is not None:
                parts.append(f"epoch {progress.epoch}")
            if progress.phase is not None:
                parts.append(f"phase {progress.phase}")
            return ", ".join(parts)
        return None

    def _icon(self, status: str) -> QIcon:
        icon = self._icons.get(status)
        if icon is None:
            icon = self._icons[status] = _dot(STATUS_COLOURS.get(status, "#424242"))
        return icon

    def _brush(self, status: str) -> QBrush:
        # One brush per status: the same object again compares equal, so is not rewritten.
        brush = self._brushes.get(status)
        if brush is None:
            colour = HINT_COLOUR if status == "archived" else STATUS_COLOURS.get(status, "#424242")
            brush = self._brushes[status] = QBrush(QColor(colour))
        return brush

    # -- updating ------------------------------------------------------------------------------

    def set_experiments(
        self, experiments: Iterable[ExperimentRecord], best: Mapping[int, float] | None = None
    ) -> None:
        """Show these experiments (in this order), merging into the rows already shown.

        Rows of experiments no longer listed are removed, new ones inserted, the others
        updated in place, so selections and the scroll position survive a reload.
        """
        wanted = list(experiments)
        if best is not None:
            self._best.update(best)
        wanted_ids = {experiment.id for experiment in wanted}
        for row in reversed(range(len(self._rows))):
            if self._rows[row].id not in wanted_ids:
                self.removeRow(row)
                removed = self._rows.pop(row)
                del self._written[row]
                self._best.pop(removed.id, None)
        self._reindex()
        for experiment in wanted:
            shown_row = self._row_of.get(experiment.id)
            if shown_row is None:
                self._insert(len(self._rows), experiment)
            else:
                merged = _newest(self._rows[shown_row], experiment)
                if merged == self._rows[shown_row]:
                    # A reload of what is shown: only its best validation may be new.
                    self._changed(shown_row, Column.BEST_VALIDATION, Column.BEST_VALIDATION)
                    continue
                self._rows[shown_row] = merged
                self._changed(shown_row)

    def update_experiment(
        self, experiment: ExperimentRecord, best_validation: float | None = None
    ) -> None:
        """Replace one experiment's record (after it ended, say), or add it on top."""
        experiment_id = experiment.id
        if best_validation is not None:
            self._best[experiment_id] = best_validation
        row = self._row_of.get(experiment_id)
        if row is None:
            self._insert(0, experiment)
        else:
            self._rows[row] = _newest(self._rows[row], experiment)
            self._changed(row)

    def update_progress(self, experiment_id: int, progress: Mapping[str, object]) -> bool:
        """Merge a run's latest progress into its row; False when the run is not shown."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        shown = self._rows[row]
        self._rows[row] = dataclasses.replace(shown, progress=shown.progress.merged(progress))
        # From the status (a pending stop at the next checkpoint shows there) to the ETA.
        self._changed(row, Column.STATUS, Column.ETA)
        self._changed(row, Column.DURATION, Column.DURATION)
        return True

    def update_status(
        self, experiment_id: int, status: RunStatus, reason: str | _Keep | None = _KEEP
    ) -> bool:
        """Set a run's status (and its reason, when given); False when it is not shown."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        shown = self._rows[row]
        kept = shown.reason if isinstance(reason, _Keep) else reason
        self._rows[row] = dataclasses.replace(shown, status=status, reason=kept)
        self._changed(row)
        return True

    def update_health(self, experiment_id: int, health: Health, detail: str | None) -> bool:
        """Set a run's health and its detail; False when the run is not shown."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        shown = self._rows[row]
        self._rows[row] = dataclasses.replace(shown, health=health, health_detail=detail)
        self._changed(row)
        return True

    def update_metrics(self, experiment_id: int, metrics: Mapping[str, object]) -> bool:
        """Merge a run's latest metric values into its row (and its best validation)."""
        row = self._row_of.get(experiment_id)
        if row is None:
            return False
        shown = self._rows[row]
        self._rows[row] = dataclasses.replace(shown, metrics={**shown.metrics, **metrics})
        value = metrics.get(VALIDATION_METRIC)
        if isinstance(value, int | float) and math.isfinite(value):
            best = self._best.get(experiment_id)
            self._best[experiment_id] = value if best is None else min(best, value)
            self._changed(row, Column.BEST_VALIDATION, Column.BEST_VALIDATION)
        return True

    def refresh_times(self) -> None:
        """Update the time columns of live runs (their duration grows by itself)."""
        for row, experiment in enumerate(self._rows):
            if is_live(experiment):
                self._changed(row, Column.ETA, Column.DURATION)

    def _insert(self, row: int, experiment: ExperimentRecord) -> None:
        """Show a new experiment at ``row``, its cells filled before views see them."""
        cells = [self._cell(experiment, column) for column in Column]
        items = []
        for values in cells:
            item = QStandardItem()
            item.setFlags(_CELL_FLAGS)
            for role, value in values.items():
                item.setData(value, role)
            items.append(item)
        # The records first: the filter proxy reads the new row while it is inserted.
        appended = row == len(self._rows)
        self._rows.insert(row, experiment)
        self._written.insert(row, cells)
        if appended:  # a list loaded at start-up: no reindexing per row
            self._row_of[experiment.id] = row
        else:
            self._reindex()
        self.insertRow(row, items)

    def _changed(self, row: int, first: int = 0, last: int = len(Column) - 1) -> None:
        """One row's record changed: write the values that changed in columns ``first`` to
        ``last`` (one ``dataChanged`` per cell that changed, none when nothing did)."""
        experiment = self._rows[row]
        written = self._written[row]
        for column in range(first, last + 1):
            values = self._cell(experiment, Column(column))
            before = written[column]
            changes = {r: v for r, v in values.items() if r not in before or before[r] != v}
            changes.update({r: None for r in before if r not in values})  # None: removed
            if changes:
                written[column] = values
                self.setItemData(self.index(row, column), changes)

    def _reindex(self) -> None:
        self._row_of = {experiment.id: row for row, experiment in enumerate(self._rows)}


def _newest(shown: ExperimentRecord, loaded: ExperimentRecord) -> ExperimentRecord:
    """``loaded`` (read from the DB in a worker), keeping the progress and metrics already
    shown when signals made them newer than what the worker read."""
    shown_at = shown.progress.updated_at or 0.0
    loaded_at = loaded.progress.updated_at or 0.0
    if shown_at > loaded_at:
        return dataclasses.replace(
            loaded, progress=shown.progress, metrics={**loaded.metrics, **shown.metrics}
        )
    return loaded


def _max_steps(experiment: ExperimentRecord) -> int:
    value: object = experiment.progress.max_steps or experiment.config.get("max_steps")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return 0  # the config is stored JSON: anything may be there
    return int(value) if 0 < value < 2**63 else 0


def _percent(experiment: ExperimentRecord) -> float:
    percent = experiment.progress.percent
    if percent is not None:
        return max(0.0, min(100.0, percent))
    total = _max_steps(experiment)
    step = experiment.progress.step
    return max(0.0, min(100.0, 100.0 * step / total)) if total else 0.0


def _float(value: float | None) -> float:
    return -1.0 if value is None else value


#: The statuses the table can be filtered by (``running`` shows stopping runs too).
STATUS_FILTERS = (RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED)

#: The status filter's last choice: the archived runs (whatever their status), which every
#: other choice hides (as ``ravelab list --archived``).
ARCHIVED_FILTER = "archived"


class ExperimentsFilterProxy(QSortFilterProxyModel):
    """Filters rows by a text (name, dataset, config, tags, notes) and a status, or shows
    the archived runs (hidden otherwise); sorts raw values."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._status: str | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text_filter(self, text: str) -> None:
        """Show only rows whose name, dataset, config, tags or notes contain ``text`` (any
        case), or each of its words (``tag:x``: the tag x)."""
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_status_filter(self, status: str | None) -> None:
        """Show only rows with this stored status (``running`` includes stopping runs);
        ``ARCHIVED_FILTER``: only the archived runs, which are hidden otherwise."""
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
        if experiment.archived != (self._status == ARCHIVED_FILTER):
            return False
        if self._status is not None and self._status != ARCHIVED_FILTER:
            shown = display_status(experiment)
            wanted = self._status
            if not (shown == wanted or (wanted == RunStatus.RUNNING and shown == STOPPING)):
                return False
        if self._text:
            haystack = " ".join(
                [
                    experiment.name,
                    experiment.dataset_name or "",
                    formatting.config_text(experiment.config),
                    " ".join(experiment.tags),
                    experiment.notes,
                ]
            ).lower()
            # The whole text anywhere, or each of its words somewhere (as `list --filter`).
            if self._text not in haystack and not matches_filter(experiment, self._text):
                return False
        return True
