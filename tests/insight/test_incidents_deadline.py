"""The 72-hour deadline of AVG art. 33 across the changes to and from summer time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glazenstad.insight.incidents.timing import (
    LOCAL_ZONE,
    MomentError,
    from_local,
    local,
    notification_deadline,
    parse_moment,
)


def wall(text: str) -> datetime:
    """A Dutch wall-clock time as a UTC instant, through the code under test."""
    return parse_moment(text)


def test_autumn_saturday_before_last_sunday_of_october() -> None:
    # Saturday 24 October 2026, 10:00 summer time (+02:00); the clock goes back on Sunday 25th.
    discovered = wall("2026-10-24T10:00")
    assert discovered == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    deadline = notification_deadline(discovered)
    assert deadline - discovered == timedelta(hours=72)
    assert deadline == datetime(2026, 10, 27, 8, 0, tzinfo=UTC)
    # On the wall clock that is Tuesday 09:00 winter time, not 10:00: the night had 25 hours.
    shown = local(deadline)
    assert (shown.day, shown.hour, shown.utcoffset()) == (27, 9, timedelta(hours=1))


def test_spring_saturday_before_last_sunday_of_march() -> None:
    # Saturday 28 March 2026, 10:00 winter time (+01:00); the clock goes forward on Sunday 29th.
    discovered = wall("2026-03-28T10:00")
    assert discovered == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    deadline = notification_deadline(discovered)
    assert deadline == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    # Tuesday 11:00 summer time: the night of the change had 23 hours.
    shown = local(deadline)
    assert (shown.day, shown.hour, shown.utcoffset()) == (31, 11, timedelta(hours=2))


def test_wall_clock_arithmetic_would_be_an_hour_off() -> None:
    """What the code must not do: add 72 hours to a local time (same clock time 3 days on)."""
    discovered = wall("2026-10-24T10:00")
    naive_local = local(discovered) + timedelta(hours=72)
    assert naive_local.astimezone(UTC) - discovered == timedelta(hours=73)
    assert notification_deadline(discovered) != naive_local


def test_deadline_within_one_offset_is_three_days_same_clock_time() -> None:
    discovered = wall("2026-06-10T14:30")
    shown = local(notification_deadline(discovered))
    assert (shown.day, shown.hour, shown.minute) == (13, 14, 30)


def test_the_hour_that_happens_twice_takes_the_earlier() -> None:
    # 25 October 2026 02:30 happens at +02:00 and again at +01:00; the earlier gives the
    # earlier deadline.
    assert wall("2026-10-25T02:30") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert wall("2026-10-25T02:30+01:00") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_the_hour_that_does_not_exist_is_refused() -> None:
    with pytest.raises(MomentError, match="bestaat niet in Nederlandse tijd"):
        wall("2026-03-29T02:30")
    assert wall("2026-03-29T03:00") == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-24T08:00Z", datetime(2026, 10, 24, 8, 0, tzinfo=UTC)),
        ("2026-10-24 10:00+02:00", datetime(2026, 10, 24, 8, 0, tzinfo=UTC)),
        ("2026-01-05T09:15", datetime(2026, 1, 5, 8, 15, tzinfo=UTC)),
    ],
)
def test_moments_with_and_without_offset(text: str, expected: datetime) -> None:
    assert parse_moment(text) == expected


@pytest.mark.parametrize("text", ["", "gisteren", "2026-13-01T10:00", "24-10-2026 10:00"])
def test_unreadable_moments_say_what_to_type(text: str) -> None:
    with pytest.raises(MomentError, match="discoveredAt"):
        parse_moment(text, field="discoveredAt")


def test_a_naive_discovery_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        notification_deadline(datetime(2026, 10, 24, 10, 0))


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_deadline_is_always_72_hours_of_elapsed_time(discovered: datetime) -> None:
    deadline = notification_deadline(discovered.astimezone(LOCAL_ZONE))
    assert deadline.tzinfo == UTC
    # Aware datetimes subtract exactly (timestamps are floats and round in the microseconds).
    assert deadline - discovered == timedelta(hours=72)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_every_existing_wall_time_round_trips(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    try:
        instant = from_local(moment)
    except MomentError:
        # Only the hour skipped in spring does not exist.
        assert moment.month == 3 and moment.hour == 2
        return
    assert local(instant).replace(tzinfo=None) == moment
