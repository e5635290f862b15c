"""``ravelab dataset create|remove``, ``resume``, ``export``, ``models``
(and ``models check``), ``jobs``, ``diff``: the workflow from raw audio to an exported model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ravelab.cli.context import Context, finite_argument, whole_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import duration, print_json, table
from ravelab.core import dataset_catalog
from ravelab.core.datasets import resolve_dataset
from ravelab.core.rave.preprocess_defaults import AUDIO_EXTENSIONS, DEFAULT_NUM_SIGNAL
from ravelab.core.runs import run_queries
from ravelab.core.runs.compare import diff_configs
from ravelab.db import JobRecord, RunStatus

if TYPE_CHECKING:
    from ravelab.core.rave.model_check import CheckSummary


def add_dataset_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``dataset create`` and ``dataset remove`` (added to the ``dataset`` group)."""
    create = sub.add_parser(
        "create",
        help="preprocess raw audio into a dataset (runs `rave preprocess`)",
        description="Checks the audio first (ffmpeg, files, lengths, size), then runs "
        "`rave preprocess` as a managed job and checks what it wrote.",
    )
    create.add_argument("inputs", nargs="+", metavar="AUDIO_DIR", help="folders of audio")
    create.add_argument("--name", required=True, help="the dataset's name")
    create.add_argument(
        "--output", help="where to write it (default: datasets/NAME next to the database)"
    )
    create.add_argument("--sample-rate", type=whole_argument, default=44_100, help="default: 44100")
    create.add_argument("--channels", type=whole_argument, default=1, help="default: 1")
    create.add_argument(
        "--num-signal",
        type=whole_argument,
        default=DEFAULT_NUM_SIGNAL,
        help="chunk unit in samples; chunks are 2 x this (default: 131072)",
    )
    create.add_argument(
        "--lazy",
        action="store_true",
        help="store file references only; audio is decoded while training",
    )
    create.add_argument(
        "--ext",
        action="append",
        metavar="EXT",
        help=f"audio extensions (default: {' '.join(AUDIO_EXTENSIONS)})",
    )
    create.add_argument(
        "--check", action="store_true", help="only run the health check, start nothing"
    )
    create.add_argument("--no-wait", action="store_true", help="return once it has started")
    create.add_argument("--json", action="store_true", help="print the result as JSON")
    create.set_defaults(handler=cmd_dataset_create)

    remove = sub.add_parser(
        "remove",
        help="unregister a dataset (never deletes your audio)",
        description="Refused while experiments use the dataset. The preprocessed folder is "
        "kept unless --delete-preprocessed is given (only for datasets ravelab created).",
    )
    remove.add_argument("dataset", help="dataset id or name")
    remove.add_argument(
        "--delete-preprocessed",
        action="store_true",
        help="also delete the preprocessed folder ravelab wrote",
    )
    remove.set_defaults(handler=cmd_dataset_remove)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resume = subparsers.add_parser(
        "resume",
        help="continue a stopped or failed run, or extend a completed one, from a checkpoint",
    )
    resume.add_argument("experiment", metavar="ID", help="experiment id or name")
    resume.add_argument("--checkpoint", help="a .ckpt path (default: the newest checkpoint)")
    resume.add_argument("--max-steps", type=whole_argument, help="a new max steps")
    resume.add_argument("--follow", action="store_true", help="show the log until it ends")
    resume.set_defaults(handler=cmd_resume)

    export = subparsers.add_parser(
        "export",
        help="export a .ts model for nn~ (runs `rave export`)",
    )
    export.add_argument("experiment", metavar="ID", help="experiment id or name")
    export.add_argument(
        "--checkpoint", default="best", help="best (default), latest, or a .ckpt path"
    )
    export.add_argument(
        "--streaming",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cached convolutions for realtime use in nn~ (default: on)",
    )
    export.add_argument(
        "--fidelity", type=finite_argument, help="latent fidelity 0.1-0.999 (RAVE: 0.95)"
    )
    export.add_argument("--output", help="the .ts file to write (default: next to the checkpoint)")
    export.add_argument("--no-wait", action="store_true", help="return once it has started")
    export.add_argument("--json", action="store_true", help="print the model as JSON")
    export.set_defaults(handler=cmd_export)

    models = subparsers.add_parser(
        "models",
        help="list exported models and their origin",
        description="With the export check of each model (will it load and play in nn~?) "
        "and a warning when the torch that exported it is newer than the libtorch inside "
        "the targeted nn~ release.",
    )
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument(
        "--nn-tilde",
        metavar="VERSION",
        help="the nn~ release you play models in (default: the newest ravelab knows)",
    )
    models.set_defaults(handler=cmd_models)
    models_sub = models.add_subparsers(dest="models_command", metavar="check")
    check = models_sub.add_parser(
        "check", help="run the export check again (also on models exported before it existed)"
    )
    check.add_argument("model", type=whole_argument, metavar="MODEL_ID")
    check.add_argument("--json", action="store_true", help="print the check as JSON")
    check.add_argument("--nn-tilde", metavar="VERSION", help=argparse.SUPPRESS)
    check.set_defaults(handler=cmd_models_check)

    jobs = subparsers.add_parser("jobs", help="list preprocess and export jobs")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(handler=cmd_jobs)

    stop_job = subparsers.add_parser("stop-job", help="stop a preprocess or export job")
    stop_job.add_argument("job", type=whole_argument, metavar="JOB_ID")
    stop_job.set_defaults(handler=cmd_stop_job)

    diff = subparsers.add_parser("diff", help="show which settings differ between two runs")
    diff.add_argument("first", metavar="ID", help="experiment id or name")
    diff.add_argument("second", metavar="ID", help="experiment id or name")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.set_defaults(handler=cmd_diff)


def _wait_job(ctx: Context, job_id: int) -> JobRecord:
    manager = ctx.manager(follow=False)
    shown = ""
    while True:
        manager.jobs.refresh(job_id)
        job = manager.jobs.get_job(job_id)
        progress = job.progress
        if job.kind == "preprocess":
            text = (
                f"preprocessing: {progress.chunks if progress.chunks is not None else 0} chunks, "
                f"{duration(progress.audio_seconds)} of audio"
            )
        else:
            text = f"exporting: {progress.stage if progress.stage is not None else 'starting'}"
        if text != shown and ctx.err.isatty():
            ctx.err.write("\r\x1b[2K" + text)
            ctx.err.flush()
            shown = text
        if job.ended_at is not None:
            if ctx.err.isatty():
                ctx.err.write("\r\x1b[2K")
            return job
        time.sleep(0.2)


def _job_exit(job: JobRecord) -> int:
    if job.status == RunStatus.COMPLETED:
        return ExitCode.OK
    return ExitCode.RUN_STOPPED if job.status == RunStatus.STOPPED else ExitCode.RUN_FAILED


def cmd_dataset_create(ctx: Context) -> int:
    args = ctx.args
    manager = ctx.manager(follow=False)
    if args.check:
        report = manager.jobs.check_dataset_inputs(
            args.inputs,
            num_signal=args.num_signal,
            sample_rate=args.sample_rate,
            extensions=args.ext or AUDIO_EXTENSIONS,
        )
        if args.json:
            print_json(report.as_dict(), ctx.out)
        else:
            ctx.out.write(f"{len(report.files)} audio files, {report.kept_chunks} chunks kept\n")
            for line in report.problems:
                ctx.out.write(f"problem: {line}\n")
            for line in report.warnings:
                ctx.out.write(f"warning: {line}\n")
        return ExitCode.OK if report.ok else ExitCode.INVALID
    job_id, dataset_id, report = manager.jobs.create_dataset(
        args.inputs,
        args.name,
        output=args.output,
        sample_rate=args.sample_rate,
        channels=args.channels,
        num_signal=args.num_signal,
        lazy=args.lazy,
        extensions=args.ext,
    )
    for line in report.warnings:
        ctx.err.write(f"warning: {line}\n")
    ctx.out.write(
        f"preprocessing dataset {dataset_id} '{args.name}' (job {job_id}): "
        f"{len(report.files)} files, {report.kept_chunks} chunks expected\n"
    )
    ctx.out.flush()
    if args.no_wait:
        return ExitCode.OK
    job = _wait_job(ctx, job_id)
    dataset = dataset_catalog.get_dataset(ctx.db, dataset_id)
    assert dataset is not None
    if args.json:
        print_json({"job": job.as_dict(), "dataset": dataset.as_dict()}, ctx.out)
    elif job.status == RunStatus.COMPLETED:
        ctx.out.write(
            f"dataset {dataset_id} '{dataset.name}' ready: {dataset.channels} "
            f"channel(s), {dataset.sample_rate} Hz, {duration(dataset.n_seconds)}\n"
        )
    else:
        ctx.err.write(
            f"dataset {dataset_id} '{dataset.name}' {dataset.status}: "
            f"{job.reason or dataset.reason}\n"
        )
    return _job_exit(job)


def cmd_dataset_remove(ctx: Context) -> int:
    dataset = dataset_catalog.remove_dataset(ctx.db, resolve_dataset(ctx.db, ctx.args.dataset).id)
    ctx.out.write(f"removed dataset {dataset.id} '{dataset.name}' from ravelab\n")
    if ctx.args.delete_preprocessed:
        if dataset.job_id is None:
            ctx.err.write(f"kept {dataset.path}: ravelab did not create it\n")
        else:
            _delete_preprocessed(ctx, Path(dataset.path))
    return ExitCode.OK


#: What ``rave preprocess`` writes in its output folder (an LMDB environment).
PREPROCESS_FILES = ("data.mdb", "lock.mdb", "metadata.yaml")


def _delete_preprocessed(ctx: Context, folder: Path) -> None:
    """Delete the files ``rave preprocess`` wrote, then the folder if nothing else is in
    it: anything else there (a user's file, a folder) is kept and named, never removed."""
    for name in PREPROCESS_FILES:
        path = folder / name
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError as error:
            ctx.err.write(f"could not delete {path}: {error.strerror or error}\n")
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        try:
            left = sorted(p.name for p in folder.iterdir())
        except OSError:
            left = []
        ctx.err.write(
            f"kept {folder}: it holds files rave preprocess did not write "
            f"({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})\n"
        )
        return
    ctx.out.write(f"deleted the preprocessed folder {folder}\n")


def cmd_resume(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    manager = ctx.manager(follow=False)
    manager.resume_training(record.id, checkpoint=ctx.args.checkpoint, max_steps=ctx.args.max_steps)
    experiment = manager.get_experiment(record.id)
    assert experiment is not None
    resumed_from = experiment["progress"].get("resumed_from")
    steps = {c["path"]: c["step"] for c in manager.list_checkpoints(record.id)}
    step = steps.get(resumed_from)
    ctx.out.write(
        f"resumed run {record.id} '{record.name}' from {resumed_from}"
        + (f" (step {step})" if isinstance(step, int) else "")
        + "\n"
    )
    ctx.out.flush()
    if ctx.args.follow:
        from ravelab.cli.follow import follow_run

        return follow_run(ctx, record.id)
    return ExitCode.OK


def cmd_export(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    manager = ctx.manager(follow=False)
    job_id = manager.jobs.export_model(
        record.id,
        checkpoint=ctx.args.checkpoint,
        streaming=ctx.args.streaming,
        fidelity=ctx.args.fidelity,
        output=ctx.args.output,
    )
    job = manager.jobs.get_job(job_id)
    ctx.out.write(
        f"exporting run {record.id} '{record.name}' from "
        f"{job.options['checkpoint']} (job {job_id})\n"
    )
    if job.options.get("stereo_config_fixed"):
        ctx.out.write(
            "added RAVE.n_channels to config.gin so the stereo model exports "
            "(RAVE 2.3.1 leaves it out; the original is config.gin.orig)\n"
        )
    ctx.out.flush()
    if ctx.args.no_wait:
        return ExitCode.OK
    job = _wait_job(ctx, job_id)
    models = [m for m in run_queries.list_models(ctx.db, record.id) if m.job_id == job_id]
    if job.status == RunStatus.COMPLETED and models:
        model = models[0]
        if ctx.args.json:
            print_json(model.as_dict(), ctx.out)
        else:
            from ravelab.core.rave.model_check import summarize

            ctx.out.write(
                f"model {model.id}: {model.path} ({model.size_bytes / 1e6:.1f} MB, "
                f"{'streaming' if model.streaming else 'not streaming'})\n"
            )
            if model.check_result is not None:
                _write_check(ctx, model.id, summarize(model))
    else:
        ctx.err.write(f"export {job.status}: {job.reason}\n")
    return _job_exit(job)


def cmd_models(ctx: Context) -> int:
    from ravelab.core.rave.model_check import NEWEST_NN_TILDE, libtorch_of, summarize

    nn_tilde = ctx.args.nn_tilde or NEWEST_NN_TILDE
    libtorch_of(nn_tilde)  # an unknown release is refused before anything is printed
    models = run_queries.list_models(ctx.db)
    if ctx.args.json:
        listed = []
        for model in models:
            summary = summarize(model, nn_tilde)
            listed.append(
                {
                    **model.as_dict(),
                    "check": summary.state,
                    "problems": summary.problems,
                    "warnings": summary.warnings,
                }
            )
        print_json(listed, ctx.out)
        return ExitCode.OK
    if not models:
        ctx.out.write("no exported models yet: `ravelab export ID` makes one\n")
        return ExitCode.OK
    rows = []
    notes = []
    for model in models:
        experiment = ctx.experiment(str(model.experiment_id)) if model.experiment_id else None
        summary = summarize(model, nn_tilde)
        check = summary.state + (" (warning)" if summary.warnings and summary.state == "ok" else "")
        rows.append(
            (
                model.id,
                experiment.name if experiment else "-",
                "yes" if model.streaming else "no",
                model.fidelity or "-",
                model.step if model.step is not None else "-",
                f"{model.size_bytes / 1e6:.1f} MB",
                model.torch_version or "-",
                check,
                model.path,
            )
        )
        notes += [f"model {model.id}: problem: {p}" for p in summary.problems]
        notes += [f"model {model.id}: warning: {w}" for w in summary.warnings]
    ctx.out.write(
        table(
            ("ID", "RUN", "STREAMING", "FIDELITY", "STEP", "SIZE", "TORCH", "CHECK", "PATH"),
            rows,
        )
        + "\n"
    )
    for note in notes:
        ctx.out.write(note + "\n")
    if any(r[7] == "not checked" for r in rows):
        ctx.out.write("`ravelab models check ID` checks a model (nn~ target: " + nn_tilde + ")\n")
    return ExitCode.OK


def cmd_models_check(ctx: Context) -> int:
    from ravelab.core.rave.model_check import NEWEST_NN_TILDE, check_model, summarize

    nn_tilde = ctx.args.nn_tilde or NEWEST_NN_TILDE
    tty = ctx.err.isatty()
    if tty:
        ctx.err.write(f"checking model {ctx.args.model} in RAVE's environment...")
        ctx.err.flush()
    model = check_model(ctx.db, ctx.args.model, rave=ctx.args.rave)
    if tty:
        ctx.err.write("\r\x1b[2K")
    summary = summarize(model, nn_tilde)
    if ctx.args.json:
        print_json(
            {
                "model": model.id,
                "check": summary.state,
                "problems": summary.problems,
                "warnings": summary.warnings,
                "result": summary.result,
            },
            ctx.out,
        )
    else:
        _write_check(ctx, model.id, summary)
    return ExitCode.OK if summary.state == "ok" else ExitCode.RUN_FAILED


def _write_check(ctx: Context, model_id: int, summary: CheckSummary) -> None:
    result = summary.result
    attributes = result.get("attributes") or {}
    stream = result.get("stream") or {}
    line = f"model {model_id} check: {summary.state}"
    if result.get("torch_version"):
        line += f", torch {result['torch_version']}"
    if attributes:
        line += (
            f", {attributes.get('sr')} Hz, {attributes.get('n_channels')} ch in, "
            f"{attributes.get('target_channels')} ch out, latent "
            f"{attributes.get('latent_size')}/{attributes.get('full_latent_size')}"
        )
    if "streaming" in result:
        line += ", streaming" if result["streaming"] else ", not streaming"
    ctx.out.write(line + "\n")
    if result.get("params"):
        methods = ", ".join(f"{name} {values}" for name, values in result["params"].items())
        ctx.out.write(f"methods: {methods}\n")
    if stream:
        ctx.out.write(
            f"stream: {stream.get('blocks')} blocks of {stream.get('block')} through forward, "
            f"{stream.get('ms_per_block')} ms a block ({stream.get('realtime_factor')}x realtime)"
            "\n"
        )
    for problem in summary.problems:
        ctx.out.write(f"problem: {problem}\n")
    for warning in summary.warnings:
        ctx.out.write(f"warning: {warning}\n")


def cmd_jobs(ctx: Context) -> int:
    ctx.settle()  # settles jobs that ended meanwhile
    jobs = run_queries.list_jobs(ctx.db)
    if ctx.args.json:
        print_json([j.as_dict() for j in jobs], ctx.out)
        return ExitCode.OK
    rows = [
        (j.id, j.kind, j.status, j.dataset_id or "-", j.experiment_id or "-", (j.reason or "")[:70])
        for j in jobs
    ]
    ctx.out.write(table(("ID", "KIND", "STATUS", "DATASET", "RUN", "REASON"), rows) + "\n")
    return ExitCode.OK


def cmd_stop_job(ctx: Context) -> int:
    manager = ctx.manager(follow=False)
    if not manager.jobs.stop_job(ctx.args.job):
        ctx.err.write(f"job {ctx.args.job} is not running\n")
        return ExitCode.INVALID
    job = _wait_job(ctx, ctx.args.job)
    ctx.out.write(f"job {job.id} {job.status}\n")
    return ExitCode.OK


def cmd_diff(ctx: Context) -> int:
    first = ctx.experiment(ctx.args.first)
    second = ctx.experiment(ctx.args.second)
    differences = diff_configs(first.config, second.config)
    if ctx.args.json:
        print_json([{"key": k, "first": a, "second": b} for k, a, b in differences], ctx.out)
        return ExitCode.OK
    if not differences:
        ctx.out.write(f"'{first.name}' and '{second.name}' have the same settings\n")
        return ExitCode.OK
    rows = [
        (key, a if a is not None else "-", b if b is not None else "-") for key, a, b in differences
    ]
    ctx.out.write(table(("SETTING", first.name, second.name), rows) + "\n")
    return ExitCode.OK
