"""Sizing a breach from log records written through the real logbook ingest, on both databases."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from glazenstad.insight.incidents.sizing import SizingError, affected_data_subjects
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import DEMO_REGISTER
from tests.insight.test_incidents_support import ORG, OTHER_ORG

KEY_A = "ka:" + "a2V5LWEtZm9yLWluY2lkZW50LXRlc3RzLW9ubHktMDEyMzQ1Ng=="
KEY_B = "kb:" + "a2V5LWItZm9yLWluY2lkZW50LXRlc3RzLW9ubHktNjU0MzIxMA=="
WMO = "https://register.voorbeeldstad.example/processing-activities/wmo-maatwerkvoorziening"
JEUGD = "https://register.voorbeeldstad.example/processing-activities/jeugdhulp-toegang"
SCAN = "https://register.voorbeeldstad.example/processing-activities/parkeerhandhaving-scanauto"
# BSNs that pass the eleven test; plates as the scan car reads them.
ANNA, BOB, CHRIS, DEWI = "999993653", "999990019", "999990020", "999990032"
T1 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 9, 8, 0, 0, tzinfo=UTC)
_span = itertools.count(1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record(
    activity: str, start: datetime, subject: str | None, kind: str = "BSN"
) -> dict[str, Any]:
    n = next(_span)
    attributes: dict[str, Any] = {"dpl.core.processing_activity_id": activity}
    if subject is not None:
        attributes["dpl.core.data_subject_id"] = subject
        attributes["dpl.core.data_subject_id_type"] = kind
    return {
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "name": "Dossier raadplegen",
        "start_time": ms(start),
        "end_time": ms(start) + 5,
        "status": "Ok",
        "attributes": attributes,
    }


@pytest.fixture
def db(engine: Engine) -> Engine:
    load_register(engine, DEMO_REGISTER, loaded_by="test", approved_by="test-approver")
    return engine


def ingest(engine: Engine, keys: str, organisation: str, records: list[dict[str, Any]]) -> None:
    store = LogStore(engine, RegisterStore(engine), Pseudonymizer.from_config(keys))
    result = store.ingest(organisation, records)
    assert result.accepted == len(records), result.rejected


def test_counts_distinct_subjects_per_activity_and_in_total(db: Engine) -> None:
    inside = T1 + timedelta(days=1)
    ingest(
        db,
        KEY_A,
        ORG,
        [
            record(WMO, T1, ANNA),  # at T1: inside (from is inclusive)
            record(WMO, inside, ANNA),  # the same person again
            record(WMO, inside, BOB),
            record(WMO, inside, None),  # an action without a data subject
            record(WMO, T2, CHRIS),  # at T2: outside (until is exclusive)
            record(WMO, T1 - timedelta(milliseconds=1), DEWI),  # just before: outside
            record(JEUGD, inside, ANNA),  # Anna in a second activity
            record(JEUGD, inside, DEWI),
            record(SCAN, inside, "AB-123-C", "kenteken"),
        ],
    )
    # Another municipality's log, with the same people: never counted for Voorbeeldstad.
    duinwijk_wmo = WMO.replace("voorbeeldstad", "duinwijk")
    ingest(db, KEY_A, OTHER_ORG, [record(duinwijk_wmo, inside, CHRIS), record(WMO, inside, CHRIS)])

    wmo = affected_data_subjects(db, ORG, ["wmo-maatwerkvoorziening"], T1, T2)
    assert wmo.data_subjects == 2 and wmo.records == 4
    assert wmo.activities[0].by_id_type == {"BSN": 2}
    assert wmo.activities[0].uris == (WMO,)

    both = affected_data_subjects(db, ORG, ["wmo-maatwerkvoorziening", "jeugdhulp-toegang"], T1, T2)
    assert [(a.activity_id, a.data_subjects, a.records) for a in both.activities] == [
        ("wmo-maatwerkvoorziening", 2, 4),
        ("jeugdhulp-toegang", 2, 2),
    ]
    assert both.data_subjects == 3  # Anna, Bob, Dewi: Anna once
    assert both.records == 6 and not both.several_keys

    plates = affected_data_subjects(
        db, ORG, ["parkeerhandhaving-scanauto", "jeugdhulp-toegang"], T1, T2
    )
    assert plates.activities[0].by_id_type == {"kenteken": 1}
    assert plates.data_subjects == 3

    wider = affected_data_subjects(
        db, ORG, ["wmo-maatwerkvoorziening"], T1 - timedelta(days=1), T2 + timedelta(days=1)
    )
    assert wider.data_subjects == 4  # Anna, Bob, Chris, Dewi

    # Nothing in the answer names anyone: no identifier, no pseudonym.
    shown = repr(both) + repr(plates) + repr(wider)
    for identifier in (ANNA, BOB, CHRIS, DEWI, "AB-123-C", "ka:"):
        assert identifier not in shown


def test_a_key_rotation_inside_the_period_is_flagged(db: Engine) -> None:
    inside = T1 + timedelta(days=1)
    ingest(db, KEY_A, ORG, [record(WMO, inside, ANNA), record(WMO, inside, BOB)])
    # The new key writes from now on; the old one is kept for reading.
    ingest(db, f"{KEY_B},{KEY_A}", ORG, [record(WMO, inside + timedelta(days=1), ANNA)])
    sizing = affected_data_subjects(db, ORG, ["wmo-maatwerkvoorziening"], T1, T2)
    # Anna under both keys: an upper bound, and the answer says so.
    assert sizing.data_subjects == 3 and sizing.several_keys
    before = affected_data_subjects(
        db, ORG, ["wmo-maatwerkvoorziening"], T1, inside + timedelta(hours=1)
    )
    assert before.data_subjects == 2 and not before.several_keys


def test_an_empty_period_is_zero_not_an_error(db: Engine) -> None:
    sizing = affected_data_subjects(db, ORG, ["wmo-maatwerkvoorziening"], T1, T2)
    assert sizing.data_subjects == 0 and sizing.records == 0
    assert sizing.activities[0].by_id_type == {}


@pytest.mark.parametrize(
    ("activities", "since", "until", "field"),
    [
        ([], T1, T2, "activity"),
        (["bestaat-niet"], T1, T2, "activity[0]"),
        (["wmo-maatwerkvoorziening", "strandparkeervergunningen"], T1, T2, "activity[1]"),
        (["wmo-maatwerkvoorziening"], T2, T1, "until"),
        (["wmo-maatwerkvoorziening"], T1, T1 + timedelta(days=4000), "until"),
    ],
)
def test_bad_questions_name_the_field(
    db: Engine, activities: list[str], since: datetime, until: datetime, field: str
) -> None:
    with pytest.raises(SizingError) as caught:
        affected_data_subjects(db, ORG, activities, since, until)
    assert caught.value.field == field


def test_the_query_reads_the_activity_index(db: Engine) -> None:
    """The sizing query is served by ix_log_record_activity, not by reading the whole log."""
    ingest(db, KEY_A, ORG, [record(WMO, T1 + timedelta(hours=n), ANNA) for n in range(50)])
    query = (
        "SELECT processing_activity_id, count(DISTINCT data_subject_pseudonym) FROM log_record "
        "WHERE organisation_id = 'voorbeeldstad' AND processing_activity_id IN ('a', 'b') "
        "AND start_time_ms >= 1 AND start_time_ms < 2 GROUP BY processing_activity_id"
    )
    with db.connect() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table is cheaper to scan
            plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {query}")))
        else:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
    assert "ix_log_record_activity" in plan
