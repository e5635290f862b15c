"""The ETA and RAVE's phase from the steps a run made: the measured step rate replaces
the bar's once five seconds of steps are known, and only steps from the last two minutes
count."""

from __future__ import annotations

import pytest

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.progress_estimate import RATE_WINDOW_S, ProgressEstimate


def _parser(step: int, max_steps: int | None, speed: float | None) -> OutputParser:
    parser = OutputParser(max_steps=max_steps)
    parser.step, parser.speed = step, speed
    return parser


def test_the_bars_speed_serves_until_the_measured_rate_is_known() -> None:
    estimate = ProgressEstimate(phase_1_duration=1000)
    assert estimate.step_rate(7.5) == 7.5
    estimate.record_step(100.0, 10)
    estimate.record_step(102.0, 30)
    assert estimate.step_rate(7.5) == 7.5  # two seconds: not yet
    estimate.record_step(110.0, 110)
    assert estimate.step_rate(7.5) == pytest.approx(10.0)


def test_only_the_last_two_minutes_count() -> None:
    estimate = ProgressEstimate(phase_1_duration=1000)
    estimate.record_step(0.0, 0)  # a slow start...
    estimate.record_step(60.0, 60)
    estimate.record_step(60.0 + RATE_WINDOW_S, 60 + 4 * int(RATE_WINDOW_S))
    # ...has left the window: the rate is the recent one.
    assert estimate.step_rate(None) == pytest.approx(4.0)


def test_eta_and_phase_one() -> None:
    estimate = ProgressEstimate(phase_1_duration=1000)
    estimate.record_step(0.0, 0)
    estimate.record_step(10.0, 100)
    progress = estimate.progress(_parser(100, 3000, speed=9.0))
    assert progress["eta_s"] == pytest.approx(290.0)  # 2900 steps at 10 steps/s
    assert (progress["phase"], progress["phase_step"], progress["phase_total"]) == (1, 100, 1000)
    assert (progress["percent"], progress["speed"], progress["step_rate"]) == (3, 9.0, 10.0)
    assert progress["phase_1_duration"] == 1000 and progress["updated_at"] > 0


def test_phase_two_counts_from_the_end_of_phase_one() -> None:
    progress = ProgressEstimate(phase_1_duration=1000).progress(_parser(1500, 3000, 2.0))
    assert (progress["phase"], progress["phase_step"], progress["phase_total"]) == (2, 500, 2000)
    assert progress["eta_s"] == pytest.approx(750.0)  # the bar's 2 steps/s until measured


def test_without_a_rate_or_a_goal_there_is_no_eta() -> None:
    assert ProgressEstimate(1000).progress(_parser(10, 3000, None))["eta_s"] is None
    unbounded = ProgressEstimate(1000).progress(_parser(10, None, 5.0))
    assert unbounded["eta_s"] is None and unbounded["percent"] is None
    assert unbounded["phase_total"] == 10
