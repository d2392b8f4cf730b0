"""Tables of insight.incidents."""

from __future__ import annotations
