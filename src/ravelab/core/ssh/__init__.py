"""Runs on another machine over SSH: remotes, the connection, the remote agent, file sync."""
