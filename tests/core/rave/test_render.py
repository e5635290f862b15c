"""`ravelab render`: the checks made before RAVE's environment starts, the run of the
render script (through the RAVE-environment double), the CLI's output."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import ConfigError, NotFoundError, RaveNotFoundError
from ravelab.core.rave.env_scripts import RENDER_SCRIPT, rave_python
from ravelab.core.rave.render import (
    RenderFailed,
    plan_render,
    read_wav_info,
    render,
    render_argv,
)
from ravelab.db import Database
from tests.core.rave.conftest import make_run, read_wav, write_float_wav, write_wav
from tests.helpers import run_cli


@pytest.fixture
def cli(
    tmp_path: Path,
    rave_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    monkeypatch.setenv("RAVELAB_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("RAVELAB_RAVE", str(rave_env))

    return functools.partial(run_cli, capsys)


def test_the_python_of_rave_is_its_shebang_or_next_to_it(rave_env: Path, tmp_path: Path) -> None:
    assert rave_python(str(rave_env)) == [str(rave_env.parent / "python")]
    plain = tmp_path / "bin" / "rave"
    plain.parent.mkdir()
    plain.write_text("no shebang\n")
    with pytest.raises(RaveNotFoundError, match="cannot tell which Python"):
        rave_python(str(plain))
    (tmp_path / "bin" / "python").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "python").chmod(0o755)
    assert rave_python(str(plain)) == [str(tmp_path / "bin" / "python")]


def test_a_render_through_the_double(db: Database, tmp_path: Path, rave_env: Path) -> None:
    run = make_run(db, tmp_path)
    source = write_wav(tmp_path / "in.wav", 1.5, rate=48000, channels=2)
    messages: list[dict[str, Any]] = []
    result = render(
        db, run, source, tmp_path / "out.wav", rave=str(rave_env), on_message=messages.append
    )
    assert result.sample_rate == 44100 and result.channels == 1
    assert result.seconds == pytest.approx(1.5, abs=1e-3)
    assert result.checkpoint.name == "best.ckpt" and not result.streaming
    assert result.notes == [
        "mixed 2 channels down to mono (the model is mono)",
        "resampled from 48000 Hz to 44100 Hz (the model's rate)",
    ]
    audio, rate = read_wav(tmp_path / "out.wav")
    assert rate == 44100 and audio.shape == (1, 66150)
    assert 0.1 < abs(audio).max() < 0.5  # 0.5 * tanh(0.3 sine): neither silent nor the input
    assert next(m["event"] for m in messages) == "progress"
    assert messages[-1]["event"] == "result"


def test_a_run_ravelab_launched_finds_rave_s_config_inside_its_folder(
    db: Database, tmp_path: Path, rave_env: Path
) -> None:
    run = make_run(db, tmp_path, steps=(40,), launched=True)
    source = write_wav(tmp_path / "in.wav", 0.5)
    for checkpoint in ("best", "40"):
        plan = plan_render(db, run, source, tmp_path / "out.wav", checkpoint=checkpoint)
        assert plan.config == tmp_path / "0001-drums" / "drums_0123456789" / "config.gin"
    render(db, run, source, tmp_path / "out.wav", rave=str(rave_env))
    assert read_wav(tmp_path / "out.wav")[1] == 44100


def test_streaming_stereo_and_a_step(db: Database, tmp_path: Path, rave_env: Path) -> None:
    run = make_run(db, tmp_path, channels=2, steps=(40, 80, 120))
    source = write_wav(tmp_path / "in.wav", 0.5, channels=1)
    plan = plan_render(db, run, source, tmp_path / "out.wav", checkpoint="90", streaming=True)
    assert plan.step == 80 and plan.checkpoint.name == "epoch-epoch=0001.ckpt"
    assert plan.model_channels == 2 and plan.notes == ["copies the mono input to 2 channels"]
    args = render_argv(plan)
    assert args[-3:] == ["--streaming", "--block", "4096"]
    assert args[args.index("--channels") + 1] == "2"
    result = render(
        db, run, source, tmp_path / "out.wav", checkpoint="90", streaming=True, rave=str(rave_env)
    )
    assert result.channels == 2 and result.block == 4096 and result.step == 80
    assert plan_render(db, run, source, tmp_path / "o2.wav", checkpoint="0").step == 40
    assert (
        plan_render(db, run, source, tmp_path / "o2.wav", checkpoint="100").step == 80
    )  # tie: earlier


@pytest.mark.parametrize(
    ("setup", "error", "words"),
    [
        ("missing input", NotFoundError, "does not exist"),
        ("mp3 input", ConfigError, "render reads WAV only"),
        ("not a wav", ConfigError, "is not a PCM or float WAV file"),
        ("empty wav", ConfigError, "holds no audio"),
        ("output exists", ConfigError, "give --force"),
        ("output not wav", ConfigError, "must be a .wav"),
        ("output folder missing", ConfigError, "does not exist"),
        ("output is input", ConfigError, "is the input"),
        ("bad block", ConfigError, "not a power of two"),
        ("no checkpoint", NotFoundError, "run 1 'drums'.*no best checkpoint"),
        ("no step", NotFoundError, "no checkpoint with a known step"),
        ("no config", NotFoundError, "no config.gin"),
        ("six channels", ConfigError, "has 6 channels and the model 2"),
    ],
)
def test_bad_inputs_are_refused_before_rave_starts(
    db: Database, tmp_path: Path, setup: str, error: type[Exception], words: str
) -> None:
    run = make_run(db, tmp_path, channels=2 if setup == "six channels" else 1)
    assert run.run_dir is not None
    source = write_wav(tmp_path / "in.wav", 0.2)
    output = tmp_path / "out.wav"
    options: dict[str, Any] = {}
    if setup == "missing input":
        source = tmp_path / "nope.wav"
    elif setup == "mp3 input":
        source = tmp_path / "in.mp3"
        source.write_bytes(b"ID3")
    elif setup == "not a wav":
        source.write_bytes(b"hello, not a RIFF file at all")
    elif setup == "empty wav":
        write_wav(source, 0.0)
    elif setup == "output exists":
        output.write_bytes(b"keep me")
    elif setup == "output not wav":
        output = tmp_path / "out.mp3"
    elif setup == "output folder missing":
        output = tmp_path / "nowhere" / "out.wav"
    elif setup == "output is input":
        output = source
    elif setup == "bad block":
        options = {"streaming": True, "block": 3000}
    elif setup == "no checkpoint":
        (Path(run.run_dir) / "version_0" / "checkpoints" / "best.ckpt").unlink()
    elif setup == "no step":
        options = {"checkpoint": "100"}
    elif setup == "no config":
        (Path(run.run_dir) / "config.gin").unlink()
    elif setup == "six channels":
        write_wav(source, 0.2, channels=6)
    with pytest.raises(error, match=words):
        plan_render(db, run, source, output, **options)
    if setup == "output exists":
        assert output.read_bytes() == b"keep me"
        assert plan_render(db, run, source, output, force=True).output == output


def test_float_wav_headers_are_read(tmp_path: Path) -> None:
    info = read_wav_info(write_float_wav(tmp_path / "f.wav", 4800))
    assert (info.channels, info.sample_rate, info.frames, info.sample_format) == (
        2,
        48000,
        4800,
        "float32",
    )


@pytest.mark.parametrize(
    ("fail", "words"),
    [
        ("model", "render failed: the checkpoint does not fit"),
        ("environment", "render failed: RAVE's environment lacks torch"),
        ("crash", r"render failed: RAVE stopped \(exit status 1\): RuntimeError: fake crash"),
    ],
)
def test_a_failing_render_says_why_and_writes_nothing(
    db: Database,
    tmp_path: Path,
    rave_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    fail: str,
    words: str,
) -> None:
    monkeypatch.setenv("FAKE_ENV_FAIL", fail)
    run = make_run(db, tmp_path)
    source = write_wav(tmp_path / "in.wav", 0.2)
    with pytest.raises(RenderFailed, match=words):
        render(db, run, source, tmp_path / "out.wav", rave=str(rave_env))
    assert not (tmp_path / "out.wav").exists()


def test_the_real_script_without_torch_says_so(db: Database, tmp_path: Path) -> None:
    """ravelab's own venv has no torch: the real script, run there, reports it in a line."""
    from tests.fake_rave import write_launcher

    rave = write_launcher(tmp_path / "plain-bin")  # #! is the test interpreter
    run = make_run(db, tmp_path)
    source = write_wav(tmp_path / "in.wav", 0.2)
    assert RENDER_SCRIPT.is_file()
    with pytest.raises(RenderFailed, match=r"RAVE's environment lacks (torch|numpy)"):
        render(db, run, source, tmp_path / "out.wav", rave=str(rave))


def test_cli_render(cli: Any, tmp_path: Path) -> None:
    from ravelab.db import Database as Db

    with Db(tmp_path / "cli.db") as db:
        make_run(db, tmp_path, steps=(40,))
    source = write_wav(tmp_path / "in.wav", 0.5, rate=22050)
    code, out, err = cli("render", "drums", str(source), "-o", str(tmp_path / "out.wav"))
    assert code == ExitCode.OK, err
    assert "rendering in.wav (0.5 s, 1 ch, 22050 Hz) with run 1 'drums', best.ckpt" in err
    assert "note: resampled from 22050 Hz to 44100 Hz" in err
    assert out == f"wrote {tmp_path / 'out.wav'} (0.5 s, 1 ch, 44100 Hz): 20.00x realtime\n"
    code, _, err = cli("render", "drums", str(source), "-o", str(tmp_path / "out.wav"))
    assert code == ExitCode.INVALID and "exists: give --force" in err
    code, out, err = cli(
        "render",
        "1",
        str(source),
        "-o",
        str(tmp_path / "out.wav"),
        "--force",
        "--streaming",
        "--checkpoint",
        "40",
        "--json",
    )
    assert code == ExitCode.OK, err
    result = json.loads(out)
    assert result["streaming"] is True and result["block"] == 4096 and result["step"] == 40
    code, _, err = cli("render", "nope", str(source), "-o", str(tmp_path / "x.wav"))
    assert code == ExitCode.NOT_FOUND and "experiment 'nope' not found" in err


def test_cli_render_failure_exit_code(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.db import Database as Db

    with Db(tmp_path / "cli.db") as db:
        make_run(db, tmp_path)
    monkeypatch.setenv("FAKE_ENV_FAIL", "model")
    source = write_wav(tmp_path / "in.wav", 0.2)
    code, out, err = cli("render", "drums", str(source), "-o", str(tmp_path / "out.wav"))
    assert code == ExitCode.RUN_FAILED and out == ""
    assert "render failed: the checkpoint does not fit the run's config" in err
