"""Reading what matters to ravelab from a run's operative ``config.gin``.

``rave train`` writes the operative gin config of every run to
``<name>_<hash>/config.gin``: macros first (``PHASE_1_DURATION = 1000000``), then
``scope/Class.param = value`` bindings. The length of phase 1 is the operative value
(a ``RAVE.phase_1_duration`` binding, else the macro).

The file is untrusted input: only its first :data:`MAX_GIN_BYTES` are read, every regex
here is linear in the line's length, and an integer is taken only from at most 18 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ravelab.core.rave.trainer_numbers import digits_value

# Greedy value, stripped afterwards: a lazy ``(.+?)\\s*$`` retries the trailing-space
# match from every character, quadratic in a value with a long run of spaces.
_ASSIGN = re.compile(r"^([A-Za-z_][\w./]*)\s*=\s*(.*)$")
#: RAVE's operative config is a few KB; a bigger file is read only this far.
MAX_GIN_BYTES = 4 * 1024 * 1024


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
                value = digits_value(raw.replace("_", "").removeprefix("-"), 2**62)
                if value is not None:
                    return -value if raw.startswith("-") else value
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
    with open(path, "rb") as handle:
        text = handle.read(MAX_GIN_BYTES).decode("utf-8", errors="replace")
    for line in text.splitlines():
        if not line or line[0] in "# \t" or line.startswith(("import ", "include ")):
            continue
        match = _ASSIGN.match(line)
        if match is None:
            continue
        key, value = match.group(1), match.group(2).strip()
        if not value:
            continue
        (bindings if "." in key or "/" in key else macros)[key] = value
    return GinSummary(macros, bindings)
