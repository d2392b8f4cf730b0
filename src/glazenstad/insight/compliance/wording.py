"""Numbers and counts in plain Dutch for the evidence texts: "1.234 logregels", "12,5 uur"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def int_nl(value: int) -> str:
    """An integer with a dot between thousands, as Dutch readers expect."""
    return f"{value:,}".replace(",", ".")


def number_nl(value: float) -> str:
    """A number with at most one decimal, written with a decimal comma."""
    text = f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return text[:-2] if text.endswith(",0") else text


def count_nl(count: int, one: str, many: str) -> str:
    return f"{int_nl(count)} {one if count == 1 else many}"


def records_nl(count: int) -> str:
    return count_nl(count, "logregel", "logregels")


def hours(delta: timedelta) -> float:
    """A duration in hours, rounded to one decimal (the unit every lateness figure uses)."""
    return round(delta.total_seconds() / 3600, 1)


def moment_nl(moment: datetime) -> str:
    """A moment as 29-11-2026 14:05 UTC: unambiguous in Dutch text, in the CLI and the API."""
    return f"{moment.astimezone(UTC):%d-%m-%Y %H:%M} UTC"
