"""Fault injection with real processes: kills at chosen points, parallel commands, damaged
run files and databases, full filesystems. Each test checks the run's true status, that no
metric point is lost or doubled, and that nothing is left running."""
