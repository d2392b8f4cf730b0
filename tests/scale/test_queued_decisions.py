"""Decision-log entries through JetStream: answered once stored there, written by a writer, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from glazenstad.cli import app as cli
from glazenstad.db.engine import make_engine
from glazenstad.logbook.stream import QueueConfig
from glazenstad.register.loader import load_register
from glazenstad.rules.decision_queue import DecisionWriter
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import decision_log
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, system_token
from tests.rules.conftest import TEST_POLICIES
from tests.scale.conftest import (
    DECISION,
    NATS_URL,
    run_until,
    settings_for,
    stream_messages,
    unique_queue,
)

pytestmark = pytest.mark.heavy


@pytest.fixture
def decisions_queue() -> Iterator[QueueConfig]:
    """A decision stream of this test's own on the real server, deleted afterwards."""
    with unique_queue("decisions") as config:
        yield config


def _settings(
    database_url: str, tmp_path: Path, queue: QueueConfig, decisions: QueueConfig
) -> Settings:
    return settings_for(database_url, tmp_path, queue).model_copy(
        update={
            "nats_decisions_stream": decisions.stream,
            "nats_decisions_subject": decisions.subject,
            "nats_decisions_consumer": decisions.consumer,
        }
    )


@pytest.fixture
def front(
    database_url: str, tmp_path: Path, queue: QueueConfig, decisions_queue: QueueConfig
) -> Iterator[TestClient]:
    """A serve node that queues its decisions, with the test policy active."""
    app = create_app(_settings(database_url, tmp_path, queue, decisions_queue))
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="test")
    store.activate("teststad", version.content_hash, by="test-approver")
    engine.dispose()
    with TestClient(app, headers=system_token()) as client:
        yield client


def _stored(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {row["decision_id"]: row for row in conn.execute(select(decision_log)).mappings()}


async def _drain(queue: QueueConfig, engine: Engine, *, messages: int) -> DecisionWriter:
    return await run_until(
        DecisionWriter(queue, engine, fetch=8),
        lambda w: w.counts.messages >= messages,
        lambda w: f"only {w.counts} of {messages} messages",
    )


def test_a_decision_is_answered_once_queued_and_written_by_a_writer(
    front: TestClient, decisions_queue: QueueConfig, database_url: str
) -> None:
    single = front.post("/api/v1/decisions", json=DECISION)
    assert single.status_code == 200, single.text
    assert single.json()["effect"] == "permit"
    batch = front.post(
        "/api/v1/decisions/batch",
        json={"requests": [DECISION, {**DECISION, "purpose": "bestaat-niet"}]},
    )
    assert batch.status_code == 200, batch.text
    receipts = [single.json()["receipt"]] + [r["receipt"] for r in batch.json()["results"]]
    first = receipts[0]["decisionId"]
    assert front.get(f"/api/v1/decisions/{first}").status_code == 404  # not written yet

    engine = make_engine(database_url)
    try:
        assert _stored(engine) == {}
        writer = asyncio.run(_drain(decisions_queue, engine, messages=2))
        assert (writer.counts.written, writer.counts.already_stored) == (3, 0)
        rows = _stored(engine)
    finally:
        engine.dispose()
    assert sorted(rows) == sorted(r["decisionId"] for r in receipts)
    for receipt in receipts:
        row = rows[receipt["decisionId"]]
        assert row["input_hash"] == receipt["inputHash"]
        assert row["policy_version"] == receipt["policyVersion"]
    assert [rows[r["decisionId"]]["reason"] for r in receipts] == [
        "permit",
        "permit",
        "unknown_purpose",
    ]
    stored = front.get(f"/api/v1/decisions/{first}")
    assert stored.status_code == 200 and stored.json()["inputHash"] == receipts[0]["inputHash"]


def test_a_message_delivered_again_is_stored_once(
    front: TestClient, decisions_queue: QueueConfig, database_url: str
) -> None:
    """A writer that committed but died before acknowledging: the next one finds it stored."""
    for _ in range(3):
        assert front.post("/api/v1/decisions", json=DECISION).status_code == 200
    engine = make_engine(database_url)

    async def commit_and_die() -> None:
        writer = DecisionWriter(decisions_queue, engine, fetch=8)
        await writer.start()
        messages: list[Any] = []
        while len(messages) < 3:
            messages += await writer.pull(wait=0.5)
        writer.write(messages)  # committed, never settled
        await writer.close()

    try:
        asyncio.run(commit_and_die())
        assert len(_stored(engine)) == 3
        writer = asyncio.run(_drain(decisions_queue, engine, messages=3))  # after ack_wait
        assert (writer.counts.written, writer.counts.already_stored) == (0, 3)
        assert len(_stored(engine)) == 3
    finally:
        engine.dispose()


def test_the_stream_holds_the_decision_log_rows(
    front: TestClient, decisions_queue: QueueConfig
) -> None:
    answer = front.post("/api/v1/decisions", json=DECISION).json()
    (body,) = asyncio.run(stream_messages(decisions_queue))
    assert answer["receipt"]["decisionId"].encode() in body
    assert b'"organisation_id":"teststad"' in body


def test_no_stored_answer_without_jetstream(
    database_url: str, tmp_path: Path, queue: QueueConfig, decisions_queue: QueueConfig
) -> None:
    """NATS unreachable: 503 with Retry-After, and nothing logged as if it were decided."""
    settings = _settings(database_url, tmp_path, queue, decisions_queue).model_copy(
        update={"nats_url": "nats://127.0.0.1:9"}
    )
    app = create_app(settings)
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    try:
        with TestClient(app, headers=system_token()) as client:
            response = client.post("/api/v1/decisions", json=DECISION)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["Retry-After"]) > 0
        assert _stored(engine) == {}
    finally:
        engine.dispose()


def test_the_writer_command_drains_records_and_decisions(
    front: TestClient,
    queue: QueueConfig,
    decisions_queue: QueueConfig,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = front.post("/api/v1/decisions", json=DECISION).json()
    environment = {
        "GLAZENSTAD_DATABASE_URL": database_url,
        "GLAZENSTAD_NATS_URL": NATS_URL,
        "GLAZENSTAD_NATS_LOGBOOK_STREAM": queue.stream,
        "GLAZENSTAD_NATS_LOGBOOK_SUBJECT": queue.subject,
        "GLAZENSTAD_NATS_LOGBOOK_CONSUMER": queue.consumer,
        "GLAZENSTAD_NATS_DECISIONS_STREAM": decisions_queue.stream,
        "GLAZENSTAD_NATS_DECISIONS_SUBJECT": decisions_queue.subject,
        "GLAZENSTAD_NATS_DECISIONS_CONSUMER": decisions_queue.consumer,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["logbook", "writer", "--until-idle"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 decisions written" in result.output
    engine = make_engine(database_url)
    try:
        assert list(_stored(engine)) == [answer["receipt"]["decisionId"]]
    finally:
        engine.dispose()
