"""A run's listening timeline: its clips by step, and the steps worth marking beside them.

The app's Listen panel shows a run's validation clips on a step slider and marks where
RAVE's phase 2 starts (the adversarial training: reconstructions change character there)
and where each checkpoint was written (what a render or an export can use). This module
reads all of it in one call, off the GUI thread, through the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ravelab.core.listening.clips import ClipEntry, list_clips
from ravelab.core.rave.configs import phase_1_duration
from ravelab.db import Database, artifacts
from ravelab.db.records import ExperimentRecord


@dataclass(frozen=True)
class Timeline:
    """What the Listen panel shows of one run.

    Attributes:
        experiment_id: the run.
        clips: its playable validation clips, by step (clips without a step are left out:
            they cannot be placed on the slider).
        problems: clips that could not be read, one line each.
        phase_2_step: the first step of RAVE's phase 2, when known.
        checkpoint_steps: the steps of its checkpoints, ascending, without repeats.
    """

    experiment_id: int
    clips: list[ClipEntry]
    problems: list[str] = field(default_factory=list)
    phase_2_step: int | None = None
    checkpoint_steps: list[int] = field(default_factory=list)

    @property
    def steps(self) -> list[int]:
        return [c.step for c in self.clips if c.step is not None]


def phase_2_step(record: ExperimentRecord) -> int | None:
    """Where the run's phase 2 starts: what its follower recorded (from the run's config,
    modifiers and overrides, or an imported run's ``config.gin``), else worked out from
    the config dict; None when neither says."""
    recorded = record.progress.phase_1_duration
    if isinstance(recorded, int) and recorded > 0:
        return recorded
    config = record.config
    base = config.get("config")
    if not isinstance(base, str) or "imported_from" in config:
        return None
    modifiers = [m for m in config.get("modifiers") or [] if isinstance(m, str)]
    overrides = [o for o in config.get("overrides") or [] if isinstance(o, str)]
    return phase_1_duration(base, modifiers, overrides)


def checkpoint_steps(db: Database, experiment_id: int) -> list[int]:
    """The steps of a run's recorded checkpoints, ascending, without repeats."""
    return sorted(
        {c.step for c in artifacts.list_checkpoints(db, experiment_id) if c.step is not None}
    )


def load_timeline(db: Database, record: ExperimentRecord) -> Timeline:
    """The run's clips, phase boundary and checkpoints (reads every clip's WAV header)."""
    listing = list_clips(db, record)
    placed = [c for c in listing.clips if c.step is not None]
    problems = list(listing.problems)
    unplaced = len(listing.clips) - len(placed)
    if unplaced:
        problems.append(
            f"{unplaced} clip{'s' if unplaced != 1 else ''} could not be tied to a training "
            "step (no validation recorded near them) and are not shown"
        )
    return Timeline(
        experiment_id=record.id,
        clips=placed,
        problems=problems,
        phase_2_step=phase_2_step(record),
        checkpoint_steps=checkpoint_steps(db, record.id),
    )
