"""Figures of what execution did, for policy staff, the council report and the public.

Everything here is an aggregate over the decision log and the logbook, computed in the database:
one GROUP BY per table over the organisation's period, using the (organisation, time) indexes,
so millions of decisions never travel to Python one by one. The GROUP BY keeps every dimension a
page may filter on (activity, department, rule, reason, break-the-glass), so one query answers
the whole dashboard and a filter is applied to a few thousand groups in Python, not by asking the
database again.

Days are the municipality's calendar days (Europe/Amsterdam): the database buckets each row by
its local date, so a day has 23 or 25 hours when the clocks change. PostgreSQL converts with
the zone itself; SQLite, which knows no zones, adds the UTC offset taken piecewise from the
zone's transitions within the period (a CASE over the transition moments); log records' epoch
milliseconds get the same CASE in integer arithmetic on both. Weeks (Monday to Sunday) are
summed from days in Python.

A finished day never changes (both logs are append-only), so `DayCache` keeps the groups of
finished days in the process and reads only recent rows again; `FigureCache` keeps whole
results (the public figures) for a minute.

Activities: a decision names its purpose by activity id or URI and a log record by URI; both are
mapped to the register's activity id (`ActivityIndex`), so the two meet per activity. A
department filter selects decisions by the actor's department, and log records and retention by
the activities the register says that department carries out (log records name no actor).

This module is domain code: it imports no web code, so the council report reuses it as it is.
"""

from __future__ import annotations

import json
import threading
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, Text, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from glazenstad.execution.parking.retention import DELETION_NAME
from glazenstad.insight.compliance.history import score_history
from glazenstad.insight.incidents.reviews import JUSTIFIED, UNJUSTIFIED
from glazenstad.insight.incidents.tables import break_glass_review
from glazenstad.insight.signals.figures import PublicSignalFigures, public_signal_figures
from glazenstad.logbook.tables import log_deletion_receipt, log_record
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules import outcome as oc
from glazenstad.rules.tables import decision_log

MUNICIPAL_ZONE: Final = ZoneInfo("Europe/Amsterdam")
DAY_MS: Final = 86_400_000
EPOCH_DAY: Final = date(1970, 1, 1)
# Up to this many days a period is shown per day; longer periods per week.
MAX_DAILY_DAYS: Final = 62
# Longest period the figures are computed for (a year and a bit, for a year-on-year view).
MAX_PERIOD_DAYS: Final = 400
NOT_REGISTERED: Final = ""
"""Activity key of purposes and log records that name no activity of the register."""

# Why a decision was denied, in plain Dutch; the deciding rule is shown beside it.
REASON_TITLES: Final[dict[str, str]] = {
    oc.DENY_RULE: "Een spelregel verbiedt het",
    oc.NO_PERMIT: "Geen spelregel staat het toe",
    oc.UNKNOWN_PURPOSE: "Het doel staat niet in het register",
    oc.INACTIVE_PURPOSE: "De verwerking is niet actief",
    oc.UNKNOWN_DATA_CATEGORY: "Onbekende gegevenscategorie",
    oc.UNKNOWN_ACTION: "Onbekende handeling",
    oc.NO_POLICY: "Er zijn geen spelregels vastgesteld",
    oc.PERMIT: "Toegestaan",
    oc.BREAK_GLASS: "Toegestaan in een noodsituatie",
}

Granularity = Literal["day", "week"]
T = TypeVar("T")


def reason_title(reason: str) -> str:
    return REASON_TITLES.get(reason, reason)


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """Whole local days [first, end): one day or one week (a week may be cut by the period)."""

    first: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.first).days


@dataclass(frozen=True)
class Period:
    """Whole calendar days in the municipality's zone, from `first` to `last` inclusive."""

    first: date
    last: date
    zone: tzinfo = MUNICIPAL_ZONE

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a period ends on or after its first day")
        if (self.last - self.first).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"a period spans at most {MAX_PERIOD_DAYS} days")

    @classmethod
    def last_days(
        cls, count: int, today: date | None = None, zone: tzinfo = MUNICIPAL_ZONE
    ) -> Period:
        """The `count` days up to and including today (local)."""
        today = today or datetime.now(zone).date()
        return cls(today - timedelta(days=count - 1), today, zone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=self.zone)

    @property
    def day_count(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def granularity(self) -> Granularity:
        return "day" if self.day_count <= MAX_DAILY_DAYS else "week"

    def buckets(self) -> list[Bucket]:
        """The period's days, or its weeks (Monday first; the first and last may be partial)."""
        end = self.last + timedelta(days=1)
        if self.granularity == "day":
            return [
                Bucket(self.first + timedelta(days=n), self.first + timedelta(days=n + 1))
                for n in range(self.day_count)
            ]
        buckets = []
        first = self.first
        while first < end:
            monday = first.toordinal() - first.weekday()  # ordinals: safe at the calendar's end
            stop = date.fromordinal(min(monday + 7, end.toordinal()))
            buckets.append(Bucket(first, stop))
            first = stop
        return buckets

    def bucket_index(self) -> Callable[[date], int]:
        """A function from a day of the period to the index of its bucket in `buckets()`."""
        if self.granularity == "day":
            first = self.first
            return lambda day: (day - first).days
        index = {}
        for number, bucket in enumerate(self.buckets()):
            for n in range(bucket.days):
                index[bucket.first + timedelta(days=n)] = number
        return index.__getitem__


def utc_offsets(start: datetime, end: datetime, zone: tzinfo) -> list[tuple[datetime, timedelta]]:
    """The zone's UTC offset over [start, end) as pieces: (UTC moment from which it holds, offset).

    The first piece starts at `start`. Transitions are found by stepping an hour at a time and
    then bisecting to the second, so any zone works, not only whole-hour changes.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(zone).utcoffset() or timedelta(0)

    pieces = [(start, offset(start))]
    moment = start
    while moment < end:
        step = min(moment + timedelta(hours=1), end)
        if offset(step) != pieces[-1][1]:
            low, high = moment, step  # offset(low) is the old one, offset(high) the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == pieces[-1][1]:
                    low = middle
                else:
                    high = middle
            pieces.append((high.replace(microsecond=0), offset(step)))
        moment = step
    return pieces


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def local_day_number(column: ColumnElement[Any], period: Period) -> ColumnElement[Any]:
    """Days since 1970-01-01 of a local date, for a column of milliseconds since the epoch.

    Integer arithmetic only, the same on SQLite and PostgreSQL.
    """
    pieces = utc_offsets(period.start, period.end, period.zone)
    offsets = [int(offset.total_seconds() * 1000) for _, offset in pieces]
    shifted: ColumnElement[Any]
    if len(pieces) == 1:
        shifted = column + offsets[0]
    else:
        shifted = column + case(
            *[(column < _ms(pieces[n + 1][0]), offsets[n]) for n in range(len(pieces) - 1)],
            else_=offsets[-1],
        )
    return shifted // DAY_MS


def local_date(column: Any, period: Period, dialect: str) -> ColumnElement[Any]:
    """The local calendar date of a timestamp column (see `UTCDateTime`), per dialect.

    PostgreSQL converts with the zone itself; SQLite, which stores naive UTC text and knows no
    zones, adds the offset that held at that moment (a CASE over the period's transitions).
    """
    if dialect == "postgresql":
        name = getattr(period.zone, "key", None)
        if not isinstance(name, str):
            raise ValueError("PostgreSQL needs a named time zone (a ZoneInfo)")
        return func.to_char(func.timezone(name, column), "YYYY-MM-DD")
    pieces = utc_offsets(period.start, period.end, period.zone)
    modifiers = [f"{int(offset.total_seconds()):+d} seconds" for _, offset in pieces]
    if len(pieces) == 1:
        modifier: Any = literal(modifiers[0])
    else:
        modifier = case(
            *[(column < pieces[n + 1][0], modifiers[n]) for n in range(len(pieces) - 1)],
            else_=modifiers[-1],
        )
    return func.date(column, modifier)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- activities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityIndex:
    """Activity ids by id and by URI, with the departments that carry each one out."""

    ids: Mapping[str, str]
    names: Mapping[str, str]
    departments: Mapping[str, frozenset[str]]
    owners: Mapping[str, str]

    @classmethod
    def of(cls, register: OrganisationRegister | None) -> ActivityIndex:
        if register is None:
            return cls({}, {}, {}, {})
        ids: dict[str, str] = {}
        names: dict[str, str] = {}
        departments: dict[str, frozenset[str]] = {}
        owners: dict[str, str] = {}
        for stored in register.entries(KIND_ACTIVITY):
            activity = stored.entry
            ids[stored.entry_id] = stored.entry_id
            ids[stored.uri] = stored.entry_id
            names[stored.entry_id] = activity.name
            departments[stored.entry_id] = frozenset(getattr(activity, "departments", ()))
            owners[stored.entry_id] = str(getattr(activity, "owner", ""))
        return cls(ids, names, departments, owners)

    def key(self, purpose_or_uri: str) -> str:
        """The register's activity id, or NOT_REGISTERED."""
        return self.ids.get(purpose_or_uri, NOT_REGISTERED)

    def name(self, key: str) -> str:
        return self.names.get(key, "Niet in het register") if key else "Niet in het register"

    def of_department(self, department: str) -> frozenset[str]:
        return frozenset(k for k, deps in self.departments.items() if department in deps)


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionGroup:
    """Decisions on one local day that agree on everything a dashboard filters or splits by."""

    day: date
    purpose: str
    department: str
    effect: str
    reason: str
    rules: tuple[str, ...]
    break_glass: bool
    count: int


def decision_groups_query(dialect: str, organisation_id: str, period: Period) -> Select[Any]:
    """The grouping query of `decision_groups` (separate, so its plan can be shown)."""
    d = decision_log
    day = local_date(d.c.decided_at, period, dialect).label("day")
    rules = cast(d.c.rules, Text).label("rules_text")
    return (
        select(
            day,
            d.c.purpose,
            d.c.department,
            d.c.effect,
            d.c.reason,
            rules,
            d.c.break_glass,
            func.count().label("n"),
        )
        .where(
            d.c.organisation_id == organisation_id,
            d.c.decided_at >= period.start,
            d.c.decided_at < period.end,
        )
        .group_by(day, d.c.purpose, d.c.department, d.c.effect, d.c.reason, rules, d.c.break_glass)
    )


def decision_groups(engine: Engine, organisation_id: str, period: Period) -> list[DecisionGroup]:
    """The organisation's decisions in the period, grouped (one scan of the org/time index range).

    The deciding rules are a JSON list; they are grouped by its text (a few distinct lists) and
    parsed once per distinct text here.
    """
    with engine.connect() as conn:
        query = decision_groups_query(conn.dialect.name, organisation_id, period)
        rows = conn.execute(query).all()
    parsed: dict[str, tuple[str, ...]] = {}
    days: dict[Any, date] = {}
    groups = []
    for row in rows:
        text = row.rules_text or "[]"
        rule_ids = parsed.get(text)
        if rule_ids is None:
            rule_ids = parsed[text] = tuple(str(r) for r in json.loads(text))
        when = days.get(row.day)
        if when is None:
            when = days[row.day] = _as_date(row.day)
        groups.append(
            DecisionGroup(
                when,
                row.purpose,
                row.department,
                row.effect,
                row.reason,
                rule_ids,
                bool(row.break_glass),
                int(row.n),
            )
        )
    return groups


@dataclass(slots=True)
class Tally:
    """Decisions counted by effect; `break_glass` counts the permits under break-the-glass."""

    permit: int = 0
    deny: int = 0
    break_glass: int = 0

    @property
    def total(self) -> int:
        return self.permit + self.deny

    @property
    def deny_share(self) -> float:
        """Share of denials, 0..1 (0 without decisions)."""
        return self.deny / self.total if self.total else 0.0

    def add(self, group: DecisionGroup) -> None:
        if group.effect == "permit":
            self.permit += group.count
            if group.break_glass:
                self.break_glass += group.count
        else:
            self.deny += group.count


@dataclass(frozen=True)
class Denial:
    """A reason for denials: the reason code and the deciding rule (None: no rule decided)."""

    reason: str
    rule: str | None
    count: int

    @property
    def title(self) -> str:
        return reason_title(self.reason)


@dataclass(frozen=True)
class DecisionFilter:
    """What a page narrows the decisions to; empty fields do not narrow."""

    department: str = ""
    activity: str = ""
    rule: str = ""

    def matches(self, group: DecisionGroup, activity_key: str) -> bool:
        if self.department and group.department != self.department:
            return False
        if self.activity and activity_key != self.activity:
            return False
        return not (self.rule and self.rule not in group.rules)


@dataclass
class DecisionFigures:
    period: Period
    total: Tally
    by_bucket: list[Tally]
    by_activity: dict[str, Tally]
    by_rule: dict[str, Tally]
    """Per rule, the decisions it decided (a decision may have more than one deciding rule)."""
    denials: list[Denial]
    """Most frequent first."""
    break_glass_by_bucket: list[int]
    departments: list[str]
    """Every department with decisions in the period (before filtering), for a filter list."""


def decision_figures(
    groups: Iterable[DecisionGroup],
    period: Period,
    activities: ActivityIndex,
    selection: DecisionFilter = DecisionFilter(),
) -> DecisionFigures:
    """Fold decision groups into the dashboard's figures, narrowed by `selection`."""
    buckets = period.buckets()
    index = period.bucket_index()
    total = Tally()
    by_bucket = [Tally() for _ in buckets]
    glass = [0] * len(buckets)
    by_activity: dict[str, Tally] = defaultdict(Tally)
    by_rule: dict[str, Tally] = defaultdict(Tally)
    denials: dict[tuple[str, str | None], int] = defaultdict(int)
    departments: set[str] = set()
    for group in groups:
        departments.add(group.department)
        key = activities.key(group.purpose)
        if not selection.matches(group, key):
            continue
        total.add(group)
        number = index(group.day)
        by_bucket[number].add(group)
        if group.break_glass and group.effect == "permit":
            glass[number] += group.count
        by_activity[key].add(group)
        for rule in group.rules:
            by_rule[rule].add(group)
        if group.effect != "permit":
            deciding: tuple[str | None, ...] = group.rules or (None,)
            for denying in deciding:
                denials[(group.reason, denying)] += group.count
    ordered = sorted(denials.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
    return DecisionFigures(
        period=period,
        total=total,
        by_bucket=by_bucket,
        by_activity=dict(by_activity),
        by_rule=dict(by_rule),
        denials=[Denial(reason, rule, count) for (reason, rule), count in ordered],
        break_glass_by_bucket=glass,
        departments=sorted((d for d in departments if d), key=str.casefold),
    )


def decision_totals(engine: Engine, organisation_id: str, period: Period) -> Tally:
    """Permits, denials and break-the-glass permits in the period (for the public figures)."""
    d = decision_log
    query = (
        select(d.c.effect, d.c.break_glass, func.count())
        .where(
            d.c.organisation_id == organisation_id,
            d.c.decided_at >= period.start,
            d.c.decided_at < period.end,
        )
        .group_by(d.c.effect, d.c.break_glass)
    )
    tally = Tally()
    with engine.connect() as conn:
        for effect, glass, count in conn.execute(query):
            if effect == "permit":
                tally.permit += int(count)
                if glass:
                    tally.break_glass += int(count)
            else:
                tally.deny += int(count)
    return tally


# --- log volume -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogGroup:
    day: date
    activity_uri: str
    count: int


def log_groups(engine: Engine, organisation_id: str, period: Period) -> list[LogGroup]:
    """Log records per activity URI and local day, by their start time.

    Organisation, activity and start time are the columns of ix_log_record_activity, so the
    count is read from that index alone.
    """
    r = log_record
    day = local_day_number(r.c.start_time_ms, period).label("day")
    query = (
        select(day, r.c.processing_activity_id, func.count().label("n"))
        .where(
            r.c.organisation_id == organisation_id,
            r.c.start_time_ms >= _ms(period.start),
            r.c.start_time_ms < _ms(period.end),
        )
        .group_by(day, r.c.processing_activity_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        LogGroup(EPOCH_DAY + timedelta(days=int(row.day)), row.processing_activity_id, int(row.n))
        for row in rows
    ]


@dataclass
class LogFigures:
    total: int
    by_bucket: list[int]
    by_activity: dict[str, int]
    by_activity_bucket: dict[str, list[int]]


def log_figures(
    groups: Iterable[LogGroup],
    period: Period,
    activities: ActivityIndex,
    *,
    department: str = "",
    activity: str = "",
) -> LogFigures:
    """Log volume per activity and bucket; a department narrows to the activities it carries out."""
    allowed = activities.of_department(department) if department else None
    index = period.bucket_index()
    size = len(period.buckets())
    total = 0
    by_bucket = [0] * size
    by_activity: dict[str, int] = defaultdict(int)
    by_activity_bucket: dict[str, list[int]] = {}
    for group in groups:
        key = activities.key(group.activity_uri)
        if allowed is not None and key not in allowed:
            continue
        if activity and key != activity:
            continue
        number = index(group.day)
        total += group.count
        by_bucket[number] += group.count
        by_activity[key] += group.count
        by_activity_bucket.setdefault(key, [0] * size)[number] += group.count
    return LogFigures(total, by_bucket, dict(by_activity), by_activity_bucket)


def log_totals(engine: Engine, organisation_id: str, period: Period) -> dict[str, int]:
    """Log records per activity URI in the period (for the public figures)."""
    r = log_record
    query = (
        select(r.c.processing_activity_id, func.count())
        .where(
            r.c.organisation_id == organisation_id,
            r.c.start_time_ms >= _ms(period.start),
            r.c.start_time_ms < _ms(period.end),
        )
        .group_by(r.c.processing_activity_id)
    )
    with engine.connect() as conn:
        return {uri: int(n) for uri, n in conn.execute(query)}


# --- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRunFigure:
    """One retention run of the logbook, as far as it concerned this organisation."""

    run_id: str
    ran_at: datetime
    removed: int
    lateness_max_ms: int
    lateness_p95_ms: int
    """An upper bound of the run's 95th percentile: the highest of its batches' (each batch
    keeps at most 5% above its own, so the run keeps at most 5% above the highest)."""


@dataclass(frozen=True)
class ParkingRetentionFigure:
    """One run of the scan-car retention job, from the log record it writes."""

    ran_at: datetime
    scans: int
    cases: int
    lateness_s: float


@dataclass
class RetentionFigures:
    removed: int
    by_activity: dict[str, int]
    by_bucket: list[int]
    runs: list[RetentionRunFigure]
    parking: list[ParkingRetentionFigure] = field(default_factory=list)

    @property
    def lateness_max_ms(self) -> int | None:
        return max((run.lateness_max_ms for run in self.runs), default=None)


def retention_figures(
    engine: Engine,
    organisation_id: str,
    period: Period,
    activities: ActivityIndex,
    *,
    department: str = "",
    activity: str = "",
    parking_activity_uri: str | None = None,
) -> RetentionFigures:
    """Records removed by retention in the period and how late, from the deletion receipts.

    A receipt covers one batch of one chain and counts its removed records per activity. With a
    department or activity, only those activities' records count, and a run's lateness is that
    of the batches that removed any of them. With `parking_activity_uri`, the runs of the scan-car
    retention job are read from the log records it writes under that activity.
    """
    t = log_deletion_receipt
    allowed = activities.of_department(department) if department else None
    query = (
        select(
            t.c.run_id,
            t.c.ran_at,
            t.c.by_activity,
            t.c.lateness_max_ms,
            t.c.lateness_p95_ms,
        )
        .where(
            t.c.organisation_id == organisation_id,
            t.c.ran_at >= period.start,
            t.c.ran_at < period.end,
        )
        .order_by(t.c.ran_at, t.c.id)
    )
    index = period.bucket_index()
    by_bucket = [0] * len(period.buckets())
    by_activity: dict[str, int] = defaultdict(int)
    runs: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        receipts = conn.execute(query).all()
        parking_rows = (
            conn.execute(
                select(log_record.c.start_time_ms, log_record.c.attributes).where(
                    log_record.c.organisation_id == organisation_id,
                    log_record.c.processing_activity_id == parking_activity_uri,
                    log_record.c.start_time_ms >= _ms(period.start),
                    log_record.c.start_time_ms < _ms(period.end),
                    log_record.c.name == DELETION_NAME,
                )
            ).all()
            if parking_activity_uri
            else []
        )
    for receipt in receipts:
        counts = receipt.by_activity or {}
        if isinstance(counts, str):
            counts = json.loads(counts)
        removed = 0
        for uri, count in counts.items():
            key = activities.key(uri)
            if (allowed is not None and key not in allowed) or (activity and key != activity):
                continue
            by_activity[key] += int(count)
            removed += int(count)
        if not removed:
            continue
        ran_at = receipt.ran_at
        by_bucket[index(ran_at.astimezone(period.zone).date())] += removed
        run = runs.setdefault(receipt.run_id, [ran_at, 0, 0, 0])
        run[1] += removed
        run[2] = max(run[2], int(receipt.lateness_max_ms))
        run[3] = max(run[3], int(receipt.lateness_p95_ms))
    parking = []
    wanted = not activity or activities.key(parking_activity_uri or "") == activity
    if allowed is not None:
        wanted = wanted and activities.key(parking_activity_uri or "") in allowed
    for start_ms, attributes in parking_rows if wanted else []:
        values = attributes if isinstance(attributes, dict) else json.loads(attributes)
        parking.append(
            ParkingRetentionFigure(
                datetime.fromtimestamp(int(start_ms) / 1000, UTC),
                int(values.get("glazenstad.deleted_scans", 0)),
                int(values.get("glazenstad.deleted_cases", 0)),
                float(values.get("glazenstad.retention_lateness_s", 0.0)),
            )
        )
    parking.sort(key=lambda p: p.ran_at)
    return RetentionFigures(
        removed=sum(by_bucket),
        by_activity=dict(by_activity),
        by_bucket=by_bucket,
        runs=[
            RetentionRunFigure(run_id, ran_at, removed, late_max, late_p95)
            for run_id, (ran_at, removed, late_max, late_p95) in runs.items()
        ],
        parking=parking,
    )


def top(values: Mapping[str, int], count: int) -> list[tuple[str, int]]:
    """The `count` largest, largest first (ties by key), for charts that cannot show them all."""
    return sorted(values.items(), key=lambda item: (-item[1], item[0]))[:count]


def share_text(part: int, whole: int) -> str:
    """A percentage in Dutch notation, one decimal ("12,5%"); "0%" without a whole."""
    if not whole:
        return "0%"
    return f"{100 * part / whole:.1f}".replace(".", ",") + "%"


# --- break-the-glass and its reviews ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewGroup:
    """Break-the-glass permits of one activity and department with the same review verdict."""

    purpose: str
    department: str
    rules: tuple[str, ...]
    verdict: str | None
    """justified, unjustified, or None while waiting for a review."""
    count: int
    oldest: datetime | None
    """The earliest decision of the group (for "waiting since")."""


def review_groups(engine: Engine, organisation_id: str, period: Period) -> list[ReviewGroup]:
    """Break-the-glass permits in the period with their reviews (see insight.incidents.reviews).

    Reads the partial index of break-the-glass decisions, so it costs little however many
    ordinary decisions there are.
    """
    d, r = decision_log, break_glass_review
    rules = cast(d.c.rules, Text).label("rules_text")
    query = (
        select(
            d.c.purpose,
            d.c.department,
            rules,
            r.c.verdict,
            func.count().label("n"),
            func.min(d.c.decided_at).label("oldest"),
        )
        .select_from(d.outerjoin(r, r.c.decision_id == d.c.decision_id))
        .where(
            d.c.organisation_id == organisation_id,
            d.c.break_glass.is_(True),
            d.c.decided_at >= period.start,
            d.c.decided_at < period.end,
        )
        .group_by(d.c.purpose, d.c.department, rules, r.c.verdict)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ReviewGroup(
            row.purpose,
            row.department,
            tuple(str(rule) for rule in json.loads(row.rules_text or "[]")),
            row.verdict,
            int(row.n),
            _moment(row.oldest),
        )
        for row in rows
    ]


def _moment(value: Any) -> datetime | None:
    """An aggregate of a timestamp: SQLite hands it back as naive UTC text."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class ReviewTally:
    total: int = 0
    justified: int = 0
    unjustified: int = 0
    oldest_unreviewed: datetime | None = None

    @property
    def reviewed(self) -> int:
        return self.justified + self.unjustified

    @property
    def unreviewed(self) -> int:
        return self.total - self.reviewed


def review_figures(
    groups: Iterable[ReviewGroup],
    activities: ActivityIndex,
    *,
    department: str = "",
    activity: str = "",
    rule: str = "",
) -> tuple[ReviewTally, dict[str, ReviewTally]]:
    """Review status in all (narrowed like the decisions) and per activity."""
    total = ReviewTally()
    per_activity: dict[str, ReviewTally] = defaultdict(ReviewTally)
    for group in groups:
        key = activities.key(group.purpose)
        if (department and group.department != department) or (activity and key != activity):
            continue
        if rule and rule not in group.rules:
            continue
        for tally in (total, per_activity[key]):
            tally.total += group.count
            if group.verdict == JUSTIFIED:
                tally.justified += group.count
            elif group.verdict == UNJUSTIFIED:
                tally.unjustified += group.count
            elif group.oldest is not None and (
                tally.oldest_unreviewed is None or group.oldest < tally.oldest_unreviewed
            ):
                tally.oldest_unreviewed = group.oldest
    return total, dict(per_activity)


# --- a short-lived cache ----------------------------------------------------------------------


class FigureCache:
    """Results of figure queries kept for `seconds`, per key, in this process.

    The public home page is the most visited page; its figures change by the second but nobody
    needs them to the second, so one query per minute serves every visitor. One computation per
    key at a time: visitors arriving while it runs wait for it instead of running it again.
    """

    def __init__(self, seconds: float = 60.0, max_entries: int = 256) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._values: dict[Any, tuple[float, Any]] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        now = monotonic()
        found = self._values.get(key)
        if found is not None and now - found[0] < self.seconds:
            return typing.cast(T, found[1])
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._values.get(key)
            if found is not None and monotonic() - found[0] < self.seconds:
                return typing.cast(T, found[1])
            value = compute()
            with self._lock:
                if len(self._values) >= self.max_entries:
                    oldest = min(self._values, key=lambda k: self._values[k][0])
                    del self._values[oldest]
                    self._locks.pop(oldest, None)
                self._values[key] = (monotonic(), value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


G = TypeVar("G", DecisionGroup, LogGroup)


class DayCache:
    """Groups of finished days, kept in this process; recent days are always read live.

    A day's decisions and log records are final once the day is over: both logs are append-only
    and written within seconds of the moment they record. So a dashboard that was opened once
    reads only today's rows after that, however long the period. A day counts as finished
    `grace` after its local midnight (for writes still under way), and a kept day is read again
    after `seconds` (for rows written late, e.g. an import of older records).
    """

    def __init__(
        self,
        seconds: float = 3600.0,
        grace: timedelta = timedelta(minutes=15),
        max_days: int = 20_000,
    ) -> None:
        self.seconds = seconds
        self.grace = grace
        self.max_days = max_days
        self._days: dict[tuple[str, str, date], tuple[float, list[Any]]] = {}
        self._lock = threading.Lock()

    def decision_groups(
        self, engine: Engine, organisation_id: str, period: Period, now: datetime | None = None
    ) -> list[DecisionGroup]:
        return self._groups(
            "decisions",
            organisation_id,
            period,
            lambda part: decision_groups(engine, organisation_id, part),
            now,
        )

    def log_groups(
        self, engine: Engine, organisation_id: str, period: Period, now: datetime | None = None
    ) -> list[LogGroup]:
        return self._groups(
            "logs",
            organisation_id,
            period,
            lambda part: log_groups(engine, organisation_id, part),
            now,
        )

    def _groups(
        self,
        kind: str,
        organisation_id: str,
        period: Period,
        load: Callable[[Period], list[G]],
        now: datetime | None,
    ) -> list[G]:
        moment = (now or datetime.now(UTC)) - self.grace
        finished_before = moment.astimezone(period.zone).date()  # days before it are over
        clock = monotonic()
        days = [period.first + timedelta(days=n) for n in range(period.day_count)]
        kept: list[G] = []
        missing: list[date] = []
        with self._lock:
            for day in days:
                if day >= finished_before:
                    continue
                found = self._days.get((kind, organisation_id, day))
                if found is not None and clock - found[0] < self.seconds:
                    kept.extend(found[1])
                else:
                    missing.append(day)
        fresh: list[G] = []
        for first, last in _runs(missing):
            loaded = load(Period(first, last, period.zone))
            by_day: dict[date, list[G]] = {
                first + timedelta(days=n): [] for n in range((last - first).days + 1)
            }
            for group in loaded:
                by_day[group.day].append(group)
            with self._lock:
                if len(self._days) + len(by_day) > self.max_days:
                    self._days.clear()  # simple and bounded: start over
                for day, groups in by_day.items():
                    self._days[(kind, organisation_id, day)] = (clock, groups)
            fresh.extend(loaded)
        live: list[G] = []
        if period.last >= finished_before:
            first = max(period.first, finished_before)
            live = load(Period(first, period.last, period.zone))
        return kept + fresh + live

    def clear(self) -> None:
        with self._lock:
            self._days.clear()


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --- public figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityVolume:
    """Log records of one activity in a period (activity_id "" for URIs not in the register)."""

    activity_id: str
    name: str
    log_records: int


@dataclass(frozen=True)
class PublicCompliance:
    """The latest stored measurement of compliance (figures only; see compliance.history)."""

    score: float
    """0 to 100."""
    measured_at: datetime
    checks_measured: int
    checks_failed: int
    weighting_version: str


def latest_compliance(engine: Engine, organisation_id: str) -> PublicCompliance | None:
    """The newest compliance snapshot, or None before the first is stored.

    The public side shows a stored measurement, not a live run: running every check reads the
    whole logbook, and a snapshot is what the organisation chose to publish and keep.
    """
    snapshots = score_history(engine, organisation_id, limit=1)
    if not snapshots:
        return None
    latest = snapshots[-1]
    return PublicCompliance(
        score=latest.overall_score,
        measured_at=_moment(latest.measured_at) or latest.measured_at,
        checks_measured=latest.checks_measured,
        checks_failed=latest.checks_failed,
        weighting_version=latest.weighting_version,
    )


@dataclass(frozen=True)
class PublicFigures:
    """What anyone may see about an organisation: counts only, nothing about a person."""

    organisation_id: str
    period: Period
    processing: tuple[ActivityVolume, ...]
    """Every registered activity (also those without records), most records first."""
    log_records: int
    decisions: Tally
    signals: PublicSignalFigures
    generated_at: datetime
    compliance: PublicCompliance | None = None


def public_figures(
    engine: Engine, register: OrganisationRegister, period: Period, days: DayCache | None = None
) -> PublicFigures:
    """The figures anyone may see; with `days`, finished days come from that cache."""
    organisation_id = register.organisation.organisation_id
    activities = ActivityIndex.of(register)
    volume: dict[str, int] = dict.fromkeys(activities.names, 0)
    if days is None:
        per_uri = log_totals(engine, organisation_id, period)
        decisions = decision_totals(engine, organisation_id, period)
    else:
        per_uri = defaultdict(int)
        for log_group in days.log_groups(engine, organisation_id, period):
            per_uri[log_group.activity_uri] += log_group.count
        decisions = Tally()
        for group in days.decision_groups(engine, organisation_id, period):
            decisions.add(group)
    for uri, count in per_uri.items():
        key = activities.key(uri)
        volume[key] = volume.get(key, 0) + count
    processing = sorted(
        (ActivityVolume(key, activities.name(key), count) for key, count in volume.items()),
        key=lambda v: (-v.log_records, v.name.casefold()),
    )
    return PublicFigures(
        organisation_id=organisation_id,
        period=period,
        processing=tuple(p for p in processing if p.activity_id or p.log_records),
        log_records=sum(volume.values()),
        decisions=decisions,
        signals=public_signal_figures(engine, organisation_id),
        generated_at=datetime.now(UTC),
        compliance=latest_compliance(engine, organisation_id),
    )
