"""Signals from execution: staff tell a rule's owner that a rule blocks their work."""
