"""What each line of a RAVE run's output is: progress, harmless noise, an error, or plain.

RAVE (through gin, absl, PyTorch Lightning and Python's warnings) prints a lot that looks
alarming and is not: gin's ``E... resource_reader.py:55] Path not found: v2.gin`` for
every search-path candidate it tries, absl's ``I``/``W`` lines, ``FutureWarning`` /
``UserWarning`` / ``DeprecationWarning`` lines with the source line Python prints under
them, Lightning's TPU/IPU/HPU lines, and the ``FIT Profiler Report`` table at the end of
a run. Errors are rarer and matter: Python tracebacks (the whole block, up to the
exception line), CUDA running out of memory, ``Killed``, absl's ``F``/``E`` lines other
than gin's search, ``...Error:`` lines.

:class:`LineClassifier` is stateful (a traceback, a warning's source line and the
profiler table span several lines), with one state per stream. It knows nothing of Qt:
the app folds noise and colours errors, the CLI may filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class LineKind(StrEnum):
    """What a line is, for a viewer."""

    PROGRESS = "progress"
    NOISE = "noise"
    ERROR = "error"
    PLAIN = "plain"


@dataclass(frozen=True)
class LineTag:
    """A line's kind and, for noise, where it comes from (``gin``, ``absl``, ``warnings``,
    ``lightning``, ``profiler``), to name what a folded group holds."""

    kind: LineKind
    source: str = ""


PLAIN = LineTag(LineKind.PLAIN)
PROGRESS = LineTag(LineKind.PROGRESS)
ERROR = LineTag(LineKind.ERROR)

# absl's prefix: severity letter, MMDD, time, thread id, file:line].
_ABSL = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\s\]]+:\d+\] ?(.*)$")
_GIN_SEARCH = re.compile(r"^(Path not found: |system_path_file_exists:)")
# Python's warnings.formatwarning: "path:line: Category: message".
_WARNING = re.compile(r"^\S.*?:\d+: (?:[A-Za-z_.]*Warning): ")
_BARE_WARNING = re.compile(r"^(?:[A-Za-z_.]*Warning): ")
_LIGHTNING_NOISE = re.compile(
    r"^(?:[TIH]PU available: |LOCAL_RANK: \d+ - |Missing logger folder: |"
    r"You are using a CUDA device .* Tensor Cores)"
)
# tqdm: "...  40%|####  | 2/5 [...]" or "Validation: 0it [00:00, ?it/s]".
_PROGRESS = re.compile(
    # [^|]* not .*: a line of many "1%|" would make .* backtrack quadratically.
    r"\d+%\|[^|]*\|\s*\d+/\d+|\d+it \[[\d:]+|\[[\d:]+<[\d:?]+,\s*[\d.?]+(?:it/s|s/it)"
)
_PROFILER_START = re.compile(r"^[A-Z]+ Profiler Report\s*$")
_PROFILER_BODY = re.compile(r"^(?:\s*$|[-=]{10,}|\|)")
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_ERROR = re.compile(
    r"\b[A-Za-z]*Error\b|\bERROR\b|\bFATAL\b|out of memory|OutOfMemory|\bCUDA error\b|"
    r"^Killed\b|Segmentation fault|core dumped|^ravelab: could not start"
)


class LineClassifier:
    """Tags lines one at a time, in the order a stream printed them."""

    def __init__(self) -> None:
        # Per stream: the block a line continues ("traceback", "warning", "profiler").
        self._block: dict[str, str] = {}

    def reset(self) -> None:
        """Forget open blocks (a new attempt starts, or reading jumped ahead)."""
        self._block.clear()

    def classify(self, stream: str, text: str, bar: bool = False) -> LineTag:
        """The tag of ``text``, the next line of ``stream`` (``bar``: a tqdm redraw)."""
        block = self._block.get(stream)
        if block == "traceback":
            return self._in_traceback(stream, text)
        if block == "warning":
            del self._block[stream]
            if text[:1] in (" ", "\t"):
                # Python prints the warning's one source line under it, indented.
                return LineTag(LineKind.NOISE, "warnings")
        elif block == "profiler":
            if _PROFILER_BODY.match(text):
                return LineTag(LineKind.NOISE, "profiler")
            del self._block[stream]
        if bar or _PROGRESS.search(text):
            return PROGRESS
        if text.startswith(_TRACEBACK) or text.startswith(_CHAINED):
            self._block[stream] = "traceback"  # (a chained exception's traceback follows)
            return ERROR
        absl = _ABSL.match(text)
        if absl is not None:
            severity, message = absl.group(1), absl.group(2)
            if _GIN_SEARCH.match(message):
                return LineTag(LineKind.NOISE, "gin")
            if severity in "IW":
                return LineTag(LineKind.NOISE, "absl")
            return ERROR
        if _WARNING.match(text) or _BARE_WARNING.match(text):
            self._block[stream] = "warning"
            return LineTag(LineKind.NOISE, "warnings")
        if _PROFILER_START.match(text):
            self._block[stream] = "profiler"
            return LineTag(LineKind.NOISE, "profiler")
        if _LIGHTNING_NOISE.match(text):
            return LineTag(LineKind.NOISE, "lightning")
        if _ERROR.search(text):
            return ERROR
        return PLAIN

    def _in_traceback(self, stream: str, text: str) -> LineTag:
        """A traceback goes on through indented lines, blank lines and the chaining
        sentences; its first other line (``ValueError: ...``) is its last."""
        if not text.strip() or text[:1] in (" ", "\t") or text.startswith(_CHAINED):
            return ERROR
        if text.startswith(_TRACEBACK):
            return ERROR
        del self._block[stream]
        return ERROR


def noise_summary(sources: dict[str, int]) -> str:
    """``12 harmless lines (gin, warnings)``: a folded group, its sources most first."""
    count = sum(sources.values())
    names = ", ".join(name for name, _ in sorted(sources.items(), key=lambda i: -i[1]) if name)
    noun = "line" if count == 1 else "lines"
    return f"{count} harmless {noun} ({names})" if names else f"{count} harmless {noun}"
