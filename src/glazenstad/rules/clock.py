"""Local (Europe/Amsterdam) weekday and minute of day for a UTC timestamp, fast.

Time zones change offsets only at whole quarters of an hour, so a 15-minute UTC bucket has one
local weekday and a fixed local minute at its start: computing that once per bucket and caching
it turns a zoneinfo conversion (microseconds) into a dict lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Europe/Amsterdam")
_BUCKET = 900
_cache: dict[int, tuple[int, int]] = {}


def _bucket_start(bucket: int) -> tuple[int, int]:
    local = datetime.fromtimestamp(bucket * _BUCKET, UTC).astimezone(TIMEZONE)
    value = (local.weekday(), local.hour * 60 + local.minute)
    if len(_cache) > 100_000:  # about three years of quarters: a replay of old decisions
        _cache.clear()
    _cache[bucket] = value
    return value


def local_weekday_minute(timestamp: float) -> tuple[int, int]:
    """(weekday 0=Monday, minute of day) in Europe/Amsterdam."""
    seconds = int(timestamp)
    bucket = seconds // _BUCKET
    start = _cache.get(bucket)
    if start is None:
        start = _bucket_start(bucket)
    return start[0], start[1] + (seconds % _BUCKET) // 60
