"""``ravelab dataset ...``: register and list preprocessed RAVE datasets."""

from __future__ import annotations

import argparse
import dataclasses

from ravelab.cli import commands_workflow
from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import duration, print_json, table
from ravelab.core import dataset_catalog
from ravelab.core.datasets import (
    CHANNELS_RANGE,
    N_SECONDS_MAX,
    SAMPLE_RATE_RANGE,
    register_dataset,
    stored_number,
)
from ravelab.db import DatasetRecord


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dataset = subparsers.add_parser(
        "dataset",
        help="register and list preprocessed RAVE datasets",
        description="Datasets are folders written by `rave preprocess` (data.mdb + metadata.yaml).",
    )
    sub = dataset.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", help="register a preprocessed dataset folder")
    add.add_argument("path", metavar="DIR", help="the folder rave preprocess wrote")
    add.add_argument("--name", help="a name for it (default: the folder's name)")
    add.add_argument("--json", action="store_true", help="print the dataset as JSON")
    add.set_defaults(handler=cmd_dataset_add)
    listing = sub.add_parser("list", help="list the registered datasets")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=cmd_dataset_list)
    commands_workflow.add_dataset_parsers(sub)


def cmd_dataset_add(ctx: Context) -> int:
    record = register_dataset(ctx.db, ctx.args.path, ctx.args.name)
    if ctx.args.json:
        print_json(record.as_dict(), ctx.out)
    else:
        ctx.out.write(
            f"registered dataset {record.id} '{record.name}': {record.channels} channel(s), "
            f"{record.sample_rate} Hz, {duration(record.n_seconds)} of audio\n"
        )
    return ExitCode.OK


def cmd_dataset_list(ctx: Context) -> int:
    ctx.settle()  # settles preprocess jobs that ended meanwhile
    records = [_displayable(record) for record in dataset_catalog.list_datasets(ctx.db)]
    if ctx.args.json:
        data = []
        for record in records:
            item = record.as_dict()
            item["experiments"] = dataset_catalog.experiments_using(ctx.db, record.id)
            item["size_bytes"] = _size(record.path)
            item["chunks"] = _chunks(record)
            data.append(item)
        print_json(data, ctx.out)
        return ExitCode.OK
    if not records:
        ctx.out.write("no datasets yet: register one with `ravelab dataset add DIR`\n")
        return ExitCode.OK
    rows = []
    for r in records:
        chunks = _chunks(r)
        size = _size(r.path)
        rows.append(
            (
                r.id,
                r.name,
                r.status,
                r.channels if r.channels is not None else "-",
                r.sample_rate if r.sample_rate is not None else "-",
                duration(r.n_seconds),
                chunks if chunks is not None else "-",
                f"{size / 1e6:.1f} MB" if size is not None else "-",
                ",".join(map(str, dataset_catalog.experiments_using(ctx.db, r.id))) or "-",
                r.path,
            )
        )
    headers = ("ID", "NAME", "STATUS", "CH", "RATE", "DURATION", "CHUNKS", "SIZE", "RUNS", "PATH")
    ctx.out.write(table(headers, rows) + "\n")
    return ExitCode.OK


def _displayable(record: DatasetRecord) -> DatasetRecord:
    """A row with every number that is not finite and in range shown as unknown: a row
    stored by an older version may hold ``n_seconds`` inf, or text, and one bad row must
    not break the listing of the others."""
    channels = stored_number(record.channels, *CHANNELS_RANGE)
    sample_rate = stored_number(record.sample_rate, *SAMPLE_RATE_RANGE)
    n_seconds = stored_number(record.n_seconds, 0, N_SECONDS_MAX)
    num_signal = stored_number(record.num_signal, 1, 2**31)
    return dataclasses.replace(
        record,
        channels=None if channels is None else int(channels),
        sample_rate=None if sample_rate is None else int(sample_rate),
        n_seconds=n_seconds,
        num_signal=None if num_signal is None else int(num_signal),
    )


def _size(path: str) -> int | None:
    """Bytes on disk, or None when the folder cannot be walked (permissions, a bad path)."""
    try:
        return dataset_catalog.size_on_disk(path)
    except (OSError, ValueError):
        return None


def _chunks(record: DatasetRecord) -> int | None:
    """Chunks in a dataset: RAVE's n_seconds counts one chunk short (RAVE.md §5)."""
    if not record.n_seconds or not record.sample_rate:
        return None
    num_signal = record.num_signal or 131_072
    return round(record.n_seconds * record.sample_rate / (2 * num_signal)) + 1
