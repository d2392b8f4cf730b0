"""The sensor pipeline: measurements of registered sensors into a time series, the rest refused.

Message format (see docs/sensors.md):

- topic `<root>/<organisationId>/sensoren/<sensorId>`, root `glazenstad` by default; the
  organisation is part of the topic because sensor ids are unique per organisation only;
- payload, UTF-8 JSON: `{"measuredAt": "2026-12-01T10:15:00+01:00", "values": {"pm25": 12.3}}`
  with a time zone in `measuredAt` and finite numbers as values. Nothing else is allowed, so a
  typo such as `measured_at` is refused instead of silently ignored.

A message is stored only when the sensor is in the organisation's current register, is active
at `measuredAt` (its `valid_until` not passed), collects no personal data (those sensors have
their own pipeline with decisions and a logbook), and every measure in it is one the register
lists for the sensor. A message is accepted or refused whole. A refused message is never stored;
it becomes a finding (`glazenstad.execution.findings`): "unregistered sensor sends data" and its
siblings, counted per sensor.

`SensorPipeline.handle` is the one entry point: the MQTT consumer calls it with each batch, and
without a broker the simulator calls it directly, so both paths run the same checks and the same
storage. Storing is idempotent (the table's unique key), because MQTT delivers at least once.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from glazenstad.db.base import utcnow
from glazenstad.db.dialect import dialect_insert
from glazenstad.execution.findings import FindingEvent, record_findings
from glazenstad.execution.messages import PayloadError, json_object, moment, topic_ids
from glazenstad.execution.mqtt import ConsumerStats, Message, MqttConsumer, consume_until
from glazenstad.execution.tables import sensor_measurement
from glazenstad.register.model import Sensor
from glazenstad.register.store import RegisterSnapshot, RegisterStore

DEFAULT_TOPIC_ROOT = "glazenstad"
TOPIC_SEGMENT = "sensoren"
DEFAULT_CLIENT_ID = "glazenstad-sensor-pipeline"
MAX_PAYLOAD = 16 * 1024
MAX_VALUES = 32
# Sensor clocks drift; a measurement further ahead than this is a wrong clock, not a forecast.
MAX_FUTURE = timedelta(minutes=10)
MUNICIPAL_ZONE = ZoneInfo("Europe/Amsterdam")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_MEASURE = re.compile(r"^[a-z0-9][a-z0-9_]{0,79}$")
_FIELDS = {"measuredAt", "values"}

FINDING_UNREGISTERED_SENSOR = "unregistered-sensor"
FINDING_INACTIVE_SENSOR = "inactive-sensor"
FINDING_UNREGISTERED_MEASURE = "unregistered-measure"
FINDING_PERSONAL_DATA_SENSOR = "personal-data-sensor"
FINDING_INVALID_MESSAGE = "invalid-message"

# Per finding kind: the English title (logs, API) and the Dutch one (portal, B1).
FINDING_TITLES: dict[str, tuple[str, str]] = {
    FINDING_UNREGISTERED_SENSOR: (
        "unregistered sensor sends data",
        "Sensor die niet in het register staat, stuurt gegevens",
    ),
    FINDING_INACTIVE_SENSOR: (
        "sensor sends data after its registration ended",
        "Sensor stuurt gegevens na de einddatum in het register",
    ),
    FINDING_UNREGISTERED_MEASURE: (
        "sensor sends a measure it is not registered for",
        "Sensor meet iets wat niet in het register staat",
    ),
    FINDING_PERSONAL_DATA_SENSOR: (
        "sensor with personal data sends to the open sensor pipeline",
        "Sensor met persoonsgegevens stuurt naar de open sensorgegevens",
    ),
    FINDING_INVALID_MESSAGE: (
        "sensor sends messages that cannot be read",
        "Sensor stuurt berichten die we niet kunnen lezen",
    ),
}
SENSOR_FINDINGS = tuple(FINDING_TITLES)


@dataclass(frozen=True)
class MeasureInfo:
    """How a measure is shown: a Dutch label and its unit."""

    label: str
    unit: str


MEASURES: dict[str, MeasureInfo] = {
    "pm25": MeasureInfo("Fijnstof (PM2,5)", "µg/m³"),
    "pm10": MeasureInfo("Fijnstof (PM10)", "µg/m³"),
    "no2": MeasureInfo("Stikstofdioxide (NO₂)", "µg/m³"),
    "voertuigen_per_uur": MeasureInfo("Voertuigen per uur", "voertuigen/uur"),
    "snelheid": MeasureInfo("Gemiddelde snelheid", "km/u"),
    "fietsers_per_uur": MeasureInfo("Fietsers per uur", "fietsers/uur"),
    "geluid_db_a": MeasureInfo("Geluid (dB(A))", "dB(A)"),
    "geluid_db_c": MeasureInfo("Geluid, lage tonen (dB(C))", "dB(C)"),
    "waterstand_cm_nap": MeasureInfo("Waterstand", "cm NAP"),
    "temperatuur": MeasureInfo("Temperatuur", "°C"),
    "luchtvochtigheid": MeasureInfo("Luchtvochtigheid", "%"),
}


def measure_info(measure: str) -> MeasureInfo:
    return MEASURES.get(measure, MeasureInfo(measure, ""))


def sensor_topic(organisation_id: str, sensor_id: str, root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The topic a sensor publishes on."""
    return f"{root}/{organisation_id}/{TOPIC_SEGMENT}/{sensor_id}"


def sensor_subscription(root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The subscription that covers every sensor of every organisation under `root`."""
    return f"{root}/+/{TOPIC_SEGMENT}/+"


def takes_open_data(sensor: Sensor) -> bool:
    """Whether a registered sensor's measurements belong in the open sensor data."""
    return not sensor.personal_data and bool(sensor.measures)


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A well-formed message: which sensor measured what, when."""

    organisation_id: str
    sensor_id: str
    measured_at: datetime
    values: dict[str, float]


class MessageError(ValueError):
    """A message that is not in the format; `reason` says what and where, never the values."""

    def __init__(self, reason: str, organisation_id: str = "", subject: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.organisation_id = organisation_id
        self.subject = subject


def _topic_ids(topic: str, root: str) -> tuple[str, str]:
    try:
        return topic_ids(topic, root, TOPIC_SEGMENT, "sensor")
    except PayloadError as exc:
        raise MessageError(exc.reason, exc.organisation_id, subject=topic) from None


def _measured_at(raw: Any, now: datetime) -> datetime:
    try:
        return moment(raw, "measuredAt", now, MAX_FUTURE)
    except PayloadError as exc:
        raise MessageError(exc.reason) from None


def _values(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise MessageError("values: must be an object of measure name to number")
    if not raw:
        raise MessageError("values: holds no measures")
    if len(raw) > MAX_VALUES:
        raise MessageError(f"values: more than {MAX_VALUES} measures")
    values: dict[str, float] = {}
    for name, value in raw.items():
        if not _MEASURE.fullmatch(name):
            raise MessageError(
                "values: a measure name must be lowercase letters, digits and underscores "
                "(at most 80)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MessageError(f"values.{name}: must be a number")
        number = float(value)
        if not math.isfinite(number):
            raise MessageError(f"values.{name}: must be a finite number")
        values[name] = number
    return values


def parse_message(
    topic: str, payload: bytes, *, root: str = DEFAULT_TOPIC_ROOT, now: datetime | None = None
) -> Reading:
    """Check a message's form (not yet the register); MessageError says what is wrong."""
    organisation_id, sensor_id = _topic_ids(topic, root)
    try:
        return _parse_payload(organisation_id, sensor_id, payload, now or utcnow())
    except MessageError as exc:
        raise MessageError(exc.reason, organisation_id, sensor_id) from None


def _parse_payload(organisation_id: str, sensor_id: str, payload: bytes, now: datetime) -> Reading:
    try:
        document = json_object(payload, MAX_PAYLOAD, _FIELDS)
    except PayloadError as exc:
        raise MessageError(exc.reason) from None
    if "measuredAt" not in document:
        raise MessageError("measuredAt: required")
    if "values" not in document:
        raise MessageError("values: required")
    return Reading(
        organisation_id=organisation_id,
        sensor_id=sensor_id,
        measured_at=_measured_at(document["measuredAt"], now),
        values=_values(document["values"]),
    )


def encode_reading(measured_at: datetime, values: dict[str, float]) -> bytes:
    """A payload in the message format (for simulators and tests)."""
    return json.dumps(
        {"measuredAt": measured_at.isoformat(), "values": values}, separators=(",", ":")
    ).encode()


# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A refused message: its place in the batch, the finding kind and the reason."""

    index: int
    kind: str
    organisation_id: str
    subject: str
    reason: str


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    values: int
    rejected: list[Rejection]


@dataclass
class PipelineTotals:
    """Counters over the life of a pipeline."""

    batches: int = 0
    accepted: int = 0
    values: int = 0
    rejected: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def check_registered(reading: Reading, snapshot: RegisterSnapshot) -> Rejection | None:
    """Whether the register allows this reading into the open sensor data; why not if not."""
    org, sensor_id = reading.organisation_id, reading.sensor_id

    def reject(kind: str, reason: str) -> Rejection:
        return Rejection(-1, kind, org, sensor_id, reason)

    register = snapshot.organisation(org)
    stored = register.get("sensor", sensor_id) if register is not None else None
    if register is None or stored is None or not isinstance(stored.entry, Sensor):
        where = "" if register is not None else " (the organisation is not in the register)"
        return reject(
            FINDING_UNREGISTERED_SENSOR,
            f"sensor '{sensor_id}' is not in the register of '{org}'{where}",
        )
    sensor = stored.entry
    if sensor.personal_data:
        return reject(
            FINDING_PERSONAL_DATA_SENSOR,
            "the register says this sensor collects personal data; its data does not belong "
            "in the open sensor data",
        )
    measured_on = reading.measured_at.astimezone(MUNICIPAL_ZONE).date()
    if sensor.valid_until is not None and measured_on > sensor.valid_until:
        return reject(
            FINDING_INACTIVE_SENSOR,
            f"registered until {sensor.valid_until.isoformat()}, measured on "
            f"{measured_on.isoformat()}",
        )
    extra = sorted(set(reading.values) - set(sensor.measures))
    if extra:
        return reject(
            FINDING_UNREGISTERED_MEASURE,
            f"measure {', '.join(repr(m) for m in extra[:3])} is not registered for this "
            f"sensor (registered: {', '.join(sensor.measures) or 'none'})",
        )
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch, exactly (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


class SensorPipeline:
    """Check and store batches of sensor messages (thread-safe: one commit per batch)."""

    def __init__(
        self,
        engine: Engine,
        register: RegisterStore,
        *,
        topic_root: str = DEFAULT_TOPIC_ROOT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.register = register
        self.topic_root = topic_root
        self.clock = clock
        self.totals = PipelineTotals()
        self._totals_lock = threading.Lock()

    def handle(self, messages: Sequence[Message]) -> BatchResult:
        """Store the accepted messages and the findings of the refused ones in one transaction.

        Raises only when the database does: then nothing of the batch is stored, and the MQTT
        consumer retries it (unacknowledged) instead of losing it.
        """
        now = self.clock()
        snapshot = self.register.snapshot()
        rows: list[dict[str, Any]] = []
        rejected: list[Rejection] = []
        findings: list[FindingEvent] = []
        accepted = 0
        for index, message in enumerate(messages):
            try:
                reading = parse_message(
                    message.topic, message.payload, root=self.topic_root, now=now
                )
            except MessageError as exc:
                rejection = Rejection(
                    index,
                    FINDING_INVALID_MESSAGE,
                    exc.organisation_id,
                    exc.subject or message.topic,
                    exc.reason,
                )
            else:
                problem = check_registered(reading, snapshot)
                if problem is None:
                    accepted += 1
                    measured_ms = _ms(reading.measured_at)
                    rows.extend(
                        {
                            "organisation_id": reading.organisation_id,
                            "sensor_id": reading.sensor_id,
                            "measure": measure,
                            "measured_ms": measured_ms,
                            "value": value,
                            "received_at": message.received_at,
                        }
                        for measure, value in reading.values.items()
                    )
                    continue
                rejection = Rejection(
                    index, problem.kind, problem.organisation_id, problem.subject, problem.reason
                )
            rejected.append(rejection)
            findings.append(
                FindingEvent(
                    kind=rejection.kind,
                    organisation_id=rejection.organisation_id,
                    subject=rejection.subject,
                    detail=rejection.reason,
                    seen_at=message.received_at,
                )
            )
        if rows or findings:
            with self.engine.begin() as conn:
                if rows:
                    insert = dialect_insert(conn, sensor_measurement)
                    conn.execute(
                        insert.on_conflict_do_nothing(
                            index_elements=[
                                sensor_measurement.c.organisation_id,
                                sensor_measurement.c.sensor_id,
                                sensor_measurement.c.measure,
                                sensor_measurement.c.measured_ms,
                            ]
                        ),
                        rows,
                    )
                record_findings(conn, findings)
        with self._totals_lock:
            self.totals.batches += 1
            self.totals.accepted += accepted
            self.totals.values += len(rows)
            self.totals.rejected += len(rejected)
            for rejection in rejected:
                self.totals.by_kind[rejection.kind] = self.totals.by_kind.get(rejection.kind, 0) + 1
        return BatchResult(accepted=accepted, values=len(rows), rejected=rejected)


class InProcessFeed:
    """Without a broker: collect messages into batches and hand them to the pipeline, as the
    MQTT consumer would (same batch size, same handler)."""

    def __init__(self, handler: Callable[[list[Message]], object], batch_size: int = 500) -> None:
        self.handler = handler
        self.batch_size = batch_size
        self._batch: list[Message] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self._batch.append(Message(topic=topic, payload=payload, qos=1))
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self.handler(batch)


def run_sensor_pipeline(
    mqtt_url: str,
    engine: Engine,
    *,
    stop: threading.Event,
    client_id: str = DEFAULT_CLIENT_ID,
    topic_root: str = DEFAULT_TOPIC_ROOT,
    progress: Callable[[ConsumerStats, PipelineTotals], None] | None = None,
    progress_every: float = 1.0,
    batch_size: int = 500,
) -> PipelineTotals:
    """Consume sensor messages from the broker into the database until `stop` is set.

    For `glazenstad pipeline sensors`: the CLI sets `stop` on Ctrl-C or SIGTERM. The consumer
    keeps its session, so what sensors publish while this is not running arrives on restart.
    """
    pipeline = SensorPipeline(engine, RegisterStore(engine), topic_root=topic_root)
    consumer = MqttConsumer(
        mqtt_url,
        client_id=client_id,
        topics=[sensor_subscription(topic_root)],
        handler=pipeline.handle,
        batch_size=batch_size,
    )

    def report(stats: ConsumerStats) -> None:
        if progress is not None:
            progress(stats, pipeline.totals)

    consume_until(consumer, stop, report, progress_every)
    return pipeline.totals


# --- reading ---------------------------------------------------------------------------------

Aggregation = Literal["hour", "day"]
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Bucket:
    """The measurements of one hour or one day: how many, and their average, lowest, highest."""

    start: datetime
    end: datetime
    count: int
    average: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class LatestValue:
    measure: str
    value: float
    measured_at: datetime


def bucket_bounds(
    start: datetime, end: datetime, aggregation: Aggregation, zone: tzinfo = MUNICIPAL_ZONE
) -> tuple[datetime, datetime]:
    """Widen [start, end) to whole hours (UTC) or whole days (in `zone`)."""
    if aggregation == "hour":
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        last = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if last < end:
            last += timedelta(hours=1)
        return first, last
    first_day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    last = _midnight(last_day, zone)
    if last < end:
        last = _midnight(last_day + timedelta(days=1), zone)
    return _midnight(first_day, zone), last


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


class SensorReadings:
    """Read side of the time series: aggregates by hour or day, and the latest values."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def aggregate(
        self,
        organisation_id: str,
        sensor_id: str,
        *,
        start: datetime,
        end: datetime,
        aggregation: Aggregation,
        measures: Sequence[str] | None = None,
        zone: tzinfo = MUNICIPAL_ZONE,
    ) -> dict[str, list[Bucket]]:
        """Buckets per measure within [start, end), oldest first; empty buckets are left out.

        The database groups by UTC hour (an integer division of the millisecond timestamp, the
        same on SQLite and PostgreSQL); days are summed from hours in `zone`, so a day is the
        municipality's calendar day (23 or 25 hours when the clocks change).
        """
        m = sensor_measurement
        hour = (m.c.measured_ms // HOUR_MS).label("hour")
        query = (
            select(
                m.c.measure,
                hour,
                func.count().label("n"),
                func.sum(m.c.value).label("total"),
                func.min(m.c.value).label("low"),
                func.max(m.c.value).label("high"),
            )
            .where(
                m.c.organisation_id == organisation_id,
                m.c.sensor_id == sensor_id,
                m.c.measured_ms >= _ms(start),
                m.c.measured_ms < _ms(end),
            )
            .group_by(m.c.measure, hour)
            .order_by(m.c.measure, hour)
        )
        if measures is not None:
            query = query.where(m.c.measure.in_(list(measures)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        result: dict[str, list[Bucket]] = {}
        for measure, hour_index, n, total, low, high in rows:
            begin = _from_ms(int(hour_index) * HOUR_MS)
            if aggregation == "hour":
                bucket = Bucket(
                    begin,
                    begin + timedelta(hours=1),
                    int(n),
                    float(total) / int(n),
                    float(low),
                    float(high),
                )
                result.setdefault(measure, []).append(bucket)
                continue
            day = begin.astimezone(zone).date()
            series = result.setdefault(measure, [])
            day_start = _midnight(day, zone)
            if series and series[-1].start == day_start:
                last = series[-1]
                count = last.count + int(n)
                series[-1] = Bucket(
                    last.start,
                    last.end,
                    count,
                    (last.average * last.count + float(total)) / count,
                    min(last.minimum, float(low)),
                    max(last.maximum, float(high)),
                )
            else:
                series.append(
                    Bucket(
                        day_start,
                        _midnight(day + timedelta(days=1), zone),
                        int(n),
                        float(total) / int(n),
                        float(low),
                        float(high),
                    )
                )
        return result

    def latest(
        self, organisation_id: str, sensor_id: str, measures: Sequence[str]
    ) -> dict[str, LatestValue]:
        """The most recent value of each measure (one index lookup each)."""
        m = sensor_measurement
        found: dict[str, LatestValue] = {}
        with self.engine.connect() as conn:
            for measure in measures:
                row = conn.execute(
                    select(m.c.value, m.c.measured_ms)
                    .where(
                        m.c.organisation_id == organisation_id,
                        m.c.sensor_id == sensor_id,
                        m.c.measure == measure,
                    )
                    .order_by(m.c.measured_ms.desc())
                    .limit(1)
                ).first()
                if row is not None:
                    found[measure] = LatestValue(
                        measure,
                        float(row.value),
                        _from_ms(int(row.measured_ms)),
                    )
        return found

    def count(self, organisation_id: str, sensor_id: str | None = None) -> int:
        m = sensor_measurement
        query = select(func.count()).select_from(m).where(m.c.organisation_id == organisation_id)
        if sensor_id is not None:
            query = query.where(m.c.sensor_id == sensor_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)
