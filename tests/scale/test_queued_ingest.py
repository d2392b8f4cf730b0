"""Log records through the JetStream queue: answered at the front, written by a writer, once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from nats.aio.msg import Msg
from sqlalchemy import Engine, func, select

from glazenstad.db.engine import make_engine
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import ATTR_ACTIVITY, ATTR_SUBJECT_ID, ATTR_SUBJECT_TYPE
from glazenstad.logbook.store import screen
from glazenstad.logbook.stream import QueueConfig
from glazenstad.logbook.stream_writer import LogWriter, Settlement
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, free_port, system_token
from tests.logbook.conftest import ACTIVITY, BSN, KEY_2026, ORG, make_record
from tests.scale.conftest import drain, log_store, settings_for, stored, stream_messages

pytestmark = pytest.mark.heavy

RECORDS = "/api/v1/logboek/records"
CLI = [sys.executable, "-c", "from glazenstad.cli import app; app()"]


def _post(front: TestClient, records: list[dict[str, object]]) -> dict[str, object]:
    response = front.post(RECORDS, json={"organisationId": ORG, "records": records})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def test_queued_batch_is_answered_at_once_and_written_by_a_writer(
    front: TestClient, queue: QueueConfig, database_url: str
) -> None:
    good, other, bad = make_record(), make_record(), make_record(span_id="xyz")
    body = _post(front, [good, bad, other, good])
    assert body["stored"] == "queued" and body["queued"] == 2 and body["duplicates"] == 1
    # Rejected at the front with the reason the single-process path gives.
    [expected] = screen([bad])[1].rejected
    assert body["rejected"] == [{"index": 1, "reason": expected.reason}]
    assert isinstance(body["batchId"], str)
    engine = make_engine(database_url)
    try:
        assert stored(engine) == 0  # queued, not yet written
        writer = asyncio.run(drain(queue, engine, messages=1))
        assert (writer.counts.accepted, writer.counts.duplicates) == (2, 0)
        with engine.connect() as conn:
            rows = conn.execute(select(log_record)).mappings().all()
        assert {(r["trace_id"], r["span_id"]) for r in rows} == {
            (good["trace_id"], good["span_id"]),
            (other["trace_id"], other["span_id"]),
        }
        pseudonym = Pseudonymizer.from_config(KEY_2026).pseudonym(ORG, "BSN", BSN)
        assert {r["data_subject_pseudonym"] for r in rows} == {pseudonym}
        assert BSN not in " ".join(str(v) for r in rows for v in r.values())
        result = verify(engine, ORG)
        assert result.ok and result.records == 2
    finally:
        engine.dispose()


def test_no_plain_identifier_ever_enters_the_queue(front: TestClient, queue: QueueConfig) -> None:
    plate = "XX-123-Y"
    _post(
        front,
        [
            make_record(),
            make_record(attributes={ATTR_SUBJECT_ID: f"  {plate} ", ATTR_SUBJECT_TYPE: "kenteken"}),
        ],
    )
    [message] = asyncio.run(stream_messages(queue))
    text = message.decode()
    assert BSN not in text and plate not in text
    pseudonymizer = Pseudonymizer.from_config(KEY_2026)
    records = json.loads(text)["records"]
    assert [r["data_subject_pseudonym"] for r in records] == [
        pseudonymizer.pseudonym(ORG, "BSN", BSN),
        pseudonymizer.pseudonym(ORG, "kenteken", plate),
    ]


def test_the_same_batch_sent_twice_is_queued_once_and_stored_once(
    front: TestClient, queue: QueueConfig, database_url: str
) -> None:
    records = [make_record() for _ in range(3)]
    first, second = _post(front, records), _post(front, records)
    assert first["batchId"] == second["batchId"]
    assert len(asyncio.run(stream_messages(queue))) == 1  # JetStream de-duplicated it
    engine = make_engine(database_url)
    try:
        asyncio.run(drain(queue, engine, messages=1))
        assert stored(engine) == 3
    finally:
        engine.dispose()


def test_otlp_spans_are_queued(front: TestClient, queue: QueueConfig, database_url: str) -> None:
    now_ns = time.time_ns()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "Paspoort aanvragen",
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 1_000_000),
        "attributes": [
            {"key": ATTR_ACTIVITY, "value": {"stringValue": ACTIVITY}},
            {"key": ATTR_SUBJECT_ID, "value": {"stringValue": BSN}},
            {"key": ATTR_SUBJECT_TYPE, "value": {"stringValue": "BSN"}},
        ],
    }
    no_activity = {**span, "spanId": "eee19b7ec3c1b175", "attributes": []}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span, no_activity]}]}]}
    response = front.post(
        "/v1/traces", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    [message] = asyncio.run(stream_messages(queue))
    assert BSN.encode() not in message
    engine = make_engine(database_url)
    try:
        asyncio.run(drain(queue, engine, messages=1))
        with engine.connect() as conn:
            spans = conn.execute(select(log_record.c.span_id)).scalars().all()
        assert spans == ["eee19b7ec3c1b174"]
        assert verify(engine, ORG).ok
    finally:
        engine.dispose()


def test_a_writer_that_dies_before_acking_loses_and_doubles_nothing(
    front: TestClient, queue: QueueConfig, database_url: str
) -> None:
    batches = [[make_record() for _ in range(5)] for _ in range(4)]
    for records in batches:
        _post(front, records)
    engine = make_engine(database_url)

    async def crash_after_commit() -> int:
        """Fetch, commit, and close without acknowledging: a crash between commit and ack."""
        writer = LogWriter(queue, log_store(engine), fetch=2)
        await writer.start()
        messages = await writer.pull(wait=5)
        settlement = await asyncio.to_thread(writer.write, messages)
        await writer.close()
        return len(settlement.ack)

    try:
        assert asyncio.run(crash_after_commit()) == 2
        assert stored(engine) == 10
        writer = asyncio.run(drain(queue, engine, messages=4))
        # The two committed batches came again and were recognised; the others were written.
        assert (writer.counts.accepted, writer.counts.duplicates) == (10, 10)
        with engine.connect() as conn:
            spans = conn.execute(select(func.count(log_record.c.span_id.distinct()))).scalar()
        assert stored(engine) == spans == 20
        result = verify(engine, ORG)
        assert result.ok and result.records == 20
    finally:
        engine.dispose()


def test_a_write_slower_than_ack_wait_keeps_its_batch(
    front: TestClient, queue: QueueConfig, database_url: str
) -> None:
    """A writer reports progress while it writes, so JetStream does not hand the batch to
    another writer that is fetching meanwhile."""
    _post(front, [make_record() for _ in range(3)])
    engine = make_engine(database_url)

    class SlowWriter(LogWriter):
        def write(self, messages: list[Msg]) -> Settlement:
            time.sleep(queue.ack_wait * 1.75)
            return super().write(messages)

    async def slow_and_another() -> tuple[SlowWriter, list[Msg]]:
        slow = SlowWriter(queue, log_store(engine), fetch=8)
        other = LogWriter(queue, log_store(engine), fetch=8)
        await slow.start()
        await other.start()
        try:
            fetched = await slow.pull(wait=5)
            assert len(fetched) == 1

            async def write_and_settle() -> None:
                await slow.settle(await slow.written(fetched))

            _, handed_again = await asyncio.gather(
                write_and_settle(), other.pull(wait=queue.ack_wait * 2.5)
            )
        finally:
            await slow.close()
            await other.close()
        return slow, handed_again

    try:
        slow, handed_again = asyncio.run(slow_and_another())
        assert handed_again == []
        assert (slow.counts.messages, slow.counts.accepted, slow.counts.duplicates) == (1, 3, 0)
        assert stored(engine) == 3
    finally:
        engine.dispose()


def test_a_writer_process_killed_mid_stream(
    front: TestClient, queue: QueueConfig, database_url: str, tmp_path: Path
) -> None:
    total_batches, size = 30, 20
    for _ in range(total_batches):
        _post(front, [make_record() for _ in range(size)])
    settings = settings_for(database_url, tmp_path, queue)
    env = {
        **os.environ,
        "GLAZENSTAD_DATABASE_URL": database_url,
        "GLAZENSTAD_DATA_DIR": str(tmp_path),
        "GLAZENSTAD_PSEUDONYM_KEYS": KEY_2026,
        "GLAZENSTAD_NATS_URL": queue.url,
        "GLAZENSTAD_NATS_LOGBOOK_STREAM": settings.nats_logbook_stream,
        "GLAZENSTAD_NATS_LOGBOOK_SUBJECT": settings.nats_logbook_subject,
        "GLAZENSTAD_NATS_LOGBOOK_CONSUMER": settings.nats_logbook_consumer,
        "GLAZENSTAD_NATS_ACK_WAIT": str(queue.ack_wait),
    }
    engine = make_engine(database_url)
    process = subprocess.Popen(
        [*CLI, "logbook", "writer", "--fetch", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while stored(engine) == 0:  # kill it once it is writing
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the writer process wrote nothing"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        written_before = stored(engine)
        assert written_before < total_batches * size  # it died part of the way through
        asyncio.run(_finish(queue, engine))
        with engine.connect() as conn:
            spans = conn.execute(select(func.count(log_record.c.span_id.distinct()))).scalar()
        assert stored(engine) == spans == total_batches * size
        result = verify(engine, ORG)
        assert result.ok and result.records == total_batches * size
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        engine.dispose()


async def _finish(queue: QueueConfig, engine: Engine) -> None:
    """Write until the consumer has nothing pending or unacknowledged."""
    writer = LogWriter(queue, log_store(engine), fetch=8)
    await writer.start()
    client = await nats.connect(queue.url)
    try:
        js = client.jetstream()
        deadline = time.monotonic() + 60
        while True:
            info = await js.consumer_info(queue.stream, queue.consumer)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            assert time.monotonic() < deadline, f"still pending: {info}"
            await writer.run_once(wait=0.5)
    finally:
        await client.close()
        await writer.close()


def test_front_without_nats_answers_503_and_keeps_nothing(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
        system_clients=TEST_SYSTEMS,
        nats_url=f"nats://127.0.0.1:{free_port()}",  # nothing listens there
    )
    app = create_app(settings)

    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    try:
        with TestClient(app, headers=system_token()) as client:
            response = client.post(
                RECORDS, json={"organisationId": ORG, "records": [make_record()]}
            )
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["Retry-After"]) > 0
            assert response.json()["status"] == 503
            span = {
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "name": "Paspoort aanvragen",
                "startTimeUnixNano": str(time.time_ns()),
                "endTimeUnixNano": str(time.time_ns()),
                "attributes": [{"key": ATTR_ACTIVITY, "value": {"stringValue": ACTIVITY}}],
            }
            otlp = client.post(
                "/v1/traces",
                content=json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}),
                headers={"Content-Type": "application/json"},
            )
            assert otlp.status_code == 503 and int(otlp.headers["Retry-After"]) > 0
        assert stored(engine) == 0
    finally:
        engine.dispose()


def test_a_batch_the_database_refused_is_written_on_a_later_delivery(
    front: TestClient, queue: QueueConfig, database_url: str, tmp_path: Path
) -> None:
    _post(front, [make_record() for _ in range(3)])
    broken = make_engine(f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}")  # no tables at all

    async def fail_once() -> LogWriter:
        writer = LogWriter(queue, log_store(broken), fetch=8)
        await writer.start()
        try:
            await writer.run_once(wait=5)
        finally:
            await writer.close()
        return writer

    engine = make_engine(database_url)
    try:
        failing = asyncio.run(fail_once())
        assert (failing.counts.failed, failing.counts.messages) == (1, 0)
        writer = asyncio.run(drain(queue, engine, messages=1))
        assert writer.counts.accepted == 3 and stored(engine) == 3
        assert verify(engine, ORG).ok
    finally:
        engine.dispose()
        broken.dispose()
