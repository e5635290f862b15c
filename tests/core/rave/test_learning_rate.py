"""RAVE's fixed learning-rate schedule, and which rate counts as RAVE's own."""

from __future__ import annotations

import pytest

from ravelab.core.rave.learning_rate import generator_lr, is_default_learning_rate


def test_generator_lr_decays_linearly_then_stays() -> None:
    assert generator_lr(0, 1000) == pytest.approx(1e-3)
    assert generator_lr(500, 1000) == pytest.approx(5.5e-4)
    assert generator_lr(1000, 1000) == pytest.approx(1e-4)
    assert generator_lr(10**7, 1000) == pytest.approx(1e-4)


def test_only_raves_own_rate_is_default() -> None:
    assert is_default_learning_rate(None)
    assert is_default_learning_rate(1e-3)
    assert not is_default_learning_rate(3e-4)
