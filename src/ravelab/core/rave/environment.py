"""A managed RAVE installation: a virtual environment of its own, with the pins that work.

``acids-rave`` 2.3.1 pins ``pytorch-lightning==1.9.0`` and ``scipy==1.10.0`` (so Python
3.10 or 3.11 and numpy < 2), and on Python 3.11 a plain install pulls ``nn-tilde`` 1.6.0,
which pins torch 2.5 and leaves a torchaudio that cannot load (found installing it here).
The recipe that works: torch and torchaudio of the same version, ``acids-rave==2.3.1``,
``nn-tilde==1.5.6``, in one pip command.

Each install goes to a new folder under ``<user data dir>/rave-envs/``; only once it is
verified (``rave`` runs, ``import rave, torchaudio`` works) does the stored ``rave``
setting move to it, so a failed install leaves the previous working one in place, and
running it again with the same versions reuses what is there.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ravelab.core.errors import RaveInstallError as RaveInstallError  # raised here
from ravelab.core.paths import user_data_dir
from ravelab.core.rave.locator import RAVE_SETTING
from ravelab.db import Database

RAVE_VERSION = "2.3.1"
NN_TILDE_VERSION = "1.5.6"
DEFAULT_TORCH = "2.9.1"
ENV_SETTING = "rave_env"
PYTHON_CANDIDATES = ("python3.11", "python3.10")
_MARKER = "ravelab-rave-env.json"
_VERIFY = (
    "import importlib.metadata as m, json, rave, torch, torchaudio\n"
    "print(json.dumps({p: m.version(p) for p in ('acids-rave', 'torch', 'torchaudio', "
    "'pytorch-lightning', 'nn-tilde', 'numpy')}))\n"
)


@dataclass(frozen=True)
class RaveEnvironment:
    """One managed RAVE environment."""

    path: str
    python: str
    python_version: str
    torch: str
    cpu: bool
    versions: dict[str, str]
    installed_at: float

    @property
    def rave(self) -> str:
        return str(Path(self.path) / "bin" / "rave")


def envs_dir() -> Path:
    """Where managed environments live."""
    return user_data_dir() / "rave-envs"


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        major, minor = done.stdout.split()
        return int(major), int(minor)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def find_compatible_python(explicit: str | None = None) -> str:
    """A Python 3.10 or 3.11 interpreter (RAVE 2.3.1's scipy pin excludes 3.12+).

    Raises:
        RaveInstallError: none found, saying what to install.
    """
    candidates = [explicit] if explicit else [*PYTHON_CANDIDATES, sys.executable, "python3"]
    for candidate in candidates:
        if candidate is None:
            continue
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found and _python_version(found) in ((3, 11), (3, 10)):
            return found
    raise RaveInstallError(
        "RAVE 2.3.1 needs Python 3.10 or 3.11 (its scipy 1.10 pin has no wheels for 3.12 and "
        "newer), and none was found: install Python 3.11 (Debian/Ubuntu: `sudo apt-get install "
        "python3.11 python3.11-venv`; macOS: `brew install python@3.11`; or pyenv) and run "
        "`ravelab rave install` again" + (f" (tried {explicit})" if explicit else "")
    )


def pip_requirements(torch: str, cpu: bool) -> list[str]:
    """The one pip command's requirements and options (see the module docstring)."""
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", torch):
        raise RaveInstallError(f"torch version {torch!r} is not a version like 2.9.1")
    version = f"{torch}+cpu" if cpu else torch
    options = ["--extra-index-url", "https://download.pytorch.org/whl/cpu"] if cpu else []
    return [
        *options,
        f"torch=={version}",
        f"torchaudio=={version}",
        f"acids-rave=={RAVE_VERSION}",
        f"nn-tilde=={NN_TILDE_VERSION}",
    ]


def verify(env: Path, timeout_s: float = 300.0) -> dict[str, str]:
    """Check that ``rave`` runs and ``import rave, torchaudio`` works; return versions.

    Raises:
        RaveInstallError: with what failed.
    """
    python = env / "bin" / "python"
    rave = env / "bin" / "rave"
    if not rave.is_file():
        raise RaveInstallError(f"{rave} was not installed")
    try:
        done = subprocess.run(
            [str(python), "-c", _VERIFY],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RaveInstallError(f"`import rave, torchaudio` fails in {env}: {last[0]}")
        versions: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
        usage = subprocess.run(
            [str(rave)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise RaveInstallError(f"checking {env} timed out: {error}") from error
    except (OSError, ValueError) as error:
        raise RaveInstallError(f"checking {env} failed: {error}") from error
    if usage.returncode != 0 or "usage: rave" not in usage.stdout + usage.stderr:
        raise RaveInstallError(f"`{rave}` does not run: {usage.stderr.strip()[-300:]}")
    return versions


def current_environment(db: Database) -> RaveEnvironment | None:
    """The managed environment ravelab uses, if one was installed."""
    stored = db.get_setting(ENV_SETTING)
    if not stored:
        return None
    try:
        data = json.loads(stored)
        return RaveEnvironment(**data)
    except (TypeError, ValueError):
        return None


def install_rave(
    db: Database,
    *,
    torch: str = DEFAULT_TORCH,
    cpu: bool = False,
    python: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    pip_timeout_s: float = 3600.0,
) -> RaveEnvironment:
    """Install (or reuse) a RAVE environment and make it the ``rave`` ravelab uses.

    Raises:
        RaveInstallError: no compatible Python, pip failed, or the result does not work;
            the previous installation stays in place and in use.
    """
    say = progress or (lambda line: None)
    interpreter = find_compatible_python(python)
    version = _python_version(interpreter)
    assert version is not None
    label = f"py{version[0]}{version[1]}-torch{torch}{'-cpu' if cpu else ''}"
    existing = sorted(envs_dir().glob(f"{label}-*/{_MARKER}"))
    if existing and not force:
        target = existing[-1].parent
        say(f"reusing {target}")
        versions = verify(target)
        return _record(db, target, interpreter, version, torch, cpu, versions)
    # Always a new folder (venv scripts hard-code their folder, so nothing is moved): a
    # failure removes only it, and the environment in use stays as it was.
    target = _new_folder(envs_dir(), f"{label}-{time.strftime('%Y%m%d-%H%M%S')}")
    started = time.monotonic()
    try:
        _run([interpreter, "-m", "venv", str(target)], say, timeout_s=300)
        pip = str(target / "bin" / "pip")
        _run([pip, "install", "--upgrade", "pip"], say, timeout_s=600)
        _run([pip, "install", *pip_requirements(torch, cpu)], say, timeout_s=pip_timeout_s)
        say("verifying: `rave` runs and `import rave, torchaudio` works")
        versions = verify(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    (target / _MARKER).write_text(json.dumps(versions))
    say(f"installed in {time.monotonic() - started:.0f} s: {versions}")
    env = _record(db, target, interpreter, version, torch, cpu, versions)
    # Older installs were made by earlier calls: they are no longer used, but deleting
    # them is the user's choice, not this call's.
    for marker in existing:
        say(f"an older install is no longer used (delete it to free space): {marker.parent}")
    return env


def _new_folder(parent: Path, name: str) -> Path:
    """A folder under ``parent`` created by this call (``name``, else ``name-2``, ...): a
    folder that exists already is never reused, so a failure may remove what it made."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        target = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            target.mkdir()
        except FileExistsError:
            continue
        return target
    raise RaveInstallError(f"no free folder name for {name!r} under {parent}")


def _record(
    db: Database,
    target: Path,
    interpreter: str,
    version: tuple[int, int],
    torch: str,
    cpu: bool,
    versions: dict[str, str],
) -> RaveEnvironment:
    env = RaveEnvironment(
        path=str(target),
        python=interpreter,
        python_version=f"{version[0]}.{version[1]}",
        torch=torch,
        cpu=cpu,
        versions=versions,
        installed_at=time.time(),
    )
    with db.atomic():
        db.set_setting(RAVE_SETTING, env.rave)
        db.set_setting(ENV_SETTING, json.dumps(asdict(env)))
    return env


def _run(argv: list[str], say: Callable[[str], None], timeout_s: float) -> None:
    say("$ " + " ".join(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as error:
        raise RaveInstallError(f"could not run {argv[0]}: {error}") from error
    deadline = time.monotonic() + timeout_s
    tail: list[str] = []
    with proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                say(line)
                tail = [*tail[-19:], line]
            if time.monotonic() > deadline:
                proc.kill()
                raise RaveInstallError(f"{argv[0]} took longer than {timeout_s:.0f} s")
        code = proc.wait()
    if code != 0:
        detail = next((t for t in reversed(tail) if "ERROR" in t), tail[-1] if tail else "")
        raise RaveInstallError(f"`{' '.join(argv[:3])} ...` failed: {detail}")
