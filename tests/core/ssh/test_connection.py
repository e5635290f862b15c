"""The ssh layer without a server: argv lists quoted for the remote shell, OpenSSH's
failures told apart and put in words, the rsync statistics read."""

from __future__ import annotations

import shlex

import pytest

from ravelab.core.errors import SshUnreachableError
from ravelab.core.ssh.connection import Connection, ssh_error
from ravelab.core.ssh.executor import remote_argv
from ravelab.core.ssh.remotes import Remote
from ravelab.core.ssh.sync import _stats, dataset_key

REMOTE = Remote(name="lab", host="gpu.example.org", user="me", port=2200)


def test_a_remote_command_reaches_the_remote_shell_word_for_word() -> None:
    words = ["echo", "it's", 'a "run"', "$HOME", "; rm -rf /", "`x`"]
    argv = Connection(REMOTE).ssh_argv(words)
    assert argv[0] == "ssh" and "BatchMode=yes" in argv and argv[-2] == "me@gpu.example.org"
    assert argv[argv.index("-p") + 1] == "2200" and argv[-3] == "--"
    assert shlex.split(argv[-1]) == words


def test_two_remotes_on_one_host_never_share_a_master() -> None:
    other = Remote(name="lab2", host="gpu.example.org", user="me", port=2200)

    def path(remote: Remote) -> str:
        argv = Connection(remote).ssh_argv(["true"])
        return next(a for a in argv if a.startswith("ControlPath="))

    assert path(REMOTE) != path(other) and len(path(REMOTE)) < 100


@pytest.mark.parametrize(
    ("stderr", "words", "unreachable"),
    [
        ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@", "has CHANGED", False),
        ("Host key verification failed.", "not known yet", False),
        ("me@gpu: Permission denied (publickey).", "refused the login", False),
        ("ssh: Could not resolve hostname x: Name or service not known", "unknown host", False),
        ("ssh: connect to host x port 2200: Connection refused", "refused the connection", True),
        ("ssh: connect to host x port 2200: Connection timed out", "cannot reach", True),
        ("Timeout, server x not responding.", "cannot reach", True),
        ("something else entirely", "ssh to lab", False),
    ],
)
def test_ssh_failures_in_words(stderr: str, words: str, unreachable: bool) -> None:
    error = ssh_error(REMOTE, stderr)
    assert words in str(error)
    assert isinstance(error, SshUnreachableError) is unreachable


def test_a_runs_paths_become_the_remotes() -> None:
    ckpt = "/runs/0001-x/x_1/version_0/checkpoints/best.ckpt"
    argv = ["/usr/bin/rave", "train", "--db_path", "/data/drums", "--out_path", "/runs/0001-x",
            "--ckpt", ckpt, "--name", "/runs/0001-xy"]  # fmt: skip
    out = remote_argv(
        argv,
        local_run_dir=__import__("pathlib").Path("/runs/0001-x"),
        remote_run_dir="/home/me/ravelab/runs/0001-x",
        local_dataset="/data/drums",
        remote_dataset="/home/me/ravelab/runs/datasets/drums-1",
        rave=None,
    )
    assert out[0] == "@rave"
    assert out[3] == "/home/me/ravelab/runs/datasets/drums-1"
    assert out[5] == "/home/me/ravelab/runs/0001-x"
    assert out[7] == "/home/me/ravelab/runs/0001-x/x_1/version_0/checkpoints/best.ckpt"
    assert out[9] == "/runs/0001-xy"  # a sibling folder's name is not inside the run


def test_rsync_statistics_and_dataset_keys(tmp_path: __import__("pathlib").Path) -> None:
    text = "Total bytes sent: 1,234\nTotal bytes received: 56\n"
    assert _stats(text).sent == 1234 and _stats(text).received == 56
    (tmp_path / "a b").mkdir()
    (tmp_path / "a_b").mkdir()
    keys = {dataset_key(tmp_path / "a b"), dataset_key(tmp_path / "a_b")}
    assert len(keys) == 2 and all("/" not in k and " " not in k for k in keys)


def test_an_ipv6_remote_is_bare_for_ssh_and_bracketed_for_rsync(db: object) -> None:
    from ravelab.core.ssh.remotes import parse_destination

    assert parse_destination("me@[2001:db8::1]") == ("me", "2001:db8::1")
    remote = Remote(name="v6", host="2001:db8::1", user="me")
    connection = Connection(remote)
    assert connection.ssh_argv(["true"])[-2] == "me@2001:db8::1"
    assert connection.remote_path("/x") == "me@[2001:db8::1]:/x"


def test_rsync_progress_in_words() -> None:
    from ravelab.core.ssh.sync import progress_words

    assert progress_words("734003200  47%   11.52MB/s    0:01:04") == (
        "734.0 MB sent (47%), 11.52MB/s, 0:01:04 left"
    )
    assert progress_words("sending the dataset") == "sending the dataset"
