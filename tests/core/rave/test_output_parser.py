"""The original API's regexes, Lightning's tqdm bar and RAVE's failure lines."""

from __future__ import annotations

import pytest

from ravelab.core.rave.output_parser import OutputParser, parse_tqdm
from ravelab.core.runs.text_stream import LineSplitter
from ravelab.core.runs.training_process import TrainingProcess
from tests.conftest import FIXTURES


def _replay(name: str, parser: OutputParser, stream: str) -> list[int]:
    splitter = LineSplitter()
    data = (FIXTURES / f"{name}.{stream}.raw").read_bytes()
    steps = []
    for line in splitter.feed(data) + splitter.flush():
        result = parser.parse(line.text, stream)
        if result.step is not None:
            steps.append(result.step)
    return steps


# -- the original API's cases ------------------------------------------------------------------


def test_original_line_sets_step_loss_and_lr() -> None:
    process = TrainingProcess({"max_steps": 10000})
    progress, message = process.parse_progress("step: 1000 loss: 0.5432 lr: 0.0001")
    assert progress == 10
    assert message == "step: 1000 loss: 0.5432 lr: 0.0001"
    assert process.current_metrics["step"] == 1000
    assert process.current_metrics["loss"] == pytest.approx(0.5432)
    assert process.current_metrics["lr"] == pytest.approx(0.0001)


def test_training_step_gives_a_percentage() -> None:
    process = TrainingProcess({"max_steps": 10000})
    assert process.parse_progress("Training step: 5000") == (50, "Training step: 5000")


def test_val_loss_does_not_set_loss() -> None:
    process = TrainingProcess({"max_steps": 100})
    assert process.parse_progress("Validation val_loss: 0.3456") == (
        None,
        "Validation val_loss: 0.3456",
    )
    assert process.current_metrics == {"val_loss": pytest.approx(0.3456)}


def test_epoch_line() -> None:
    process = TrainingProcess({"max_steps": 100})
    process.parse_progress("Epoch: 10 completed")
    assert process.current_metrics["epoch"] == 10


def test_scientific_notation_lr_and_case_insensitivity() -> None:
    process = TrainingProcess({"max_steps": 100})
    process.parse_progress("STEP: 5 LOSS: 1.5 LR: 1e-4")
    assert process.current_metrics["lr"] == pytest.approx(1e-4)
    assert process.current_metrics["loss"] == pytest.approx(1.5)


def test_line_without_step() -> None:
    process = TrainingProcess({"max_steps": 100})
    assert process.parse_progress("Loading checkpoint...") == (None, "Loading checkpoint...")


def test_metric_patterns_are_the_original_apis() -> None:
    process = TrainingProcess({"max_steps": 100})
    assert set(process.metric_patterns) == {"loss", "step", "lr", "val_loss", "epoch"}


def test_the_end_of_fit_names_the_last_step_the_bar_may_lag_behind() -> None:
    parser = OutputParser(max_steps=300)
    parser.parse("Epoch 59:  80%|████████  | 4/5 [00:02<00:00,  2.0it/s, v_num=0]", "stderr")
    before = parser.step
    result = parser.parse("`Trainer.fit` stopped: `max_steps=300` reached.", "stderr")
    assert result.step == parser.step == 300 > before
    assert result.progress["fit_stopped"] == "`max_steps=300` reached."
    # Any other sentence, or a step behind the one known, moves nothing.
    assert parser.parse("`Trainer.fit` stopped: `max_epochs=3` reached.", "stderr").step is None
    assert parser.parse("`Trainer.fit` stopped: `max_steps=12` reached.", "stderr").step is None
    assert parser.parse("max_steps=900 reached", "stderr").step is None


# -- Lightning's bar -----------------------------------------------------------------------------


def test_tqdm_bar_fields() -> None:
    bar = parse_tqdm("Epoch 12:  40%|████      | 30/75 [00:04<00:06,  7.21it/s, v_num=0]")
    assert bar is not None
    assert (bar.description, bar.n, bar.total) == ("Epoch 12", 30, 75)
    assert (bar.elapsed_s, bar.eta_s, bar.rate_it_s) == (4, 6, pytest.approx(7.21))
    assert bar.postfix == "v_num=0"


def test_tqdm_seconds_per_iteration_is_inverted() -> None:
    bar = parse_tqdm("Epoch 41:  25%|██▌       | 1/4 [00:01<00:04,  1.33s/it, v_num=0]")
    assert bar is not None and bar.rate_it_s == pytest.approx(1 / 1.33)


def test_tqdm_negative_rate_on_resume_is_ignored() -> None:
    bar = parse_tqdm("Training:   0%|          | 0/4 [00:00<-00:00, -279620.27it/s]")
    assert bar is not None and bar.rate_it_s is None


def test_genuine_train_stdout_gives_every_step_once() -> None:
    parser = OutputParser(max_steps=300, batch_size=4)
    steps = _replay("train", parser, "stdout")
    assert steps == list(range(1, 301))
    assert parser.train_examples == 19
    assert parser.epoch == 74
    assert parser.speed is not None and parser.speed > 0


def test_genuine_resume_continues_from_the_checkpoint_epoch() -> None:
    parser = OutputParser(max_steps=340, batch_size=4)
    steps = _replay("train_resume", parser, "stdout")
    assert steps[-1] == 340
    assert steps == sorted(set(steps))
    assert min(steps) >= 296


def test_batches_per_epoch_from_bars_without_train_set_line() -> None:
    parser = OutputParser(max_steps=300, batch_size=None)
    for line in (
        "Epoch 0:  25%|██▌       | 1/4 [00:00<00:01,  1.83it/s]",
        "Epoch 9:  80%|████████  | 4/5 [00:01<00:00,  2.57it/s, v_num=0]",
    ):
        parser.parse(line)
    assert parser.batches_per_epoch == 4
    assert parser.step == 40


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "reason_start"),
    [
        ("train_bad_db_path", "FileNotFoundError: [Errno 2] No such file or directory"),
        ("train_bad_config", "OSError: Unable to open file: v9_nonexistent.gin"),
        ("train_channels0", "RuntimeError: cannot reshape tensor of 0 elements"),
        ("train_empty_dataset", "ValueError: num_samples should be a positive integer"),
    ],
)
def test_genuine_failures_give_the_exception_line(capture: str, reason_start: str) -> None:
    parser = OutputParser()
    _replay(capture, parser, "stderr")
    assert parser.reason is not None and parser.reason.startswith(reason_start)


def test_normal_run_stderr_has_no_reason() -> None:
    parser = OutputParser()
    _replay("train", parser, "stderr")
    assert parser.reason is None  # the resource_reader "Path not found" lines are harmless


def test_sigint_capture_is_an_interruption() -> None:
    parser = OutputParser()
    _replay("train_sigint", parser, "stderr")
    assert parser.interrupted and parser.reason is None


def test_absl_fatal_flags_error() -> None:
    parser = OutputParser()
    parser.parse("FATAL Flags parsing error: Unknown command line flag 'channels'", "stderr")
    assert parser.reason == "Flags parsing error: Unknown command line flag 'channels'"


def test_cuda_oom_reason_says_what_to_do() -> None:
    parser = OutputParser()
    for line in (
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
    ):
        parser.parse(line, "stderr")
    assert parser.reason is not None
    assert parser.reason.startswith("torch.OutOfMemoryError: CUDA out of memory")
    assert "batch size" in parser.reason


def test_mac_refusal_is_a_failure_despite_exit_zero() -> None:
    parser = OutputParser()
    parser.parse("Training on mac is not available yet. Use --gpu -1 to train on CPU", "stdout")
    assert parser.fatal_despite_success


def test_the_bar_estimate_never_passes_max_steps() -> None:
    parser = OutputParser(max_steps=30, batch_size=3)  # 19 // 3 = 6 batches, the bar says 4
    parser.parse("train set: 19 examples")
    parser.parse("Epoch 9: 100%|██████████| 4/4 [00:01<00:00,  2.28it/s, v_num=0]")
    assert parser.step == 30
