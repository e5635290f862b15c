"""The app's interpreter and allocator settings."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from ravelab.gui import interpreter

pytestmark = pytest.mark.gui


def test_gc_paused_nests_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with interpreter.gc_paused():
        with interpreter.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def _after_tuning(code: str, variable: str, value: str | None = None) -> str:
    """What ``code`` prints in a fresh interpreter after ``tune_interpreter()``, with the
    environment ``variable`` unset, or set to ``value``."""
    env = {k: v for k, v in os.environ.items() if k != variable}
    if value is not None:
        env[variable] = value
    script = "from ravelab.gui.interpreter import tune_interpreter\ntune_interpreter()\n" + code
    found = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return found.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_malloc_arenas_are_bounded_unless_the_user_set_them() -> None:
    code = (
        "import sys\n"
        "from ravelab.gui.interpreter import limit_malloc_arenas\n"
        "print(limit_malloc_arenas(), sys.getswitchinterval())\n"
    )
    found = _after_tuning(code, "MALLOC_ARENA_MAX").split()
    assert found == ["True", str(interpreter.SWITCH_INTERVAL_S)]
    found = _after_tuning(code, "MALLOC_ARENA_MAX", "4").split()
    assert found[0] == "False"  # the user's own setting is left alone


def test_qt_fills_stay_in_the_gui_thread_unless_the_user_said_otherwise() -> None:
    code = "import os\nprint(os.environ['QT_NO_GUI_THREADPOOL'])\n"
    assert _after_tuning(code, "QT_NO_GUI_THREADPOOL").strip() == "1"
    assert _after_tuning(code, "QT_NO_GUI_THREADPOOL", "0").strip() == "0"
