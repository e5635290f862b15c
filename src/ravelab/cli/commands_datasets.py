"""``ravelab dataset ...``: register and list preprocessed RAVE datasets."""

from __future__ import annotations

import argparse

from ravelab.cli import commands_workflow
from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import duration, print_json, table
from ravelab.core import dataset_catalog, dataset_facts
from ravelab.core.datasets import register_dataset


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
    records = [
        dataset_facts.displayable(record) for record in dataset_catalog.list_datasets(ctx.db)
    ]
    if ctx.args.json:
        data = []
        for record in records:
            item = record.as_dict()
            item["experiments"] = dataset_catalog.experiments_using(ctx.db, record.id)
            item.update(dataset_facts.facts(record).as_dict())
            data.append(item)
        print_json(data, ctx.out)
        return ExitCode.OK
    if not records:
        ctx.out.write("no datasets yet: register one with `ravelab dataset add DIR`\n")
        return ExitCode.OK
    rows = []
    for r in records:
        facts = dataset_facts.facts(r)
        chunks = facts.examples
        size = facts.size_bytes
        rows.append(
            (
                r.id,
                r.name,
                r.status,
                r.channels if r.channels is not None else "-",
                r.sample_rate if r.sample_rate is not None else "-",
                duration(r.n_seconds),
                "-" if chunks is None else f"{chunks}" if facts.examples_exact else f"~{chunks}",
                f"{size / 1e6:.1f} MB" if size is not None else "-",
                ",".join(map(str, dataset_catalog.experiments_using(ctx.db, r.id))) or "-",
                r.path,
            )
        )
    headers = ("ID", "NAME", "STATUS", "CH", "RATE", "DURATION", "CHUNKS", "SIZE", "RUNS", "PATH")
    ctx.out.write(table(headers, rows) + "\n")
    return ExitCode.OK
