"""The Qt-free core, in rooms: ``runs`` (starting, supervising, following and settling runs),
``rave`` (what ravelab knows of RAVE), ``tensorboard`` (event files), ``slurm`` and ``jobs``
(preprocess, export, import); shared helpers (errors, names, numbers, paths, datasets,
projects, GPUs, display) stay here.

Modules that moved into a room still answer to their earlier flat names (for example
``ravelab.core.training_manager`` is ``ravelab.core.runs.training_manager``, the same module
object), so scripts written against the flat layout keep working. Nothing is imported until
such a name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType

#: Earlier flat module names -> where they live now (relative to ``ravelab.core``).
MOVED: dict[str, str] = {
    "training_manager": "runs.training_manager",
    "training_process": "runs.training_process",
    "process_thread": "runs.process_thread",
    "follow_child": "runs.follow_child",
    "remote_follower": "runs.remote_follower",
    "executor": "runs.executor",
    "supervisor": "runs.supervisor",
    "run_stopper": "runs.run_stopper",
    "launch_owner": "runs.launch_owner",
    "run_files": "runs.run_files",
    "process_identity": "runs.process_identity",
    "log_tail": "runs.log_tail",
    "regular_files": "runs.regular_files",
    "text_stream": "runs.text_stream",
    "compare": "runs.compare",
    "stop_stages": "runs.stop_stages",
    "run_outcome": "runs.run_outcome",
    "progress_estimate": "runs.progress_estimate",
    "follow_relay": "runs.follow_relay",
    "follow_defaults": "runs.follow_defaults",
    "run_queries": "runs.run_queries",
    "rave_configs": "rave.configs",
    "learning_rate": "rave.learning_rate",
    "gin_config": "rave.gin_config",
    "rave_locator": "rave.locator",
    "rave_env": "rave.environment",
    "checkpoints": "rave.checkpoints",
    "checkpoint_scan": "rave.checkpoint_scan",
    "output_parser": "rave.output_parser",
    "trainer_numbers": "rave.trainer_numbers",
    "training_config": "rave.training_config",
    "tfrecord": "tensorboard.tfrecord",
    "tensorboard_events": "tensorboard.events",
    "event_columns": "tensorboard.event_columns",
    "run_events": "tensorboard.run_events",
    "event_proto": "tensorboard.event_proto",
    "slurm_executor": "slurm.executor",
    "slurm_script": "slurm.script",
    "slurm_settings": "slurm.settings",
    "slurm_states": "slurm.states",
    "job_manager": "jobs.job_manager",
    "job_process": "jobs.job_process",
    "preprocess": "jobs.preprocess",
    "export": "jobs.export",
    "importer": "jobs.importer",
}


class _MovedModules:
    """Answers an earlier flat name with the module it moved to (one object, two names): a
    finder and loader of the import system (``importlib.abc`` is not imported for it,
    which would cost every command its import time)."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, name = fullname.rpartition(".")
        if prefix != __name__ or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}")
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system gave the module the alias's spec: give it its own back.
        module.__spec__ = self._specs.pop(module.__name__, module.__spec__)


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
