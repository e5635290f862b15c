"""A run's progress as users see it: the step rate, the ETA and RAVE's phase.

tqdm's rate includes validation pauses, so the ETA uses the steps per second measured
over the last :data:`RATE_WINDOW_S` seconds of step changes (the bar's rate until five
seconds of them are known). RAVE trains in two phases (the autoencoder for
``phase_1_duration`` steps, then the adversarial phase): the estimate says which phase a
step is in and how far into it.
"""

from __future__ import annotations

import time
from collections import deque

from ravelab.core.rave.output_parser import OutputParser
from ravelab.db.progress import ProgressUpdate

#: The ETA uses the step rate over this window (tqdm's rate includes validation).
RATE_WINDOW_S = 120.0
#: Seconds of step changes needed before the measured rate replaces the bar's.
_MIN_RATE_SPAN_S = 5.0


class ProgressEstimate:
    """Step changes seen over the recent window, and the progress record built from them."""

    def __init__(self, phase_1_duration: int) -> None:
        self.phase_1_duration = phase_1_duration
        self._samples: deque[tuple[float, int]] = deque()

    def record_step(self, now: float, step: int) -> None:
        """The step moved to ``step`` at monotonic time ``now``."""
        self._samples.append((now, step))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()

    def step_rate(self, bar_speed: float | None) -> float | None:
        """Steps per second over the recent window; the bar's ``bar_speed`` until known."""
        if len(self._samples) >= 2:
            (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
            if t1 - t0 >= _MIN_RATE_SPAN_S and s1 > s0:
                return (s1 - s0) / (t1 - t0)
        return bar_speed

    def progress(self, parser: OutputParser) -> ProgressUpdate:
        """The run's progress record (step, percent, speeds, ETA, phase), as stored."""
        step = parser.step
        max_steps = parser.max_steps
        rate = self.step_rate(parser.speed)
        eta = (max_steps - step) / rate if rate and max_steps and step <= max_steps else None
        phase = 1 if step < self.phase_1_duration else 2
        if phase == 1:
            phase_step, phase_total = step, min(self.phase_1_duration, max_steps or step)
        else:
            phase_step = step - self.phase_1_duration
            phase_total = (max_steps or step) - self.phase_1_duration
        return {
            "step": step,
            "max_steps": max_steps,
            "percent": parser.percent(step),
            "speed": parser.speed,
            "step_rate": rate,
            "eta_s": eta,
            "phase": phase,
            "phase_step": phase_step,
            "phase_total": phase_total,
            "phase_1_duration": self.phase_1_duration,
            "updated_at": time.time(),
        }
