"""Tables of insight.compliance."""

from __future__ import annotations
