"""The database file's care for the front ends: an integrity check in words, an online
backup, the file's figures. The work is the data layer's (``ravelab.db.maintenance``);
the CLI reaches it through here, as it reaches everything else through the core."""

from __future__ import annotations

from ravelab.db.maintenance import (
    BackupRefusedError,
    backup_database,
    check_database,
    database_info,
)

__all__ = ["BackupRefusedError", "backup_database", "check_database", "database_info"]
