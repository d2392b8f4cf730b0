"""Measured compliance: checks on what actually happened, and a score with its history."""
