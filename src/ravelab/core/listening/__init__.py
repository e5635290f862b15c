"""Listening to a run: its validation clips at their training steps, split into pairs.

RAVE judges nothing by ear; its users do. This room turns what ravelab already records
(each ``audio_val`` clip saved as a WAV, each validation's step) into clips a person can
pick by training step and hear as input then reconstruction.
"""
