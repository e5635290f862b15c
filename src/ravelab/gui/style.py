"""Colours and style sheets shared by the app's widgets."""

from __future__ import annotations

from ravelab.core.display import STOPPING
from ravelab.db import RunStatus

#: Secondary text (hints, counts, empty states): readable grey on the window colour.
HINT_COLOUR = "#616161"
HINT_STYLE = f"color: {HINT_COLOUR};"
#: Errors next to fields, failed runs.
ERROR_COLOUR = "#c62828"
ERROR_STYLE = f"color: {ERROR_COLOUR};"
#: Section titles inside a page.
TITLE_STYLE = "font-weight: 600;"

#: A run's status -> its colour (text, dots and progress bars).
STATUS_COLOURS: dict[str, str] = {
    RunStatus.RUNNING: "#1565c0",
    STOPPING: "#e65100",
    RunStatus.QUEUED: "#6a1b9a",
    RunStatus.COMPLETED: "#2e7d32",
    RunStatus.FAILED: "#c62828",
    RunStatus.STOPPED: "#757575",
}
