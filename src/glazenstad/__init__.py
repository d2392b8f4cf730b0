"""Glazen Stad: connects a municipality's data policy with its execution and shows both."""

__version__ = "0.1.0"
