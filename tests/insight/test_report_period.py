"""Report periods: the forms a council asks for, Dutch calendar days, and clear refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glazenstad.insight.figures import MAX_PERIOD_DAYS
from glazenstad.insight.report_period import (
    PeriodError,
    ReportPeriod,
    between,
    check_started,
    parse_period,
    recent_periods,
)


@pytest.mark.parametrize(
    ("text", "kind", "first", "last", "title"),
    [
        ("2026-Q3", "quarter", date(2026, 7, 1), date(2026, 9, 30), "derde kwartaal 2026"),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 3, 31), "eerste kwartaal 2026"),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31), "vierde kwartaal 2026"),
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31), "het jaar 2026"),
        ("2026-09", "month", date(2026, 9, 1), date(2026, 9, 30), "september 2026"),
        ("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29), "februari 2028"),
        (
            "2026-07-15--2026-08-14",
            "days",
            date(2026, 7, 15),
            date(2026, 8, 14),
            "15 juli 2026 tot en met 14 augustus 2026",
        ),
        # A range that is exactly a quarter is named as one.
        ("2026-07-01--2026-09-30", "quarter", date(2026, 7, 1), date(2026, 9, 30), None),
        (" 2026-Q3 ", "quarter", date(2026, 7, 1), date(2026, 9, 30), None),
    ],
)
def test_the_forms_of_a_period(
    text: str, kind: str, first: date, last: date, title: str | None
) -> None:
    period = parse_period(text)
    assert (period.kind, period.first, period.last) == (kind, first, last)
    if title is not None:
        assert period.title == title
    assert parse_period(period.key) == period


def test_a_quarter_runs_from_dutch_midnight_to_dutch_midnight() -> None:
    """Q3 starts at 00:00 summer time (22:00 UTC the day before); Q4 ends at 00:00 winter
    time (23:00 UTC): whole Dutch days, whatever the offset."""
    q3 = parse_period("2026-Q3")
    assert q3.start.astimezone(UTC) == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    assert q3.end.astimezone(UTC) == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    q4 = parse_period("2026-Q4")
    assert q4.start.astimezone(UTC) == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert q4.end.astimezone(UTC) == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    # October has 31 days and one 25-hour day (the clocks go back on 25 October 2026).
    october = parse_period("2026-10")
    assert october.end.astimezone(UTC) - october.start.astimezone(UTC) == timedelta(31, 3600)
    assert october.span == "1 oktober 2026 tot en met 31 oktober 2026"


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2026-Q3", "2026-Q2"),
        ("2026-Q1", "2025-Q4"),
        ("2026", "2025"),
        ("2026-01", "2025-12"),
        ("2026-03", "2026-02"),
        ("2026-07-15--2026-07-21", "2026-07-08--2026-07-14"),
    ],
)
def test_the_period_before(text: str, previous: str) -> None:
    assert parse_period(text).previous() == parse_period(previous)


@pytest.mark.parametrize(
    ("text", "english", "dutch"),
    [
        ("2026-Q5", "a quarter is Q1 to Q4", "een kwartaal is Q1, Q2, Q3 of Q4"),
        ("2026-Q0", "a quarter is Q1 to Q4", "Q1, Q2, Q3 of Q4"),
        ("2026-13", "a month is 01 to 12", "een maand is 01 tot en met 12"),
        ("2026-00", "a month is 01 to 12", "01 tot en met 12"),
        ("1999", "before 2000", "ligt voor 2000"),
        ("9999-12", "after 2999", "ligt na 2999"),
        ("9999-Q4", "after 2999", "ligt na 2999"),
        ("2999-12-31--3000-01-01", "after 2999", "ligt na 2999"),
        ("2026-02-30--2026-03-10", "2026-02-30 is not a date", "2026-02-30 is geen datum"),
        ("2026-09-30--2026-07-01", "is before the first", "ligt voor de eerste"),
        ("2025-01-01--2026-12-31", f"at most {MAX_PERIOD_DAYS} days", "ten hoogste"),
        ("Q3 2026", "is not a period; use 2026 (a year), 2026-Q3", "is geen periode; schrijf"),
        ("", "is not a period", "is geen periode"),
        ("2026-9", "is not a period", "is geen periode"),
        ("derde kwartaal", "is not a period", "is geen periode"),
    ],
)
def test_a_bad_period_says_what_is_wrong(text: str, english: str, dutch: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text)
    assert english in str(caught.value)
    assert dutch in caught.value.dutch


def test_a_period_that_has_not_started_is_refused() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    check_started(parse_period("2026-Q4"), now)  # under way: allowed
    with pytest.raises(PeriodError, match="has not started yet") as caught:
        check_started(parse_period("2027-Q1"), now)
    assert "nog niet begonnen" in caught.value.dutch
    assert not parse_period("2026-Q4").complete_at(now)
    assert parse_period("2026-Q3").complete_at(now)


def test_recent_periods_are_the_ones_a_council_asks_for() -> None:
    keys = [p.key for p in recent_periods(date(2026, 11, 29))]
    assert keys == [
        "2026-Q3",
        "2026-Q2",
        "2026-Q1",
        "2025-Q4",
        "2026",
        "2025",
        "2026-10",
        "2026-09",
        "2026-08",
    ]


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    length=st.integers(min_value=0, max_value=MAX_PERIOD_DAYS - 1),
)
def test_any_run_of_days_reads_back_from_its_key(first: date, length: int) -> None:
    period = between(first, first + timedelta(days=length))
    assert isinstance(period, ReportPeriod)
    assert parse_period(period.key) == period
    assert period.days == length + 1
    assert period.previous().last == period.first - timedelta(days=1)
    # Whole local days: each boundary is midnight in Amsterdam.
    assert period.start.hour == period.end.hour == 0
