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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_malloc_arenas_are_bounded_unless_the_user_set_them() -> None:
    code = (
        "from ravelab.gui.interpreter import limit_malloc_arenas, tune_interpreter\n"
        "import sys\n"
        "tune_interpreter()\n"
        "print(limit_malloc_arenas(), sys.getswitchinterval())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == ["True", str(interpreter.SWITCH_INTERVAL_S)]
    env["MALLOC_ARENA_MAX"] = "4"
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.split()[0] == "False"  # the user's own setting is left alone


def test_qt_fills_stay_in_the_gui_thread_unless_the_user_said_otherwise() -> None:
    code = (
        "import os\n"
        "from ravelab.gui.interpreter import tune_interpreter\n"
        "tune_interpreter()\n"
        "print(os.environ['QT_NO_GUI_THREADPOOL'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "1"
    env["QT_NO_GUI_THREADPOOL"] = "0"
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "0"
