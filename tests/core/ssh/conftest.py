"""The test SSH server's fixtures for every SSH test here (see tests/ssh_server.py and
tests/ssh_remote.py)."""

from tests.ssh_remote import remote_ready  # noqa: F401
from tests.ssh_server import ssh_exclusive, ssh_server  # noqa: F401
