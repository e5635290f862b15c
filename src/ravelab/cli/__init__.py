"""The headless ``ravelab`` command line, thin over the core."""
