"""ravelab: a training manager for RAVE, IRCAM's Realtime Audio Variational autoEncoder.

The public Python API::

    from ravelab import Database, TrainingManager, TrainingProcess
    from ravelab import ExperimentRecord, RunProgress, RunStatus  # typed records

A run's ``status`` is a :class:`RunStatus` (a string enum: ``RunStatus.RUNNING ==
"running"``), its progress a :class:`RunProgress`.

Names are loaded on first use, so that small entry points (the run supervisor, the
CLI's ``--help``) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ravelab.lazy_names import load_name

__version__ = "0.1.0"

_EXPORTS = {
    "Database": "ravelab.db",
    "TrainingManager": "ravelab.core.runs.training_manager",
    "TrainingProcess": "ravelab.core.runs.training_process",
    "ProcessThread": "ravelab.core.runs.process_thread",
    "RavelabError": "ravelab.core.errors",
    "ConfigError": "ravelab.core.errors",
    "register_dataset": "ravelab.core.datasets",
    "ExperimentRecord": "ravelab.db.records",
    "RunProgress": "ravelab.db.progress",
    "RunStatus": "ravelab.db.vocabulary",
    "Health": "ravelab.db.vocabulary",
    "DatasetStatus": "ravelab.db.vocabulary",
}

if TYPE_CHECKING:
    from ravelab.core.datasets import register_dataset
    from ravelab.core.errors import ConfigError, RavelabError
    from ravelab.core.runs.process_thread import ProcessThread
    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.core.runs.training_process import TrainingProcess
    from ravelab.db import Database
    from ravelab.db.progress import RunProgress
    from ravelab.db.records import ExperimentRecord
    from ravelab.db.vocabulary import DatasetStatus, Health, RunStatus

__all__ = [
    "ConfigError",
    "Database",
    "DatasetStatus",
    "ExperimentRecord",
    "Health",
    "ProcessThread",
    "RavelabError",
    "RunProgress",
    "RunStatus",
    "TrainingManager",
    "TrainingProcess",
    "__version__",
    "register_dataset",
]


def __getattr__(name: str) -> Any:
    return load_name(__name__, _EXPORTS, name, globals())
