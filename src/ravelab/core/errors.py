"""Errors a user can act on. Each message names the value and says what to do."""

from __future__ import annotations


class RavelabError(Exception):
    """Base of every error ravelab reports to users instead of a traceback."""


class ConfigError(RavelabError, ValueError):
    """A training configuration value is invalid; nothing was created."""


class NotFoundError(RavelabError, LookupError):
    """An id or name that does not exist."""


class DatasetError(RavelabError):
    """A folder is not a usable RAVE dataset."""


class RaveNotFoundError(RavelabError):
    """The ``rave`` executable could not be found."""


class LaunchError(RavelabError):
    """The run could not be started."""


class RaveInstallError(RavelabError):
    """Installing RAVE failed; the previous installation (if any) is untouched."""


class SshError(RavelabError):
    """ssh or rsync failed to reach or use the remote; the message says what to do."""


class SshUnreachableError(SshError):
    """The remote could not be reached now (network, host down): worth trying again later."""
