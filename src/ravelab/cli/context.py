"""What every command gets: parsed arguments, the database, the output streams."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ravelab.core.errors import NotFoundError
from ravelab.core.names import shown
from ravelab.core.numbers import parse_id, parse_int
from ravelab.core.paths import default_db_path
from ravelab.core.runs import run_queries
from ravelab.db import Database, ExperimentRecord

if TYPE_CHECKING:
    from ravelab.core.runs.training_manager import TrainingManager


@dataclass
class Context:
    """A command's environment."""

    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    _db: Database | None = None

    @property
    def db_path(self) -> Path:
        return Path(self.args.db).expanduser() if self.args.db else default_db_path()

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.db_path)
        return self._db

    def manager(self, follow: bool = False) -> TrainingManager:
        """A manager over the database; one-shot commands do not start follower threads."""
        from ravelab.core.runs.training_manager import TrainingManager  # only where it is used

        return TrainingManager(self.db, rave=self.args.rave, follow=follow)

    def settle(self) -> None:
        """Bring the database up to date before reading it: re-attaching (creating a
        manager) settles the runs and jobs that ended meanwhile, and starts the warden
        where one is needed. With nothing unended and no notification due, it is skipped,
        and so is importing it."""
        if run_queries.anything_to_look_after(self.db):
            self.manager(follow=False)

    def experiment(self, ref: str) -> ExperimentRecord:
        """An experiment by id or name."""
        record = None
        number = parse_id(ref)
        if number is not None:
            record = run_queries.get_experiment(self.db, number)
        if record is None:
            record = run_queries.find_experiment_by_name(self.db, ref)
        if record is None:
            raise NotFoundError(
                f"experiment {shown(ref)} not found: `ravelab list` shows the experiments"
            )
        return record

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def whole_argument(text: str) -> int:
    """argparse ``type=`` for whole numbers: ASCII digits only (``int()`` alone takes other
    scripts' digits, underscores and spaces)."""
    try:
        return parse_int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not a whole number (write it with the digits 0-9)"
        ) from None


def count_argument(text: str) -> int:
    """argparse ``type=`` for steps, indexes and sizes: a whole number, 0 or more."""
    number = whole_argument(text)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{shown(text)} is negative: give 0 or more")
    return number


def finite_argument(text: str) -> float:
    """argparse ``type=`` for real numbers: finite (``float()`` alone takes nan and inf)."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not text.strip().isascii():
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a finite number")
    return number
