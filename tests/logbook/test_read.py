"""The LDV read extension and the resident overview, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, inspect

from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.read import (
    ACCESS_REQUEST_NAME,
    FILTER_RULE,
    ReadError,
    ReadFilter,
    access_request_record,
    duration_text,
    normalise_trace_id,
    read_processing,
    resident_overview,
)
from glazenstad.logbook.record import parse_record
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import (
    ACTIVITY,
    BSN,
    KEY_2025,
    KEY_2026,
    ORG,
    UNKNOWN_ACTIVITY,
    make_record,
    span_id,
    trace_id,
)

WMO = "https://register.teststad.example/processing-activities/wmo-maatwerk"
OTHER_BSN = "111222333"


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated database (logbook tables from migration 0003) with the test register."""
    tables = set(inspect(engine).get_table_names())
    assert {"log_record", "log_chain_head"} <= tables
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    time.sleep(0.002)  # records start after the register versions were recorded
    yield engine


@pytest.fixture
def keys() -> Pseudonymizer:
    return Pseudonymizer.from_config(f"{KEY_2026},{KEY_2025}")


@pytest.fixture
def register(db: Engine) -> RegisterStore:
    return RegisterStore(db)


@pytest.fixture
def log(db: Engine, register: RegisterStore, keys: Pseudonymizer) -> LogStore:
    return LogStore(db, register, keys)


def now_ms() -> int:
    return int(time.time() * 1000)


def at(start: int, **changes: Any) -> dict[str, Any]:
    return make_record(start_time=start, end_time=start + 5, **changes)


def read(log: LogStore, body: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("resident", False)
    return read_processing(
        log.engine,
        log.register_store,
        log.pseudonymizer,
        ORG,
        ReadFilter.model_validate(body),
        **kwargs,
    )


def spans(result: Any) -> list[str]:
    return [item["spanId"] for item in result.items]


# --- the filter model ---------------------------------------------------------------------


def test_empty_filter_is_refused_naming_the_rule() -> None:
    for body in ({}, {"startTime": 1, "endTime": 2}, {"dpl.core.data_subject_id_type": "BSN"}):
        with pytest.raises(ValidationError) as info:
            ReadFilter.model_validate(body)
        assert FILTER_RULE in str(info.value)


def test_trace_id_forms() -> None:
    plain = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ReadFilter.model_validate({"traceId": plain}).trace_id == plain
    uuid_form = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
    assert ReadFilter.model_validate({"traceId": uuid_form}).trace_id == plain
    assert normalise_trace_id(plain.upper()) == plain
    for bad in ("4bf92f35", plain + "0", "4bf92f35-77b34da6-a3ce-929d0e0e4736", "g" * 32):
        with pytest.raises(ValidationError, match="traceId"):
            ReadFilter.model_validate({"traceId": bad})
    # All zeros is no valid W3C id, so no record has it: asked for, it matches nothing.
    assert ReadFilter.model_validate({"traceId": "0" * 32}).trace_id == "0" * 32


def test_filter_rules() -> None:
    parsed = ReadFilter.model_validate(
        {
            "dpl.core.processing_activity_id": ACTIVITY,
            "dpl.core.data_subject_id": BSN,
            "startTime": 10,
            "endTime": 20,
        }
    )
    assert (parsed.data_subject_id, parsed.data_subject_id_type) == (BSN, "BSN")
    assert BSN not in repr(parsed)
    # A range that ends before it starts holds no action: not an error, an empty answer.
    empty_range = ReadFilter.model_validate({"traceId": trace_id(), "startTime": 10, "endTime": 5})
    assert (empty_range.start_time, empty_range.end_time) == (10, 5)
    alone = ReadFilter.model_validate(
        {"traceId": trace_id(), "dpl.core.data_subject_id_type": "BSN"}
    )
    assert alone.data_subject_id is None  # a type without an id filters nothing
    with pytest.raises(ValidationError):  # unknown keys are errors, not silently ignored
        ReadFilter.model_validate({"traceId": trace_id(), "traceID": "x"})
    with pytest.raises(ValidationError):  # times are integers (ms), not strings or booleans
        ReadFilter.model_validate({"traceId": trace_id(), "startTime": True})


# --- reading on both backends ---------------------------------------------------------------


def test_each_filter(log: LogStore) -> None:
    base = now_ms()
    records = [
        at(base, trace_id=trace_id(1)),
        at(base + 10, trace_id=trace_id(2)),
        at(base + 20, trace_id=trace_id(2), attributes={"dpl.core.data_subject_id": OTHER_BSN}),
        at(base + 30, trace_id=trace_id(3), attributes={"dpl.core.processing_activity_id": WMO}),
        at(
            base + 40,
            trace_id=trace_id(3),
            attributes={
                "dpl.core.processing_activity_id": UNKNOWN_ACTIVITY,
                "dpl.core.foreign_operation.processor": "https://app.teststad.example/scan",
            },
        ),
    ]
    assert log.ingest(ORG, records).accepted == 5
    ids = [r["span_id"] for r in records]

    assert spans(read(log, {"traceId": trace_id(2)})) == ids[1:3]
    assert spans(read(log, {"dpl.core.processing_activity_id": WMO})) == [ids[3]]
    assert spans(read(log, {"dpl.core.data_subject_id": BSN})) == [ids[i] for i in (0, 1, 3, 4)]
    assert spans(read(log, {"dpl.core.data_subject_id": OTHER_BSN})) == [ids[2]]
    assert spans(read(log, {"dpl.core.data_subject_id": BSN, "traceId": trace_id(2)})) == [ids[1]]
    assert (
        spans(
            read(
                log, {"dpl.core.data_subject_id": BSN, "dpl.core.data_subject_id_type": "kenteken"}
            )
        )
        == []
    )
    processor = read(
        log,
        {
            "traceId": trace_id(3),
            "dpl.core.foreign_operation.processor": "https://app.teststad.example/scan",
        },
    )
    assert spans(processor) == [ids[4]]
    # Another organisation's logbook is not searched.
    other = read_processing(
        log.engine,
        log.register_store,
        log.pseudonymizer,
        "elders",
        ReadFilter.model_validate({"traceId": trace_id(2)}),
        resident=False,
    )
    assert other.items == []
    assert other.metadata == {"logbookId": "elders", "organizationName": "elders"}


def test_item_shape_never_echoes_the_subject(log: LogStore) -> None:
    record = at(
        now_ms(),
        parent_span_id=span_id(),
        attributes={"exception.message": "time-out bij RDW", "app.scan_zone": "centrum"},
        status="Error",
    )
    log.ingest(ORG, [record])
    result = read(log, {"dpl.core.data_subject_id": BSN})
    assert result.metadata == {"logbookId": ORG, "organizationName": "Gemeente Teststad"}
    [item] = result.items
    assert list(item) == [
        "traceId",
        "spanId",
        "status",
        "name",
        "startTime",
        "endTime",
        "parentSpanId",
        "resource",
        "attributes",
    ]
    assert item["traceId"] == record["trace_id"]
    assert item["parentSpanId"] == record["parent_span_id"]
    assert (item["startTime"], item["endTime"]) == (record["start_time"], record["end_time"])
    assert item["resource"] == record["resource"]
    assert item["attributes"] == {
        "exception.message": "time-out bij RDW",
        "app.scan_zone": "centrum",
        "dpl.core.processing_activity_id": ACTIVITY,
        "dpl.core.data_subject_id_type": "BSN",
    }
    dumped = json.dumps(result.to_response())
    pseudonym = log.pseudonymizer.pseudonym(ORG, "BSN", BSN)
    for secret in (BSN, pseudonym, pseudonym.split(":")[1], "k2026", "k2025"):
        assert secret not in dumped
    # A resident sees only the dpl.core attributes, no internal error details.
    resident = read(log, {"dpl.core.data_subject_id": BSN}, resident=True)
    assert resident.items[0]["attributes"] == {
        "dpl.core.processing_activity_id": ACTIVITY,
        "dpl.core.data_subject_id_type": "BSN",
    }
    # No parent span, no resource: the keys are left out rather than null.
    log.ingest(ORG, [at(now_ms(), trace_id=trace_id(9), resource=None)])
    [bare] = read(log, {"traceId": trace_id(9)}).items
    assert "parentSpanId" not in bare and "resource" not in bare


def test_time_range(log: LogStore) -> None:
    base = now_ms()
    records = [at(base + 100 * i) for i in range(5)]  # each lasts 5 ms
    log.ingest(ORG, records)
    ids = [r["span_id"] for r in records]
    subject = {"dpl.core.data_subject_id": BSN}
    assert spans(read(log, {**subject, "startTime": base + 100})) == ids[1:]
    assert spans(read(log, {**subject, "endTime": base + 205})) == ids[:3]
    # An action that ends after endTime is not inside the range.
    assert spans(read(log, {**subject, "endTime": base + 204})) == ids[:2]
    assert spans(read(log, {**subject, "startTime": base + 101, "endTime": base + 305})) == ids[2:4]
    assert spans(read(log, {**subject, "startTime": base + 100, "endTime": base + 100})) == []


def test_pagination_and_cap(log: LogStore) -> None:
    base = now_ms()
    # Stored out of order: results are ordered by start time all the same.
    records = [at(base + 10 * i) for i in (3, 0, 6, 1, 4, 2, 5)]
    log.ingest(ORG, records)
    by_start = [r["span_id"] for r in sorted(records, key=lambda r: r["start_time"])]
    subject = {"dpl.core.data_subject_id": BSN}

    pages = [read(log, subject, page=p, page_size=3) for p in (1, 2, 3)]
    assert [spans(p) for p in pages] == [by_start[0:3], by_start[3:6], by_start[6:]]
    assert [(p.total, p.truncated) for p in pages] == [(7, False)] * 3
    assert pages[0].to_response()["pagination"] == {
        "page": 1,
        "pageSize": 3,
        "total": 7,
        "pages": 3,
        "truncated": False,
        "cap": 10_000,
    }
    assert read(log, subject, page=4, page_size=3).items == []  # past the end, within the cap
    # A first page with room to spare holds every match: its total is what it holds.
    whole = read(log, subject, page=1, page_size=10)
    assert (spans(whole), whole.total, whole.truncated) == (by_start, 7, False)
    assert whole.to_response()["pagination"]["pages"] == 1
    assert read(log, subject, page=2, page_size=10).total == 7  # counted, past the end

    # A cap of 5: only the first five by start time are reachable, and the result says so.
    first = read(log, subject, page=1, page_size=3, cap=5)
    second = read(log, subject, page=2, page_size=3, cap=5)
    assert spans(first) + spans(second) == by_start[:5]
    assert (second.total, second.truncated, second.to_response()["pagination"]["pages"]) == (
        5,
        True,
        2,
    )
    with pytest.raises(ReadError, match="beyond the result cap of 5"):
        read(log, subject, page=3, page_size=3, cap=5)
    exact = read(log, subject, page=1, page_size=7, cap=7)
    assert (exact.total, exact.truncated) == (7, False)
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 1001}, {"cap": 0}):
        with pytest.raises(ReadError):
            read(log, subject, **bad)


def test_key_rotation_finds_records_under_the_old_key(
    db: Engine, register: RegisterStore, log: LogStore
) -> None:
    old = LogStore(db, register, Pseudonymizer.from_config(KEY_2025))
    base = now_ms()
    written_2025 = at(base)
    written_2026 = at(base + 10)
    assert old.ingest(ORG, [written_2025]).accepted == 1
    assert log.ingest(ORG, [written_2026]).accepted == 1
    found = read(log, {"dpl.core.data_subject_id": BSN})
    assert spans(found) == [written_2025["span_id"], written_2026["span_id"]]
    # With the old key dropped, its records can no longer be linked to the person.
    only_new = read_processing(
        db,
        register,
        Pseudonymizer.from_config(KEY_2026),
        ORG,
        ReadFilter.model_validate({"dpl.core.data_subject_id": BSN}),
        resident=False,
    )
    assert spans(only_new) == [written_2026["span_id"]]


def make_confidential(tmp_path: Path, activity_file: str) -> Path:
    root = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, root)
    path = next(root.rglob(activity_file))
    path.write_text(
        path.read_text().replace("confidentiality: normaal", "confidentiality: vertrouwelijk")
    )
    return root


def test_resident_reads_leave_out_confidential_activities(
    log: LogStore, db: Engine, tmp_path: Path
) -> None:
    base = now_ms()
    parkeren = at(base)
    wmo = at(base + 10, attributes={"dpl.core.processing_activity_id": WMO})
    unknown = at(base + 20, attributes={"dpl.core.processing_activity_id": UNKNOWN_ACTIVITY})
    log.ingest(ORG, [parkeren, wmo, unknown])
    subject = {"dpl.core.data_subject_id": BSN}
    assert len(read(log, subject).items) == 3  # an official read shows everything
    resident = read(log, subject, resident=True)
    assert spans(resident) == [parkeren["span_id"], unknown["span_id"]]
    assert resident.total == 2

    # Parkeren becomes confidential from the next register version on: records before that
    # version stay visible, records after it are left out.
    time.sleep(0.002)
    load_register(db, make_confidential(tmp_path, "parkeren.yaml"), approved_by="test-approver")
    time.sleep(0.002)
    later = at(now_ms() + 5)
    log.ingest(ORG, [later])
    assert spans(read(log, subject, resident=True)) == [parkeren["span_id"], unknown["span_id"]]
    assert len(read(log, subject).items) == 4

    with pytest.raises(ReadError, match="resident's own id"):
        read(log, {"traceId": parkeren["trace_id"]}, resident=True)


def test_access_request_is_logged_as_a_processing(log: LogStore) -> None:
    start = now_ms()
    record = access_request_record(ACTIVITY, subject_id=BSN, start_time_ms=start)
    parsed = parse_record(record)
    assert parsed.name == ACCESS_REQUEST_NAME == "Inzageverzoek logboek"
    assert (parsed.processing_activity_id, parsed.data_subject_id) == (ACTIVITY, BSN)
    assert parsed.data_subject_id_type == "BSN"
    assert (parsed.status, parsed.start_time, parsed.end_time) == ("Ok", start, start)
    again = access_request_record(ACTIVITY, subject_id=BSN, start_time_ms=start)
    assert again["trace_id"] != record["trace_id"] and again["span_id"] != record["span_id"]
    assert log.ingest(ORG, [record]).accepted == 1
    assert spans(read(log, {"dpl.core.data_subject_id": BSN}, resident=True)) == [record["span_id"]]
    # Continuing an incoming trace, without a subject (an official's read by activity).
    child = access_request_record(
        ACTIVITY,
        subject_id=None,
        start_time_ms=start,
        end_time_ms=start + 3,
        trace_id=record["trace_id"],
        parent_span_id=record["span_id"],
        resource={"service.name": "glazenstad"},
    )
    parsed_child = parse_record(child)
    assert parsed_child.data_subject_id is None
    assert (parsed_child.trace_id, parsed_child.parent_span_id) == (
        record["trace_id"],
        record["span_id"],
    )


def test_resident_overview(log: LogStore) -> None:
    base = now_ms()
    parkeren = at(base, name="Scanauto controleert kenteken")
    wmo = at(base + 10, attributes={"dpl.core.processing_activity_id": WMO})
    unknown = at(base + 20, attributes={"dpl.core.processing_activity_id": UNKNOWN_ACTIVITY})
    other = at(base + 30, attributes={"dpl.core.data_subject_id": OTHER_BSN})
    log.ingest(ORG, [parkeren, wmo, unknown, other])
    overview = resident_overview(log.engine, log.register_store, log.pseudonymizer, ORG, BSN)
    assert (overview.total, overview.truncated) == (2, False)
    first, second = overview.items
    assert first.start_time == base
    assert first.date == datetime.fromtimestamp(base / 1000, UTC)
    assert first.trace_id == parkeren["trace_id"]
    assert first.action == "Scanauto controleert kenteken"
    assert first.activity_known
    assert first.activity_name == "Parkeerhandhaving met scanauto's"
    assert first.departments == ["Parkeren"]
    assert first.purposes == ["Heffen en innen van parkeerbelasting"]
    assert first.legal_basis == (
        "AVG artikel 6 lid 1 sub e: taak van algemeen belang of openbaar gezag"
    )
    assert first.legal_basis_explanation is not None
    assert [(law.label, law.link) for law in first.laws] == [
        ("Gemeentewet, artikel 225", "https://wetten.overheid.nl/jci1.3:c:BWBR0005416&artikel=225")
    ]
    assert first.retention == [
        "betaald: 24 uur",
        "onbetaald: 6 maanden na einde bezwaar- en beroepstermijn",
    ]
    assert second.activity_uri == UNKNOWN_ACTIVITY
    assert not second.activity_known and second.activity_name is None and second.laws == []
    # Time range and paging as in read_processing.
    assert resident_overview(
        log.engine, log.register_store, log.pseudonymizer, ORG, BSN, start_time=base + 1
    ).items == [second]
    paged = resident_overview(
        log.engine, log.register_store, log.pseudonymizer, ORG, BSN, page_size=1, cap=1
    )
    assert (paged.items, paged.total, paged.truncated) == ([first], 1, True)


def test_duration_text() -> None:
    assert duration_text("P1Y") == "1 jaar"
    assert duration_text("P1Y6M") == "1 jaar en 6 maanden"
    assert duration_text("P2W") == "2 weken"
    assert duration_text("P1DT12H30M") == "1 dag, 12 uur en 30 minuten"
    assert duration_text("PT0.5S") == "PT0.5S"  # unusual forms are shown as given
