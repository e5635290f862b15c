"""``ravelab audio list|export``: a run's validation clips, by training step, as WAV files.

RAVE writes one clip per validation (inputs and their reconstructions one after the
other); ravelab saves each as a WAV file and ties it to its training step. ``list`` shows
them; ``export`` writes the input and the reconstruction of each pair as files of their
own, to hear side by side in any player or DAW.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ravelab.cli.context import Context, count_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table
from ravelab.core.listening import clips as clip_use


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audio = subparsers.add_parser(
        "audio",
        help="list or export a run's validation clips",
        description="RAVE's validation clips (audio_val): at each validation, the first "
        "validation examples as input then the model's reconstruction. Each clip is tied "
        "to the training step of its validation.",
    )
    commands = audio.add_subparsers(dest="audio_command", metavar="COMMAND", required=True)

    listed = commands.add_parser(
        "list", help="one line per clip: step, version, pairs, length, file"
    )
    listed.add_argument("experiment", metavar="RUN", help="experiment id or name")
    listed.add_argument(
        "--json", action="store_true", help="print a JSON array, one object per clip"
    )
    _n_signal_option(listed)
    listed.set_defaults(handler=cmd_audio_list)

    export = commands.add_parser(
        "export",
        help="write a clip's inputs and reconstructions as separate WAV files",
        description="Write the input and the reconstruction of each pair of the clip made "
        "at training step S (or only pair K) to DIR, as <run>-step<S>-pair<K>-input.wav and "
        "-reconstruction.wav. Existing files are never replaced.",
    )
    export.add_argument("experiment", metavar="RUN", help="experiment id or name")
    export.add_argument(
        "--step", type=count_argument, required=True, metavar="S", help="training step of the clip"
    )
    export.add_argument(
        "--pair", type=count_argument, metavar="K", help="only this pair (0 is the first)"
    )
    export.add_argument(
        "--version",
        type=count_argument,
        metavar="V",
        help="the version_V folder, when a resume made two clips at one step (default: newest)",
    )
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write to")
    _n_signal_option(export)
    export.set_defaults(handler=cmd_audio_export)


def _n_signal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n-signal",
        type=count_argument,
        metavar="N",
        help="the run's --n_signal, to split clips of a run imported without it",
    )


def _listing(ctx: Context) -> tuple[str, clip_use.ClipListing]:
    ctx.settle()
    record = ctx.experiment(ctx.args.experiment)
    listing = clip_use.list_clips(ctx.db, record, n_signal=ctx.args.n_signal)
    for problem in listing.problems:
        print(f"warning: {problem}", file=ctx.err)
    return record.name, listing


def cmd_audio_list(ctx: Context) -> int:
    _name, listing = _listing(ctx)
    if ctx.args.json:
        print_json([clip.as_dict() for clip in listing.clips], ctx.out)
        return ExitCode.OK
    if not listing.clips:
        print("no validation clips yet: RAVE writes one at each validation", file=ctx.out)
        return ExitCode.OK
    rows = [
        (
            "?" if clip.step is None else clip.step,
            clip.version,
            clip.validation,
            clip.pairs if clip.layout_source != "assumed" else f"{clip.pairs}*",
            f"{clip.seconds:.1f}",
            clip.sample_rate,
            clip.path,
        )
        for clip in listing.clips
    ]
    print(table(("STEP", "VERSION", "VAL", "PAIRS", "SECONDS", "RATE", "FILE"), rows), file=ctx.out)
    if any(clip.layout_source == "assumed" for clip in listing.clips):
        print(
            "* pairs worked out from the clip's length (the run's --n_signal is unknown); "
            "pass --n-signal to be sure",
            file=ctx.out,
        )
    return ExitCode.OK


def cmd_audio_export(ctx: Context) -> int:
    name, listing = _listing(ctx)
    args = ctx.args
    clip = clip_use.find_clip(listing.clips, args.step, args.version)
    pairs = None if args.pair is None else [args.pair]
    written = clip_use.export_pairs(clip, Path(args.output).expanduser(), name, pairs)
    for path in written:
        print(path, file=ctx.out)
    return ExitCode.OK
