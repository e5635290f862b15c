"""Runs: starting, supervising, following and settling them, locally."""
