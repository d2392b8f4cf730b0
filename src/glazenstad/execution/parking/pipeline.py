"""The scan-car pipeline: pseudonymise, check the parking right, decide and log, store.

Message format (MQTT v5, QoS 1) on topic `<root>/<organisationId>/scanauto/<carId>`, a JSON
object with exactly these fields:

```
{"scanId": "car-7-000123",              # the car's id for this scan: the idempotency key
 "plate": "AB-12-CD",                   # as read; any case, with or without dashes
 "zone": "VBS-BINNENSTAD",              # a paid-parking zone code
 "position": {"lat": 52.09, "lon": 5.12},
 "scannedAt": "2026-11-25T10:15:00+01:00",
 "photoRef": "s3://scans/car-7/000123.jpg"}   # optional; null or absent without photo
```

The plate exists in plain text only inside `handle`: it is normalised, turned into the keyed
pseudonym the logbook also uses, checked against the parking rights, and handed to the logbook
(which stores only its pseudonym). Nothing else stores, logs or raises it: a rejection reason
names the message index and the field, never a value.

Per scan, under the registered activity `parkeerhandhaving-scanauto`, each step is a decision
of the rules engine (actor: role `parkeerhandhaver`, department `Parkeren`) and a log record:
1. `write kenteken` on `scanauto-systeem`: the scan may be recorded (denied outside paid-parking
   hours: then nothing of the scan is stored);
2. `read parkeerrecht` on `npr-parkeerrechten`: the check;
3. unpaid only: `write scanfoto` on `scanauto-systeem`: the evidence becomes an enforcement case.
A paid scan (`betaald` or `vergunning`) gets `delete_after` = scan time + the period of the
register's retention outcome the decision names (`betaald`: PT24H in the demo register).

At least once: MQTT may deliver a scan again. A scan already stored is skipped. A scan that was
only partly written (a crash between the steps below) is written again with the same decision
ids and log record ids, which the decision log and the logbook take as duplicates. The order
per batch is decisions, log records, then scans, cases and counts, so a stored scan always has
its decisions and log records, and the MQTT acknowledgement follows the last commit.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import isodate
from sqlalchemy import Connection, Engine, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from glazenstad.db.base import utcnow
from glazenstad.db.bulk import insert_new
from glazenstad.db.dialect import dialect_insert
from glazenstad.execution.findings import FindingEvent, record_findings
from glazenstad.execution.messages import PayloadError, json_object, moment, topic_ids
from glazenstad.execution.mqtt import (
    ConsumerStats,
    Message,
    MqttConsumer,
    Stages,
    consume_until,
)
from glazenstad.execution.parking.tables import parking_case, parking_hourly, parking_scan
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import LogRecord
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE
from glazenstad.logbook.store import LogStore
from glazenstad.register.model import KIND_ACTIVITY, ProcessingActivity, entry_uri
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.engine import Decision
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore

ACTIVITY: Final = "parkeerhandhaving-scanauto"
ROLE: Final = "parkeerhandhaver"
DEPARTMENT: Final = "Parkeren"
DATASET_SCANS: Final = "scanauto-systeem"
DATASET_RIGHTS: Final = "npr-parkeerrechten"
SUBJECT_TYPE: Final = "kenteken"
# Outcomes of the activity's retention rules in the register.
OUTCOME_PAID: Final = "betaald"
OUTCOME_UNPAID: Final = "onbetaald"
OUTCOME_EXCEPTION: Final = "onbetaald, uitzondering vastgesteld"

ATTR_DECISION: Final = "glazenstad.decision_id"
ATTR_STEP: Final = "glazenstad.parkeren.stap"
RESOURCE: Final = {"attributes": {"service.name": "glazenstad-parking-pipeline"}}

DEFAULT_TOPIC_ROOT: Final = "glazenstad"
TOPIC_SEGMENT: Final = "scanauto"
DEFAULT_CLIENT_ID: Final = "glazenstad-parking-pipeline"
MAX_PAYLOAD: Final = 8 * 1024
# Scan-car clocks drift; further ahead than this is a wrong clock.
MAX_FUTURE: Final = timedelta(minutes=10)
FINDING_INVALID_SCAN: Final = "invalid-scan-message"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_SCAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")
_ZONE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
_FIELDS: Final = frozenset({"scanId", "plate", "zone", "position", "scannedAt", "photoRef"})
_REQUIRED: Final = ("scanId", "plate", "zone", "position", "scannedAt")

Status = Literal["betaald", "vergunning", "geen"]
# (canonical plate, zone, moment) -> status per item, in order. The in-process ParkingRights
# (`glazenstad.sources`) fits as `lambda items: [c.status for c in rights.check_many(items)]`.
Checker = Callable[[Sequence[tuple[str, str, datetime]]], Sequence[str]]
Normaliser = Callable[[str], str | None]


class ParkingConfigError(RuntimeError):
    """The register lacks what the pipeline needs (the activity or a retention period)."""


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """A well-formed scan. `plate` is canonical plain text: never store or log it."""

    organisation_id: str
    car_id: str
    scan_id: str
    plate: str = field(repr=False)
    zone: str
    latitude: float
    longitude: float
    scanned_at: datetime
    photo_ref: str | None


class ScanMessageError(ValueError):
    """A message not in the format; `reason` names the field, never its value."""

    def __init__(self, reason: str, organisation_id: str = "", car_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.organisation_id = organisation_id
        self.car_id = car_id


def scan_topic(organisation_id: str, car_id: str, root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The topic a scan car publishes on."""
    return f"{root}/{organisation_id}/{TOPIC_SEGMENT}/{car_id}"


def scan_subscription(root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The subscription that covers every scan car of every organisation under `root`."""
    return f"{root}/+/{TOPIC_SEGMENT}/+"


def encode_scan(
    scan_id: str,
    plate: str,
    zone: str,
    latitude: float,
    longitude: float,
    scanned_at: datetime,
    photo_ref: str | None = None,
) -> bytes:
    """A payload in the message format (for simulators and tests)."""
    document: dict[str, Any] = {
        "scanId": scan_id,
        "plate": plate,
        "zone": zone,
        "position": {"lat": latitude, "lon": longitude},
        "scannedAt": scanned_at.isoformat(),
    }
    if photo_ref is not None:
        document["photoRef"] = photo_ref
    return json.dumps(document, separators=(",", ":")).encode()


def _topic_ids(topic: str, root: str) -> tuple[str, str]:
    try:
        return topic_ids(topic, root, TOPIC_SEGMENT, "car")
    except PayloadError as exc:
        raise ScanMessageError(exc.reason, exc.organisation_id) from None


def _coordinate(raw: Any, name: str, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScanMessageError(f"position.{name}: must be a number")
    value = float(raw)
    if not math.isfinite(value) or not low <= value <= high:
        raise ScanMessageError(f"position.{name}: must lie between {low:g} and {high:g}")
    return value


def parse_scan(
    topic: str,
    payload: bytes,
    *,
    root: str = DEFAULT_TOPIC_ROOT,
    now: datetime | None = None,
    normalise: Normaliser | None = None,
) -> Scan:
    """Check a message's form; ScanMessageError says which field is wrong (never its value)."""
    organisation_id, car_id = _topic_ids(topic, root)
    try:
        return _parse_payload(organisation_id, car_id, payload, now or utcnow(), normalise)
    except ScanMessageError as exc:
        raise ScanMessageError(exc.reason, organisation_id, car_id) from None


def _default_normaliser() -> Normaliser:
    from glazenstad.sources.identifiers import normalize_kenteken

    return normalize_kenteken


def _parse_payload(
    organisation_id: str,
    car_id: str,
    payload: bytes,
    now: datetime,
    normalise: Normaliser | None,
) -> Scan:
    try:
        document = json_object(payload, MAX_PAYLOAD, _FIELDS)
    except PayloadError as exc:
        raise ScanMessageError(exc.reason) from None
    for name in _REQUIRED:
        if name not in document:
            raise ScanMessageError(f"{name}: required")
    scan_id = document["scanId"]
    if not isinstance(scan_id, str) or not _SCAN_ID.fullmatch(scan_id):
        raise ScanMessageError(
            "scanId: must be 1 to 80 letters, digits, '.', '_', ':' or '-' (starting with a "
            "letter or digit)"
        )
    raw_plate = document["plate"]
    if not isinstance(raw_plate, str) or len(raw_plate) > 20:
        raise ScanMessageError("plate: must be a string of at most 20 characters")
    plate = (normalise or _default_normaliser())(raw_plate)
    if plate is None:
        raise ScanMessageError("plate: not a Dutch licence plate")
    zone = document["zone"]
    if not isinstance(zone, str) or not _ZONE.fullmatch(zone):
        raise ScanMessageError("zone: must be a zone code, e.g. VBS-BINNENSTAD")
    position = document["position"]
    if not isinstance(position, dict) or set(position) != {"lat", "lon"}:
        raise ScanMessageError("position: must be an object with exactly lat and lon")
    latitude = _coordinate(position["lat"], "lat", -90.0, 90.0)
    longitude = _coordinate(position["lon"], "lon", -180.0, 180.0)
    try:
        scanned_at = moment(document["scannedAt"], "scannedAt", now, MAX_FUTURE)
    except PayloadError as exc:
        raise ScanMessageError(exc.reason) from None
    photo_ref = document.get("photoRef")
    if photo_ref is not None and (
        not isinstance(photo_ref, str) or not 0 < len(photo_ref) <= 300 or "\x00" in photo_ref
    ):
        raise ScanMessageError("photoRef: must be a string of 1 to 300 characters, or null")
    return Scan(
        organisation_id=organisation_id,
        car_id=car_id,
        scan_id=scan_id,
        plate=plate,
        zone=zone,
        latitude=latitude,
        longitude=longitude,
        scanned_at=scanned_at,
        photo_ref=photo_ref,
    )


# --- register ---------------------------------------------------------------------------------


def activity_of(register: OrganisationRegister | None) -> ProcessingActivity:
    """The registered scan-car activity; ParkingConfigError when the register lacks it."""
    stored = register.get(KIND_ACTIVITY, ACTIVITY) if register is not None else None
    if register is None or stored is None or not isinstance(stored.entry, ProcessingActivity):
        raise ParkingConfigError(f"processing activity '{ACTIVITY}' is not in the register")
    return stored.entry


def activity_uri(register: OrganisationRegister) -> str:
    return entry_uri(str(register.org.register_uri), KIND_ACTIVITY, ACTIVITY)


def retention_end(activity: ProcessingActivity, outcome: str, start: datetime) -> datetime | None:
    """`start` plus the period the register gives `outcome` (calendar arithmetic for months and
    years); None when that period counts from a later trigger the pipeline does not see.

    ParkingConfigError when the register has no such outcome: keeping data without a decided
    term is exactly what the register exists to prevent.
    """
    for rule in activity.retention:
        if rule.outcome == outcome:
            if rule.trigger is not None or rule.period is None:
                return None
            end: datetime = start + isodate.parse_duration(rule.period)
            return end
    raise ParkingConfigError(f"the register gives '{ACTIVITY}' no retention for '{outcome}'")


# --- ids -------------------------------------------------------------------------------------


def scan_trace_id(organisation_id: str, car_id: str, scan_id: str) -> str:
    """The logbook trace of one scan, the same on every delivery of it."""
    text = f"parking\x1f{organisation_id}\x1f{car_id}\x1f{scan_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def step_span_id(trace_id: str, step: str) -> str:
    return hashlib.sha256(f"{trace_id}\x1f{step}".encode()).hexdigest()[:16]


def step_decision_id(trace_id: str, step: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:glazenstad:parking:{trace_id}:{step}").hex


def case_id_of(trace_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:glazenstad:parking-case:{trace_id}").hex


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A refused message: its index in the batch and why (naming the field, never a value)."""

    index: int
    organisation_id: str
    car_id: str
    reason: str


@dataclass(frozen=True)
class BatchResult:
    stored: int
    paid: int
    unpaid: int
    denied: int
    duplicates: int
    rejected: list[Rejection]


@dataclass
class PipelineTotals:
    """Counters over the life of a pipeline (for progress output)."""

    batches: int = 0
    stored: int = 0
    paid: int = 0
    unpaid: int = 0
    denied: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass
class _Step:
    name: str
    title: str
    decision: Decision
    decision_id: str
    outcome: str | None = None


@dataclass
class _Work:
    decisions: list[dict[str, Any]] = field(default_factory=list)
    records: list[tuple[str, LogRecord]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    cases: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch decided and built by `ScanPipeline.prepare`, to be written by `commit`."""

    work: _Work
    findings: list[FindingEvent]
    result: BatchResult


_SCAN_KEY = ("organisation_id", "car_id", "scan_id")  # of a scan, and of its case


class ScanPipeline:
    """Check, decide, log and store batches of scans (one consumer thread at a time)."""

    def __init__(
        self,
        engine: Engine,
        pseudonymizer: Pseudonymizer,
        checker: Checker,
        *,
        register: RegisterStore | None = None,
        rules: RulesService | None = None,
        logbook: LogStore | None = None,
        topic_root: str = DEFAULT_TOPIC_ROOT,
        clock: Callable[[], datetime] = utcnow,
        normalise: Normaliser | None = None,
    ) -> None:
        self.engine = engine
        self.pseudonymizer = pseudonymizer
        self.checker = checker
        self.register = register or RegisterStore(engine)
        self.rules = rules or RulesService(self.register, PolicyStore(engine))
        self.logbook = logbook or LogStore(engine, self.register, pseudonymizer)
        self.topic_root = topic_root
        self.clock = clock
        self.normalise = normalise or _default_normaliser()
        self.totals = PipelineTotals()
        self._lock = threading.Lock()

    def decide(
        self,
        organisation_id: str,
        action: str,
        category: str,
        dataset: str,
        pseudonym: str | None,
        moment: datetime,
        *,
        role: str = ROLE,
        case_id: str | None = None,
    ) -> Decision:
        """A decision of the rules engine for one step of the scan-car activity."""
        request = DecisionRequest(
            actor=Actor(role=role, department=DEPARTMENT, organisation=organisation_id),
            action=action,
            resource=Resource(
                data_category=category, dataset=dataset, subject=pseudonym, case_id=case_id
            ),
            purpose=ACTIVITY,
            context=Context(time=moment.timestamp(), channel="intern"),
        )
        return self.rules.engine().decide(request)

    def handle(self, messages: Sequence[Message]) -> BatchResult:
        """Handle one batch; returns after everything of it is committed.

        Raises only when storing fails (then the MQTT consumer retries the batch unacknowledged);
        bad messages are refused with a reason and reported as a finding.
        """
        return self.commit(self.prepare(messages))

    def prepare(self, messages: Sequence[Message]) -> PreparedBatch:
        """Parse, check, decide and build the rows of a batch; nothing is written yet.

        The MQTT consumer prepares the next batch while this one commits (`commit`): the
        commit mostly waits on the database, preparing mostly computes. Commits stay one at a
        time and in order, so a scan of this batch that the previous one is still writing is
        found stored by the commit (its rows are skipped), never written twice.
        """
        now = self.clock()
        snapshot = self.register.snapshot()
        rejected: list[Rejection] = []
        findings: list[FindingEvent] = []
        scans: dict[tuple[str, str, str], Scan] = {}
        duplicates = 0
        for index, message in enumerate(messages):
            try:
                scan = parse_scan(
                    message.topic,
                    message.payload,
                    root=self.topic_root,
                    now=now,
                    normalise=self.normalise,
                )
                activity_of(snapshot.organisation(scan.organisation_id))
            except ScanMessageError as exc:
                rejected.append(
                    Rejection(index, exc.organisation_id, exc.car_id, f"message {index}: {exc}")
                )
            except ParkingConfigError as exc:
                rejected.append(
                    Rejection(index, scan.organisation_id, scan.car_id, f"message {index}: {exc}")
                )
            else:
                key = (scan.organisation_id, scan.car_id, scan.scan_id)
                if key in scans:
                    duplicates += 1
                else:
                    scans[key] = scan
                continue
            bad = rejected[-1]
            findings.append(
                FindingEvent(
                    kind=FINDING_INVALID_SCAN,
                    organisation_id=bad.organisation_id or "-",
                    subject=bad.car_id or "-",
                    detail=bad.reason,
                    seen_at=message.received_at,
                )
            )
        if scans:
            stored = self._stored(list(scans))
            duplicates += len(stored)
            for key in stored:
                del scans[key]
        work = _Work()
        paid = unpaid = denied = 0
        if scans:
            items = list(scans.values())
            statuses = list(self.checker([(s.plate, s.zone, s.scanned_at) for s in items]))
            if len(statuses) != len(items):
                raise RuntimeError("the parking-right checker answered a different number")
            for scan, status in zip(items, statuses, strict=True):
                register = snapshot.organisation(scan.organisation_id)
                assert register is not None  # checked while parsing
                verdict = self._scan(scan, status, register, now, work)
                paid += verdict == "paid"
                unpaid += verdict == "unpaid"
                denied += verdict == "denied"
        result = BatchResult(
            stored=len(work.scans),
            paid=paid,
            unpaid=unpaid,
            denied=denied,
            duplicates=duplicates,
            rejected=rejected,
        )
        return PreparedBatch(work, findings, result)

    def commit(self, batch: PreparedBatch) -> BatchResult:
        """Write a prepared batch (decisions, log records, scans and cases); may be called
        again with the same batch after a failure: what was stored is skipped."""
        self._commit(batch.work, batch.findings)
        result = batch.result
        with self._lock:
            totals = self.totals
            totals.batches += 1
            totals.stored += result.stored
            totals.paid += result.paid
            totals.unpaid += result.unpaid
            totals.denied += result.denied
            totals.duplicates += result.duplicates
            totals.rejected += len(result.rejected)
        return result

    def _stored(self, keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which of these (organisation, car, scan id) are stored already.

        Asked per car, with the scan ids as one array on PostgreSQL: a statement of the same
        text every time, where a list of 1,500 bound values cost psycopg more to prepare than
        the database to answer. SQLite takes the ids in chunks.
        """
        s = parking_scan
        found: set[tuple[str, str, str]] = set()
        by_car: dict[tuple[str, str], list[str]] = {}
        for organisation, car, scan in keys:
            by_car.setdefault((organisation, car), []).append(scan)
        with self.engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            for (organisation, car), scans in by_car.items():
                chunks = (
                    [scans] if postgres else [scans[i : i + 500] for i in range(0, len(scans), 500)]
                )
                for chunk in chunks:
                    wanted = (
                        s.c.scan_id == any_(bindparam("scan_ids", chunk, type_=ARRAY(String)))
                        if postgres
                        else s.c.scan_id.in_(chunk)
                    )
                    query = select(s.c.scan_id).where(
                        s.c.organisation_id == organisation, s.c.car_id == car, wanted
                    )
                    found.update((organisation, car, str(r)) for r in conn.scalars(query))
        return found

    def _scan(
        self,
        scan: Scan,
        status: str,
        register: OrganisationRegister,
        now: datetime,
        work: _Work,
    ) -> str:
        """Decide and log the steps of one scan; queue its rows. Returns paid/unpaid/denied."""
        org = scan.organisation_id
        activity = activity_of(register)
        uri = activity_uri(register)
        pseudonym = self.pseudonymizer.pseudonym(org, SUBJECT_TYPE, scan.plate)
        trace = scan_trace_id(org, scan.car_id, scan.scan_id)
        paid = status in ("betaald", "vergunning")

        def step(name: str, title: str, action: str, category: str, dataset: str) -> _Step:
            decision = self.decide(org, action, category, dataset, pseudonym, scan.scanned_at)
            made = _Step(name, title, decision, step_decision_id(trace, name))
            work.decisions.append(decision_row(decision, made.decision_id))
            return made

        steps = [
            step("vastleggen", "Scan van kenteken vastgelegd", "write", "kenteken", DATASET_SCANS)
        ]
        if steps[0].decision.permitted:
            steps.append(
                step(
                    "controle",
                    "Parkeerrecht gecontroleerd",
                    "read",
                    "parkeerrecht",
                    DATASET_RIGHTS,
                )
            )
        if all(s.decision.permitted for s in steps) and not paid:
            steps.append(
                step(
                    "zaak",
                    "Handhavingszaak aangemaakt met scanfoto",
                    "write",
                    "scanfoto",
                    DATASET_SCANS,
                )
            )
        allowed = all(s.decision.permitted for s in steps[:2]) and len(steps) >= 2
        outcome = OUTCOME_PAID if paid else OUTCOME_UNPAID
        for made in steps:
            made.outcome = outcome if allowed else None
        root_span = step_span_id(trace, steps[0].name)
        for made in steps:
            attributes: dict[str, Any] = {ATTR_DECISION: made.decision_id, ATTR_STEP: made.name}
            if made.outcome is not None:
                attributes[OUTCOME_ATTRIBUTE] = made.outcome
            span = step_span_id(trace, made.name)
            work.records.append(
                (
                    org,
                    LogRecord(
                        trace_id=trace,
                        span_id=span,
                        parent_span_id=None if span == root_span else root_span,
                        name=made.title if made.decision.permitted else f"Geweigerd: {made.title}",
                        start_time=_ms(scan.scanned_at),
                        end_time=_ms(scan.scanned_at),
                        status="Ok" if made.decision.permitted else "Error",
                        processing_activity_id=uri,
                        data_subject_id=scan.plate,
                        data_subject_id_type=SUBJECT_TYPE,
                        processor=None,
                        resource=dict(RESOURCE),
                        attributes=attributes,
                    ),
                )
            )
        if not allowed:
            return "denied"
        delete_after: datetime | None = None
        if paid:
            named = steps[0].decision.outcome.obligations.retention or OUTCOME_PAID
            delete_after = retention_end(activity, named, scan.scanned_at)
            if delete_after is None:
                raise ParkingConfigError(f"retention '{named}' of '{ACTIVITY}' has no fixed period")
        photo_ok = not paid and steps[-1].name == "zaak" and steps[-1].decision.permitted
        photo_ref = scan.photo_ref if photo_ok else None
        work.scans.append(
            {
                "organisation_id": org,
                "car_id": scan.car_id,
                "scan_id": scan.scan_id,
                "zone": scan.zone,
                "latitude": scan.latitude,
                "longitude": scan.longitude,
                "scanned_at": scan.scanned_at,
                "received_at": now,
                "plate_pseudonym": pseudonym,
                "photo_ref": photo_ref,
                "status": status,
                "delete_after": delete_after,
            }
        )
        if not paid:
            work.cases[(org, scan.car_id, scan.scan_id)] = {
                "case_id": case_id_of(trace),
                "organisation_id": org,
                "car_id": scan.car_id,
                "scan_id": scan.scan_id,
                "zone": scan.zone,
                "scanned_at": scan.scanned_at,
                "plate_pseudonym": pseudonym,
                "photo_ref": photo_ref,
                "state": "open",
                "reason": None,
                "decided_by": None,
                "created_at": now,
                "decided_at": None,
                "retain_until": None,
            }
            return "unpaid"
        return "paid"

    def _commit(self, work: _Work, findings: list[FindingEvent]) -> None:
        if work.decisions or findings:
            with self.engine.begin() as conn:
                write_decisions(conn, work.decisions, skip_stored=True)
                record_findings(conn, findings)
        by_org: dict[str, list[LogRecord]] = {}
        for org, record in work.records:
            by_org.setdefault(org, []).append(record)
        for org, records in by_org.items():
            result = self.logbook.ingest(org, records)
            if result.rejected:
                # Index and reason only: a reason never repeats a subject id.
                first = result.rejected[0]
                raise RuntimeError(f"the logbook refused record {first.index}: {first.reason}")
        if work.scans:
            with self.engine.begin() as conn:
                self._store(conn, work)

    def _store(self, conn: Connection, work: _Work) -> None:
        new = insert_new(conn, parking_scan, work.scans, _SCAN_KEY)
        cases = [row for key, row in work.cases.items() if key in new]
        insert_new(conn, parking_case, cases, _SCAN_KEY)
        counts: dict[tuple[str, str, datetime], list[int]] = {}
        for row in work.scans:
            if (row["organisation_id"], row["car_id"], row["scan_id"]) not in new:
                continue
            key = (row["organisation_id"], row["zone"], _hour(row["scanned_at"]))
            count = counts.setdefault(key, [0, 0, 0])
            count[0] += 1
            count[1 if row["status"] != "geen" else 2] += 1
        if counts:
            h = parking_hourly
            insert = dialect_insert(conn, h)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["organisation_id", "zone", "hour"],
                    set_={
                        "scans": h.c.scans + insert.excluded.scans,
                        "paid": h.c.paid + insert.excluded.paid,
                        "unpaid": h.c.unpaid + insert.excluded.unpaid,
                    },
                ),
                [
                    {
                        "organisation_id": org,
                        "zone": zone,
                        "hour": hour,
                        "scans": n[0],
                        "paid": n[1],
                        "unpaid": n[2],
                    }
                    for (org, zone, hour), n in counts.items()
                ],
            )


def in_process_checker(seed: int | None = None) -> Checker:
    """The demo parking-rights register, checked in process (no network)."""
    from glazenstad.sources import ParkingRights

    rights = ParkingRights.from_seed() if seed is None else ParkingRights.from_seed(seed)

    def check(items: Sequence[tuple[str, str, datetime]]) -> list[str]:
        return [c.status for c in rights.check_many(items)]

    return check


def run_parking_pipeline(
    mqtt_url: str,
    engine: Engine,
    pseudonymizer: Pseudonymizer,
    *,
    stop: threading.Event,
    checker: Checker | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    topic_root: str = DEFAULT_TOPIC_ROOT,
    progress: Callable[[ConsumerStats, PipelineTotals], None] | None = None,
    progress_every: float = 1.0,
    batch_size: int = 500,
    clock: Callable[[], datetime] = utcnow,
) -> PipelineTotals:
    """Consume scans from the broker until `stop` is set (for `glazenstad pipeline parking`).

    The consumer keeps its session: scans published while this is not running arrive on restart.
    """
    pipeline = ScanPipeline(
        engine, pseudonymizer, checker or in_process_checker(), topic_root=topic_root, clock=clock
    )
    consumer = MqttConsumer(
        mqtt_url,
        client_id=client_id,
        topics=[scan_subscription(topic_root)],
        handler=Stages(pipeline.prepare, pipeline.commit),
        batch_size=batch_size,
    )

    def report(stats: ConsumerStats) -> None:
        if progress is not None:
            progress(stats, pipeline.totals)

    consume_until(consumer, stop, report, progress_every)
    return pipeline.totals
