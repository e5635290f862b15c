"""``ravelab checkpoints`` (list, keep, prune) and ``ravelab disk``: a run's checkpoints
and the space runs take."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table
from ravelab.core.display import human_bytes


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checkpoints = subparsers.add_parser(
        "checkpoints",
        help="list a run's checkpoints; keep only the last N periodic ones",
        description=(
            "List a run's checkpoints. RAVE keeps every --save_every checkpoint; --keep N "
            "sets how many of those periodic ones the run keeps (best and latest are always "
            "kept), applied as they appear while ravelab's warden watches the run, and "
            "--prune applies it now."
        ),
    )
    checkpoints.add_argument("experiment", metavar="ID", help="experiment id or name")
    checkpoints.add_argument(
        "--keep",
        metavar="N|all|default",
        help="periodic checkpoints the run keeps from now on (stored with the run)",
    )
    checkpoints.add_argument(
        "--prune", action="store_true", help="remove the periodic checkpoints beyond it now"
    )
    checkpoints.add_argument(
        "--dry-run", action="store_true", help="with --prune: only say what would go"
    )
    checkpoints.add_argument("--json", action="store_true", help="print JSON")
    checkpoints.set_defaults(handler=cmd_checkpoints)

    disk = subparsers.add_parser("disk", help="free space and what each run's checkpoints take")
    disk.add_argument("--json", action="store_true", help="print JSON")
    disk.set_defaults(handler=cmd_disk)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def cmd_checkpoints(ctx: Context) -> int:
    from ravelab.core.errors import ConfigError
    from ravelab.core.operations import checkpoint_retention as retention

    args = ctx.args
    if args.dry_run and not args.prune:
        raise ConfigError("--dry-run goes with --prune: add --prune to see what would go")
    record = ctx.experiment(args.experiment)
    prune_keep: object = "run"  # the run's retention, as stored
    if args.keep is not None:
        if args.prune and args.dry_run:
            # Nothing is stored: the retention the run would have after --keep.
            choice = args.keep.strip().lower()
            wanted = (
                retention.default_keep(ctx.db)
                if choice == "default"
                else retention.check_keep(args.keep)
            )
            prune_keep = "all" if wanted is None else wanted
        else:
            kept = retention.set_retention(ctx.db, record.id, args.keep)
            if args.json and not args.prune:
                print_json({"experiment_id": record.id, "keep_periodic": kept}, ctx.out)
            elif not args.json:
                ctx.out.write(f"run {record.id} keeps {_keeping(kept)}\n")
    if args.prune:
        result = retention.prune_run(ctx.db, record.id, keep=prune_keep, dry_run=args.dry_run)
        return _report_prune(ctx, result)
    if args.keep is not None:
        return ExitCode.OK
    return _list_checkpoints(ctx, record.id)


def _keeping(keep: int | None) -> str:
    if keep is None:
        return "every periodic checkpoint (and best and latest)"
    return f"best, latest and the last {keep} periodic checkpoint(s)"


def _report_prune(ctx: Context, result: Any) -> int:
    plan = result.plan
    if ctx.args.json:
        print_json(
            {
                "keep_periodic": plan.keep_periodic,
                "dry_run": result.dry_run,
                "remove": [str(c.path) for c in plan.remove],
                "removed": [str(path) for path in result.removed],
                "reclaim_bytes": plan.reclaim_bytes,
                "removed_bytes": result.removed_bytes,
                "protected": [{"path": str(c.path), "why": why} for c, why in plan.protected],
                "errors": result.errors,
            },
            ctx.out,
        )
        return ExitCode.FILES if result.errors else ExitCode.OK
    if plan.keep_periodic is None:
        ctx.out.write(
            "nothing to prune: the run keeps every periodic checkpoint "
            "(give --keep N, or set keep_periodic_checkpoints)\n"
        )
        return ExitCode.OK
    verb = "would remove" if result.dry_run else "removed"
    paths = [c.path for c in plan.remove] if result.dry_run else result.removed
    sizes = {c.path: c.size_bytes for c in plan.remove}
    for path in paths:
        ctx.out.write(f"{verb} {path} ({human_bytes(sizes.get(path))})\n")
    for checkpoint, why in plan.protected:
        ctx.out.write(f"kept {checkpoint.path}: {why}\n")
    total = plan.reclaim_bytes if result.dry_run else result.removed_bytes
    ctx.out.write(
        f"{verb} {len(paths)} periodic checkpoint(s), {human_bytes(total)}; "
        f"kept {_keeping(plan.keep_periodic)}\n"
    )
    for error in result.errors:
        ctx.err.write(f"could not remove {error}\n")
    return ExitCode.FILES if result.errors else ExitCode.OK


def _list_checkpoints(ctx: Context, experiment_id: int) -> int:
    from ravelab.core.operations.checkpoint_retention import effective_keep

    checkpoints = ctx.manager(follow=False).list_checkpoints(experiment_id)
    if ctx.args.json:
        print_json(checkpoints, ctx.out)
        return ExitCode.OK
    keep = effective_keep(ctx.db, experiment_id)
    if not checkpoints:
        ctx.out.write(
            f"run {experiment_id} has no checkpoint yet: RAVE writes one at each "
            f"validation (every --val-every steps); it keeps {_keeping(keep)}\n"
        )
        return ExitCode.OK
    rows = [
        (
            c["kind"],
            f"version_{c['version']}",
            c["step"] if c["step"] is not None else "-",
            human_bytes(c["size_bytes"]),
            _when(c["modified_at"]),
            c["path"],
        )
        for c in checkpoints
    ]
    ctx.out.write(table(("KIND", "VERSION", "STEP", "SIZE", "WRITTEN", "PATH"), rows) + "\n")
    total = sum(int(c["size_bytes"]) for c in checkpoints)
    count = len(checkpoints)
    ctx.out.write(f"{count} checkpoint(s), {human_bytes(total)}; keeps {_keeping(keep)}\n")
    return ExitCode.OK


def cmd_disk(ctx: Context) -> int:
    from ravelab.core.operations.disk_report import disk_report

    report = disk_report(ctx.db, ctx.manager(follow=False).runs_dir)
    if ctx.args.json:
        print_json(report.as_json(), ctx.out)
        return ExitCode.OK
    ctx.out.write(
        f"runs folder {report.runs_dir}: {human_bytes(report.free_bytes)} free "
        f"of {human_bytes(report.total_bytes)}\n"
    )
    if report.runs:
        rows = [
            (
                run.experiment_id,
                run.name,
                run.count,
                human_bytes(run.checkpoint_bytes),
                "all" if run.keep_periodic is None else run.keep_periodic,
                human_bytes(run.prunable_bytes) if run.prunable_bytes else "-",
            )
            for run in report.runs
        ]
        ctx.out.write(table(("ID", "NAME", "CKPTS", "SIZE", "KEEP", "PRUNABLE"), rows) + "\n")
        ctx.out.write(
            f"checkpoints take {human_bytes(report.checkpoint_bytes)}; "
            f"{human_bytes(report.prunable_bytes)} would go under each run's retention "
            "(ravelab checkpoints ID --prune)\n"
        )
    else:
        ctx.out.write("no run has checkpoints on disk\n")
    if report.low:
        ctx.err.write(f"warning: {report.low}\n")
    return ExitCode.OK


__all__ = ["add_parsers"]
