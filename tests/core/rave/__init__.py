"""Tests of ravelab.core.rave."""
