"""Reading what matters to ravelab from a run's operative ``config.gin``.

``rave train`` writes the operative gin config of every run to
``<name>_<hash>/config.gin``: macros first (``PHASE_1_DURATION = 1000000``), then
``scope/Class.param = value`` bindings. The length of phase 1 is the operative value
(a ``RAVE.phase_1_duration`` binding, else the macro).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_ASSIGN = re.compile(r"^([A-Za-z_][\w./]*)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class GinSummary:
    """Macros and bindings of a gin file, plus the values ravelab uses."""

    macros: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, str] = field(default_factory=dict)

    def _resolve(self, value: str | None) -> str | None:
        for _ in range(5):  # follow %MACRO references, never loop forever
            if value is None or not value.startswith("%"):
                return value
            value = self.macros.get(value[1:])
        return value

    def integer(self, *keys: str) -> int | None:
        """The first of ``keys`` (bindings, then macros) that holds an integer."""
        for key in keys:
            raw = self._resolve(self.bindings.get(key, self.macros.get(key)))
            if raw is not None:
                try:
                    return int(raw.replace("_", ""))
                except ValueError:
                    continue
        return None

    @property
    def phase_1_duration(self) -> int | None:
        return self.integer("RAVE.phase_1_duration", "PHASE_1_DURATION")

    @property
    def sampling_rate(self) -> int | None:
        return self.integer("RAVE.sampling_rate", "SAMPLING_RATE")

    @property
    def n_channels(self) -> int | None:
        return self.integer("RAVE.n_channels", "N_CHANNELS")


def read_gin(path: Path) -> GinSummary:
    """Parse a gin file's top-level assignments (multi-line values keep their first line)."""
    macros: dict[str, str] = {}
    bindings: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line or line[0] in "# \t" or line.startswith(("import ", "include ")):
            continue
        match = _ASSIGN.match(line)
        if match is None:
            continue
        key, value = match.groups()
        (bindings if "." in key or "/" in key else macros)[key] = value
    return GinSummary(macros, bindings)
