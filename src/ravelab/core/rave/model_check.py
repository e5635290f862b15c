"""The export check: will an exported ``.ts`` load and play in nn~?

After ``rave export`` the model is loaded in RAVE's environment by
``scripts/check_model.py`` (methods, params, attributes, streaming or not, a block-by-block
pass of ``forward``; see its docstring) and the result is stored with the model as JSON,
with ``torch.__version__`` of that environment. A check that fails, or cannot run, never
fails or removes the export: it is recorded and shown.

A ``.ts`` does not record the torch that wrote it, and nn~ loads only models written by a
torch no newer than the libtorch it was built with. :data:`NN_TILDE_LIBTORCH` is that
libtorch per nn~ release, as the release CI of nn~ (``.github/workflows/build.yaml`` at
each tag) installs it; :func:`torch_warning` compares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.rave.env_scripts import CHECK_SCRIPT, rave_python, run_script
from ravelab.core.rave.locator import find_rave
from ravelab.db import Database, ModelRecord
from ravelab.db import jobs as job_rows

#: nn~ releases (first, last tag) -> libtorch per platform in the release binaries.
NN_TILDE_LIBTORCH: tuple[tuple[tuple[int, int, int], tuple[int, int, int], dict[str, str]], ...] = (
    ((1, 4, 4), (1, 5, 6), {"macOS": "2.0.0", "Windows": "2.0.1"}),
    ((1, 6, 0), (1, 6, 0), {"macOS": "2.5.1", "Windows": "2.5.1"}),
)
#: The newest nn~ release in the table: the default target.
NEWEST_NN_TILDE = "1.6.0"
#: A check of a few seconds of audio; a slow machine's first TorchScript calls are slow.
CHECK_TIMEOUT_S = 600.0
_VERSION = re.compile(r"^\s*(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``2.9.1+cu128`` -> (2, 9, 1); None for anything else."""
    match = _VERSION.match(text or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def libtorch_of(nn_tilde: str) -> dict[str, str]:
    """The libtorch of each platform's binary of an nn~ release (``1.5.6``, ``1.6``).

    Raises:
        ConfigError: a release the table does not know, listing those it does.
    """
    wanted = parse_version(nn_tilde)
    if wanted is not None:
        for first, last, libtorch in NN_TILDE_LIBTORCH:
            if first <= wanted <= last:
                return libtorch
    known = ", ".join(
        f"{'.'.join(map(str, a))}" + (f"-{'.'.join(map(str, b))}" if a != b else "")
        for a, b, _ in NN_TILDE_LIBTORCH
    )
    raise ConfigError(f"nn~ {nn_tilde!r} is not a release ravelab knows: {known}")


def torch_warning(torch_version: str | None, nn_tilde: str = NEWEST_NN_TILDE) -> str | None:
    """Why nn~ ``nn_tilde`` may refuse a model exported with ``torch_version``, or None."""
    exported = parse_version(torch_version or "")
    if exported is None:
        return None
    libtorch = libtorch_of(nn_tilde)
    newer = {p: v for p, v in libtorch.items() if exported > (parse_version(v) or exported)}
    if not newer:
        return None
    where = " / ".join(f"{v} ({p})" for p, v in newer.items())
    oldest = min(newer.values(), key=lambda v: parse_version(v) or (0, 0, 0))
    return (
        f"exported with torch {torch_version}, newer than the libtorch {where} inside nn~ "
        f"{nn_tilde}: nn~ may fail to load it; re-export with torch {oldest} or older "
        "(no retraining needed) or use a newer nn~"
    )


@dataclass(frozen=True)
class CheckSummary:
    """A stored check, in words: ``ok``, ``problems``, ``not checked`` or ``check failed``."""

    state: str
    problems: list[str]
    warnings: list[str]
    result: dict[str, Any]


def summarize(model: ModelRecord, nn_tilde: str = NEWEST_NN_TILDE) -> CheckSummary:
    """The stored check of ``model`` and the torch warning for the targeted nn~."""
    result: dict[str, Any] = {}
    if model.check_result:
        try:
            loaded = json.loads(model.check_result)
        except ValueError:
            loaded = None
        result = loaded if isinstance(loaded, dict) else {"error": "unreadable check result"}
    warnings = [str(w) for w in result.get("warnings", []) if isinstance(w, str)]
    torch = torch_warning(model.torch_version, nn_tilde)
    if torch:
        warnings.insert(0, torch)
    problems = [str(p) for p in result.get("problems", []) if isinstance(p, str)]
    if not model.check_result:
        state = "not checked"
    elif isinstance(result.get("error"), str):
        state = "check failed"
        problems = [f"the check could not run: {result['error']}"]
    elif result.get("ok") is True and not problems:
        state = "ok"
    else:
        state = "problems"
    return CheckSummary(state, problems, warnings, result)


def check_model(
    db: Database,
    model_id: int,
    *,
    rave: str | None = None,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> ModelRecord:
    """Run the check on a stored model and record it; return the updated record.

    Raises:
        NotFoundError: unknown model, or its file is gone (nothing recorded).
        RaveNotFoundError: no RAVE environment to check in (nothing recorded).
    """
    model = job_rows.get_model(db, model_id)
    if model is None:
        raise NotFoundError(f"model {model_id} not found: `ravelab models` lists them")
    if not Path(model.path).is_file():
        raise NotFoundError(f"model {model_id}'s file {model.path} no longer exists")
    python = rave_python(find_rave(rave, db))
    return run_and_record(db, model, python, on_message=on_message, timeout_s=timeout_s)


def run_and_record(
    db: Database,
    model: ModelRecord,
    python: list[str],
    *,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> ModelRecord:
    """Run the check script with ``python`` and store whatever came of it."""
    try:
        run = run_script(python, CHECK_SCRIPT, ["--model", model.path], on_message, timeout_s)
        result = run.last("result")
        if result is None:
            stored: dict[str, Any] = {"error": run.failure("the check")}
        else:
            stored = {k: v for k, v in result.items() if k != "event"}
    except OSError as error:
        stored = {"error": f"cannot start RAVE's Python: {error}"}
    except Exception as error:  # a timeout, a broken pipe: recorded, never raised
        stored = {"error": f"{type(error).__name__}: {error}"}
    # The torch of the export is kept once known: a later check may run elsewhere.
    torch_version = stored.get("torch_version")
    if not isinstance(torch_version, str) or model.torch_version is not None:
        torch_version = None
    job_rows.set_model_check(db, model.id, json.dumps(stored, default=str), torch_version)
    updated = job_rows.get_model(db, model.id)
    return updated if updated is not None else model
