"""Resident reads on a PostgreSQL streaming replica: routing, fallback to the primary, and lag.

Residents reading their own processings ("Mijn verwerkingen", the LDV read extension) are the
reads that grow with the population; sending them to a replica keeps them off the primary that
takes the writes. A replica is only useful if it never makes a read fail and never hides how far
behind it is, so this module does three things and nothing else:

- `ReadRouter.read(query)` runs a read on the replica and, when the replica cannot be reached (or
  cancels the query, as a hot standby may), runs it on the primary instead and logs a warning
  that names the replica's host and the error class only, never the query's parameters (they may
  hold pseudonyms). After a failure the replica is skipped for `RETRY_AFTER_S`, so that an
  unreachable replica does not add a connect timeout to every resident's request.
- `measure_lag(primary, replica)` compares the primary's WAL position with what the replica has
  replayed (bytes) and reports how old the replica's newest replayed transaction is (seconds).
- `ReadRouter.lag()` keeps the last measurement for `LAG_CACHE_S`, so that answering a resident
  does not cost two more round trips on every request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from glazenstad.db.engine import make_engine

T = TypeVar("T")

_log = logging.getLogger("glazenstad.db.replica")

APPLICATION_NAME = "glazenstad-read"
"""The replica connections' `application_name`: how an operator finds them in pg_stat_activity."""
CONNECT_TIMEOUT_S = 3
"""A replica that does not answer within this is treated as away (the primary answers instead)."""
RETRY_AFTER_S = 5.0
"""After a replica failure, reads go to the primary this long before the replica is tried again."""
LAG_CACHE_S = 1.0
"""A lag measurement is reused this long for resident answers (the status API measures afresh)."""

SOURCE_REPLICA = "replica"
SOURCE_PRIMARY = "primary"


def parse_lsn(lsn: str) -> int:
    """A PostgreSQL LSN (`16/B374D848`) as a byte position, so two can be subtracted."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaLag:
    """One measurement of how far the replica is behind the primary.

    `reachable` False means the replica did not answer (`error` says why, without secrets).
    `lag_bytes` is WAL the primary has written that the replica has not replayed yet (None when
    the primary could not be asked). `lag_seconds` is 0 when nothing is waiting to be replayed;
    otherwise the age of the newest transaction the replica has replayed, an upper bound on how
    old its data is (None when it has replayed none since it started).
    """

    reachable: bool
    in_recovery: bool | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    replay_paused: bool | None = None
    error: str | None = None

    @property
    def is_replica(self) -> bool:
        return bool(self.reachable and self.in_recovery)


def _describe(exc: BaseException) -> str:
    """The error's class and first line: enough to act on, without the statement's parameters."""
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first}"[:300]


def measure_lag(primary: Engine, replica: Engine) -> ReplicaLag:
    """Ask the replica what it has replayed and the primary where its WAL is.

    The replica is asked first, so that a transaction committed between the two questions can
    only make the lag look larger, never smaller.
    """
    try:
        with replica.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT pg_is_in_recovery() AS in_recovery, "
                    "pg_last_wal_replay_lsn()::text AS replay_lsn, "
                    "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused, "
                    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) "
                    "AS replay_age"
                )
            ).one()
    except DBAPIError as exc:
        return ReplicaLag(reachable=False, error=_describe(exc))
    if not row.in_recovery:
        # Not a replica at all (a misconfigured read URL): it is as current as it gets.
        return ReplicaLag(reachable=True, in_recovery=False)
    try:
        with primary.connect() as conn:
            current = str(conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one())
    except DBAPIError as exc:
        return ReplicaLag(
            reachable=True,
            in_recovery=True,
            replay_paused=bool(row.paused),
            lag_seconds=None if row.replay_age is None else max(0.0, float(row.replay_age)),
            error=f"primary: {_describe(exc)}",
        )
    behind = max(0, parse_lsn(current) - parse_lsn(row.replay_lsn)) if row.replay_lsn else None
    if behind == 0:
        seconds: float | None = 0.0
    else:
        seconds = None if row.replay_age is None else max(0.0, float(row.replay_age))
    return ReplicaLag(
        reachable=True,
        in_recovery=True,
        lag_bytes=behind,
        lag_seconds=seconds,
        replay_paused=bool(row.paused),
    )


def make_read_engine(url: str) -> Engine:
    """An engine for the replica: a short connect timeout and a name seen in pg_stat_activity."""
    parsed = make_url(url)
    query = dict(parsed.query)
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    query.setdefault("application_name", APPLICATION_NAME)
    return make_engine(parsed.set(query=query).render_as_string(hide_password=False))


class ReadRouter:
    """Where resident reads go: the replica when configured and reachable, else the primary.

    Without a replica (`replica` None) every read goes to the primary and `lag()` is None: the
    installation behaves exactly as one without this module.
    """

    def __init__(self, primary: Engine, replica: Engine | None) -> None:
        self.primary = primary
        self.replica = replica
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._lag: tuple[float, ReplicaLag] | None = None

    @property
    def configured(self) -> bool:
        return self.replica is not None

    @property
    def on_replica(self) -> bool:
        """Reads go to the replica now (configured, and not skipped after a failure)."""
        return self.replica is not None and time.monotonic() >= self._skip_until

    def read(self, query: Callable[[Engine], T]) -> tuple[T, str]:
        """Run `query` on the replica, or on the primary when the replica fails; says which."""
        replica = self.replica
        if replica is None or time.monotonic() < self._skip_until:
            return query(self.primary), SOURCE_PRIMARY
        try:
            return query(replica), SOURCE_REPLICA
        except OperationalError as exc:
            # Unreachable, shut down, or a query cancelled by recovery: the primary answers.
            with self._lock:
                self._skip_until = time.monotonic() + RETRY_AFTER_S
            _log.warning(
                "read replica %s failed (%s); resident reads go to the primary for %.0f s",
                replica.url.host,
                _describe(exc),
                RETRY_AFTER_S,
            )
            return query(self.primary), SOURCE_PRIMARY

    def lag(self, *, fresh: bool = False) -> ReplicaLag | None:
        """The replica's lag (None without a replica); reused for `LAG_CACHE_S` unless `fresh`."""
        if self.replica is None:
            return None
        now = time.monotonic()
        cached = self._lag
        if not fresh and cached is not None and now - cached[0] < LAG_CACHE_S:
            return cached[1]
        measured = measure_lag(self.primary, self.replica)
        with self._lock:
            self._lag = (time.monotonic(), measured)
        return measured

    def stale_seconds(self, threshold_s: float) -> float | None:
        """How old a replica answer may be, when that exceeds `threshold_s`; else None.

        None too when the replica's age cannot be measured (it replayed nothing since it
        started): there is no honest number to give then, and `GET /api/v1/status` shows it.
        """
        lag = self.lag()
        if lag is None or not lag.is_replica:
            return None
        if lag.lag_seconds is not None:
            return lag.lag_seconds if lag.lag_seconds > threshold_s else None
        return None

    def dispose(self) -> None:
        if self.replica is not None:
            self.replica.dispose()
