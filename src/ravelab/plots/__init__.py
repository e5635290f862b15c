"""Qt-free matplotlib figures of a run's metrics, shared by the desktop app and the CLI.

``decimate`` thins long series to what a screen can show; ``figures`` draws into a
``matplotlib.figure.Figure`` handed in by the caller (a Qt canvas in the app, an Agg
canvas for files), never through pyplot.
"""
