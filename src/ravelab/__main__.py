"""``python -m ravelab`` is the ``ravelab`` command."""

from ravelab.cli.main import entrypoint

if __name__ == "__main__":
    entrypoint()
