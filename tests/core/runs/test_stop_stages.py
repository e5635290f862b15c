"""The stages of a stop, in the order the supervisor and the stopper walk them."""

from __future__ import annotations

import signal

from ravelab.core.runs.stop_stages import StopStage


def test_stop_stages_escalate_in_order() -> None:
    stages = [StopStage.INTERRUPTED, StopStage.TERMINATED, StopStage.KILLED]
    assert [stage.signal for stage in stages] == [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    assert StopStage.NOT_STOPPING < StopStage.INTERRUPTED < StopStage.KILLED
    assert [stage.is_grace for stage in StopStage] == [False, True, True, False]
