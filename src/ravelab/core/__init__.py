"""The Qt-free core: runs, their supervision, output parsing and RAVE's facts."""
