"""``ravelab configs | doctor | settings | projects``: what RAVE offers, whether it is
ready, and the projects runs and datasets belong to."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any

from ravelab.cli.commands_slurm import cluster_report, doctor_rows
from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table
from ravelab.core import projects as projects_core
from ravelab.core.errors import ConfigError, RaveNotFoundError
from ravelab.core.gpus import list_gpus
from ravelab.core.names import shown
from ravelab.core.rave import configs as rave_configs
from ravelab.core.rave.environment import (
    DEFAULT_TORCH,
    RAVE_VERSION,
    current_environment,
    install_rave,
)
from ravelab.core.rave.learning_rate import describe_schedule
from ravelab.core.rave.locator import RAVE_SETTING, find_rave, rave_version

#: Settings a user may store, and the key each has in the database.
SETTINGS = {
    "rave": RAVE_SETTING,
    "runs_dir": "runs_dir",
    "stalled_after_minutes": "stalled_after_minutes",
    "keep_periodic_checkpoints": "keep_periodic_checkpoints",
    "disk_low_gb": "disk_low_gb",
    "gpu_sample_seconds": "gpu_sample_seconds",  # the warden's GPU samples (1 to 3600 s)
}


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    configs = subparsers.add_parser("configs", help="RAVE's base configs and modifiers")
    configs.add_argument("--json", action="store_true", help="print JSON")
    configs.set_defaults(handler=cmd_configs)

    doctor = subparsers.add_parser("doctor", help="check rave, ffmpeg, GPUs and the database")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=cmd_doctor)

    rave = subparsers.add_parser("rave", help="install RAVE in an environment of its own")
    rave_sub = rave.add_subparsers(dest="rave_command", required=True, metavar="COMMAND")
    install = rave_sub.add_parser(
        "install",
        help="install acids-rave 2.3.1 with the pins that work, and use it",
        description="Creates a virtual environment (Python 3.10 or 3.11) in the user data dir, "
        "installs torch and torchaudio of one version, acids-rave==2.3.1 and nn-tilde==1.5.6, "
        "checks that `rave` runs, and records it as the rave ravelab uses. Running it again "
        "reuses a working install; a failed install leaves the previous one in use.",
    )
    install.add_argument(
        "--torch",
        default=DEFAULT_TORCH,
        help=f"torch and torchaudio version (default: {DEFAULT_TORCH})",
    )
    install.add_argument(
        "--cpu", action="store_true", help="the CPU-only torch build (from download.pytorch.org)"
    )
    install.add_argument("--python", help="the Python 3.10/3.11 interpreter to use")
    install.add_argument("--force", action="store_true", help="install anew even if present")
    install.set_defaults(handler=cmd_rave_install)
    status = rave_sub.add_parser("status", help="what RAVE installation ravelab uses")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=cmd_rave_status)

    projects = subparsers.add_parser("projects", help="list the projects (what --project takes)")
    projects.add_argument("--json", action="store_true", help="print JSON")
    projects.set_defaults(handler=cmd_projects)

    settings = subparsers.add_parser("settings", help="show or change stored settings")
    sub = settings.add_subparsers(dest="settings_command", required=True, metavar="COMMAND")
    show = sub.add_parser("show", help="print the stored settings")
    show.set_defaults(handler=cmd_settings_show)
    set_ = sub.add_parser("set", help="store a setting (rave, runs_dir, stalled_after_minutes)")
    set_.add_argument("key", choices=sorted(SETTINGS))
    set_.add_argument("value", help="the value; an empty string removes the setting")
    set_.set_defaults(handler=cmd_settings_set)


def cmd_configs(ctx: Context) -> int:
    groups = (
        ("base configs (--config)", rave_configs.BASE_CONFIGS),
        ("modifiers (--modifier)", rave_configs.MODIFIERS),
        ("augmentations (--augment)", rave_configs.AUGMENTATIONS),
    )
    if ctx.args.json:
        print_json(
            {
                title.split(" (")[0]: [
                    {
                        "name": info.name,
                        "kind": info.kind,
                        "description": info.description,
                        "gpu_memory": info.gpu_memory,
                        "phase_1_duration": info.phase_1_duration,
                    }
                    for info in infos.values()
                ]
                for title, infos in groups
            },
            ctx.out,
        )
        return ExitCode.OK
    for title, infos in groups:
        ctx.out.write(f"{title}:\n")
        rows = [(i.name, i.gpu_memory or "-", i.description) for i in infos.values()]
        ctx.out.write(table(("NAME", "GPU", "DESCRIPTION"), rows) + "\n\n")
    ctx.out.write(
        "learning rate: " + describe_schedule(rave_configs.DEFAULT_PHASE_1_DURATION) + "\n"
    )
    return ExitCode.OK


def cmd_doctor(ctx: Context) -> int:
    report: dict[str, Any] = {"python": sys.version.split()[0], "database": str(ctx.db_path)}
    problems = []
    try:
        rave = find_rave(ctx.args.rave, ctx.db)
        report["rave"] = rave
        report["rave_version"] = rave_version(rave)
        if report["rave_version"] not in (None, "2.3.1"):
            problems.append(f"acids-rave {report['rave_version']} found; ravelab knows RAVE 2.3.1")
    except RaveNotFoundError as error:
        report["rave"] = None
        problems.append(str(error))
    for tool in ("ffmpeg", "ffprobe"):
        report[tool] = shutil.which(tool)
        if report[tool] is None:
            problems.append(
                f"{tool} not found: `rave preprocess` needs it (Debian/Ubuntu: "
                "`sudo apt-get install ffmpeg`; macOS: `brew install ffmpeg`)"
            )
    gpus = list_gpus()
    report["gpus"] = [{"index": g.index, "name": g.name, "memory_mib": g.memory_mib} for g in gpus]
    env = current_environment(ctx.db)
    report["rave_environment"] = env.path if env else None
    report["database_schema"] = ctx.db.schema_version
    cluster = cluster_report(ctx)
    report["slurm"] = None if cluster is None else dataclasses.asdict(cluster)
    if cluster is not None:
        problems.extend(f"SLURM: {problem}" for problem in cluster.problems)
    report["warden"] = _warden_report(ctx)
    report["problems"] = problems
    if ctx.args.json:
        print_json(report, ctx.out)
        return ExitCode.OK if report["rave"] else ExitCode.RAVE_NOT_FOUND
    gpu_text = ", ".join(f"{g.index}: {g.name}" for g in gpus) or "none (training on CPU)"
    rows = [
        ("python", report["python"]),
        ("database", f"{report['database']} (schema {report['database_schema']})"),
        ("rave", report["rave"] or "NOT FOUND"),
        ("acids-rave", report.get("rave_version") or "-"),
        ("ffmpeg", report["ffmpeg"] or "NOT FOUND"),
        ("ffprobe", report["ffprobe"] or "NOT FOUND"),
        ("GPUs", gpu_text),
        ("warden", _warden_text(report["warden"])),
    ]
    if cluster is not None:
        rows += doctor_rows(cluster)
    ctx.out.write(table(("CHECK", "RESULT"), rows) + "\n")
    for problem in problems:
        ctx.out.write(f"\nproblem: {problem}\n")
    return ExitCode.OK if report["rave"] else ExitCode.RAVE_NOT_FOUND


def _warden_report(ctx: Context) -> dict[str, Any]:
    """Whether the database's warden lives, and what it has to do."""
    from ravelab.core.operations import warden

    # A warden that should be there and is not (killed, or the machine rebooted) is
    # started now, as any command that follows runs would.
    started = warden.ensure_warden(ctx.db)
    return {
        "alive": started or warden.warden_alive(ctx.db.path),
        "started": started,
        "has_work": warden.has_work(ctx.db),
        "log": str(warden.log_path(ctx.db.path)),
        "enabled": warden.enabled(),
    }


def _warden_text(report: dict[str, Any]) -> str:
    if report["started"]:
        state = "started now (it had work and was not running)"
    elif report["alive"]:
        state = "running"
    elif not report["enabled"]:
        state = "not started on its own (RAVELAB_WARDEN=0)"
    else:
        state = "not running (nothing to look after)"
    return f"{state}; log {report['log']}"


def cmd_rave_install(ctx: Context) -> int:
    args = ctx.args
    ctx.out.write(
        f"installing RAVE {RAVE_VERSION} with torch {args.torch}"
        f"{' (CPU build)' if args.cpu else ''}; this downloads several GB the first "
        "time\n"
    )
    ctx.out.flush()

    def say(line: str) -> None:
        ctx.err.write(line + "\n")
        ctx.err.flush()

    env = install_rave(
        ctx.db, torch=args.torch, cpu=args.cpu, python=args.python, force=args.force, progress=say
    )
    ctx.out.write(f"RAVE is ready: {env.rave}\n")
    return ExitCode.OK


def cmd_rave_status(ctx: Context) -> int:
    env = current_environment(ctx.db)
    report: dict[str, Any] = {"managed": env is not None}
    try:
        report["rave"] = find_rave(ctx.args.rave, ctx.db)
    except RaveNotFoundError as error:
        report["rave"] = None
        report["problem"] = str(error)
    if env is not None:
        report.update(environment=env.path, python=env.python_version, versions=env.versions)
    if ctx.args.json:
        print_json(report, ctx.out)
    else:
        ctx.out.write(f"rave: {report['rave'] or 'NOT FOUND'}\n")
        if env is not None:
            ctx.out.write(f"managed environment: {env.path} (Python {env.python_version})\n")
            for name, version in sorted(env.versions.items()):
                ctx.out.write(f"  {name} {version}\n")
        elif report["rave"]:
            ctx.out.write("not installed by ravelab (`ravelab rave install` makes a managed one)\n")
        if report.get("problem"):
            ctx.out.write(f"problem: {report['problem']}\n")
    return ExitCode.OK if report["rave"] else ExitCode.RAVE_NOT_FOUND


def cmd_projects(ctx: Context) -> int:
    projects = projects_core.list_projects(ctx.db)
    counts = projects_core.project_counts(ctx.db)
    if ctx.args.json:
        print_json(
            [
                {
                    **dataclasses.asdict(p),
                    "experiments": counts.get(p.id, (0, 0))[0],
                    "datasets": counts.get(p.id, (0, 0))[1],
                }
                for p in projects
            ],
            ctx.out,
        )
        return ExitCode.OK
    rows = [(p.id, p.name, *counts.get(p.id, (0, 0))) for p in projects]
    ctx.out.write(table(("ID", "NAME", "RUNS", "DATASETS"), rows) + "\n")
    return ExitCode.OK


def cmd_settings_show(ctx: Context) -> int:
    for key, db_key in sorted(SETTINGS.items()):
        ctx.out.write(f"{key} = {ctx.db.get_setting(db_key) or '(not set)'}\n")
    return ExitCode.OK


def cmd_settings_set(ctx: Context) -> int:
    key, value = ctx.args.key, ctx.args.value
    if key == "rave" and value:
        try:
            value = find_rave(value)
        except RaveNotFoundError as error:
            raise ConfigError(str(error)) from error
    if key == "stalled_after_minutes" and value:
        try:
            minutes = float(value)
        except ValueError:
            minutes = -1.0
        # Finite and at most a year: "inf" or "1e999" would silence the check for good.
        if not 0 < minutes <= 525_600 or not value.strip().isascii():
            raise ConfigError(
                f"stalled_after_minutes {shown(value)} must be a positive number of minutes "
                "(at most 525600, a year)"
            )
    if key == "runs_dir" and value:
        value = str(_runs_dir(value))
    if key == "keep_periodic_checkpoints" and value:
        from ravelab.core.operations.checkpoint_retention import check_keep

        kept = check_keep(value)
        value = "" if kept is None else str(kept)
    if key == "disk_low_gb" and value:
        try:
            gigabytes = float(value)
        except ValueError:
            gigabytes = -1.0
        if not 0 < gigabytes < 1e6 or not value.strip().isascii():
            raise ConfigError(
                f"disk_low_gb {shown(value)} must be a positive number of gigabytes "
                "(the free space under which ravelab warns)"
            )
    if key == "gpu_sample_seconds" and value:
        from ravelab.core.operations.gpu_sampling import check_interval

        value = check_interval(value)
    ctx.db.set_setting(SETTINGS[key], value or None)
    ctx.out.write(f"{key} = {value or '(not set)'}\n")
    return ExitCode.OK


def _runs_dir(value: str) -> Path:
    """A runs folder to store: absolute (a relative one would move with the current
    folder), printable, and not a file or under one."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"runs_dir {shown(value)} holds control characters: give a plain path")
    try:
        folder = Path(value).expanduser().resolve()
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        is_file = blocker is not None and not blocker.is_dir()
    except (OSError, RuntimeError, ValueError) as error:
        raise ConfigError(f"runs_dir {shown(value)} is not usable: {error}") from None
    if is_file:
        raise ConfigError(f"runs_dir {str(folder)!r}: {str(blocker)!r} is a file, not a folder")
    return folder
