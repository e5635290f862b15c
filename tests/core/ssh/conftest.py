"""The test SSH server's fixtures for every SSH test here (see tests/ssh_server.py)."""

from tests.ssh_server import ssh_exclusive, ssh_server  # noqa: F401
