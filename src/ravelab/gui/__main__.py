"""``python -m ravelab.gui``: open the desktop app."""

from __future__ import annotations

from ravelab.gui.app import entrypoint

if __name__ == "__main__":
    entrypoint()
