"""A command's logging set up on the first ``import logging``: each case runs in a fresh
interpreter, since pytest itself has imported logging long before."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from ravelab.cli import logging_setup

SRC = str(Path(logging_setup.__file__).resolve().parents[2])


def _run(script: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": SRC, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_logging_imported_later_writes_warnings_as_basic_config_would() -> None:
    done = _run(
        "import sys\n"
        "from ravelab.cli import logging_setup\n"
        "logging_setup.configure(logging_setup.WARNING)\n"
        "assert 'logging' not in sys.modules\n"
        "import logging\n"
        "logging.getLogger('ravelab.x').warning('disk %s', 'full')\n"
        "logging.getLogger('ravelab.x').info('not shown')\n"
        "import inspect\n"
        "assert 'def basicConfig' in inspect.getsource(logging)  # still read from its file\n"
        "assert not [f for f in sys.meta_path if type(f).__name__ == '_ConfigureOnImport']\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "WARNING ravelab.x: disk full\n"


def test_the_last_level_asked_for_wins_and_info_is_written_when_asked() -> None:
    done = _run(
        "import sys\n"
        "from ravelab.cli import logging_setup\n"
        "logging_setup.configure(logging_setup.WARNING)\n"
        "logging_setup.configure(logging_setup.INFO)\n"
        "assert len([f for f in sys.meta_path if type(f).__name__ == '_ConfigureOnImport']) == 1\n"
        "import logging.handlers  # a submodule first: its package is set up all the same\n"
        "logging.getLogger('ravelab.y').info('migrating')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "INFO ravelab.y: migrating\n"


def test_a_zipped_logging_is_set_up_too(tmp_path: Path) -> None:
    """A Python whose standard library is zipped (the embeddable one): logging comes from
    the zip, and is set up all the same."""
    package = Path(logging.__file__).parent
    archive = tmp_path / "stdlib.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for source in package.glob("*.py"):
            zipped.write(source, f"logging/{source.name}")
    done = _run(
        "from ravelab.cli import logging_setup\n"
        "logging_setup.configure(logging_setup.WARNING)\n"
        "import logging\n"
        "assert 'stdlib.zip' in logging.__file__, logging.__file__\n"
        "assert type(logging.__loader__).__name__ == 'zipimporter'  # the real loader kept\n"
        "logging.getLogger('ravelab.zip').warning('from the zip')\n",
        env={"PYTHONPATH": f"{archive}{os.pathsep}{SRC}"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "WARNING ravelab.zip: from the zip\n"


def test_a_spec_only_looked_at_leaves_the_setup_waiting_for_the_import() -> None:
    done = _run(
        "import importlib.util\n"
        "from ravelab.cli import logging_setup\n"
        "logging_setup.configure(logging_setup.WARNING)\n"
        "assert importlib.util.find_spec('logging') is not None\n"
        "import logging\n"
        "logging.getLogger('ravelab.w').warning('still set up')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "WARNING ravelab.w: still set up\n"


def test_logging_already_loaded_is_set_up_at_once() -> None:
    done = _run(
        "import logging\n"
        "from ravelab.cli import logging_setup\n"
        "logging_setup.configure(logging_setup.WARNING)\n"
        "logging.getLogger('ravelab.z').error('gone')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "ERROR ravelab.z: gone\n"


def test_verbose_shows_what_the_database_logs_when_it_first_logs(tmp_path: Path) -> None:
    """``-v`` on a new database file: the migrations are logged, through a logging that
    the command had not imported when it set it up."""
    done = subprocess.run(
        [sys.executable, "-m", "ravelab", "-v", "--db", str(tmp_path / "new.db"), "list"],
        env=dict(os.environ, PYTHONPATH=SRC),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "INFO ravelab.db.database: migrating " in done.stderr
    assert "no experiments yet" in done.stdout
