"""Tables of insight.signals."""

from __future__ import annotations
