"""Reading a trainer's output lines: the original API's regexes, Lightning's tqdm bar, failures.

Real RAVE prints no loss (its losses are TensorBoard scalars); its stdout carries a
Lightning 1.9 tqdm bar from which epoch, batch, speed and the global step follow, and
its stderr carries tracebacks and absl ``FATAL`` lines that explain a failure. Other
trainers and wrappers print the original API's ``step: N loss: X lr: Y`` form, which is parsed
on every line too.

A line is untrusted input. Parsing costs time linear in the line's length (no regex here
backtracks more than a bounded amount; ``bench/bench_parser_worst_case.py`` measures it),
and only the first :data:`MAX_PARSED_CHARS` characters of a line are parsed (the log file
keeps the line whole). A number a line gives is kept only when it is in range
(``ravelab.core.rave.trainer_numbers``): a step of 20 digits, an infinite loss or an epoch of
a thousand digits is skipped with a warning (once per kind and parser), never stored.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from ravelab.core.rave.trainer_numbers import MAX_STEP, digits_value, is_step
from ravelab.db.progress import ProgressUpdate, RunProgress

logger = logging.getLogger(__name__)

#: Characters of one line that are parsed: a tqdm bar, a metric line or an exception line
#: is far shorter; the rest of a longer line is left to the log.
MAX_PARSED_CHARS = 4096

#: The original API's patterns, applied case-insensitively to every line. The look-behinds keep
#: ``val_loss`` from also setting ``loss`` and ``max_steps=`` from setting ``step``.
METRIC_PATTERNS: dict[str, re.Pattern[str]] = {
    "loss": re.compile(r"(?<![\w])loss[:\s]+([0-9.]+)", re.IGNORECASE),
    "step": re.compile(r"(?<![\w])step[:\s]+(\d+)", re.IGNORECASE),
    "lr": re.compile(r"(?<![\w])lr[:\s]+([0-9.e+-]+)", re.IGNORECASE),
    "val_loss": re.compile(r"val[_\s]loss[:\s]+([0-9.]+)", re.IGNORECASE),
    "epoch": re.compile(r"(?<![\w])epoch[:\s]+(\d+)", re.IGNORECASE),
}

#: A word each original pattern needs, tested with ``in`` before the regex runs.
_KEYWORDS = {"loss": "loss", "step": "step", "lr": "lr", "val_loss": "loss", "epoch": "epoch"}

_TQDM_TAIL = re.compile(
    r"\s*(?P<n>\d+)/(?P<total>\d+)\s*\[(?P<elapsed>[\d:]+)<(?P<eta>-?[\d:?]+),\s*"
    r"(?P<rate>-?[\d.?]+)\s*(?P<unit>it/s|s/it)(?:,\s*(?P<postfix>[^\]]*))?\]"
)
_EPOCH_DESC = re.compile(r"Epoch ([0-9]+)")
_TRAIN_SET = re.compile(r"^train set: ([0-9]+) examples")
_FATAL_FLAGS = re.compile(r"FATAL Flags parsing error: (.*)")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::\s*.*)?$")
_CUDA_OOM = re.compile(r"CUDA out of memory", re.IGNORECASE)
_MAC = "Training on mac is not available yet"
_NO_CHECKPOINT = "No checkpoint found"
_INTERRUPTED = "Detected KeyboardInterrupt"
_FIT_STOPPED = re.compile(r"`Trainer\.fit` stopped: (.*)")
#: Lightning's word that the run ended at its last step (the bar's last refresh can lag
#: behind it: a run of 60 steps may last show 59).
_MAX_STEPS_REACHED = re.compile(r"^`max_steps=([0-9]{1,12})` reached\.?$")


def _number(text: str) -> float | None:
    """A float from a regex capture; a trailing sentence dot or garbage gives None."""
    try:
        return float(text.rstrip(".").rstrip("e+-") if text[-1:] in ".e+-" else text)
    except ValueError:
        return None


def _bar_description(head: str) -> str | None:
    """The description before a bar's percentage (``Epoch 3:  40`` -> ``Epoch 3``).

    By hand rather than with ``(.*?):?\\s*\\d+$``: that lazy regex retries the digit run
    from every position, quadratic in the length of a line of digits. This is what it
    matched: the trailing digits (at least one), the spaces before them, one colon.
    """
    end = len(head)
    while end and "0" <= head[end - 1] <= "9":  # ASCII only, as the percentage regex
        end -= 1
    if end == len(head):
        return None
    end = len(head[:end].rstrip())
    if end and head[end - 1] == ":":
        end -= 1
    return head[:end].strip()


def parse_clock(text: str) -> float | None:
    """``01:02:03`` or ``02:03`` -> seconds; ``?`` -> None."""
    if "?" in text or not text:
        return None
    negative = text.startswith("-")
    parts = text.lstrip("-").split(":")
    try:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return -seconds if negative else seconds


@dataclass(frozen=True)
class TqdmBar:
    """One parsed tqdm bar state."""

    description: str
    n: int
    total: int
    elapsed_s: float | None
    eta_s: float | None
    rate_it_s: float | None  # iterations per second; None when unknown or nonsense
    postfix: str


def parse_tqdm(line: str) -> TqdmBar | None:
    """Parse a tqdm bar with a total (``desc:  40%|███| 30/75 [00:04<00:06,  7.21it/s]``)."""
    # Split by hand at the bar's "%|...|" and match the two short ends: one regex over
    # the whole line backtracks badly on long lines.
    cut = line.find("%|")
    if cut < 0:
        return None
    close = line.find("|", cut + 2)
    if close < 0:
        return None
    description = _bar_description(line[:cut])
    match = _TQDM_TAIL.match(line, close + 1)
    if description is None or match is None:
        return None
    n = digits_value(match.group("n"))
    total = digits_value(match.group("total"))
    if n is None or total is None:
        return None
    rate: float | None = None
    value = _number(match.group("rate")) if "?" not in match.group("rate") else None
    # A negative rate is a tqdm glitch seen on resume; 0 means no estimate yet.
    if value is not None and value > 0 and math.isfinite(value):
        rate = value if match.group("unit") == "it/s" else 1.0 / value
        if not math.isfinite(rate):
            rate = None
    return TqdmBar(
        description=description,
        n=n,
        total=total,
        elapsed_s=parse_clock(match.group("elapsed")),
        eta_s=parse_clock(match.group("eta")),
        rate_it_s=rate,
        postfix=match.group("postfix") or "",
    )


@dataclass
class ParsedLine:
    """What one line told us."""

    metrics: dict[str, float] = field(default_factory=dict)
    step: int | None = None  # the global step, when the line gave or implied one
    step_from_bar: bool = False  # True when the step was derived from the tqdm bar
    progress: ProgressUpdate = field(default_factory=lambda: ProgressUpdate())
    reason: str | None = None


class OutputParser:
    """Stateful parser of one run's output (both streams).

    Args:
        max_steps: the run's ``--max_steps`` (for percentages).
        batch_size: the run's ``--batch`` (batches per epoch = train examples // batch).
    """

    def __init__(self, max_steps: int | None = None, batch_size: int | None = None) -> None:
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.train_examples: int | None = None
        self.step = 0
        self.epoch: int | None = None
        self.speed: float | None = None
        self.reason: str | None = None
        self.fatal_despite_success = False  # RAVE exits 0 without training on macOS
        self.interrupted = False
        self._traceback = False
        self._min_epoch_total: int | None = None
        self._warned: set[str] = set()
        #: How many values were skipped as out of range (see ``trainer_numbers``).
        self.skipped_values = 0

    def _skip(self, kind: str, value: str) -> None:
        """Count a value out of range, and warn about the first of its kind."""
        self.skipped_values += 1
        if kind not in self._warned:
            self._warned.add(kind)
            shown = value if len(value) <= 40 else f"{value[:20]}...({len(value)} chars)"
            logger.warning(
                "skipping a %s the trainer printed that is out of range: %s (further ones "
                "are skipped silently)",
                kind,
                shown,
            )

    def restore(self, progress: RunProgress) -> None:
        """Take back the state stored in an experiment's progress (a re-attached run)."""
        # Range-checked too: a database written before these checks may hold anything.
        if is_step(progress.train_examples):
            self.train_examples = progress.train_examples
        if is_step(progress.step):
            self.step = progress.step
        if is_step(progress.epoch):
            self.epoch = progress.epoch
        if progress.last_error is not None:
            self.reason = progress.last_error

    @property
    def batches_per_epoch(self) -> int | None:
        """Train batches per epoch, from ``train set: N examples`` (drop_last) or the bars."""
        if self.train_examples is not None and self.batch_size:
            return max(self.train_examples // self.batch_size, 1)
        return self._min_epoch_total

    def percent(self, step: int) -> int | None:
        """``step`` as an int percentage of max_steps."""
        if not self.max_steps:
            return None
        return max(0, min(100, int(step * 100 / self.max_steps)))

    def parse(self, text: str, stream: str = "stdout") -> ParsedLine:
        """Parse one line (without terminator, ANSI removed); only its first
        :data:`MAX_PARSED_CHARS` characters are read."""
        if len(text) > MAX_PARSED_CHARS:
            text = text[:MAX_PARSED_CHARS]
        result = ParsedLine()
        self._parse_original_form(text, result)
        if stream == "stdout" or "|" in text:
            self._parse_rave_stdout(text, result)
        self._parse_failure(text, result)
        return result

    # -- the original API's form ---------------------------------------------------------------

    def _parse_original_form(self, text: str, result: ParsedLine) -> None:
        if "|" in text and "%" in text and "it" in text:
            # A tqdm bar: its "Epoch 12:" is handled by the bar parser, with the step.
            return
        lowered = text.lower()
        for name, pattern in METRIC_PATTERNS.items():
            if _KEYWORDS[name] not in lowered:
                continue
            match = pattern.search(text)
            if match is None:
                continue
            raw = match.group(1)
            if name in ("step", "epoch"):
                number = digits_value(raw)
                if number is None:
                    self._skip(name, raw)
                    continue
                if name == "step":
                    result.step = self.step = number
                else:
                    self.epoch = number
                    result.metrics["epoch"] = float(number)
                continue
            value = _number(raw)
            if value is None:
                continue
            if not math.isfinite(value):
                self._skip(name, raw)
                continue
            result.metrics[name] = value

    # -- RAVE / Lightning --------------------------------------------------------------------

    def _parse_rave_stdout(self, text: str, result: ParsedLine) -> None:
        train_set = _TRAIN_SET.match(text)
        if train_set:
            examples = digits_value(train_set.group(1))
            if examples is None:
                self._skip("train set size", train_set.group(1))
                return
            self.train_examples = examples
            result.progress["train_examples"] = self.train_examples
            return
        bar = parse_tqdm(text)
        if bar is None:
            return
        epoch_match = _EPOCH_DESC.match(bar.description)
        if epoch_match is None:
            if bar.description.startswith("Validation"):
                result.progress["phase_detail"] = "validation"
            return
        epoch = digits_value(epoch_match.group(1))
        if epoch is None:
            self._skip("epoch", epoch_match.group(1))
            return
        if self._min_epoch_total is None or bar.total < self._min_epoch_total:
            self._min_epoch_total = bar.total
        per_epoch = self.batches_per_epoch or bar.total
        step = epoch * per_epoch + min(bar.n, per_epoch)
        if self.max_steps:
            # Lightning stops at max_steps exactly: a larger estimate is the bar's drift
            # (batches per epoch guessed from a bar whose total includes validation).
            step = min(step, self.max_steps)
        if step > MAX_STEP:
            self._skip("step", f"{step} (epoch {epoch} x {per_epoch} batches)")
            return
        # tqdm resets the bar before renaming it ("Epoch 0: 0/4" after "Epoch 0: 4/4"),
        # so a smaller value is a redraw, not a step back.
        if step > self.step:
            result.step = step
            result.step_from_bar = True
            self.step = step
        if self.epoch != epoch:
            result.metrics["epoch"] = float(epoch)
        self.epoch = epoch
        if bar.rate_it_s is not None:
            self.speed = bar.rate_it_s
        result.progress.update(
            {"epoch": epoch, "batch": bar.n, "batches": bar.total, "speed": self.speed}
        )

    # -- failures ------------------------------------------------------------------------------

    def _parse_failure(self, text: str, result: ParsedLine) -> None:
        stripped = text.strip()
        if not stripped:
            return
        if "resource_reader.py" in text and "Path not found" in text:
            return  # gin probing its search path: harmless (RAVE prints it for every run)
        reason: str | None = None
        if text.startswith("Traceback (most recent call last)"):
            self._traceback = True
            return
        if self._traceback:
            if text[:1] in (" ", "\t"):
                return
            if stripped.startswith("During handling") or stripped.startswith("The above"):
                return
            match = _EXCEPTION_LINE.match(stripped)
            self._traceback = False
            if match:
                reason = stripped
        fatal = _FATAL_FLAGS.search(text)
        if fatal:
            reason = f"Flags parsing error: {fatal.group(1).strip()}"
        if _CUDA_OOM.search(text):
            reason = (
                f"{stripped} (CUDA out of memory: lower the batch size, or use a GPU with "
                "more memory; phase 2 needs more than phase 1)"
            )
        if _MAC in text:
            reason = stripped
            self.fatal_despite_success = True
        if _NO_CHECKPOINT in text:
            reason = stripped
        if _INTERRUPTED in text:
            self.interrupted = True
        fit_stopped = _FIT_STOPPED.search(text)
        if fit_stopped:
            result.progress["fit_stopped"] = fit_stopped.group(1)
            reached = _MAX_STEPS_REACHED.match(fit_stopped.group(1).strip())
            last = digits_value(reached.group(1)) if reached else None
            if last is not None and is_step(last) and last > self.step:
                result.step = self.step = last
        if reason is not None:
            self.reason = reason[:500]
            result.reason = self.reason
