"""`ravelab gui` where Qt is missing: the extra to install, in words."""

from __future__ import annotations

import subprocess
import sys

from ravelab.cli.exit_codes import ExitCode


def test_gui_without_qt_says_which_extra_to_install() -> None:
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'PySide6':\n"
        "            raise ImportError('No module named PySide6')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from ravelab.cli.main import main\n"
        "sys.exit(main(['--db', sys.argv[1], 'gui']))\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", code, f"{tmp}/x.db"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == ExitCode.INVALID
    assert "pip install 'ravelab[gui]'" in done.stderr
