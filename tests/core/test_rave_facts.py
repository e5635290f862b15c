"""RAVE's fixed facts: phase-1 lengths and the learning-rate schedule."""

from __future__ import annotations

import pytest

from ravelab.core.learning_rate import generator_lr, is_default_learning_rate
from ravelab.core.rave_configs import phase_1_duration


@pytest.mark.parametrize(
    ("base", "modifiers", "overrides", "expected"),
    [
        ("v2", [], [], 1_000_000),
        ("v2_small", ["causal"], [], 1_000_000),
        ("discrete", [], [], 200_000),
        ("v2", ["wasserstein"], [], 200_000),
        ("v2", ["spherical"], [], 200_000),
        ("v2_small", [], ["PHASE_1_DURATION=150"], 150),
        ("v2", ["spherical"], ["RAVE.phase_1_duration=5000"], 5000),
        ("v2.gin", [], [], 1_000_000),
    ],
)
def test_phase_1_duration(
    base: str, modifiers: list[str], overrides: list[str], expected: int
) -> None:
    assert phase_1_duration(base, modifiers, overrides) == expected


def test_generator_lr_decays_linearly_then_stays() -> None:
    assert generator_lr(0, 1000) == pytest.approx(1e-3)
    assert generator_lr(500, 1000) == pytest.approx(5.5e-4)
    assert generator_lr(1000, 1000) == pytest.approx(1e-4)
    assert generator_lr(10**7, 1000) == pytest.approx(1e-4)


def test_only_raves_own_rate_is_default() -> None:
    assert is_default_learning_rate(None)
    assert is_default_learning_rate(1e-3)
    assert not is_default_learning_rate(3e-4)
