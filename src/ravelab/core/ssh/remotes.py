"""Remotes: a name for an SSH machine and where ravelab lives there, checked on the way in
and on the way out of the database (a row is untrusted when read back).

Remote paths may be absolute, or relative to the remote user's home (``~/x`` is taken
as ``x``): an ssh command starts in the home folder, so no shell expansion is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.db import Database
from ravelab.db import remotes as rows

#: Where ravelab keeps a remote's runs, its environment and copied datasets by default
#: (relative to the remote home).
DEFAULT_ROOT = "ravelab"
DEFAULT_RUNS_DIR = f"{DEFAULT_ROOT}/runs"
#: The Python ``ravelab remote setup`` installs, relative to the remote home.
DEFAULT_PYTHON = f"{DEFAULT_ROOT}/venv/bin/python"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A host name, an IPv4 address, an IPv6 address in brackets or bare, or an ssh config alias.
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:%-]{0,252}")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}")
_MAX_PATH = 1024


@dataclass(frozen=True)
class Remote:
    """A machine runs are sent to, checked (see ``check_remote``)."""

    name: str
    host: str
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    ssh_config: str | None = None
    runs_dir: str = DEFAULT_RUNS_DIR
    python: str = DEFAULT_PYTHON
    rave: str | None = None

    @property
    def destination(self) -> str:
        """ssh's destination: ``user@host`` or ``host``."""
        return f"{self.user}@{self.host}" if self.user else self.host


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"remote name {name!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_destination(value: str) -> tuple[str | None, str]:
    """``[user@]host`` -> (user, host), both checked."""
    user, _, host = value.rpartition("@")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address as rsync writes it: ssh wants it bare
    return (check_user(user) if user else None), check_host(host)


def check_host(host: object) -> str:
    if not isinstance(host, str) or not _HOST.fullmatch(host) or host.startswith("-"):
        raise ConfigError(
            f"host {host!r} is not a host name, address or ssh config alias (letters, "
            "digits, '.', '-', ':'; it cannot start with '-')"
        )
    return host


def check_user(user: object) -> str:
    if not isinstance(user, str) or not _USER.fullmatch(user):
        raise ConfigError(f"user name {user!r} is not a Unix user name")
    return user


def check_port(port: object) -> int | None:
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"port {port!r} must be a number from 1 to 65535")
    return port


def check_local_file(value: object, what: str) -> str | None:
    """A local file the ssh client reads (identity, config), made absolute."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "\0" in value or len(value) > _MAX_PATH:
        raise ConfigError(f"{what} {value!r} is not a file path")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{what} {value!r} is not a file on this machine: give an existing file")
    return str(path.resolve())


def check_remote_path(value: object, what: str) -> str:
    """A path on the remote: absolute, or relative to the remote home (``~/`` dropped)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} {value!r} must be a path on the remote")
    if "\0" in value or "\n" in value or len(value) > _MAX_PATH:
        raise ConfigError(f"{what} {value!r} holds characters a path cannot hold")
    if value == "~":
        return "."
    if value.startswith("~/"):
        value = value[2:] or "."
    elif value.startswith("~"):
        raise ConfigError(
            f"{what} {value!r}: another user's home (~user) is not supported; give the path"
        )
    if value.startswith("-"):
        raise ConfigError(f"{what} {value!r} cannot start with '-': write ./{value}")
    return value


def check_remote(remote: Remote) -> Remote:
    """The remote with every field checked (raises ``ConfigError`` naming the field)."""
    return Remote(
        name=check_name(remote.name),
        host=check_host(remote.host),
        user=check_user(remote.user) if remote.user else None,
        port=check_port(remote.port),
        identity=remote.identity,
        ssh_config=remote.ssh_config,
        runs_dir=check_remote_path(remote.runs_dir, "runs folder"),
        python=check_remote_path(remote.python, "python"),
        rave=check_remote_path(remote.rave, "rave") if remote.rave else None,
    )


def add_remote(
    db: Database,
    name: str,
    destination: str,
    *,
    port: int | None = None,
    identity: str | None = None,
    ssh_config: str | None = None,
    runs_dir: str | None = None,
    python: str | None = None,
    rave: str | None = None,
) -> Remote:
    """Check and store a new remote (nothing is contacted).

    Raises:
        ConfigError: a bad value, or the name is taken.
    """
    user, host = parse_destination(destination)
    remote = check_remote(
        Remote(
            name=name,
            host=host,
            user=user,
            port=port,
            identity=check_local_file(identity, "identity file"),
            ssh_config=check_local_file(ssh_config, "ssh config file"),
            runs_dir=runs_dir or DEFAULT_RUNS_DIR,
            python=python or DEFAULT_PYTHON,
            rave=rave,
        )
    )
    try:
        rows.insert_remote(db, _row(remote))
    except rows.DuplicateRemoteError as error:
        raise ConfigError(
            f"{error}: choose another name, or `ravelab remote remove {name}`"
        ) from None
    return remote


def _row(remote: Remote) -> rows.RemoteRow:
    return rows.RemoteRow(
        name=remote.name,
        host=remote.host,
        user=remote.user,
        port=remote.port,
        identity=remote.identity,
        ssh_config=remote.ssh_config,
        runs_dir=remote.runs_dir,
        python=remote.python,
        rave=remote.rave,
        created_at="",
    )


def _from_row(row: rows.RemoteRow) -> Remote:
    try:
        return check_remote(
            Remote(
                name=row.name,
                host=row.host,
                user=row.user,
                port=row.port,
                identity=row.identity if isinstance(row.identity, str) else None,
                ssh_config=row.ssh_config if isinstance(row.ssh_config, str) else None,
                runs_dir=row.runs_dir,
                python=row.python,
                rave=row.rave,
            )
        )
    except ConfigError as error:
        raise ConfigError(
            f"the stored remote {row.name!r} is damaged ({error}): remove it and add it again"
        ) from None


def get_remote(db: Database, name: object) -> Remote:
    """The stored remote of that name.

    Raises:
        NotFoundError: no such remote (the message lists the known ones).
    """
    if not isinstance(name, str):
        raise ConfigError(f"remote {name!r} must be the name of a remote (`ravelab remote list`)")
    row = rows.get_remote(db, name)
    if row is None:
        known = [r.name for r in rows.list_remotes(db)]
        hint = f"known: {', '.join(known)}" if known else "add one with `ravelab remote add`"
        raise NotFoundError(f"no remote named {name!r} ({hint})")
    return _from_row(row)


def list_remotes(db: Database) -> list[Remote]:
    """Every stored remote (a damaged row is left out and logged)."""
    found = []
    for row in rows.list_remotes(db):
        try:
            found.append(_from_row(row))
        except ConfigError:
            continue
    return found


def remove_remote(db: Database, name: str, *, abandon_runs: bool = False) -> list[int]:
    """Forget a remote (nothing on the remote is touched); the runs abandoned.

    With ``abandon_runs`` its unended runs end as failed first (for a machine gone for
    good: a rented one given back); what ran there, if anything, is left as it was.

    Raises:
        NotFoundError: no such remote.
        ConfigError: runs sent there have not ended (their remote must stay known).
    """
    with db.atomic():
        if rows.get_remote(db, name) is None:
            raise NotFoundError(f"no remote named {name!r}")
        busy = rows.unended_runs_on(db, name)
        abandoned: list[int] = []
        if busy and abandon_runs:
            abandoned = rows.abandon_runs_on(
                db, name, f"abandoned: its remote {name!r} was removed (the machine is gone)"
            )
        elif busy:
            shown = ", ".join(f"{i} '{n}'" for i, n in busy[:5])
            raise ConfigError(
                f"remote {name!r} has runs that have not ended ({shown}): stop them or wait, "
                "then remove it; if the machine is gone for good, "
                f"`ravelab remote remove {name} --abandon-runs` ends them as failed"
            )
        rows.delete_remote(db, name)
    return abandoned
