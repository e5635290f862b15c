"""Runs on a SLURM cluster: the executor, the batch script, settings and states."""
