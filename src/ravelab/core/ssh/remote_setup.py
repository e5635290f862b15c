"""``ravelab remote setup``: the same ravelab, and a managed RAVE, on a remote; idempotent.

1. A Python 3.11+ is found there (``python3.13`` ... ``python3``).
2. Unless the remote names its own Python (``--python``), a virtual environment is made at
   ``~/ravelab/venv`` (kept when it exists).
3. ravelab's own sources (this machine's, without the app) are copied to
   ``~/ravelab/lib/<digest>/``, a folder per version of the code, and a ``.pth`` file in
   the environment points at it: the remote runs exactly this machine's code.
4. ravelab's dependencies are installed with pip (already satisfied ones are left).
5. ``rave``: the remote's ``--rave`` when given; else ``ravelab rave install`` there, which
   reuses a working install (skipped with ``rave=False``).

Nothing the remote had is removed: earlier code folders and environments stay.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ravelab.core.errors import RavelabError
from ravelab.core.ssh.agent import source_fingerprint
from ravelab.core.ssh.connection import Connection
from ravelab.core.ssh.executor import ask_hello
from ravelab.core.ssh.remotes import DEFAULT_PYTHON, DEFAULT_ROOT, Remote

#: Seconds pip may take for ravelab's dependencies, and RAVE's install (torch: GBs).
PIP_TIMEOUT_S = 1800.0
RAVE_TIMEOUT_S = 3600.0

_FIND_PYTHON = (
    "for p in python3.13 python3.12 python3.11 python3; do "
    'if command -v "$p" >/dev/null 2>&1 && '
    '"$p" -c "import sys; sys.exit(sys.version_info < (3, 11))"; '
    'then command -v "$p"; exit 0; fi; done; exit 3'
)


class SetupError(RavelabError):
    """The remote could not be set up; the message says what to do."""


def core_requirements() -> list[str]:
    """ravelab's own dependencies (no extras), as this install declares them."""
    found = importlib.metadata.requires("ravelab") or []
    return [r for r in found if "extra ==" not in r and "extra==" not in r]


def setup_remote(
    remote: Remote, say: Callable[[str], None], *, rave: bool = True
) -> dict[str, Any]:
    """Install ravelab (and RAVE) on ``remote``; the agent's answer afterwards.

    Raises:
        SshError: the remote cannot be reached or refused the login.
        SetupError: a step failed (the message names it).
    """
    import ravelab

    connection = Connection(remote)
    python = remote.python
    if python == DEFAULT_PYTHON:
        found = connection.run(["sh", "-c", _FIND_PYTHON])
        system_python = found.stdout.strip().splitlines()[-1] if found.returncode == 0 else ""
        if not system_python:
            raise SetupError(
                f"{remote.name} has no Python 3.11 or newer: install one there "
                "(apt install python3 python3-venv), or give `--python PATH`"
            )
        if connection.run([python, "-c", "pass"]).returncode != 0:
            say(f"creating the environment {python} with {system_python}")
            made = connection.run(
                [system_python, "-m", "venv", str(Path(python).parent.parent)], timeout=300
            )
            if made.returncode != 0:
                raise SetupError(
                    f"could not create a virtual environment on {remote.name}: "
                    f"{(made.stderr or made.stdout).strip()[-300:]} (apt install python3-venv)"
                )
        else:
            say(f"environment {python}: there already")
    fingerprint = source_fingerprint()
    lib = f"{DEFAULT_ROOT}/lib/{fingerprint}"
    say(f"copying ravelab {ravelab.__version__} ({fingerprint}) to {lib}")
    package = Path(ravelab.__file__).resolve().parent
    if connection.run(["mkdir", "-p", lib]).returncode != 0:
        raise SetupError(f"cannot create {lib} on {remote.name}")
    connection.rsync(
        [
            "-rt", "--exclude=__pycache__/", "--exclude=/gui/", "--exclude=*.pyc",
            f"{package}/", connection.remote_path(f"{lib}/ravelab/"),
        ],
        timeout=600,
    )  # fmt: skip
    site = connection.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    )
    if site.returncode != 0 or not site.stdout.strip():
        raise SetupError(f"{python} on {remote.name} did not say where its packages go")
    pth = f"{site.stdout.strip().splitlines()[-1]}/ravelab-remote.pth"
    written = connection.run(
        [
            python, "-c",
            "import os, sys; open(sys.argv[1], 'w').write(os.path.abspath(sys.argv[2]) + '\\n')",
            pth, lib,
        ]
    )  # fmt: skip
    if written.returncode != 0:
        raise SetupError(f"could not write {pth} on {remote.name}: {written.stderr.strip()}")
    requirements = core_requirements()
    say(f"installing ravelab's dependencies there ({len(requirements)} packages, with pip)")
    status = connection.stream(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *requirements],
        timeout=PIP_TIMEOUT_S,
        on_line=lambda line: say(f"  pip: {line}"),
    )
    if status != 0:
        raise SetupError(f"pip could not install ravelab's dependencies on {remote.name}")
    if rave and not remote.rave:
        say("installing RAVE there (`ravelab rave install`; a working install is reused)")
        status = connection.stream(
            [python, "-m", "ravelab", "rave", "install"],
            timeout=RAVE_TIMEOUT_S,
            on_line=lambda line: say(f"  {line}"),
        )
        if status != 0:
            raise SetupError(f"installing RAVE on {remote.name} failed (see above)")
    try:
        hello = ask_hello(connection)
    except RavelabError as error:
        raise SetupError(
            f"ravelab does not answer on {remote.name} after the setup: {error}"
        ) from error
    if hello.get("fingerprint") != fingerprint:
        raise SetupError(
            f"{python} on {remote.name} still runs other ravelab code "
            f"({hello.get('fingerprint')}): is ravelab pip-installed in that environment? "
            "Uninstall it there, or use the default environment"
        )
    return hello
