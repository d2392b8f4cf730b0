"""Dutch names of months and weekdays, written once for every part that writes dates in Dutch.

Domain texts (breach deadlines, council report periods) and the portal both say "27 oktober";
neither should depend on the other for it, so the names live here, below both.
"""

from __future__ import annotations

from typing import Final

MONTHS: Final = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
"""Month names, January first: `MONTHS[moment.month - 1]`."""

WEEKDAYS: Final = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
"""Weekday names, Monday first: `WEEKDAYS[moment.weekday()]`."""
