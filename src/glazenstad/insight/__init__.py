"""Feedback from execution to policy: figures, signals, replay, compliance."""
