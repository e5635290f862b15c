"""Defaults of following a run that the manager and the follower share.

Kept apart from ``training_process`` so that a manager made for a one-shot command
(``ravelab list``) reads them without importing the follower and what it brings.
"""

from __future__ import annotations

#: A run whose step has not moved for this long while its process lives is "stalled".
DEFAULT_STALLED_AFTER_S = 30 * 60.0
