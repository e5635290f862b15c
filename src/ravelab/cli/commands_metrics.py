"""``ravelab metrics ID``: a run's metric points as CSV or JSON, for other tools.

The points are stored in packed blocks (``ravelab.db.point_blocks``), which plain SQL sees
as blobs; this is the way out for spreadsheets, pandas or another tracker. Values are
written exactly (the shortest text that reads back as the stored double).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import TextIO

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import ConfigError
from ravelab.core.runs import run_queries


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = subparsers.add_parser(
        "metrics",
        help="print a run's metric points as CSV or JSON",
        description="Every stored point of the run's metrics (or of those named with "
        "--metric), ordered by metric and step: CSV rows metric,step,value,wall_time, or a "
        "JSON object with the columns of each metric.",
    )
    metrics.add_argument("experiment", metavar="ID", help="experiment id or name")
    metrics.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="only this metric (repeat for several; default: all of them)",
    )
    metrics.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (csv)"
    )
    metrics.add_argument("-o", "--output", help="write to this file instead of stdout")
    metrics.set_defaults(handler=cmd_metrics)


def cmd_metrics(ctx: Context) -> int:
    args = ctx.args
    record = ctx.experiment(args.experiment)
    available = run_queries.metric_names(ctx.db, record.id)
    names = available if not args.metric else list(dict.fromkeys(args.metric))
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ConfigError(
            f"experiment {record.id} '{record.name}' has no points for "
            f"{', '.join(repr(n) for n in unknown)}: its metrics are "
            f"{', '.join(available) or 'none yet'}"
        )
    if args.output is None:
        _write(ctx, names, record.id, ctx.out)
        return ExitCode.OK
    output = Path(args.output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8", newline="") as stream:
            _write(ctx, names, record.id, stream)
    except OSError as error:
        raise ConfigError(
            f"--output {args.output!r}: {error.strerror or error}; choose a file in a folder "
            "you can write to"
        ) from error
    print(f"wrote {output} ({len(names)} metric(s))", file=ctx.err)
    return ExitCode.OK


def _write(ctx: Context, names: list[str], experiment_id: int, stream: TextIO) -> None:
    if ctx.args.format == "json":
        document = {
            "experiment": experiment_id,
            "metrics": {name: _columns_json(ctx, experiment_id, name) for name in names},
        }
        # NaN is never stored; an infinity is written as JSON's usual Infinity.
        json.dump(document, stream)
        stream.write("\n")
        return
    # csv writes a float with str(), which round-trips exactly.
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(("metric", "step", "value", "wall_time"))
    for name in names:
        columns = run_queries.metric_columns(ctx.db, experiment_id, name)
        writer.writerows(
            zip(
                [name] * len(columns),
                columns.steps.tolist(),
                columns.values.tolist(),
                columns.walls.tolist(),
                strict=True,
            )
        )


def _columns_json(ctx: Context, experiment_id: int, name: str) -> dict[str, list[float]]:
    columns = run_queries.metric_columns(ctx.db, experiment_id, name)
    return {
        "steps": columns.steps.tolist(),
        "values": columns.values.tolist(),
        "wall_times": columns.walls.tolist(),
    }
