"""The scan-car pipeline in process, on SQLite and PostgreSQL: validation, paid-scan retention,
the case flow, duplicates, and that no plate ends up anywhere in the database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, String, Text, func, inspect, select, text

from glazenstad.execution.findings import list_findings
from glazenstad.execution.mqtt import Message
from glazenstad.execution.parking.aggregates import hourly_occupancy
from glazenstad.execution.parking.cases import (
    CaseError,
    confirm_case,
    dismiss_case,
    list_cases,
)
from glazenstad.execution.parking.pipeline import (
    FINDING_INVALID_SCAN,
    ScanMessageError,
    parse_scan,
    scan_topic,
)
from glazenstad.execution.parking.retention import DELETION_NAME, delete_expired
from glazenstad.execution.parking.simulate import simulate_parking
from glazenstad.execution.parking.tables import parking_case, parking_hourly, parking_scan
from glazenstad.execution.sensors import InProcessFeed
from glazenstad.logbook.tables import log_record
from glazenstad.rules.tables import decision_log
from tests.parking.conftest import CAR, ORG, ZONE, Setup, next_weekday_ten

pytestmark = pytest.mark.heavy

NOW = next_weekday_ten()
GOOD = {
    "scanId": "s-1",
    "plate": "ab-12-cd",
    "zone": ZONE,
    "position": {"lat": 52.1, "lon": 5.1},
    "scannedAt": "2026-11-25T10:15:00+01:00",
}


def _with(**changes: object) -> bytes:
    document = {**GOOD, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (f"glazenstad/{ORG}/scanauto", _with(), "topic: must be"),
        (f"glazenstad/{ORG}/scanauto/Car_1", _with(), "topic: the car id"),
        (scan_topic(ORG, CAR), b"{", "payload: not valid JSON"),
        (scan_topic(ORG, CAR), b"[1]", "payload: must be a JSON object"),
        (scan_topic(ORG, CAR), _with(extra=1), "payload: unknown field 'extra'"),
        (scan_topic(ORG, CAR), _with(scanId=...), "scanId: required"),
        (scan_topic(ORG, CAR), _with(scanId="a b"), "scanId: must be"),
        (scan_topic(ORG, CAR), _with(plate="XX-XX-XX-1"), "plate: not a Dutch licence plate"),
        (scan_topic(ORG, CAR), _with(plate=12), "plate: must be a string"),
        (scan_topic(ORG, CAR), _with(zone="binnenstad"), "zone: must be a zone code"),
        (scan_topic(ORG, CAR), _with(position=[52, 5]), "position: must be an object"),
        (scan_topic(ORG, CAR), _with(position={"lat": 91, "lon": 5}), "position.lat: must lie"),
        (scan_topic(ORG, CAR), _with(position={"lat": 52, "lon": "5"}), "position.lon: must be"),
        (scan_topic(ORG, CAR), _with(scannedAt="2026-11-25T10:15"), "scannedAt: needs a time"),
        (scan_topic(ORG, CAR), _with(scannedAt="gisteren"), "scannedAt: not an ISO 8601"),
        (scan_topic(ORG, CAR), _with(scannedAt="2099-01-01T00:00Z"), "scannedAt: more than 10"),
        (scan_topic(ORG, CAR), _with(photoRef=""), "photoRef: must be"),
    ],
)
def test_validation_names_the_field_and_never_the_plate(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(ScanMessageError) as caught:
        parse_scan(topic, payload, now=NOW)
    assert caught.value.reason.startswith(reason), caught.value.reason
    assert "AB-12-CD" not in caught.value.reason.upper()
    assert "XX-XX-XX-1" not in caught.value.reason


def test_a_good_message_is_normalised() -> None:
    scan = parse_scan(scan_topic(ORG, CAR), _with(), now=NOW)
    assert (scan.organisation_id, scan.car_id, scan.scan_id) == (ORG, CAR, "s-1")
    assert scan.plate == "AB-12-CD"
    assert scan.photo_ref is None
    assert "AB-12-CD" not in repr(scan)


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def _all_text(engine: Engine) -> str:
    """Every text-like column of every table, as one string (the 'database dump')."""
    parts: list[str] = []
    names = inspect(engine).get_table_names()
    with engine.connect() as conn:
        for name in names:
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            parts.extend(json.dumps([str(v) for v in row]) for row in rows)
    return "\n".join(parts)


def test_bad_messages_are_refused_with_their_index_and_a_finding(setup: Setup) -> None:
    good = setup.message(setup.plates(paid=True)[0])
    bad = Message(topic=scan_topic(ORG, CAR), payload=_with(plate="nope"), qos=1)
    result = setup.pipeline.handle([good, bad])
    assert result.stored == 1
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, "message 1: plate: not a Dutch licence plate")
    ]
    findings = list_findings(setup.engine, ORG)
    assert [(f.kind, f.subject, f.count) for f in findings] == [(FINDING_INVALID_SCAN, CAR, 1)]


def test_paid_scan_is_deleted_after_the_register_retention_and_not_before(setup: Setup) -> None:
    plate = setup.plates(paid=True)[0]
    message = setup.message(plate)
    result = setup.pipeline.handle([message])
    assert (result.stored, result.paid, result.unpaid) == (1, 1, 0)
    with setup.engine.connect() as conn:
        row = conn.execute(select(parking_scan)).one()
    assert row.status in ("betaald", "vergunning")
    assert row.photo_ref is None  # a paid scan's photo is never kept
    # PT24H from the demo register's outcome "betaald".
    assert row.delete_after == row.scanned_at + timedelta(hours=24)
    assert row.plate_pseudonym == setup.pseudonymizer.pseudonym(ORG, "kenteken", plate)
    assert _count(setup.engine, parking_case) == 0

    early = delete_expired(setup.engine, now=row.delete_after - timedelta(seconds=1))
    assert (early.scans_deleted, _count(setup.engine, parking_scan)) == (0, 1)
    late = timedelta(seconds=90)
    due = delete_expired(setup.engine, now=row.delete_after + late, logbook=setup.pipeline.logbook)
    assert (due.scans_deleted, due.overdue_left) == (1, 0)
    assert due.lateness == late  # how late the job ran is measured
    assert due.by_organisation == {ORG: (1, 0)}
    assert _count(setup.engine, parking_scan) == 0
    # The deletion is itself logged, without a subject (the plate is gone).
    with setup.engine.connect() as conn:
        [deletion] = conn.execute(
            select(log_record).where(log_record.c.name == DELETION_NAME)
        ).all()
    assert deletion.data_subject_pseudonym is None
    assert deletion.attributes["glazenstad.deleted_scans"] == 1
    assert deletion.attributes["glazenstad.retention_lateness_s"] == 90
    # Not archived anywhere: no row in any table carries the scan's pseudonym but the logbook's.
    dump = _all_text(setup.engine)
    assert plate not in dump
    # The open counts stay.
    assert _count(setup.engine, parking_hourly) == 1


def _decisions(engine: Engine) -> list[tuple[str, str, str]]:
    d = decision_log
    with engine.connect() as conn:
        return [
            (r.action, r.data_category, r.effect)
            for r in conn.execute(
                select(d.c.action, d.c.data_category, d.c.effect).order_by(d.c.id)
            )
        ]


def test_unpaid_scan_becomes_a_case_confirmed_or_dismissed(setup: Setup) -> None:
    plates = setup.plates(paid=False, count=2)
    result = setup.pipeline.handle([setup.message(p) for p in plates])
    assert (result.stored, result.unpaid) == (2, 2)
    assert (
        _decisions(setup.engine)
        == [
            ("write", "kenteken", "permit"),
            ("read", "parkeerrecht", "permit"),
            ("write", "scanfoto", "permit"),
        ]
        * 2
    )
    cases = list_cases(setup.pipeline, ORG)
    assert len(cases) == 2 and {c.state for c in cases} == {"open"}
    assert all(c.retain_until is None and c.photo_ref == "foto://1" for c in cases)
    with setup.engine.connect() as conn:
        assert conn.execute(select(parking_scan.c.delete_after)).scalars().all() == [None, None]

    later = setup.clock.now + timedelta(hours=2)
    confirmed = confirm_case(setup.pipeline, cases[0].case_id, now=later)
    assert (confirmed.state, confirmed.decided_by) == ("confirmed", "parkeerhandhaver")
    # "onbetaald" counts from the end of the objection period: not known here.
    assert confirmed.retain_until is None
    dismissed = dismiss_case(setup.pipeline, cases[1].case_id, "laden-lossen", now=later)
    assert (dismissed.state, dismissed.reason) == ("dismissed", "laden-lossen")
    assert dismissed.retain_until == later + timedelta(days=7)
    assert list_cases(setup.pipeline, ORG) == []
    with pytest.raises(CaseError, match="already confirmed"):
        dismiss_case(setup.pipeline, cases[0].case_id, "laden-lossen", now=later)
    with pytest.raises(CaseError, match="unknown reason"):
        dismiss_case(setup.pipeline, cases[0].case_id, "zomaar", now=later)
    assert _decisions(setup.engine)[-2:] == [
        ("read", "scanfoto", "permit"),
        ("read", "scanfoto", "permit"),
    ]

    with setup.engine.connect() as conn:
        records = conn.execute(
            select(
                log_record.c.name,
                log_record.c.data_subject_pseudonym,
                log_record.c.activity_known,
                log_record.c.attributes,
            ).order_by(log_record.c.start_time_ms, log_record.c.name)
        ).all()
    assert len(records) == 8
    assert all(r.activity_known for r in records)
    pseudonyms = {setup.pseudonymizer.pseudonym(ORG, "kenteken", p) for p in plates}
    assert {r.data_subject_pseudonym for r in records} == pseudonyms | {None}
    judged = [r for r in records if r.name.startswith("Parkeerhandhaver")]
    assert sorted(r.name for r in judged) == [
        "Parkeerhandhaver bevestigt de overtreding",
        "Parkeerhandhaver seponeert: Laden en lossen",
    ]
    dump = _all_text(setup.engine)
    for plate in plates:
        assert plate not in dump
        assert plate.replace("-", "") not in dump

    # The dismissed case and its scan go after P7D; the confirmed one stays.
    gone = delete_expired(setup.engine, now=later + timedelta(days=7))
    assert (gone.scans_deleted, gone.cases_deleted) == (1, 1)
    assert [c.case_id for c in list_cases(setup.pipeline, ORG, "confirmed")] == [cases[0].case_id]


def test_duplicates_are_harmless(setup: Setup) -> None:
    paid, unpaid = setup.plates(paid=True)[0], setup.plates(paid=False)[0]
    first = [setup.message(paid, scan_id="a"), setup.message(unpaid, scan_id="b")]
    again = [setup.message(paid, scan_id="a"), setup.message(unpaid, scan_id="b")]
    result = setup.pipeline.handle(first + again[:1])
    assert (result.stored, result.duplicates) == (2, 1)
    counts = (
        _count(setup.engine, decision_log),
        _count(setup.engine, log_record),
    )
    result = setup.pipeline.handle(again)
    assert (result.stored, result.duplicates) == (0, 2)
    assert _count(setup.engine, parking_scan) == 2
    assert _count(setup.engine, parking_case) == 1
    assert (_count(setup.engine, decision_log), _count(setup.engine, log_record)) == counts
    with setup.engine.connect() as conn:
        assert conn.execute(select(parking_hourly.c.scans)).scalar_one() == 2


def test_a_partly_written_scan_is_completed_once(setup: Setup) -> None:
    """A crash after the decisions and log records but before the scan rows: the redelivery
    writes the scan, and the same decisions and records are not written twice."""
    message = setup.message(setup.plates(paid=False)[0])
    setup.pipeline.handle([message])
    with setup.engine.begin() as conn:
        conn.execute(parking_case.delete())
        conn.execute(parking_scan.delete())
        conn.execute(parking_hourly.delete())
    counts = (_count(setup.engine, decision_log), _count(setup.engine, log_record))
    result = setup.pipeline.handle([message])
    assert (result.stored, result.duplicates) == (1, 0)
    assert (_count(setup.engine, decision_log), _count(setup.engine, log_record)) == counts
    assert _count(setup.engine, parking_case) == 1


def test_scans_outside_paid_hours_are_denied_and_not_stored(setup: Setup) -> None:
    setup.clock.now = setup.clock.now.replace(hour=22)  # 23:00 in Amsterdam in winter
    plate = setup.plates(paid=False)[0]
    result = setup.pipeline.handle([setup.message(plate)])
    assert (result.stored, result.denied) == (0, 1)
    assert _count(setup.engine, parking_scan) == 0
    assert _decisions(setup.engine) == [("write", "kenteken", "deny")]
    with setup.engine.connect() as conn:
        status = conn.execute(select(log_record.c.status)).scalar_one()
    assert status == "Error"


def test_simulator_in_process_and_aggregates_hold_no_plates(setup: Setup) -> None:
    feed = InProcessFeed(setup.pipeline.handle, batch_size=50)
    sent = simulate_parking(
        feed,
        rate=20,
        duration=10,
        organisation_id=ORG,
        start=setup.clock.now - timedelta(minutes=5),
        pace=False,
    )
    feed.flush()
    assert sent == 200
    totals = setup.pipeline.totals
    assert totals.stored == 200 and totals.rejected == 0 and totals.denied == 0
    assert 0 < totals.unpaid < totals.paid
    hours = hourly_occupancy(
        setup.engine,
        ORG,
        start=setup.clock.now - timedelta(hours=2),
        end=setup.clock.now + timedelta(hours=1),
    )
    assert sum(h.scans for h in hours) == 200
    assert sum(h.paid for h in hours) == totals.paid
    assert all(h.payment_rate is not None and 0 <= h.payment_rate <= 1 for h in hours)
    with setup.engine.connect() as conn:
        pseudonyms = set(conn.execute(select(parking_scan.c.plate_pseudonym)).scalars())
        aggregates = json.dumps([[str(v) for v in r] for r in conn.execute(select(parking_hourly))])
    columns = {c.name for c in parking_hourly.columns if isinstance(c.type, String | Text)}
    assert columns == {"organisation_id", "zone"}
    assert not any(p in aggregates for p in pseudonyms)
    kid = next(iter(pseudonyms)).split(":")[0]
    assert f"{kid}:" not in aggregates
