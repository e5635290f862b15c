"""The batch script of a SLURM run: ``slurm-job.sh`` in the run folder.

It holds ravelab's ``#SBATCH`` lines (job name, output file, working directory and the
settings), the user's extra ``#SBATCH`` lines, and one command: ``exec`` ravelab's
supervisor on the run folder, which starts ``rave train`` from ``launch.json`` and writes
``stdout.log``, ``stderr.log`` and ``exit.json`` there. Every value is quoted with
``shlex.quote``: bash reads the command that way, and sbatch's own ``#SBATCH`` parser
understands the same quoting, except that it takes a backslash as an escape even inside
single quotes; values with a backslash (or a line break) are therefore refused. The script
stays in the run folder, so users can read (and submit again) exactly what ran.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from ravelab.core.errors import ConfigError
from ravelab.core.runs.run_files import SLURM_SCRIPT
from ravelab.core.slurm.settings import SlurmSettings

SCRIPT_NAME = SLURM_SCRIPT
#: The job's own output (sbatch's ``%j`` is the job id), in the run folder.
OUTPUT_PATTERN = "slurm-%j.out"
JOB_NAME_PREFIX = "ravelab-"
SUPERVISOR_MODULE = "ravelab.core.runs.supervisor"


def output_name(job_id: str) -> str:
    """The file name of a job's own output (``slurm-123.out``)."""
    return OUTPUT_PATTERN.replace("%j", job_id)


def job_name_for(run_dir: Path) -> str:
    """The job name for a run folder: ``ravelab-0007-name``.

    Whitespace becomes ``_``: SLURM's job-completion file (``sacct -c``) separates its
    fields with spaces, and a space in a name breaks the job's record there.
    """
    return JOB_NAME_PREFIX + re.sub(r"\s", "_", run_dir.name)


def work_dir_for(run_dir: Path) -> Path:
    """The job's working directory (``--chdir``): the run folder, or its nearest parent
    without whitespace (for the same reason as ``job_name_for``: the job-completion file
    records it). The script changes into the run folder itself anyway."""
    for candidate in (run_dir, *run_dir.parents):
        if not re.search(r"\s", str(candidate)):
            return candidate
    return Path("/")


def sbatch_value(value: str, what: str) -> str:
    """``value`` quoted for an ``#SBATCH`` line (and for bash).

    Raises:
        ConfigError: a backslash, a line break or another control character, which
            sbatch's ``#SBATCH`` parser would read differently from bash.
    """
    if "\\" in value or not value.isprintable():
        raise ConfigError(
            f"{what} {value!r} contains a backslash or a control character, which sbatch's "
            "#SBATCH lines cannot carry: choose a name or folder without them"
        )
    return shlex.quote(value)


def render_batch_script(
    run_dir: Path,
    settings: SlurmSettings,
    *,
    python: str,
    job_name: str | None = None,
) -> str:
    """The text of the batch script that runs the supervisor of ``run_dir``.

    Args:
        run_dir: the run folder (absolute; shared with the compute nodes).
        settings: partition, account, time, GPUs, CPUs, memory and extra lines.
        python: the interpreter that runs the supervisor (``sys.executable``: the same
            environment must be reachable from the nodes).
        job_name: SLURM's job name (default: ``job_name_for(run_dir)``).

    Raises:
        ConfigError: a path or name that cannot go into an ``#SBATCH`` line.
    """
    run_dir = Path(os.path.abspath(run_dir))
    name = job_name if job_name is not None else job_name_for(run_dir)
    # sbatch expands %j, %x... in --output; %% is a literal %.
    output = str(run_dir / OUTPUT_PATTERN.replace("%j", "\0")).replace("%", "%%")
    output = output.replace("\0", "%j")
    lines = [
        "#!/bin/bash",
        f"# ravelab run {run_dir.name}, written by ravelab and submitted with",
        f"#   sbatch --parsable {shlex.quote(str(run_dir / SCRIPT_NAME))}",
        "# The job runs ravelab's supervisor, which starts `rave train` as launch.json says and",
        "# writes stdout.log, stderr.log and exit.json here. ravelab stops it with",
        "#   scancel --signal=INT --batch JOBID  (then a plain scancel if it does not end).",
        f"#SBATCH --job-name={sbatch_value(name, 'job name')}",
        f"#SBATCH --chdir={sbatch_value(str(work_dir_for(run_dir)), 'working directory')}",
        f"#SBATCH --output={sbatch_value(output, 'run folder')}",
        "#SBATCH --open-mode=append",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
    ]
    lines += [
        f"#SBATCH {option}={shlex.quote(value)}" for option, value in settings.sbatch_options()
    ]
    lines += list(settings.extra)
    quoted_dir = shlex.quote(str(run_dir))
    lines += [
        "",
        f"cd -- {quoted_dir} || exit 1",
        f"exec {shlex.quote(python)} -m {SUPERVISOR_MODULE} {quoted_dir}",
        "",
    ]
    return "\n".join(lines)


def write_batch_script(
    run_dir: Path,
    settings: SlurmSettings,
    *,
    python: str,
    job_name: str | None = None,
) -> Path:
    """Write ``slurm-job.sh`` into ``run_dir`` (mode 0755) and return its path."""
    text = render_batch_script(run_dir, settings, python=python, job_name=job_name)
    path = run_dir / SCRIPT_NAME
    tmp = path.with_name(f".{SCRIPT_NAME}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return path


__all__ = [
    "OUTPUT_PATTERN",
    "SCRIPT_NAME",
    "job_name_for",
    "output_name",
    "render_batch_script",
    "sbatch_value",
    "work_dir_for",
    "write_batch_script",
]
