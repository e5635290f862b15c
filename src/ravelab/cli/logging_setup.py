"""A command's logging, set up when something first imports :mod:`logging`.

Most short commands (``ravelab list``, ``show``) never log, and importing and configuring
:mod:`logging` would cost them about a twentieth of their time. So the setup waits: a
finder placed first on :data:`sys.meta_path` sees the first ``import logging``, lets the
module load from its file as usual, and calls ``basicConfig`` on it before the importer
gets it. What is logged, and how it looks, is the same as with ``basicConfig`` at start.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

#: ``logging.INFO`` and ``logging.WARNING``, named here so that :mod:`logging` is not
#: imported to read them.
INFO = 20
WARNING = 30

#: How a record is written to stderr: ``WARNING ravelab.db.database: ...``.
FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure(level: int) -> None:
    """Write log records of ``level`` and above to stderr: now when :mod:`logging` is
    loaded, else as soon as it is."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.basicConfig(level=level, format=FORMAT)
        return
    for finder in sys.meta_path:
        if isinstance(finder, _ConfigureOnImport):  # a second command in one process
            finder.level = level
            return
    sys.meta_path.insert(0, _ConfigureOnImport(level))


class _ConfigureOnImport:
    """The finder that waits for ``import logging`` (it answers for no other module)."""

    def __init__(self, level: int) -> None:
        self.level = level

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "logging":
            return None
        try:
            sys.meta_path.remove(self)  # once only, whatever happens next
        except ValueError:  # another thread's import got here first
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            # Not the standard library's source file (a frozen or zipped Python): logging
            # is left to load as Python loads it, unconfigured.
            return None
        spec.loader = _ConfiguringLoader(spec.loader.name, spec.loader.path, self.level)
        return spec


class _ConfiguringLoader(importlib.machinery.SourceFileLoader):
    """Loads :mod:`logging` from its file, then configures it."""

    def __init__(self, fullname: str, path: str, level: int) -> None:
        super().__init__(fullname, path)
        self._level = level

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        module.basicConfig(level=self._level, format=FORMAT)
