"""``ravelab train | list | show | logs | stop``: runs from the command line."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ravelab.cli.context import Context, count_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import (
    duration,
    local_time,
    print_json,
    progress_bar,
    speed,
    table,
)
from ravelab.core.display import STOPPING
from ravelab.core.errors import ConfigError
from ravelab.core.runs import lifetime, run_queries
from ravelab.db import ExperimentRecord, Health, RunProgress, RunStatus

# What only some of these commands need (following a run, reading its logs, finding a
# dataset, importing a run) is imported in those commands: `list` and `show` start fast.


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = subparsers.add_parser(
        "train",
        help="start a RAVE training (detached: it outlives this command)",
        description="Start `rave train` on a registered dataset. The run is detached: "
        "closing the terminal does not stop it.",
    )
    train.add_argument("--dataset", help="dataset id or name (required unless --from)")
    train.add_argument(
        "--from",
        dest="source",
        metavar="ID",
        help="clone the settings of this experiment; flags given change them",
    )
    train.add_argument("--name", required=True, help="the run's name (letters, digits, -_.)")
    train.add_argument("--config", default="v2", help="base config (default: v2)")
    train.add_argument(
        "--modifier",
        action="append",
        default=[],
        metavar="NAME",
        help="a config modifier (causal, snake, ...); repeat for several",
    )
    train.add_argument(
        "--augment",
        action="append",
        default=[],
        metavar="NAME",
        help="an augmentation (mute, compress, gain); repeatable",
    )
    train.add_argument("--max-steps", type=int, help="steps to train (RAVE: 6,000,000)")
    train.add_argument("--batch-size", type=int, help="batch size (RAVE: 8)")
    train.add_argument(
        "--learning-rate",
        type=float,
        help="only RAVE's own 1e-3 is accepted: RAVE 2.3.1 fixes its schedule",
    )
    train.add_argument(
        "--gpu",
        type=int,
        help="GPU index, or -1 for the CPU (default: 0 when a GPU is found, else -1)",
    )
    train.add_argument("--val-every", type=int, help="validation every N steps (RAVE: 10000)")
    train.add_argument(
        "--save-every", type=int, help="extra checkpoint every N steps (RAVE: 500000)"
    )
    train.add_argument("--n-signal", type=int, help="training crop in samples (RAVE: 131072)")
    train.add_argument("--channels", type=int, help="channels (default: the dataset's)")
    train.add_argument("--workers", type=int, help="dataloader workers (RAVE: 8)")
    train.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a gin binding, e.g. PHASE_1_DURATION=200000; repeatable",
    )
    train.add_argument("--project", type=int, default=1, help="project id (default: 1)")
    train.add_argument(
        "--executor",
        choices=("local", "slurm", "ssh"),
        help="where the run executes: this machine (default), a SLURM cluster, or a "
        "machine reached with ssh (with --remote)",
    )
    train.add_argument(
        "--remote",
        metavar="NAME",
        help="with --executor ssh: the remote to train on (`ravelab remote list`)",
    )
    slurm = train.add_argument_group(
        "SLURM (with --executor slurm; each overrides its stored setting, `ravelab slurm show`)"
    )
    for flag, (_, text) in TRAIN_SLURM_FLAGS.items():
        slurm.add_argument(
            f"--{flag}", type=int if flag == "cpus" else str, metavar="VALUE", help=text
        )
    slurm.add_argument(
        "--sbatch-line",
        action="append",
        metavar="LINE",
        help="an extra '#SBATCH ...' line; repeatable (replaces the stored lines)",
    )
    train.add_argument(
        "--queue",
        action="store_true",
        help="wait for the device (--gpu) and start when the run before it there ends "
        "(at once when the device is free); `ravelab queue` lists the queue",
    )
    train.add_argument(
        "--then-export",
        nargs="?",
        const="best",
        choices=("best", "latest"),
        metavar="best|latest",
        help="once the run completes, export that checkpoint (default: best)",
    )
    train.add_argument(
        "--keep",
        metavar="N|all",
        help="periodic checkpoints (--save-every) the run keeps; best and latest always stay "
        "(default: the setting keep_periodic_checkpoints, else all)",
    )
    train.add_argument(
        "--follow", action="store_true", help="show the log and progress until the run ends"
    )
    train.add_argument("--json", action="store_true", help="print the experiment as JSON")
    train.set_defaults(handler=cmd_train)

    listing = subparsers.add_parser("list", help="list experiments with their real status")
    listing.add_argument("--project", type=int, help="only this project's experiments")
    listing.add_argument(
        "--filter",
        metavar="TEXT",
        help="only runs whose id, name, dataset, status, config, tags or notes hold every "
        "word of TEXT (tag:x needs the tag x)",
    )
    listing.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="only runs tagged TAG; repeatable"
    )
    shown_runs = listing.add_mutually_exclusive_group()
    shown_runs.add_argument("--archived", action="store_true", help="only archived runs")
    shown_runs.add_argument("--all", action="store_true", help="archived runs too")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=cmd_list)

    show = subparsers.add_parser("show", help="show one experiment")
    show.add_argument("experiment", metavar="ID", help="experiment id or name")
    show.add_argument("--json", action="store_true", help="print the experiment as JSON")
    show.set_defaults(handler=cmd_show)

    logs = subparsers.add_parser("logs", help="print a run's output")
    logs.add_argument("experiment", metavar="ID", help="experiment id or name")
    logs.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing as the run writes, with a progress line",
    )
    logs.add_argument(
        "--stream",
        choices=("both", "stdout", "stderr"),
        default="both",
        help="which of rave's streams to print (default: both)",
    )
    logs.add_argument(
        "--merged",
        action="store_true",
        help="both streams in arrival order, each line with its time and stream, and a "
        "line per attempt (runs started before merged.log existed: the two files)",
    )
    logs.set_defaults(handler=cmd_logs)

    imported = subparsers.add_parser(
        "import-run",
        help="bring in a run trained outside ravelab (plain `rave train`)",
        description="Creates an experiment from a RAVE run folder's config.gin and TensorBoard "
        "events (losses, validation clips, checkpoints).",
    )
    imported.add_argument(
        "path", metavar="RUN_DIR", help="the <name>_<hash> folder, or the --out_path holding one"
    )
    imported.add_argument("--name", help="the experiment's name (default: the run's)")
    imported.add_argument("--dataset", help="the dataset it was trained on (id or name)")
    imported.add_argument("--project", type=int, default=1, help="project id (default: 1)")
    imported.add_argument(
        "--n-signal",
        type=count_argument,
        metavar="N",
        help="the --n_signal it was trained with (RAVE does not store it; it splits the "
        "validation clips into their pairs)",
    )
    imported.add_argument("--json", action="store_true", help="print the experiment as JSON")
    imported.set_defaults(handler=cmd_import_run)

    stop = subparsers.add_parser(
        "stop",
        help="stop a run (SIGINT, then SIGTERM, then SIGKILL)",
        description="RAVE writes no checkpoint when stopped: what was trained since the last "
        "validation is lost.",
    )
    stop.add_argument("experiment", metavar="ID", help="experiment id or name")
    stop.add_argument(
        "--at-checkpoint",
        action="store_true",
        help="stop once RAVE has written its next checkpoint (nothing is lost)",
    )
    stop.add_argument("--no-wait", action="store_true", help="return at once")
    stop.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the run to end (default: 60)",
    )
    stop.set_defaults(handler=cmd_stop)


#: ``train``'s SLURM flags: the executor option each sets, and its help.
TRAIN_SLURM_FLAGS = {
    "partition": ("partition", "SLURM partition (sbatch --partition)"),
    "account": ("account", "account to charge (sbatch --account)"),
    "time": ("time", "time limit, e.g. 12:00:00 or 2-00:00:00 (sbatch --time)"),
    "gres": ("gres", "generic resources, e.g. gpu:1 (sbatch --gres)"),
    "cpus": ("cpus", "CPUs (sbatch --cpus-per-task)"),
    "mem": ("mem", "memory, e.g. 32G (sbatch --mem)"),
}


def _with_executor(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``config`` with ``executor`` and ``executor_options`` from train's flags."""
    options = {
        option: getattr(args, flag)
        for flag, (option, _) in TRAIN_SLURM_FLAGS.items()
        if getattr(args, flag) is not None
    }
    if args.sbatch_line:
        options["extra"] = args.sbatch_line
    executor = args.executor or config.get("executor") or "local"
    remote = getattr(args, "remote", None)
    if remote:
        if args.executor not in (None, "ssh"):
            raise ConfigError(f"--remote is for runs over ssh, not --executor {args.executor}")
        executor = "ssh"
        config["executor"] = "ssh"
        options["remote"] = remote
    known = (config.get("executor_options") or {}).get("remote")
    if executor == "ssh" and not remote and not known:
        raise ConfigError("--executor ssh needs --remote NAME (`ravelab remote list`)")
    if options.keys() - {"remote"} and executor != "slurm":
        raise ConfigError(
            "--partition, --account, --time, --gres, --cpus, --mem and --sbatch-line are for "
            "SLURM runs: add --executor slurm"
        )
    if args.executor:
        config["executor"] = args.executor
    if options:
        config["executor_options"] = {**(config.get("executor_options") or {}), **options}
    return config


def _warn_if_short_of_space(ctx: Context, record: ExperimentRecord, runs_dir: Path) -> None:
    """A warning line when the run's disk may not hold what it will write (never fatal:
    the figure is an estimate)."""
    from ravelab.core.operations.checkpoint_retention import effective_keep
    from ravelab.core.operations.disk_space import check_run_space

    if record.executor != "local":
        return
    check = check_run_space(
        record.config, record.run_dir or runs_dir, effective_keep(ctx.db, record.id)
    )
    warning = check.warning()
    if warning:
        ctx.err.write(f"warning: {warning}\n")


def _remote_line(record: ExperimentRecord) -> list[str]:
    """``show``'s line naming where an SSH run's folder is (the local one mirrors it)."""
    if record.executor != "ssh":
        return []
    from ravelab.core.ssh.executor import remote_place

    return [f"  runs on     {remote_place(record.run_dir) or 'a remote (remote.json missing)'}"]


def _progress_line(ctx: Context) -> Callable[[str], None]:
    """What a launch elsewhere is doing, on stderr: rsync's progress redrawn in place on
    a terminal, every other line as it comes."""
    terminal = ctx.err.isatty()

    def say(line: str) -> None:
        if "%" in line:
            if terminal:
                ctx.err.write(f"\r  {line}\033[K")
                ctx.err.flush()
            return
        if terminal:
            ctx.err.write("\n" if line.startswith("starting") else "")
        ctx.err.write(f"{line}\n")
        ctx.err.flush()

    return say


def cmd_train(ctx: Context) -> int:
    from ravelab.cli.follow import follow_run
    from ravelab.core.datasets import resolve_dataset

    args = ctx.args
    manager = ctx.manager(follow=False)
    given: dict[str, Any] = {
        "name": args.name,
        "config": args.config,
        "modifiers": args.modifier,
        "augment": args.augment,
        "overrides": args.override,
        "project_id": args.project,
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "gpu": args.gpu,
        "val_every": args.val_every,
        "save_every": args.save_every,
        "n_signal": args.n_signal,
        "channels": args.channels,
        "workers": args.workers,
    }
    if args.dataset:
        dataset = resolve_dataset(ctx.db, args.dataset)
        given.update(dataset_id=dataset.id, dataset_path=dataset.path)
    if args.source:
        config = manager.clone_config(ctx.experiment(args.source).id, **given)
    elif not args.dataset:
        raise ConfigError("--dataset is required (or --from ID to clone a run's settings)")
    else:
        config = {key: value for key, value in given.items() if value is not None}
    config = _with_executor(config, args)
    if args.queue:
        experiment_id = manager.queue_training(
            config, then_export=args.then_export, keep_periodic=args.keep
        )
    else:
        experiment_id = manager.start_training(
            config,
            then_export=args.then_export,
            keep_periodic=args.keep,
            progress=_progress_line(ctx) if config.get("executor") == "ssh" else None,
        )
        from ravelab.core.rave.gpu_memory import training_warnings  # GPU busy, too small

        for warning in training_warnings(ctx.db, experiment_id):
            ctx.err.write(f"ravelab: warning: {warning}\n")
    record = manager.get_record(experiment_id)
    assert record is not None
    _warn_if_short_of_space(ctx, record, manager.runs_dir)
    if args.json:
        print_json(_with_queue_place(ctx, manager.get_experiment(experiment_id)), ctx.out)
    elif record.run_dir is None:
        from ravelab.core.operations.queue import queue_positions

        entry = queue_positions(ctx.db).get(experiment_id)
        place = entry.label if entry is not None else str(record.status)
        waits = f", waiting for {entry.waits_for}" if entry is not None else ""
        ctx.out.write(
            f"queued run {experiment_id} '{args.name}': {place}{waits}\n"
            "`ravelab queue` lists the queue; it starts with no app or command open\n"
            + (
                f"it has not started: follow it with `ravelab logs {experiment_id} --follow` "
                "once it runs\n"
                if args.follow
                else ""
            )
        )
    else:
        ctx.out.write(
            f"started run {experiment_id} '{args.name}' in {record.run_dir}\n"
            f"command: {_command_line(record.argv)}\n"
        )
        if record.job_id:
            ctx.out.write(
                f"SLURM job {record.job_id} ({record.status}"
                + (f": {record.reason}" if record.reason else "")
                + f"); its batch script is {record.run_dir}/slurm-job.sh\n"
            )
        if not args.follow:
            ctx.out.write(
                f"follow it with `ravelab logs {experiment_id} --follow`; "
                f"stop it with `ravelab stop {experiment_id}`\n"
            )
    ctx.out.flush()
    if args.follow and record.run_dir is not None:
        return follow_run(ctx, experiment_id)
    return ExitCode.OK


def _with_queue_place(ctx: Context, experiment: dict[str, Any] | None) -> dict[str, Any] | None:
    """An experiment's dict with ``queue`` (its device, place and what it waits for)
    when it is queued."""
    if experiment is None or experiment.get("status") != RunStatus.QUEUED:
        return experiment
    from ravelab.core.operations.queue import queue_positions

    entry = queue_positions(ctx.db).get(int(experiment["id"]))
    return {**experiment, "queue": entry.as_dict() if entry is not None else None}


def _queue_places(ctx: Context) -> dict[int, Any]:
    """Each queued run's place (``QueueEntry``), by id."""
    from ravelab.core.operations.queue import queue_positions

    return queue_positions(ctx.db)


def _status_text(record: ExperimentRecord, places: dict[int, Any] | None = None) -> str:
    status = str(record.status)
    launched = record.pid is not None or record.job_id is not None
    entry = (places or {}).get(record.id)
    if entry is not None:
        status = entry.label
    elif record.status == RunStatus.STOPPED and record.ended_at is None and launched:
        status = STOPPING
    elif record.status == RunStatus.RUNNING and record.progress.stopping_at_checkpoint:
        status = "running, stopping at checkpoint"
    health = record.health
    return status if health == Health.OK else f"{status} ({health})"


def cmd_import_run(ctx: Context) -> int:
    from ravelab.core.datasets import resolve_dataset
    from ravelab.core.jobs.importer import import_run

    args = ctx.args
    dataset_id = resolve_dataset(ctx.db, args.dataset).id if args.dataset else None
    experiment_id = import_run(
        ctx.db,
        args.path,
        name=args.name,
        dataset_id=dataset_id,
        project_id=args.project,
        n_signal=args.n_signal,
    )
    manager = ctx.manager(follow=False)
    if args.json:
        print_json(manager.get_experiment(experiment_id), ctx.out)
    else:
        record = manager.get_record(experiment_id)
        assert record is not None
        points = run_queries.count_points(ctx.db, experiment_id)
        ctx.out.write(
            f"imported run {experiment_id} '{record.name}' from {record.run_dir}: "
            f"{points} metric points, step {record.progress.step}\n"
        )
    return ExitCode.OK


def cmd_list(ctx: Context) -> int:
    ctx.settle()  # re-attaching settles runs that ended meanwhile
    experiments = _listed(run_queries.list_experiments(ctx.db, ctx.args.project), ctx.args)
    if ctx.args.json:
        places = _queue_places(ctx)
        print_json(
            [
                {**record.as_dict(), "queue": places[record.id].as_dict()}
                if record.id in places
                else record.as_dict()
                for record in experiments
            ],
            ctx.out,
        )
        return ExitCode.OK
    if not experiments:
        if ctx.args.filter or ctx.args.tag or ctx.args.archived:
            ctx.out.write("no experiment matches\n")
        elif run_queries.list_experiments(ctx.db, ctx.args.project):
            ctx.out.write("every experiment is archived: `ravelab list --all` shows them\n")
        else:
            ctx.out.write("no experiments yet: start one with `ravelab train`\n")
        return ExitCode.OK
    rows = []
    places = _queue_places(ctx)
    for record in experiments:
        progress = record.progress
        config = record.config
        rows.append(
            (
                record.id,
                record.name,
                record.dataset_name or "-",
                "+".join([str(config.get("config", "?")), *config.get("modifiers", [])]),
                _status_text(record, places),
                f"{progress.step}/{progress.max_steps or '?'}",
                speed(progress.speed),
                local_time(record.started_at),
                duration(lifetime.run_seconds(record)),
                ", ".join(record.tags)[:30],
                "" if record.id in places else (record.reason or "")[:60],
            )
        )
    headers = (
        "ID",
        "NAME",
        "DATASET",
        "CONFIG",
        "STATUS",
        "STEP",
        "SPEED",
        "STARTED",
        "DURATION",
        "TAGS",
        "REASON",
    )
    ctx.out.write(table(headers, rows) + "\n")
    return ExitCode.OK


def _listed(records: list[ExperimentRecord], args: argparse.Namespace) -> list[ExperimentRecord]:
    """The runs ``list`` shows: archived ones only with --archived or --all, then the
    filter and the tags."""
    if not args.all:
        records = [record for record in records if record.archived == args.archived]
    if args.filter:
        records = [record for record in records if lifetime.matches_filter(record, args.filter)]
    for tag in args.tag:
        wanted = lifetime.check_tag(tag).casefold()
        records = [r for r in records if wanted in {t.casefold() for t in r.tags}]
    return records


def cmd_show(ctx: Context) -> int:
    asked = ctx.experiment(ctx.args.experiment)
    ctx.settle()
    record = run_queries.get_experiment(ctx.db, asked.id)  # re-attaching may have settled it
    assert record is not None
    points = run_queries.count_points(ctx.db, record.id)
    names = run_queries.metric_names(ctx.db, record.id)
    if ctx.args.json:
        shown = {**record.as_dict(), "metric_points": points, "metric_names": names}
        print_json(_with_queue_place(ctx, shown), ctx.out)
        return ExitCode.OK
    progress = record.progress
    config = record.config
    places = _queue_places(ctx) if record.status == RunStatus.QUEUED else {}
    epoch = "-" if progress.epoch is None else progress.epoch
    lines = [
        f"experiment {record.id} '{record.name}'",
        f"  status      {_status_text(record, places)}"
        + (f" ({record.reason})" if record.reason and record.id not in places else "")
        + (f", waiting for {places[record.id].waits_for}" if record.id in places else ""),
        f"  health      {record.health}"
        + (f": {record.health_detail}" if record.health_detail else ""),
        f"  dataset     {record.dataset_name or '-'} ({config.get('dataset_path', '-')})",
        f"  config      {'+'.join([str(config.get('config')), *config.get('modifiers', [])])}",
        f"  progress    {progress_bar(progress.step, progress.max_steps)}"
        f" step {progress.step}/{progress.max_steps or '?'}, epoch {epoch}",
        f"  phase       {_phase_text(progress)}",
        f"  speed       {speed(progress.speed)}, ETA {duration(progress.eta_s)}",
        f"  started     {local_time(record.started_at)}, trained "
        f"{duration(lifetime.run_seconds(record))}"
        + (f" in {record.attempts} attempts" if record.attempts > 1 else ""),
        f"  run folder  {record.run_dir}"
        + ("" if not record.run_dir or Path(record.run_dir).is_dir() else " (missing)"),
        *_remote_line(record),
        f"  command     {_command_line(record.argv) if record.argv else '-'}",
        f"  exit code   {record.exit_code if record.exit_code is not None else '-'}",
        f"  metrics     {points} points: {', '.join(names) or '-'}",
    ]
    if record.tags:
        lines.append(f"  tags        {', '.join(record.tags)}")
    if record.archived:
        lines.append(f"  archived    {local_time(record.archived_at)}")
    if record.notes:
        lines.append("  notes       " + record.notes.replace("\n", "\n              "))
    latest = {k: v for k, v in record.metrics.items() if k not in ("step",)}
    if latest:
        lines.append(
            "  latest      "
            + ", ".join(
                f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in sorted(latest.items())
            )
        )
    ctx.out.write("\n".join(lines) + "\n")
    return ExitCode.OK


def _phase_text(progress: RunProgress) -> str:
    phase = progress.phase
    if phase is None:
        return "-"
    name = "representation" if phase == 1 else "adversarial"

    def shown(value: int | None) -> object:
        return "-" if value is None else value

    return (
        f"{phase} ({name}): step {shown(progress.phase_step)} of "
        f"{shown(progress.phase_total)}; phase 1 lasts "
        f"{shown(progress.phase_1_duration)} steps"
    )


def cmd_logs(ctx: Context) -> int:
    from ravelab.cli.follow import follow_run
    from ravelab.core.runs.log_tail import LogTail
    from ravelab.core.runs.text_stream import collapse_transient

    record = ctx.experiment(ctx.args.experiment)
    if record.run_dir is None:
        ctx.err.write(f"experiment {record.id} has no run folder (it never started)\n")
        return ExitCode.NOT_FOUND
    if not Path(record.run_dir).is_dir():
        # Printing nothing would read as a run that wrote nothing.
        ctx.err.write(
            f"experiment {record.id}'s run folder {record.run_dir} is missing: it was moved "
            "or deleted (put it back there to read its logs)\n"
        )
        return ExitCode.NOT_FOUND
    if ctx.args.follow and record.ended_at is None:
        return follow_run(ctx, record.id)
    if ctx.args.merged and _print_merged(ctx, Path(record.run_dir)):
        return ExitCode.OK
    streams = ("stdout", "stderr") if ctx.args.stream == "both" else (ctx.args.stream,)
    for stream in streams:
        tail = LogTail(Path(record.run_dir), (stream,))
        lines = [line for _, line in tail.finish()]
        target = ctx.out if stream == "stdout" else ctx.err
        for text in collapse_transient(lines):
            target.write(text + "\n")
    return ExitCode.OK


def _print_merged(ctx: Context, run_dir: Path) -> bool:
    """Print ``merged.log`` (``--stream`` still picks streams); False when the run has none."""
    from ravelab.core.runs.merged_log import MergedLogReader

    reader = MergedLogReader(run_dir)
    if not reader.exists():
        ctx.err.write("this run has no merged.log (it started before ravelab wrote one): ")
        ctx.err.write("its two files follow\n")
        return False
    wanted = {"stdout", "stderr"} if ctx.args.stream == "both" else {ctx.args.stream}
    tags = {"stdout": "out", "stderr": "err"}
    while True:
        found = reader.read(final=True)
        for item in found.records + found.bars:
            when = item.time  # UTC
            if item.stream == "run":
                event = item.event()
                what = (
                    f"attempt {event.get('attempt', '?')} ended (exit code "
                    f"{event.get('exit_code')})"
                    if "exit_code" in event
                    else f"attempt {event.get('attempt', '?')} started"
                    + (f" from {event['resumed_from']}" if event.get("resumed_from") else "")
                )
                ctx.out.write(f"{when} --- {what} ---\n")
            elif item.stream in wanted:
                ctx.out.write(f"{when} {tags[item.stream]} {item.text}\n")
        if not found.more:
            return True


def cmd_stop(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    manager = ctx.manager(follow=False)
    record = ctx.experiment(str(record.id))  # re-read: creating the manager may settle it
    lost = None
    if record.status == RunStatus.RUNNING and not ctx.args.at_checkpoint:
        lost = manager.steps_since_checkpoint(record.id)
    if not manager.stop_training(record.id, at_checkpoint=ctx.args.at_checkpoint):
        record = ctx.experiment(str(record.id))  # re-read: it may have been settled just now
        ctx.err.write(f"run {record.id} '{record.name}' is not running (status: {record.status})\n")
        return ExitCode.INVALID
    if lost is not None and lost > 0:  # said once the stop is accepted, never for a refusal
        ctx.err.write(
            f"warning: RAVE writes no checkpoint when stopped: the {lost} steps since the "
            f"last checkpoint are lost (`ravelab stop {record.id} --at-checkpoint` waits "
            "for the next one)\n"
        )
    when = " at its next checkpoint" if ctx.args.at_checkpoint else ""
    ctx.out.write(f"asked run {record.id} '{record.name}' to stop{when}\n")
    ctx.out.flush()
    if ctx.args.at_checkpoint:
        # The next checkpoint may be hours away (every --val-every steps): do not wait.
        ctx.out.write("it keeps training until then; `ravelab list` shows when it stopped\n")
        return ExitCode.OK
    if ctx.args.no_wait:
        return ExitCode.OK
    deadline = time.monotonic() + ctx.args.timeout
    while time.monotonic() < deadline:
        manager.refresh(record.id)
        current = run_queries.get_experiment(ctx.db, record.id)
        if (
            current is not None
            and current.ended_at is not None
            and not manager.processes_live(record.id)
        ):
            ctx.out.write(f"run {record.id} stopped (exit code {current.exit_code})\n")
            return ExitCode.OK
        time.sleep(0.2)
    ctx.err.write(f"run {record.id} is still shutting down after {ctx.args.timeout:.0f} s\n")
    return ExitCode.OK


def _command_line(argv: list[str]) -> str:
    """``argv`` as a shell would read it (:mod:`shlex` is imported only to show a run)."""
    import shlex

    return shlex.join(argv)
