"""``ravelab render RUN INPUT.wav -o OUT.wav``: hear what a checkpoint makes of your audio."""

from __future__ import annotations

import argparse
from typing import Any

from ravelab.cli.context import Context, whole_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, progress_bar


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = subparsers.add_parser(
        "render",
        help="encode and decode an audio file with a run's checkpoint",
        description="Runs in RAVE's own environment (the one of the configured `rave`). "
        "The input is resampled to the model's rate and mixed or copied to its channels; "
        "the latent is the encoder's mean (deterministic). The output is a 32-bit float "
        "WAV at the model's rate, as long as the input.",
    )
    render.add_argument("experiment", metavar="RUN", help="experiment id or name")
    render.add_argument("input", metavar="INPUT.wav", help="the audio to render (WAV)")
    render.add_argument("-o", "--output", required=True, help="the WAV file to write")
    render.add_argument(
        "--checkpoint",
        default="best",
        help="best (default), latest, a training step (the nearest recorded checkpoint), "
        "or a .ckpt path",
    )
    render.add_argument(
        "--streaming",
        action="store_true",
        help="block by block through cached convolutions, as nn~ plays a streaming export "
        "(the output keeps the model's latency)",
    )
    render.add_argument(
        "--block",
        type=whole_argument,
        default=4096,
        help="streaming block in samples, a power of two (default 4096, nn~'s)",
    )
    render.add_argument("--force", action="store_true", help="replace OUT.wav if it exists")
    render.add_argument("--json", action="store_true", help="print the result as JSON")
    render.set_defaults(handler=cmd_render)


def cmd_render(ctx: Context) -> int:
    from ravelab.core.rave.render import RenderFailed, plan_render, run_render

    args = ctx.args
    record = ctx.experiment(args.experiment)
    plan = plan_render(
        ctx.db,
        record,
        args.input,
        args.output,
        checkpoint=args.checkpoint,
        streaming=args.streaming,
        block=args.block,
        force=args.force,
    )
    tty = ctx.err.isatty()
    step = f" (step {plan.step})" if plan.step is not None else ""
    ctx.err.write(
        f"rendering {plan.input.name} ({plan.wav.seconds:.1f} s, {plan.wav.channels} ch, "
        f"{plan.wav.sample_rate} Hz) with run {record.id} '{record.name}', "
        f"{plan.checkpoint.name}{step}, {'streaming' if plan.streaming else 'offline'}\n"
    )
    ctx.err.flush()

    def show(message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "note":
            if tty:
                ctx.err.write("\r\x1b[2K")
            ctx.err.write(f"note: {message.get('message')}\n")
        elif event == "progress" and tty:
            stage = message.get("stage")
            text = (
                "loading the model in RAVE's environment"
                if stage == "loading"
                else f"rendering {progress_bar(message.get('fraction'), 1.0)}"
            )
            ctx.err.write("\r\x1b[2K" + text)
        ctx.err.flush()

    try:
        result = run_render(plan, rave=args.rave, db=ctx.db, on_message=show)
    except RenderFailed as error:
        if tty:
            ctx.err.write("\r\x1b[2K")
        ctx.err.write(f"{error}\n")
        return ExitCode.RUN_FAILED
    if tty:
        ctx.err.write("\r\x1b[2K")
    if args.json:
        print_json(result.as_dict(), ctx.out)
        return ExitCode.OK
    speed = f"{result.realtime_factor:.2f}x realtime" if result.realtime_factor else "speed unknown"
    ctx.out.write(
        f"wrote {result.output} ({result.seconds:.1f} s, {result.channels} ch, "
        f"{result.sample_rate} Hz): {speed}\n"
    )
    if result.streaming:
        ctx.out.write(
            f"streaming in blocks of {result.block}: the output lags the input by the "
            "model's latency (not compensated)\n"
        )
    return ExitCode.OK
