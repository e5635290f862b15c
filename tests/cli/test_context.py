"""What every command gets: its database opened once at the path asked, an experiment
found by id or name, and argument types that take only what they say."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.context import Context, count_argument, finite_argument, whole_argument
from ravelab.core.errors import NotFoundError
from ravelab.db import Database
from ravelab.db import experiments as rows


def _context(db_path: Path) -> Context:
    return Context(argparse.Namespace(db=str(db_path), rave=None))


def test_an_experiment_is_found_by_id_then_by_name(tmp_path: Path) -> None:
    ctx = _context(tmp_path / "runs.db")
    try:
        assert ctx.db is ctx.db and Path(ctx.db.path) == tmp_path / "runs.db"
        first = rows.insert_experiment(
            ctx.db, name="first", project_id=1, dataset_id=None, config={}
        )
        named_2 = rows.insert_experiment(ctx.db, name="2", project_id=1, dataset_id=None, config={})
        assert ctx.experiment(str(first)).name == "first"
        assert ctx.experiment("first").id == first
        assert ctx.experiment("2").id == named_2  # no run 2 by id: then by name
        with pytest.raises(NotFoundError, match="experiment 'nope' not found: `ravelab list`"):
            ctx.experiment("nope")
    finally:
        ctx.close()


def test_settling_with_nothing_unended_makes_no_manager(tmp_path: Path) -> None:
    ctx = _context(tmp_path / "runs.db")
    try:
        run = rows.insert_experiment(ctx.db, name="r", project_id=1, dataset_id=None, config={})
        rows.end_experiment(ctx.db, run, "completed", None, 0)
        ctx.settle()
        assert rows.get_experiment(ctx.db, run).status == "completed"  # type: ignore[union-attr]
        orphan = rows.insert_experiment(ctx.db, name="o", project_id=1, dataset_id=None, config={})
        ctx.settle()  # a row nobody is launching: the manager settles it
        settled = rows.get_experiment(ctx.db, orphan)
        assert settled is not None and settled.status == "failed"
        assert settled.reason is not None and settled.reason.startswith("never started")
    finally:
        ctx.close()


def test_argument_types_take_only_what_they_say() -> None:
    assert whole_argument(" 42 ") == 42 and count_argument("0") == 0
    assert finite_argument("1e-4") == 1e-4
    for bad in ("٣", "1_000", "4.0", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
            whole_argument(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="is negative: give 0 or more"):
        count_argument("-1")
    for bad in ("nan", "inf", "1e999", "x", "１"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a finite number"):
            finite_argument(bad)


def test_a_notification_left_unsent_brings_a_warden_back_at_the_next_command(
    cli: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from ravelab.core.operations import notifications, warden
    from ravelab.core.operations.events import EventKind, record_event

    with Database(tmp_path / "cli.db") as db:
        notifications.add_channel(db, "json://127.0.0.1:9/hook")
        record_event(db, EventKind.COMPLETED, "left", "sent by nobody yet")
    spawned: list[str] = []
    monkeypatch.setattr(warden, "spawn_warden", lambda path: spawned.append(path))
    monkeypatch.setenv(warden.ENABLE_ENV, "1")
    code, _, err = cli("list")
    assert code == 0, err
    assert spawned == [str(tmp_path / "cli.db")]
