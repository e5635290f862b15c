"""Tests of ravelab.core.jobs."""
