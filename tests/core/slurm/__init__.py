"""Tests of ravelab.core.slurm."""
