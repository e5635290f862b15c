"""``ravelab plot ID [ID ...] --metric NAME -o out.png``: the app's figures, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import ConfigError
from ravelab.core.runs import run_queries

DEFAULT_METRICS = ("fullband_spectral_distance", "validation", "loss")


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plot = subparsers.add_parser(
        "plot",
        help="render a metric of one or more runs to an image file",
        description="Min-max decimated to the image width (spikes stay visible), with "
        "RAVE's phase boundary and the checkpoints marked. Several runs are overlaid.",
    )
    plot.add_argument("experiments", nargs="+", metavar="ID", help="experiment ids or names")
    plot.add_argument(
        "--metric",
        help="the metric (default: fullband_spectral_distance, else validation, else loss)",
    )
    plot.add_argument("-o", "--output", required=True, help="image file (.png, .svg, .pdf)")
    plot.add_argument(
        "--smooth",
        "--smoothing",
        dest="smoothing",
        type=float,
        default=0.0,
        metavar="W",
        help="TensorBoard's debiased exponential smoothing, weight W in [0, 1) (the app's "
        "default is 0.6); the raw curve stays faint behind",
    )
    plot.add_argument("--log", action="store_true", help="logarithmic y axis")
    plot.add_argument(
        "--x", choices=("step", "time"), default="step", help="x axis: step (default) or wall time"
    )
    plot.add_argument("--size", default="1000x500", metavar="WxH", help="pixels (1000x500)")
    plot.set_defaults(handler=cmd_plot)


def cmd_plot(ctx: Context) -> int:
    # matplotlib's Agg canvas: no GUI, no pyplot.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ravelab.plots.comparison import render_metric_comparison
    from ravelab.plots.loading import load_run_series

    args = ctx.args
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {args.size!r} is not WIDTHxHEIGHT, e.g. 1000x500") from None
    if not (100 <= width <= 10_000 and 100 <= height <= 10_000):
        raise ConfigError(f"--size {args.size!r} is out of range: 100 to 10000 pixels a side")
    if not 0.0 <= args.smoothing < 1.0:
        raise ConfigError(f"--smooth {args.smoothing} must be at least 0 and below 1")
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
        raise ConfigError(f"--output {args.output!r}: use a .png, .svg, .pdf or .jpg name")
    records = [ctx.experiment(ref) for ref in args.experiments]
    metric = args.metric
    if metric is None:
        available = {n for r in records for n in run_queries.metric_names(ctx.db, r.id)}
        metric = next((m for m in DEFAULT_METRICS if m in available), None)
        if metric is None:
            raise ConfigError(
                "none of the runs has fullband_spectral_distance, validation or loss points "
                f"yet: choose one with --metric ({', '.join(sorted(available)) or 'none'})"
            )
    runs = [load_run_series(ctx.db, r.id, metric) for r in records]
    if all(run.steps.size == 0 for run in runs):
        raise ConfigError(f"no {metric!r} points in {', '.join(r.name for r in records)}")
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    try:
        render_metric_comparison(
            figure,
            runs,
            metric=metric,
            smoothing=args.smoothing,
            log_scale=args.log,
            x_axis=args.x,
            width_px=width,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from error
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output)
    except OSError as error:  # a folder under a file, a folder named like the image, no access
        raise ConfigError(f"--output {args.output!r} cannot be written: {error}") from None
    points = sum(run.steps.size for run in runs)
    ctx.out.write(f"wrote {output} ({metric}, {len(runs)} run(s), {points} points)\n")
    return ExitCode.OK
