"""The core, the data layer and the CLI import with PySide6 absent."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import importlib, pkgutil, sys

class RefuseQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"):
            raise ImportError(f"{name} is refused: the core must not need Qt")
        return None

sys.meta_path.insert(0, RefuseQt())
import ravelab
from ravelab import Database, TrainingManager, TrainingProcess
names = []
for package in ("ravelab.core", "ravelab.db", "ravelab.cli", "ravelab.plots"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
assert not any(m.startswith("PySide6") for m in sys.modules)
print(len(names))
"""


def test_core_db_and_cli_import_without_qt() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 20
