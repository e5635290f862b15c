"""A command's logging, set up when something first imports :mod:`logging`.

Most short commands (``ravelab list``, ``show``) never log, and importing and configuring
:mod:`logging` would cost them about a twentieth of their time. So the setup waits: a
finder placed first on :data:`sys.meta_path` answers the first ``import logging`` with
the spec the other finders give (a source file, a zip, a frozen module: whichever this
Python has), its loader wrapped so that ``basicConfig`` is called as soon as the module
has run, before the importer gets it. What is logged, and how it looks, is the same as
with ``basicConfig`` at start.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

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
    ) -> ModuleSpec | None:
        if fullname != "logging":
            return None
        spec = self._others_spec(fullname, path, target)
        if spec is None:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # nothing to wrap: logging loads unconfigured, as Python leaves it
        # Only a spec that gets executed sets logging up; one only looked at
        # (importlib.util.find_spec) leaves this finder waiting for the import.
        spec.loader = cast("Loader", _ThenConfigure(spec.loader, self))
        return spec

    def _others_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        """The spec the finders after this one give, asked in the import system's order."""
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def leave(self) -> None:
        """Off :data:`sys.meta_path`, rebound rather than changed in place: an import
        under way in another thread goes on over the list it is reading."""
        sys.meta_path = [finder for finder in sys.meta_path if finder is not self]


class _ThenConfigure:
    """A loader that runs the real one, then calls ``basicConfig`` on the module."""

    def __init__(self, loader: Any, finder: _ConfigureOnImport) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps the real loader: reload, linecache and inspect use it.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._finder.leave()
        self._loader.exec_module(module)
        module.basicConfig(level=self._finder.level, format=FORMAT)
