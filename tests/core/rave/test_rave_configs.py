"""RAVE 2.3.1's configs: phase-1 lengths from the base config, modifiers and overrides."""

from __future__ import annotations

import pytest

from ravelab.core.rave.configs import phase_1_duration


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
