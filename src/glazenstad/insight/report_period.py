"""The period a council report covers: a year, a quarter, a month, or any run of whole days.

A council asks for "the third quarter", not for two UTC instants, so a period is a run of
whole calendar days in the municipality's zone (Europe/Amsterdam): 2026-Q3 is 1 July 00:00
up to 1 October 00:00 Dutch time, whatever the UTC offset on either side. The figures module
counts in the same days (`glazenstad.insight.figures.Period`), so every number in a report
belongs to exactly the days the title names.

A period is written as the council would ask for it and as it appears in file names and API
paths: `2026` (a year), `2026-Q3` (a quarter), `2026-09` (a month), or two dates joined by a
double hyphen, `2026-07-01--2026-09-30` (ISO 8601's interval form for places where a slash
cannot stand). Anything else is refused with a message that says which forms exist, in English
for the command line and in Dutch for the portal and the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal

from glazenstad.dutch import MONTHS
from glazenstad.insight.figures import MAX_PERIOD_DAYS, MUNICIPAL_ZONE, Period

PeriodKind = Literal["year", "quarter", "month", "days"]

_YEAR: Final = re.compile(r"^(\d{4})$")
_QUARTER: Final = re.compile(r"^(\d{4})-[Qq](\d{1,2})$")
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_DAYS: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})--(\d{4}-\d{2}-\d{2})$")

PERIOD_PATTERN: Final = r"^\d{4}(-[Qq]\d{1,2}|-\d{2}|-\d{2}-\d{2}--\d{4}-\d{2}-\d{2})?$"
"""What a period key looks like (for an API path parameter); `parse_period` checks the rest."""

FIRST_YEAR: Final = 2000
"""No municipality kept a logbook in this form before; earlier years are a typing error."""
LAST_YEAR: Final = 2999
"""Later years are typing errors too (and 9999 has no day after its last)."""

QUARTER_NAMES: Final = ("eerste", "tweede", "derde", "vierde")
FORMS_NL: Final = (
    "2026 (een jaar), 2026-Q3 (een kwartaal), 2026-09 (een maand) of "
    "2026-07-01--2026-09-30 (van de ene tot en met de andere dag)"
)
FORMS_EN: Final = (
    "2026 (a year), 2026-Q3 (a quarter), 2026-09 (a month) or "
    "2026-07-01--2026-09-30 (from one day up to and including the other)"
)


class PeriodError(ValueError):
    """A period that cannot be read; `str()` is English (command line), `dutch` for the portal."""

    def __init__(self, english: str, dutch: str) -> None:
        super().__init__(english)
        self.dutch = dutch


def date_nl(day: date) -> str:
    """1 juli 2026."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class ReportPeriod:
    """Whole days `first` to `last` (inclusive) in Dutch time, and how the period was asked for."""

    kind: PeriodKind
    first: date
    last: date

    @property
    def key(self) -> str:
        """The canonical way to write it: in file names, API paths, and `parse_period`."""
        if self.kind == "year":
            return f"{self.first.year}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.first.year}-{self.first.month:02d}"
        return f"{self.first.isoformat()}--{self.last.isoformat()}"

    @property
    def title(self) -> str:
        """The period as a heading says it: "derde kwartaal 2026", "september 2026"."""
        if self.kind == "year":
            return f"het jaar {self.first.year}"
        if self.kind == "quarter":
            return f"{QUARTER_NAMES[(self.first.month - 1) // 3]} kwartaal {self.first.year}"
        if self.kind == "month":
            return f"{MONTHS[self.first.month - 1]} {self.first.year}"
        return self.span

    @property
    def span(self) -> str:
        """ "1 juli 2026 tot en met 30 september 2026"."""
        if self.first == self.last:
            return date_nl(self.first)
        return f"{date_nl(self.first)} tot en met {date_nl(self.last)}"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def figures_period(self) -> Period:
        """The same days as the figures module counts them."""
        return Period(self.first, self.last, MUNICIPAL_ZONE)

    @property
    def start(self) -> datetime:
        """Local midnight at the start of the first day (aware, Europe/Amsterdam)."""
        return self.figures_period.start

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (exclusive)."""
        return self.figures_period.end

    def previous(self) -> ReportPeriod:
        """The period before it, of the same kind: the quarter, month or year before, or the
        same number of days just before (for a comparison with "the period before")."""
        if self.kind == "year":
            return year(self.first.year - 1)
        if self.kind == "quarter":
            number = (self.first.month - 1) // 3 + 1
            return (
                quarter(self.first.year, number - 1)
                if number > 1
                else quarter(self.first.year - 1, 4)
            )
        if self.kind == "month":
            last = self.first - timedelta(days=1)
            return month(last.year, last.month)
        return ReportPeriod(
            "days", self.first - timedelta(days=self.days), self.first - timedelta(days=1)
        )

    def complete_at(self, now: datetime) -> bool:
        """Whether the period is over at `now` (its figures will no longer grow)."""
        return now >= self.end


def year(number: int) -> ReportPeriod:
    return ReportPeriod("year", date(number, 1, 1), date(number, 12, 31))


def quarter(number_year: int, number: int) -> ReportPeriod:
    first = date(number_year, 3 * (number - 1) + 1, 1)
    after = date(number_year + 1, 1, 1) if number == 4 else date(number_year, 3 * number + 1, 1)
    return ReportPeriod("quarter", first, after - timedelta(days=1))


def month(number_year: int, number: int) -> ReportPeriod:
    first = date(number_year, number, 1)
    after = date(number_year + 1, 1, 1) if number == 12 else date(number_year, number + 1, 1)
    return ReportPeriod("month", first, after - timedelta(days=1))


def _check_year(number: int, text: str) -> None:
    if number < FIRST_YEAR:
        raise PeriodError(
            f"period {text!r}: the year {number} is before {FIRST_YEAR}",
            f"periode '{text}': het jaar {number} ligt voor {FIRST_YEAR}",
        )
    if number > LAST_YEAR:
        raise PeriodError(
            f"period {text!r}: the year {number} is after {LAST_YEAR}",
            f"periode '{text}': het jaar {number} ligt na {LAST_YEAR}",
        )


def _day(text: str, whole: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            f"period {whole!r}: {text} is not a date (use YYYY-MM-DD)",
            f"periode '{whole}': {text} is geen datum (schrijf JJJJ-MM-DD)",
        ) from None


def between(first: date, last: date) -> ReportPeriod:
    """The days from `first` up to and including `last` (the command line's --since/--until)."""
    text = f"{first.isoformat()}--{last.isoformat()}"
    if last < first:
        raise PeriodError(
            f"period {text}: the last day ({last}) is before the first ({first})",
            f"periode {text}: de laatste dag ({date_nl(last)}) ligt voor de eerste "
            f"({date_nl(first)})",
        )
    _check_year(first.year, text)
    _check_year(last.year, text)
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise PeriodError(
            f"period {text}: {days} days; a report covers at most {MAX_PERIOD_DAYS} days",
            f"periode {text}: {days} dagen; een verslag gaat over ten hoogste "
            f"{MAX_PERIOD_DAYS} dagen",
        )
    for kind, candidate in _named(first):
        if candidate.first == first and candidate.last == last:
            return ReportPeriod(kind, first, last)
    return ReportPeriod("days", first, last)


def _named(first: date) -> list[tuple[PeriodKind, ReportPeriod]]:
    """The year, quarter and month that start on `first`, if any (so a custom range that is
    exactly a quarter gets the quarter's name)."""
    found: list[tuple[PeriodKind, ReportPeriod]] = []
    if first.day == 1:
        found.append(("month", month(first.year, first.month)))
        if first.month in (1, 4, 7, 10):
            found.append(("quarter", quarter(first.year, (first.month - 1) // 3 + 1)))
        if first.month == 1:
            found.append(("year", year(first.year)))
    return found


def parse_period(text: str) -> ReportPeriod:
    """`2026`, `2026-Q3`, `2026-09` or `2026-07-01--2026-09-30`; PeriodError otherwise."""
    value = text.strip()
    if match := _YEAR.match(value):
        number = int(match.group(1))
        _check_year(number, value)
        return year(number)
    if match := _QUARTER.match(value):
        number_year, number = int(match.group(1)), int(match.group(2))
        _check_year(number_year, value)
        if not 1 <= number <= 4:
            raise PeriodError(
                f"period {value!r}: a quarter is Q1 to Q4",
                f"periode '{value}': een kwartaal is Q1, Q2, Q3 of Q4",
            )
        return quarter(number_year, number)
    if match := _MONTH.match(value):
        number_year, number = int(match.group(1)), int(match.group(2))
        _check_year(number_year, value)
        if not 1 <= number <= 12:
            raise PeriodError(
                f"period {value!r}: a month is 01 to 12",
                f"periode '{value}': een maand is 01 tot en met 12",
            )
        return month(number_year, number)
    if match := _DAYS.match(value):
        return between(_day(match.group(1), value), _day(match.group(2), value))
    shown = value if len(value) <= 40 else value[:40] + "…"
    raise PeriodError(
        f"period {shown!r} is not a period; use {FORMS_EN}",
        f"'{shown}' is geen periode; schrijf {FORMS_NL}",
    )


def check_started(period: ReportPeriod, now: datetime) -> None:
    """A report about days that have not begun would only hold zeros: refuse it."""
    if period.start > now:
        raise PeriodError(
            f"period {period.key} has not started yet (it starts on {period.first})",
            f"de periode {period.key} is nog niet begonnen (die begint op {date_nl(period.first)})",
        )


def recent_periods(today: date) -> list[ReportPeriod]:
    """Periods a council most often asks about, newest first: the last completed quarter and
    the three before it, the current and the last year, and the last three completed months."""
    current = quarter(today.year, (today.month - 1) // 3 + 1)
    quarters = []
    candidate = current.previous()
    for _ in range(4):
        quarters.append(candidate)
        candidate = candidate.previous()
    months = []
    candidate = month(today.year, today.month).previous()
    for _ in range(3):
        months.append(candidate)
        candidate = candidate.previous()
    return [*quarters, year(today.year), year(today.year - 1), *months]
