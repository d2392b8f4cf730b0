"""The 72-hour notification deadline and the reading of moments people type in Dutch time.

AVG art. 33 gives 72 hours from the moment the organisation became aware of a breach. That is
72 hours of elapsed time, not "the same clock time three days later": across the change to
summer time the clock loses an hour, across the change back it gains one. So the deadline is
computed on the UTC instant (`discovered_at + 72 h`), and only shown in Europe/Amsterdam.
Adding a timedelta to an aware datetime in a ZoneInfo zone would do wall-clock arithmetic and
be an hour off on those weekends.

Staff type moments as they read them on the wall clock. A moment without an offset is taken as
Europe/Amsterdam. Two hours a year are special: in the autumn 02:00–03:00 happens twice (the
earlier of the two is taken: an earlier discovery gives an earlier deadline, the safe side), and
in the spring 02:00–03:00 does not exist (refused, with the reason).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

NOTIFICATION_PERIOD: Final = timedelta(hours=72)
LOCAL_ZONE: Final = ZoneInfo("Europe/Amsterdam")


class MomentError(ValueError):
    """A typed moment cannot be read: `message` says why in plain Dutch, `field` where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def notification_deadline(discovered_at: datetime) -> datetime:
    """The last instant (UTC) to notify the Autoriteit Persoonsgegevens: discovery + 72 h."""
    if discovered_at.tzinfo is None:
        raise ValueError("discovered_at must be timezone-aware")
    return discovered_at.astimezone(UTC) + NOTIFICATION_PERIOD


def local(moment: datetime) -> datetime:
    """The same instant on the Dutch wall clock."""
    return moment.astimezone(LOCAL_ZONE)


def from_local(wall: datetime) -> datetime:
    """A naive wall-clock time in Europe/Amsterdam as a UTC instant (see the module docstring)."""
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    earlier = wall.replace(tzinfo=LOCAL_ZONE, fold=0)
    later = wall.replace(tzinfo=LOCAL_ZONE, fold=1)
    # Two offsets: the hour that happens twice (fold=0 is the first), or the hour that does not
    # happen, which converted to UTC and back does not give the same clock time.
    skipped = earlier.astimezone(UTC).astimezone(LOCAL_ZONE).replace(tzinfo=None) != wall
    if earlier.utcoffset() != later.utcoffset() and skipped:
        raise MomentError(
            f"{wall:%Y-%m-%d %H:%M} bestaat niet in Nederlandse tijd: die nacht gaat de klok "
            "van 02.00 naar 03.00 uur. Kies een ander tijdstip of geef de afwijking van UTC."
        )
    return earlier.astimezone(UTC)


def parse_moment(text: str, *, field: str | None = None) -> datetime:
    """An ISO 8601 moment (`2026-10-24T10:00`, `2026-10-24 10:00+02:00`, `...Z`) as UTC."""
    value = text.strip()
    if not value:
        raise MomentError("Vul een datum en tijd in.", field)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MomentError(
            f"'{text}' is geen datum en tijd. Schrijf bijvoorbeeld 2026-10-24 10:00 "
            "(Nederlandse tijd) of 2026-10-24T08:00Z (UTC).",
            field,
        ) from None
    try:
        return from_local(moment)
    except MomentError as exc:
        raise MomentError(exc.message, field) from None
