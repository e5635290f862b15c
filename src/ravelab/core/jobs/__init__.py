"""Managed jobs around training: preprocess, export, and importing plain RAVE runs."""
