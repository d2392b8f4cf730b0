"""Ingest on SQLite and PostgreSQL: batches, idempotency, flagged activities, pseudonyms."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import Engine, func, select

from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import ATTR_ACTIVITY, ATTR_SUBJECT_ID, ms_to_datetime
from glazenstad.logbook.store import ActivityResolver, LogStore
from glazenstad.logbook.tables import log_chain_head, log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.store import RegisterStore
from tests.logbook.conftest import (
    ACTIVITY,
    BSN,
    KEY_2025,
    KEY_2026,
    ORG,
    UNKNOWN_ACTIVITY,
    make_record,
)


def stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(log_record).order_by(log_record.c.sequence))
        ]


def test_batch_is_stored_chained_and_reports_rejections(store: LogStore) -> None:
    batch = [make_record(), make_record(span_id="short"), make_record(), make_record()]
    result = store.ingest(ORG, batch)
    assert (result.accepted, result.duplicates, result.unknown_activity) == (3, 0, 0)
    assert result.accepted_indexes == [0, 2, 3]
    assert [(r.index, r.reason.split(":")[0]) for r in result.rejected] == [(1, "span_id")]
    assert (result.first_sequence, result.last_sequence) == (1, 3)
    rows = stored(store.engine)
    assert [r["sequence"] for r in rows] == [1, 2, 3]
    assert [r["span_id"] for r in rows] == [batch[i]["span_id"] for i in (0, 2, 3)]
    assert rows[0]["prev_hash"] == "0" * 64
    assert rows[1]["prev_hash"] == rows[0]["record_hash"]
    assert all(r["activity_known"] and r["activity_version"] == 1 for r in rows)
    assert rows[0]["resource"] == batch[0]["resource"]
    assert rows[0]["start_time_ms"] == batch[0]["start_time"]
    second = store.ingest(ORG, [make_record()])
    assert (second.first_sequence, second.last_sequence) == (4, 4)
    with store.engine.connect() as conn:
        head = conn.execute(
            select(log_chain_head).where(log_chain_head.c.chain_partition == "main")
        ).one()
    assert (head.last_sequence, head.last_hash) == (4, stored(store.engine)[-1]["record_hash"])
    assert verify(store.engine).ok


def test_resending_is_idempotent(store: LogStore) -> None:
    batch = [make_record() for _ in range(3)]
    first = store.ingest(ORG, batch)
    assert first.accepted == 3
    again = store.ingest(ORG, [*batch, make_record()])
    assert (again.accepted, again.duplicates) == (1, 3)
    assert again.duplicate_indexes == [0, 1, 2]
    assert again.accepted_indexes == [3]
    rows = stored(store.engine)
    assert [r["sequence"] for r in rows] == [1, 2, 3, 4]
    # The same span twice within one batch is stored once.
    record = make_record()
    within = store.ingest(ORG, [record, record])
    assert (within.accepted, within.duplicates, within.duplicate_indexes) == (1, 1, [1])
    assert len(stored(store.engine)) == 5
    assert verify(store.engine).ok


def test_unstorable_text_rejects_only_its_record(store: LogStore) -> None:
    result = store.ingest(ORG, [make_record(), make_record(name="a\x00b"), make_record()])
    assert (result.accepted, [r.index for r in result.rejected]) == (2, [1])


def test_only_rejected_or_duplicate_records_write_nothing(store: LogStore) -> None:
    result = store.ingest(ORG, [{"trace_id": "x"}])
    assert (result.accepted, len(result.rejected)) == (0, 1)
    assert stored(store.engine) == []
    assert store.ingest(ORG, []).accepted == 0


def test_unknown_activity_is_accepted_but_flagged(store: LogStore) -> None:
    long_ago = 1_000_000_000_000  # 2001: before the register was loaded
    batch = [
        make_record(attributes={ATTR_ACTIVITY: UNKNOWN_ACTIVITY}),
        make_record(start_time=long_ago, end_time=long_ago + 1),
        make_record(attributes={ATTR_ACTIVITY: "urn:uuid:1b4e28ba-2fa1-11d2-883f-b9a761bde3fb"}),
        # An organisation's URI, not a processing activity.
        make_record(attributes={ATTR_ACTIVITY: "https://register.teststad.example"}),
        make_record(),
    ]
    result = store.ingest(ORG, batch)
    assert (result.accepted, result.unknown_activity) == (5, 4)
    rows = stored(store.engine)
    assert [r["activity_known"] for r in rows] == [False, False, False, False, True]
    assert rows[0]["processing_activity_id"] == UNKNOWN_ACTIVITY
    assert rows[0]["activity_version"] is None


def test_activity_of_another_organisation_is_not_known(store: LogStore) -> None:
    result = store.ingest("anderstad", [make_record()])
    assert (result.accepted, result.unknown_activity) == (1, 1)


def test_resolver_agrees_with_register_store(log_engine: Engine) -> None:
    register = RegisterStore(log_engine)
    now = int(time.time() * 1000)
    moments = (0, now - 3_600_000, now)
    items = [(uri, m) for uri in (ACTIVITY, UNKNOWN_ACTIVITY) for m in moments]
    resolved = ActivityResolver(register).resolve(ORG, items)
    for (uri, moment), answer in zip(items, resolved, strict=True):
        entry = register.by_uri_as_of(uri, ms_to_datetime(moment))
        assert answer.known == (entry is not None and not entry.removed)
        assert answer.version == (entry.version if entry is not None else None)
    assert ms_to_datetime(1_700_000_000_123) - ms_to_datetime(1_700_000_000_000) == timedelta(
        milliseconds=123
    )


def test_no_plain_identifier_anywhere_in_the_stored_row(store: LogStore) -> None:
    store.ingest(
        ORG,
        [
            make_record(),
            make_record(attributes={ATTR_SUBJECT_ID: f" {BSN} "}),
            make_record(
                attributes={
                    ATTR_SUBJECT_ID: "12-ABC-3",
                    "dpl.core.data_subject_id_type": "kenteken",
                }
            ),
        ],
    )
    rows = stored(store.engine)
    dump = json.dumps(rows, default=str)
    assert BSN not in dump and "12-ABC-3" not in dump
    assert ATTR_SUBJECT_ID not in dump
    expected = store.pseudonymizer.pseudonym(ORG, "BSN", BSN)
    assert rows[0]["data_subject_pseudonym"] == expected
    assert rows[1]["data_subject_pseudonym"] == expected  # surrounding whitespace ignored
    assert rows[2]["data_subject_id_type"] == "kenteken"


def test_subject_lookup_after_key_rotation(log_engine: Engine) -> None:
    register = RegisterStore(log_engine)
    old = LogStore(log_engine, register, Pseudonymizer.from_config(KEY_2025))
    old.ingest(ORG, [make_record(), make_record(attributes={ATTR_SUBJECT_ID: "999990019"})])
    rotated = LogStore(log_engine, register, Pseudonymizer.from_config(f"{KEY_2026},{KEY_2025}"))
    rotated.ingest(ORG, [make_record()])
    found = rotated.records_for_subject(ORG, "BSN", BSN)
    assert [r["data_subject_pseudonym"].split(":")[0] for r in found] == ["k2025", "k2026"]
    assert rotated.records_for_subject(ORG, "BSN", "111111110") == []
    # Without the old key the old record cannot be found: keys must be kept for lookups.
    new_only = LogStore(log_engine, register, Pseudonymizer.from_config(KEY_2026))
    assert len(new_only.records_for_subject(ORG, "BSN", BSN)) == 1
    assert verify(log_engine).ok


def test_chains_per_organisation(store: LogStore) -> None:
    store.ingest(ORG, [make_record(), make_record()])
    store.ingest("anderstad", [make_record()])
    store.ingest(ORG, [make_record()])
    result = verify(store.engine)
    assert result.ok
    written = {(c.organisation_id, c.chain_partition, c.last_sequence) for c in result.chains}
    assert {(ORG, "main", 3), ("anderstad", "main", 1)} <= written
    # The other chains of each organisation (PostgreSQL's parallel writers) are still empty.
    assert {last for _, chain, last in written if chain != "main"} <= {0}
    assert verify(store.engine, ORG).records == 3
    with store.engine.connect() as conn:
        heads = conn.execute(select(func.count()).select_from(log_chain_head)).scalar()
    assert heads == 2 * len(store.chains)


def test_resent_record_with_other_content_is_rejected(store: LogStore) -> None:
    record = make_record()
    store.ingest(ORG, [record])
    changed = {**record, "name": "Iets anders"}
    result = store.ingest(ORG, [make_record(), changed])
    assert (result.accepted, result.duplicates) == (1, 0)
    assert [(r.index, r.reason.split(":")[0]) for r in result.rejected] == [(1, "span_id")]
    assert "already stored with different content" in result.rejected[0].reason
    assert store.ingest(ORG, [record]).duplicates == 1
    other = make_record()
    within = store.ingest(ORG, [other, {**other, "status": "Error"}])
    assert within.accepted == 1
    assert [r.index for r in within.rejected] == [1]
    assert stored(store.engine)[0]["name"] == record["name"]


def test_resending_after_key_rotation_is_still_a_duplicate(log_engine: Engine) -> None:
    register = RegisterStore(log_engine)
    record = make_record()
    LogStore(log_engine, register, Pseudonymizer.from_config(KEY_2025)).ingest(ORG, [record])
    rotated = LogStore(log_engine, register, Pseudonymizer.from_config(f"{KEY_2026},{KEY_2025}"))
    result = rotated.ingest(ORG, [record])
    assert (result.accepted, result.duplicates, result.rejected) == (0, 1, [])
    other_subject = {**record, "attributes": {**record["attributes"], ATTR_SUBJECT_ID: "999990019"}}
    assert len(rotated.ingest(ORG, [other_subject]).rejected) == 1


def test_special_characters_are_stored_exactly(store: LogStore) -> None:
    """Tabs, newlines, backslashes and quotes survive the bulk write (COPY text on PostgreSQL)."""
    awkward = 'tab\there, new\nline, back\\slash, "quoted", \r, é, \\N'
    record = make_record(
        name=awkward,
        attributes={"note": awkward, "path": "C:\\data\\n"},
        resource={"attributes": {"service.name": awkward}},
    )
    assert store.ingest(ORG, [record]).accepted == 1
    (row,) = stored(store.engine)
    assert row["name"] == awkward
    assert row["attributes"] == {"note": awkward, "path": "C:\\data\\n"}
    assert row["resource"] == {"attributes": {"service.name": awkward}}
    assert verify(store.engine).ok


def test_attribute_values_equal_in_python_keep_their_own_json(store: LogStore) -> None:
    """1 and True, 0.0 and -0.0 compare equal; each record still stores what it sent."""
    values = [1, True, 0.0, -0.0, "1", [1]]
    records = [make_record(attributes={"value": v}) for v in values]
    assert store.ingest(ORG, records).accepted == len(values)
    stored_values = [row["attributes"]["value"] for row in stored(store.engine)]
    assert [json.dumps(v) for v in stored_values] == [json.dumps(v) for v in values]
    assert verify(store.engine).ok
