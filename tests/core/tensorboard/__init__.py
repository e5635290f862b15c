"""Tests of ravelab.core.tensorboard."""
