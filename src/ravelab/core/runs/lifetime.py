"""A run's lifetime after its launch, decided once for the CLI and the app: renaming it,
its notes and tags, archiving it, deleting it (with or without its folder), what a
resume would start from, and how long it trained.

Renaming changes the name people see; the run folder stays where it is, and RAVE keeps
the name it was started with (a resume passes the original ``--name``, so it continues
in the same ``<name>_<hash>`` folder).

Deleting refuses a run that has not ended, whose processes still live, or that has an
export still running. "With files" removes only the folder ravelab created for the run
(recorded at launch, ``run_dir_created``): never an imported run's folder, never a
folder that holds another run's folder or an exported model. The folder is first
renamed aside, then the row is deleted, then the renamed folder is removed: a failed
delete puts the folder back, and a folder that cannot be removed entirely is said in
words (what is left of it is no run any more).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ravelab.core.display import parse_time
from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.names import check_name, shown
from ravelab.db import Database, ExperimentRecord
from ravelab.db import experiments as rows

__all__ = [
    "MAX_NOTES",
    "MAX_TAG",
    "MAX_TAGS",
    "DeletedRun",
    "ResumePoint",
    "change_run_tags",
    "check_tag",
    "delete_run",
    "folder_to_delete",
    "matches_filter",
    "parse_tag_changes",
    "rename_run",
    "resume_point",
    "run_seconds",
    "set_run_archived",
    "set_run_notes",
]

#: The longest tag, in characters.
MAX_TAG = 64
#: The most tags one run may have.
MAX_TAGS = 32
#: The longest notes, in characters (a page of text, not a file).
MAX_NOTES = 20_000


def check_tag(tag: object) -> str:
    """``tag`` stripped, when it is a usable tag: printable, 1-64 characters, no comma.

    Raises:
        ConfigError: anything else, naming the value and what is allowed.
    """
    if not isinstance(tag, str) or not tag.strip():
        raise ConfigError("a tag is empty: give a short label such as 'baseline'")
    # Normalised first: NFC can lengthen a text, and the length is the stored one's.
    text = unicodedata.normalize("NFC", tag.strip())
    if len(text) > MAX_TAG:
        raise ConfigError(f"tag {shown(text)} is {len(text)} characters long: {MAX_TAG} at most")
    if "," in text:
        raise ConfigError(f"tag {shown(text)} holds a comma: give one tag at a time")
    if not text.isprintable() or not _plain_text(text, ""):
        raise ConfigError(f"tag {shown(text)} holds a control character: use printable text")
    if not _encodable(text):
        raise ConfigError(f"tag {shown(text)} is not valid text (undecodable bytes)")
    return text


def _encodable(text: str) -> bool:
    """Whether ``text`` can be stored as UTF-8 (an argument of undecodable bytes holds
    lone surrogates, which SQLite refuses)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_text(text: str, allowed: str) -> bool:
    """No control or format character (escape sequences, bidirectional overrides) but
    those in ``allowed``: they would be printed raw by ``show``."""
    return all(char in allowed or unicodedata.category(char) not in ("Cc", "Cf") for char in text)


def parse_tag_changes(words: Iterable[str]) -> tuple[list[str], list[str]]:
    """``+x`` (or plain ``x``) adds tag x, ``-y`` removes tag y: the tags to add and to
    remove, each checked.

    Raises:
        ConfigError: a bad tag (nothing is changed).
    """
    add: list[str] = []
    remove: list[str] = []
    for word in words:
        if word.startswith("-"):
            remove.append(check_tag(word[1:]))
        else:
            add.append(check_tag(word[1:] if word.startswith("+") else word))
    return add, remove


def _record(db: Database, experiment_id: int) -> ExperimentRecord:
    record = rows.get_experiment(db, experiment_id)
    if record is None:
        raise NotFoundError(
            f"experiment {experiment_id} not found: `ravelab list --all` shows the experiments"
        )
    return record


def _changed(db: Database, experiment_id: int, done: bool) -> ExperimentRecord:
    """The row after a change; a row deleted meanwhile is said so."""
    if not done:
        raise NotFoundError(f"experiment {experiment_id} not found: it was deleted meanwhile")
    return _record(db, experiment_id)


def rename_run(db: Database, experiment_id: int, name: str) -> ExperimentRecord:
    """Give a run another name (the rules of a new run's name; unique). Its folder and
    the name RAVE knows stay as they are.

    Raises:
        NotFoundError: unknown id. ConfigError: a bad or taken name (nothing changes).
    """
    _record(db, experiment_id)
    check_name(name, "run name")
    try:
        done = rows.rename_experiment(db, experiment_id, name)
    except rows.DuplicateNameError as error:
        raise ConfigError(str(error)) from None
    return _changed(db, experiment_id, done)


def set_run_notes(db: Database, experiment_id: int, notes: str) -> ExperimentRecord:
    """Replace a run's notes (free text, up to ``MAX_NOTES`` characters; an empty text
    clears them).

    Raises:
        NotFoundError: unknown id. ConfigError: notes too long or holding a NUL.
    """
    _record(db, experiment_id)
    if not isinstance(notes, str):
        raise ConfigError("notes must be text")
    if len(notes) > MAX_NOTES:
        raise ConfigError(f"notes are {len(notes):,} characters long: {MAX_NOTES:,} at most")
    if not _encodable(notes):
        raise ConfigError("notes are not valid text (undecodable bytes): give UTF-8 text")
    if not _plain_text(notes, "\n\t"):
        raise ConfigError(
            "notes hold a control or formatting character (only line breaks and tabs "
            "may): remove it"
        )
    return _changed(db, experiment_id, rows.set_notes(db, experiment_id, notes.strip()))


def change_run_tags(
    db: Database,
    experiment_id: int,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> ExperimentRecord:
    """Add and remove tags (each checked; adding one it has, or removing one it has
    not, changes nothing). Read and written in one transaction: two changes at once
    both count.

    Raises:
        NotFoundError: unknown id. ConfigError: a bad tag, or more than ``MAX_TAGS``.
    """
    adding = [check_tag(tag) for tag in add]
    removing = {check_tag(tag).casefold() for tag in remove}
    with db.atomic():
        record = _record(db, experiment_id)
        tags = [tag for tag in record.tags if tag.casefold() not in removing]
        for tag in adding:
            if tag.casefold() not in {t.casefold() for t in tags}:
                tags.append(tag)
        if len(tags) > MAX_TAGS:
            raise ConfigError(f"a run has {MAX_TAGS} tags at most ({len(tags)} asked)")
        if tags != list(record.tags):
            rows.set_tags(db, experiment_id, tags)
    return _record(db, experiment_id)


def set_run_archived(db: Database, experiment_id: int, archived: bool) -> ExperimentRecord:
    """Archive a run (lists hide it unless asked) or bring it back. A live run may be
    archived too: it keeps running, out of sight.

    Raises:
        NotFoundError: unknown id.
    """
    _record(db, experiment_id)
    return _changed(db, experiment_id, rows.set_archived(db, experiment_id, archived))


def run_seconds(record: ExperimentRecord, now: datetime | None = None) -> float | None:
    """How long a run trained: its attempts' spans summed (the gaps between a stop and a
    resume do not count); for a run without recorded attempts, from its start to its
    completion (an imported run: the times it logged, not when it was imported), else
    its end, else ``now`` while it has not ended. None when unknown."""
    trained = record.trained_seconds(now)
    if trained is not None:
        return trained
    started = parse_time(record.started_at)
    ended = parse_time(record.completed_at) or parse_time(record.ended_at)
    if ended is None and record.ended_at is None:
        ended = now or datetime.now(UTC)
    if started is None or ended is None:
        return None
    return max(0.0, (ended - started).total_seconds())


def matches_filter(record: ExperimentRecord, text: str) -> bool:
    """Whether a run matches a filter: every word of ``text`` is found (ignoring case)
    in its id, name, dataset, status, base config, tags or notes; a word ``tag:x``
    needs the tag x itself."""
    haystack = " ".join(
        [
            str(record.id),
            record.name,
            record.dataset_name or "",
            str(record.status),
            str(record.config.get("config", "")),
            " ".join(record.tags),
            record.notes,
        ]
    ).casefold()
    tags = {tag.casefold() for tag in record.tags}
    for word in text.casefold().split():
        if word.startswith("tag:") and len(word) > 4:
            if word[4:] not in tags:
                return False
        elif word not in haystack:
            return False
    return True


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a resume would start from (the newest one written) and its step
    (None when ravelab has not seen it written)."""

    path: Path
    step: int | None


def resume_point(db: Database, record: ExperimentRecord) -> ResumePoint | None:
    """What ``resume_training`` would start from with no checkpoint given; None when the
    run has no folder or no checkpoint."""
    if record.run_dir is None or not Path(record.run_dir).is_dir():
        return None
    from ravelab.core.jobs.export import choose_checkpoint  # the same choice as a resume

    try:
        chosen = choose_checkpoint(Path(record.run_dir), "latest")
    except (NotFoundError, ConfigError, OSError):
        return None
    from ravelab.db.artifacts import list_checkpoints  # resume's question only: `list` skips it

    steps = {c.path: c.step for c in list_checkpoints(db, record.id)}
    return ResumePoint(chosen.path, steps.get(str(chosen.path)))


@dataclass(frozen=True)
class DeletedRun:
    """What deleting a run did: the row it was, the folder removed (None: none asked,
    or it was gone already), and, when the folder could not be removed entirely, why
    (what is left of it stays)."""

    record: ExperimentRecord
    folder: Path | None = None
    folder_problem: str | None = None


def folder_to_delete(db: Database, record: ExperimentRecord) -> Path | None:
    """The folder deleting ``record`` with its files would remove (None: it has none
    any more).

    Raises:
        ConfigError: ravelab did not create it (an imported run's, or one recorded
            before ravelab knew), it is not a plain folder, or it holds another run's
            folder or an exported model.
    """
    if record.run_dir is None:
        return None
    if not os.path.isabs(record.run_dir):
        # Relative to a directory no row recorded: resolving it against this command's
        # directory could name somebody else's folder.
        raise ConfigError(
            f"run {record.id}'s folder {record.run_dir!r} is recorded as a relative path: "
            "delete the run without its files, then the folder yourself"
        )
    folder = Path(os.path.abspath(record.run_dir))
    if not record.run_dir_created:
        raise ConfigError(
            f"run {record.id}'s folder {folder} was not created by ravelab (an imported run's, "
            "or the user's): delete the run without its files, then the folder yourself"
        )
    if not os.path.lexists(folder):
        left = _left_aside(folder)
        if left:
            raise ConfigError(
                f"an earlier delete of run {record.id} was interrupted: its folder is at "
                f"{left[0]}; rename it back to {folder} (then delete again) or remove it"
            )
        return None
    if folder.is_symlink() or not folder.is_dir():
        raise ConfigError(
            f"run {record.id}'s folder {folder} is not a plain folder any more: delete the run "
            "without its files, then see to that path yourself"
        )
    inside = [
        f"{kind} {number} ({path})"
        for kind, number, path in rows.recorded_paths(db)
        if not (kind == "run" and number == record.id) and _within(path, folder)
    ]
    if inside:
        raise ConfigError(
            f"run {record.id}'s folder {folder} holds what other rows record: "
            f"{', '.join(inside[:3])}: move or delete those first"
        )
    return folder


def _within(path: str, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder``, as written or once links are resolved (a
    model's path is stored resolved, a run folder's as given: a runs folder reached
    through a link must still be seen to hold it)."""
    try:
        if Path(os.path.abspath(path)).is_relative_to(folder):
            return True
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return True  # unreadable: keep the folder


def delete_run(
    db: Database,
    experiment_id: int,
    *,
    with_files: bool = False,
    still_lives: Callable[[ExperimentRecord], bool] | None = None,
) -> DeletedRun:
    """Delete a run's row and everything stored with it; with ``with_files``, also the
    folder ravelab created for it (see :func:`folder_to_delete`).

    ``still_lives`` tells whether a run's processes still live (the manager's check):
    a run still shutting down is refused even when its row says it ended.

    Raises:
        NotFoundError: unknown id.
        ConfigError: the run has not ended, still lives, has an export running, or its
            folder may not be deleted (nothing is changed).
    """
    folder: Path | None = None
    aside: Path | None = None
    try:
        with db.atomic():
            # Checked in the delete's write transaction: a resume cannot slip in between.
            record = _record(db, experiment_id)
            _check_deletable(db, record, still_lives)
            folder = folder_to_delete(db, record) if with_files else None
            aside = _set_aside(folder) if folder is not None else None
            if not rows.delete_ended_experiment(db, record.id):
                raise ConfigError(f"run {record.id} changed meanwhile: see `ravelab list`")
    except BaseException:
        # The row stays (the delete or its commit failed, or the process is being
        # interrupted): so does its folder.
        if aside is not None and folder is not None:
            _put_back(aside, folder)
        raise
    if aside is None or folder is None:
        return DeletedRun(record)
    problems: list[str] = []

    def note(
        _function: object, path: str, info: tuple[type[BaseException], BaseException, object]
    ) -> None:
        problems.append(f"{path}: {info[1]}")

    import shutil  # only a delete needs it: `list` and `show` start faster without

    shutil.rmtree(aside, onerror=note)  # Python 3.11: onexc came in 3.12
    problem = None
    if problems:
        problem = (
            f"{len(problems)} file(s) could not be removed (first: {problems[0]}); what is left "
            f"is in {aside}"
        )
    return DeletedRun(record, folder, problem)


def _check_deletable(
    db: Database,
    record: ExperimentRecord,
    still_lives: Callable[[ExperimentRecord], bool] | None,
) -> None:
    """Refuse a run that has not ended, still lives or has an export running."""
    what = f"run {record.id} '{record.name}'"
    if record.ended_at is None or record.status.is_live:
        raise ConfigError(
            f"{what} has not ended ({record.status}): stop it first (`ravelab stop {record.id}`)"
        )
    if still_lives is not None and still_lives(record):
        raise ConfigError(f"{what} is still shutting down: wait until its processes end")
    jobs = rows.unended_jobs_of(db, record.id)
    if jobs:
        raise ConfigError(
            f"{what} has an export still running (job {jobs[0]}): wait for it or "
            f"`ravelab stop-job {jobs[0]}`"
        )


def _put_back(aside: Path, folder: Path) -> None:
    """Rename a folder set aside back, or say where it is."""
    try:
        aside.rename(folder)
    except OSError as error:
        raise ConfigError(
            f"the run was not deleted, but its folder could not be put back "
            f"({error.strerror or error}): it is at {aside}; rename it to {folder}"
        ) from error


def _left_aside(folder: Path) -> list[Path]:
    """Folders an interrupted delete of ``folder`` set aside (see :func:`_set_aside`)."""
    try:
        from glob import escape  # only a delete needs it

        return sorted(folder.parent.glob(f".{escape(folder.name)}.deleting-*"))
    except OSError:
        return []


def _set_aside(folder: Path) -> Path:
    """Rename ``folder`` to a hidden sibling no other run uses (same filesystem: atomic).

    Raises:
        ConfigError: it cannot be renamed (permissions, busy), in words.
    """
    for n in range(1, 1000):
        target = folder.with_name(f".{folder.name}.deleting-{os.getpid()}-{n}")
        if os.path.lexists(target):
            continue
        try:
            folder.rename(target)
        except OSError as error:
            raise ConfigError(
                f"the run folder {folder} cannot be removed ({error.strerror or error}); "
                "nothing was deleted"
            ) from None
        return target
    raise ConfigError(f"the run folder {folder} cannot be set aside; nothing was deleted")
