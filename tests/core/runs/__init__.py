"""Tests of ravelab.core.runs."""
