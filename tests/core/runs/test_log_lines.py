"""Classifying RAVE's output lines (genuine RAVE 2.3.1 captures and what RAVE can print):
progress, harmless noise with its source, errors as whole blocks, plain lines."""

from __future__ import annotations

from ravelab.core.runs.log_lines import LineClassifier, LineKind, noise_summary
from ravelab.core.runs.text_stream import LineSplitter, collapse_transient
from tests.fake_rave import FIXTURES


def _tags(name: str, stream: str = "stderr") -> list[tuple[str, str, str]]:
    data = (FIXTURES / f"{name}.{stream}.raw").read_bytes()
    splitter = LineSplitter()
    lines = splitter.feed(data) + splitter.flush()
    classifier = LineClassifier()
    found = []
    for text in collapse_transient(lines):
        tag = classifier.classify(stream, text)
        found.append((tag.kind.value, tag.source, text))
    return found


def test_a_good_runs_stderr_is_noise_but_for_lightnings_facts() -> None:
    tags = _tags("train")
    kinds = {(kind, source) for kind, source, _ in tags}
    assert ("error", "") not in kinds  # nothing alarming in a run that went well
    by_text = {text: (kind, source) for kind, source, text in tags}
    gin = (
        "E1126 05:50:56.752771 140308912024448 resource_reader.py:55] Path not found: v2_small.gin"
    )
    assert by_text[gin] == ("noise", "gin")
    assert by_text["  WeightNorm.apply(module, name, dim)"] == ("noise", "warnings")
    assert by_text["  rank_zero_warn("] == ("noise", "warnings")
    assert by_text["GPU available: False, used: False"] == ("plain", "")
    assert by_text["TPU available: False, using: 0 TPU cores"] == ("noise", "lightning")
    assert by_text["`Trainer.fit` stopped: `max_steps=300` reached."] == ("plain", "")
    assert by_text["FIT Profiler Report"] == ("noise", "profiler")
    # The model summary after a warning is not taken for the warning's source line.
    assert by_text["  | Name                     | Type                  | Params"][0] == "plain"
    profiler = [t for t in tags if t[2].startswith("|  [Callback]")]
    assert profiler and all(kind == "noise" for kind, _, _ in profiler)


def test_tracebacks_are_errors_from_first_line_to_the_exception() -> None:
    for capture in ("train_bad_config", "train_bad_db_path", "train_empty_dataset"):
        tags = _tags(capture)
        start = next(i for i, t in enumerate(tags) if t[2].startswith("Traceback"))
        assert all(kind == "error" for kind, _, _ in tags[start:]), capture
    zero = [k for k, _, t in _tags("train_channels0") if "Initializing zero-element" in t]
    assert zero and set(zero) == {"noise"}


def test_progress_bars_and_plain_stdout() -> None:
    tags = _tags("train", "stdout")
    by_text = {text: kind for kind, _, text in tags}
    assert by_text["train set: 19 examples"] == "plain"
    assert by_text["Receptive field: 240.45ms <-- x --> 227.76ms"] == "plain"
    assert all(kind == "progress" for kind, _, text in tags if text.startswith("Epoch "))
    assert all(kind == "progress" for kind, _, text in tags if text.startswith("Validation"))


def test_what_rave_can_print_beyond_the_captures() -> None:
    classifier = LineClassifier()

    def kind(text: str, stream: str = "stderr") -> str:
        return classifier.classify(stream, text).kind.value

    assert kind("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB") == "error"
    assert kind("RuntimeError: CUDA error: device-side assert triggered") == "error"
    assert kind("Killed") == "error"
    assert kind("F1126 05:50:56.752771 1 app.py:10] FATAL Flags parsing error") == "error"
    assert kind("W1126 05:50:56.752771 1 x.py:10] some absl warning") == "noise"
    assert kind("/x/y.py:12: DeprecationWarning: old") == "noise"
    assert kind("  old_call()") == "noise"  # its source line
    assert kind("  an indented plain line") == "plain"  # only one source line per warning
    assert kind("UserWarning: The dirpath has changed from 'a' to 'b'") == "noise"
    # A traceback spans chained exceptions and blank lines; streams keep their own state.
    assert kind("Traceback (most recent call last):") == "error"
    assert kind("progress on stdout", "stdout") == "plain"
    for line in ('  File "x.py", line 1, in f', "", "ValueError: first"):
        assert kind(line) == "error"
    assert kind("During handling of the above exception, another exception occurred:") == "error"
    assert kind("Traceback (most recent call last):") == "error"
    assert kind("KeyError: 'x'") == "error"
    assert kind("something after the traceback") == "plain"
    bar = classifier.classify("stdout", "Epoch 3:  40%|####      | 2/5 [00:01<00:01, 2.5it/s]")
    assert bar.kind is LineKind.PROGRESS


def test_a_folded_groups_summary() -> None:
    assert noise_summary({"gin": 6, "warnings": 4, "profiler": 2}) == (
        "12 harmless lines (gin, warnings, profiler)"
    )
    assert noise_summary({"absl": 1}) == "1 harmless line (absl)"
