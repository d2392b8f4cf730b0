"""Residents' reads on a streaming replica: routed there, lag shown, and the primary as fallback.

The test runs a PostgreSQL primary and a streaming replica of its own (initdb, pg_basebackup -R
and pg_ctl as the `postgres` user, temporary directories, free loopback ports), so nothing else
on the machine is touched. That the reads really come from the replica is proven by pausing the
replica's replay: a record the primary has acknowledged is then missing from the resident's
answer (which carries the lag notice) until replay resumes. Stopping the replica proves the
fallback: the same reads are answered by the primary, with a warning free of personal data.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from typer.testing import CliRunner

from glazenstad.cli import app as cli
from glazenstad.db.engine import make_engine
from glazenstad.db.replica import APPLICATION_NAME, ReadRouter
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from glazenstad.web.readlag import LAG_HEADER
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.faults.test_postgres_restart import PrivateCluster
from tests.logbook.conftest import BSN, KEY_2026, UNKNOWN_ACTIVITY, make_record
from tests.portal.test_portal_resident import log_in
from tests.scale.pg_pair import StreamingReplica, primary_and_replica, wait_replayed

ORG = "teststad"
READ = f"/api/v1/logboek/processing-activities?organisationId={ORG}"
PAUSED_NAME = "Verwerking tijdens gepauzeerde replica"


@pytest.fixture
def clusters() -> Iterator[tuple[PrivateCluster, StreamingReplica]]:
    with primary_and_replica() as pair:
        yield pair


def span_ids(answer: Any) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item["spanId"] for item in answer.json()["processingActivities"]}


def test_resident_reads_go_to_the_replica_show_its_lag_and_fall_back_to_the_primary(
    clusters: tuple[PrivateCluster, StreamingReplica],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primary, replica = clusters
    settings = Settings(
        database_url=primary.url,
        database_read_url=replica.url,
        database_read_lag_notice_s=0,  # any lag at all is told, so that pausing shows it
        data_dir=tmp_path,
        pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
        system_clients=TEST_SYSTEMS,
    )
    app = create_app(settings)  # migrates the primary; the replica follows by streaming
    primary_engine = make_engine(primary.url)
    replica_engine = make_engine(replica.url)
    load_register(primary_engine, TEST_REGISTER, approved_by="test-approver")
    try:
        with TestClient(app, headers=system_token()) as client:
            records = [make_record() for _ in range(3)]
            stored = client.post(
                "/api/v1/logboek/records", json={"organisationId": ORG, "records": records}
            )
            assert stored.status_code == 200 and stored.json()["accepted"] == 3, stored.text
            wait_replayed(primary_engine, replica_engine)

            # Replayed: the resident's read finds the records, the status shows the replica.
            first = client.post(READ, json={"dpl.core.data_subject_id": BSN})
            assert {r["span_id"] for r in records} <= span_ids(first)
            status = client.get("/api/v1/status")
            assert status.status_code == 200, status.text
            replica_status = status.json()["readReplica"]
            assert replica_status["reachable"] and replica_status["isReplica"]
            assert replica_status["residentReadsFrom"] == "replica"
            with replica_engine.connect() as conn:
                readers = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": APPLICATION_NAME},
                ).scalar_one()
            assert readers >= 1, "the application holds no connection to the replica"

            # Replay paused: the primary acknowledges a record the replica does not have yet.
            with replica_engine.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_pause()"))
            late = make_record(name=PAUSED_NAME, attributes={
                "dpl.core.processing_activity_id": UNKNOWN_ACTIVITY,
            })  # fmt: skip
            acknowledged = client.post(
                "/api/v1/logboek/records", json={"organisationId": ORG, "records": [late]}
            )
            assert acknowledged.json()["accepted"] == 1, acknowledged.text
            behind = client.get("/api/v1/status").json()
            assert behind["status"] == "degraded"
            assert behind["readReplica"]["replayPaused"] is True
            assert behind["readReplica"]["lagBytes"] > 0
            assert behind["readReplica"]["lagSeconds"] > 0
            paused = client.post(READ, json={"dpl.core.data_subject_id": BSN})
            assert late["span_id"] not in span_ids(paused), "the read did not come from the replica"
            assert int(paused.headers[LAG_HEADER]) >= 1
            assert log_in(client).status_code == 303
            page = client.get("/mijn-verwerkingen")
            assert page.status_code == 200
            assert PAUSED_NAME not in page.text
            assert "achterlopen" in page.text and int(page.headers[LAG_HEADER]) >= 1

            monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", primary.url)
            monkeypatch.setenv("GLAZENSTAD_DATABASE_READ_URL", replica.url)
            monkeypatch.setenv("GLAZENSTAD_DATABASE_READ_LAG_NOTICE_S", "0")
            get_settings.cache_clear()
            lagging = CliRunner().invoke(cli, ["status", "--json"])
            assert lagging.exit_code == 1, lagging.output
            assert '"replayPaused": true' in lagging.output

            # Replay resumed: the acknowledged record reaches the resident.
            with replica_engine.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_resume()"))
            wait_replayed(primary_engine, replica_engine)
            resumed = client.post(READ, json={"dpl.core.data_subject_id": BSN})
            assert late["span_id"] in span_ids(resumed)
            assert PAUSED_NAME in client.get("/mijn-verwerkingen").text
            caught_up = CliRunner().invoke(cli, ["status"])
            assert "Read replica:" in caught_up.output and "lag" in caught_up.output

            # The replica stops: residents' reads are answered by the primary instead.
            replica_engine.dispose()
            replica.stop()
            with caplog.at_level(logging.WARNING, logger="glazenstad.db.replica"):
                fallback = client.post(READ, json={"dpl.core.data_subject_id": BSN})
                assert late["span_id"] in span_ids(fallback)
                assert LAG_HEADER not in fallback.headers
                page = client.get("/mijn-verwerkingen")
                assert page.status_code == 200 and PAUSED_NAME in page.text
            warnings = [r for r in caplog.records if r.name == "glazenstad.db.replica"]
            assert warnings, "the fallback to the primary was not logged"
            assert BSN not in caplog.text
            down = client.get("/api/v1/status").json()
            assert down["status"] == "degraded"
            assert down["readReplica"]["reachable"] is False
            assert down["readReplica"]["residentReadsFrom"] == "primary"
            away = CliRunner().invoke(cli, ["status"])
            assert away.exit_code == 1 and "UNREACHABLE" in away.output, away.output
    finally:
        get_settings.cache_clear()
        with contextlib.suppress(Exception):
            replica_engine.dispose()
        primary_engine.dispose()


def test_a_read_replica_needs_postgresql_on_both_sides(tmp_path: Path) -> None:
    replica = "postgresql+psycopg://postgres@127.0.0.1:5999/postgres"
    with pytest.raises(ValidationError, match="needs a PostgreSQL primary"):
        Settings(data_dir=tmp_path, database_read_url=replica)
    with pytest.raises(ValidationError, match="must be a PostgreSQL streaming replica"):
        Settings(
            data_dir=tmp_path,
            database_url=replica,
            database_read_url=f"sqlite:///{tmp_path / 'read.sqlite3'}",
        )


def test_without_a_replica_reads_and_status_stay_on_the_primary(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))
    with TestClient(app) as client:
        reads: ReadRouter = app.state.glazenstad.reads
        assert reads.replica is None and reads.lag() is None
        assert reads.read(lambda engine: engine is app.state.glazenstad.engine) == (True, "primary")
        status = client.get("/api/v1/status")
        assert status.status_code == 200
        assert status.json() == {
            "status": "ok",
            "version": status.json()["version"],
            "database": {"backend": "sqlite", "reachable": True},
            "readReplica": None,
        }
