"""RAVE 2.3.1's learning rate, which no flag can change.

``rave/model.py`` hard-codes Adam for the generator at 1e-3 with a LinearLR scheduler
stepped every batch from factor 1.0 to 0.1 over ``PHASE_1_DURATION`` steps (so 1e-3
decays to 1e-4), then constant; the discriminator's Adam stays at 1e-4.
"""

from __future__ import annotations

GENERATOR_START_LR = 1e-3
GENERATOR_END_LR = 1e-4
DISCRIMINATOR_LR = 1e-4


def generator_lr(step: int, phase_1_duration: int) -> float:
    """The generator's learning rate after ``step`` optimizer steps."""
    if phase_1_duration <= 0 or step >= phase_1_duration:
        return GENERATOR_END_LR
    fraction = max(step, 0) / phase_1_duration
    return GENERATOR_START_LR * (1.0 - 0.9 * fraction)


def describe_schedule(phase_1_duration: int) -> str:
    """A one-line description for users."""
    return (
        f"RAVE's fixed schedule: generator 1e-3 decaying linearly to 1e-4 over the "
        f"{phase_1_duration:,} steps of phase 1, then 1e-4; discriminator 1e-4"
    )


def is_default_learning_rate(value: float | None) -> bool:
    """True for ``None`` or RAVE's own starting rate (what the original API's wizard shows)."""
    return value is None or abs(value - GENERATOR_START_LR) <= 1e-12
