"""Keeping a run's checkpoints in bounds: best, latest, and the last N periodic ones.

RAVE's ``--save_every`` writes ``epoch_<k>.ckpt`` for good: a days-long run fills the disk
with them (0.2-0.7 GB each). A run's retention says how many periodic checkpoints to
keep: its own (``set_retention``), else the stored default ``keep_periodic_checkpoints``,
else all of them, as RAVE does. Pruning is only ever done because the user asked for it,
with that setting or ``ravelab checkpoints ID --prune``.

A file is removed only if all of these hold:

- its name is exactly ``epoch_<digits>.ckpt`` (RAVE's periodic checkpoint); ``best.ckpt``,
  the rolling ``epoch-epoch=NNNN.ckpt`` and anything else are always kept;
- it is a regular file (not a link) in ``version_N/checkpoints`` inside the run's folder,
  with the folder resolved (a link leading out of it is never followed);
- it is not one a model was exported from, nor the one the run's current attempt resumed
  from (``--ckpt`` in its argv);
- it is not among the N newest periodic ones (by modification time, then by the counter:
  RAVE restarts the counter with every process, so the counter alone cannot order them).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.rave.checkpoints import CheckpointFile, find_checkpoints
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from ravelab.db import retention as retention_rows
from ravelab.db.records import ExperimentRecord

_PERIODIC = re.compile(r"^epoch_([0-9]{1,12})\.ckpt$")
#: The most periodic checkpoints a retention may name (more is the same as "all").
MAX_KEEP = 100_000


@dataclass(frozen=True)
class PrunePlan:
    """What a prune keeps and removes (``remove`` is empty when there is nothing to do)."""

    keep_periodic: int | None
    remove: tuple[CheckpointFile, ...] = ()
    kept: tuple[CheckpointFile, ...] = ()
    protected: tuple[tuple[CheckpointFile, str], ...] = ()

    @property
    def reclaim_bytes(self) -> int:
        return sum(checkpoint.size_bytes for checkpoint in self.remove)


@dataclass
class PruneResult:
    """What a prune did."""

    plan: PrunePlan
    removed: list[Path] = field(default_factory=list)
    removed_bytes: int = 0
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False


def check_keep(value: object) -> int | None:
    """A retention from outside: a whole number >= 0, or None/"all" for "keep all".

    Raises:
        ConfigError: anything else, named.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("all", "")):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"keep {value!r} must be a whole number of checkpoints, or 'all'")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise ConfigError(f"keep {value!r} must be a whole number of checkpoints, or 'all'")
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= MAX_KEEP:
        raise ConfigError(f"keep {value!r} must be a whole number from 0 to {MAX_KEEP}, or 'all'")
    return value


def default_keep(db: Database) -> int | None:
    """The stored default retention; a damaged value reads as "keep all" (never prune on a
    value nobody can read)."""
    try:
        return check_keep(db.get_setting(retention_rows.DEFAULT_SETTING))
    except ConfigError:
        return None


def effective_keep(db: Database, experiment_id: int) -> int | None:
    """How many periodic checkpoints the run keeps: its own, the default, or None (all)."""
    has_own, own = retention_rows.get_own_retention(db, experiment_id)
    return own if has_own else default_keep(db)


def set_retention(db: Database, experiment_id: int, keep: object) -> int | None:
    """Set a run's own retention (a number, or ``"all"``/None: keep all, whatever the
    default says; ``"default"``: follow the default again); returns what it keeps now.

    Raises:
        NotFoundError: no such run.
        ConfigError: a bad number.
    """
    follow_default = isinstance(keep, str) and keep.strip().lower() == "default"
    value = None if follow_default else check_keep(keep)
    if rows.get_experiment(db, experiment_id) is None:
        raise NotFoundError(f"no experiment {experiment_id}")
    if follow_default:
        retention_rows.clear_own_retention(db, experiment_id)
    else:
        retention_rows.set_own_retention(db, experiment_id, value)
    return effective_keep(db, experiment_id)


def check_retention_choice(value: object) -> int | str | None:
    """A retention chosen at a run's start: ``None`` (follow the default), or what
    ``store_retention_choice`` stores: a number, or ``"all"``.

    Raises:
        ConfigError: anything else, named.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "default"):
        return None
    kept = check_keep(value)
    return "all" if kept is None else kept


def store_retention_choice(db: Database, experiment_id: int, choice: int | str | None) -> None:
    """Store a choice ``check_retention_choice`` returned (None: nothing to store)."""
    if choice is not None:
        retention_rows.set_own_retention(
            db, experiment_id, None if choice == "all" else int(choice)
        )


def periodic_counter(checkpoint: CheckpointFile) -> int | None:
    """The ``k`` of ``epoch_<k>.ckpt``; None for any other name."""
    match = _PERIODIC.match(checkpoint.path.name)
    return int(match.group(1)) if match else None


def plan_prune(db: Database, record: ExperimentRecord, keep: int | None) -> PrunePlan:
    """What pruning ``record``'s periodic checkpoints down to ``keep`` would remove."""
    if keep is None or not record.run_dir or not os.path.isabs(record.run_dir):
        return PrunePlan(keep)
    folder = Path(record.run_dir)
    try:
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return PrunePlan(keep)
    protected_paths = _protected(db, record)
    periodic: list[tuple[CheckpointFile, int]] = []
    protected: list[tuple[CheckpointFile, str]] = []
    for checkpoint in find_checkpoints(folder):
        counter = periodic_counter(checkpoint)
        if counter is None:
            continue
        # A checkpoint on a run's remote machine is checked there, by its agent.
        unsafe = None if checkpoint.remote else _unsafe(checkpoint.path, root)
        reason = unsafe or protected_paths.get(os.path.realpath(checkpoint.path))
        if reason:
            protected.append((checkpoint, reason))
        else:
            periodic.append((checkpoint, counter))
    periodic.sort(key=lambda item: (item[0].modified_at, item[0].version, item[1]))
    cut = max(0, len(periodic) - keep)
    return PrunePlan(
        keep,
        remove=tuple(checkpoint for checkpoint, _ in periodic[:cut]),
        kept=tuple(checkpoint for checkpoint, _ in periodic[cut:]),
        protected=tuple(protected),
    )


def _protected(db: Database, record: ExperimentRecord) -> dict[str, str]:
    """Checkpoints that must stay, by real path, with why."""
    found: dict[str, str] = {}
    for path in retention_rows.exported_checkpoints(db, record.id):
        found[os.path.realpath(path)] = "an export was made from it, or is reading it"
    argv = [str(arg) for arg in record.argv]
    for index, arg in enumerate(argv[:-1]):
        if arg == "--ckpt":
            found[os.path.realpath(argv[index + 1])] = "the current attempt resumed from it"
    return found


def _unsafe(path: Path, root: Path) -> str | None:
    """Why a file may not be removed (not a regular file, or outside the run folder)."""
    try:
        info = path.lstat()
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "it cannot be read"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if root != real and root not in real.parents:
        return "it lies outside the run folder"
    return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _remove_inside(path: Path, root: Path) -> bool:
    """Remove ``path`` if it is, now, a regular file in a folder inside ``root``; whether
    it did. Checked again at the last moment (a folder on the way may have been swapped for
    a link since the plan): its folder is opened without following a final link, where
    that folder really is is read back from the open handle, and the file is removed
    relative to that handle, so a swap after the check cannot send the removal elsewhere.
    """
    folder = Path(os.path.realpath(path.parent))
    if not _inside(folder, root):
        return False
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        opened = Path(f"/proc/self/fd/{fd}")
        if opened.exists() and not _inside(Path(os.readlink(opened)), root):
            return False  # swapped between the check and the open
        if not stat.S_ISREG(os.lstat(path.name, dir_fd=fd).st_mode):
            return False
        os.unlink(path.name, dir_fd=fd)
    finally:
        os.close(fd)
    return True


def _remove_remote(
    db: Database, record: ExperimentRecord, checkpoints: list[CheckpointFile], result: PruneResult
) -> None:
    """Remove checkpoints kept on a run's remote machine, through its agent."""
    from ravelab.core.errors import RavelabError
    from ravelab.core.ssh.executor import SshExecutor

    sizes = {c.path: c.size_bytes for c in checkpoints}
    try:
        removed = SshExecutor(db).remove_checkpoints(
            Path(str(record.run_dir)), [c.path for c in checkpoints]
        )
    except RavelabError as error:
        result.errors.append(f"on the run's remote: {error}")
        return
    for path in removed:
        result.removed.append(path)
        result.removed_bytes += sizes.get(path, 0)


def prune_run(
    db: Database, experiment_id: int, *, keep: object = "run", dry_run: bool = False
) -> PruneResult:
    """Remove the run's periodic checkpoints beyond its retention (or ``keep``, when given:
    a number, or "all"); with ``dry_run`` only say what would go.

    Raises:
        NotFoundError: no such run.
        ConfigError: a bad ``keep``.
    """
    record = rows.get_experiment(db, experiment_id)
    if record is None:
        raise NotFoundError(f"no experiment {experiment_id}")
    wanted = effective_keep(db, experiment_id) if keep == "run" else check_keep(keep)
    plan = plan_prune(db, record, wanted)
    result = PruneResult(plan, dry_run=dry_run)
    if dry_run:
        return result
    root = Path(os.path.realpath(str(record.run_dir)))
    remote = [c for c in plan.remove if c.remote]
    if remote:
        _remove_remote(db, record, remote, result)
    for checkpoint in plan.remove:
        if checkpoint.remote:
            continue
        try:
            removed = _remove_inside(checkpoint.path, root)
        except FileNotFoundError:
            continue
        except OSError as error:
            result.errors.append(f"{checkpoint.path}: {error.strerror or error}")
            continue
        if removed:
            result.removed.append(checkpoint.path)
            result.removed_bytes += checkpoint.size_bytes
    if result.removed and record.run_dir:
        present = [str(c.path) for c in find_checkpoints(Path(record.run_dir))]
        artifacts.delete_missing_checkpoints(db, experiment_id, present)
    return result
