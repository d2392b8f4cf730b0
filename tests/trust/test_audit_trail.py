"""The audit trail: who changed the register or the rules, what, when, why; written with the
change in one transaction, append-only in the database, readable by the organisation's staff.

Runs on SQLite and PostgreSQL against the real database, API and command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from glazenstad.audit.tables import audit_event
from glazenstad.audit.trail import AuditInputError, read_events
from glazenstad.db.base import utcnow
from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.approval import PROPOSED, approve_load, load_status
from glazenstad.register.loader import load_register
from glazenstad.register.tables import (
    register_entry_version,
    register_load_event,
    register_proposed_entry,
)
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import ACTIVE, PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import DEMO_REGISTER, TEST_REGISTER, staff_token
from tests.rules.conftest import TEST_POLICIES

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def rows(engine: Engine) -> list[tuple[str, str, str, str, str | None]]:
    """(organisation, actor, action, subject, reason) of every audit row, oldest first."""
    return [
        (e.organisation_id, e.actor, e.action, e.subject, e.reason)
        for e in reversed(read_events(engine))
    ]


def test_every_change_is_recorded_with_who_what_when_and_why(engine: Engine) -> None:
    before = utcnow()
    loaded = load_register(engine, TEST_REGISTER, loaded_by="anna", note="eerste register")
    assert loaded.load_id is not None
    approve_load(engine, loaded.load_id, by="bert", note="gecontroleerd")
    store = PolicyStore(engine)
    policy = parse_policies(TEST_POLICIES).policies[0].policy
    first, _ = store.save(policy, by="anna")
    store.activate("teststad", first.content_hash, by="bert", note="vastgesteld", trace_id=TRACE)
    second, _ = store.save(policy.model_copy(update={"title": "Nieuwe titel"}), by="anna")
    store.activate("teststad", second.content_hash, by="carla", note="herzien")
    store.retire("teststad", second.content_hash, by="carla", note="ingetrokken")
    load = str(loaded.load_id)
    assert rows(engine) == [
        ("teststad", "anna", "register.proposed", load, "eerste register"),
        ("teststad", "bert", "register.approved", load, "gecontroleerd"),
        ("teststad", "anna", "policy.saved", first.content_hash, f"{policy.id}: {policy.title}"),
        ("teststad", "bert", "policy.activated", first.content_hash, "vastgesteld"),
        ("teststad", "anna", "policy.saved", second.content_hash, f"{policy.id}: Nieuwe titel"),
        (
            "teststad",
            "carla",
            "policy.retired",
            first.content_hash,
            "replaced by " + second.content_hash[:12],
        ),
        ("teststad", "carla", "policy.activated", second.content_hash, "herzien"),
        ("teststad", "carla", "policy.retired", second.content_hash, "ingetrokken"),
    ]
    events = read_events(engine)
    assert all(e.at.tzinfo is not None and before <= e.at <= utcnow() for e in events)
    assert [e.trace_id for e in events if e.trace_id] == [TRACE]
    since = read_events(engine, since=events[0].at)
    assert events[0] in since and len(since) < len(events)


def test_a_bad_trace_id_is_refused_before_anything_is_written(engine: Engine) -> None:
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="anna")
    with pytest.raises(AuditInputError, match="trace_id"):
        store.activate("teststad", version.content_hash, by="bert", trace_id="0" * 32)
    with pytest.raises(AuditInputError, match="trace_id"):
        load_register(engine, TEST_REGISTER, loaded_by="anna", trace_id="TRACE")
    assert [a for _, _, a, _, _ in rows(engine)] == ["policy.saved"]
    stored = store.get("teststad", version.content_hash)
    assert stored is not None and stored.status != ACTIVE


def test_a_register_approval_that_fails_writes_no_audit_row(engine: Engine) -> None:
    """The approval's versions collide with a row written meanwhile: everything rolls back."""
    loaded = load_register(engine, TEST_REGISTER, loaded_by="anna")
    assert loaded.load_id is not None
    with engine.begin() as conn:
        proposed = conn.execute(
            select(register_proposed_entry).where(
                register_proposed_entry.c.load_id == loaded.load_id
            )
        ).first()
        assert proposed is not None
        values = {c: proposed._mapping[c] for c in proposed._mapping if c != "id"}
        conn.execute(insert(register_entry_version).values(**values, recorded_at=utcnow()))
    before = rows(engine)
    with pytest.raises(IntegrityError):
        approve_load(engine, loaded.load_id, by="bert", note="akkoord")
    assert rows(engine) == before
    assert "register.approved" not in [a for _, _, a, _, _ in before]
    status = load_status(engine, loaded.load_id)
    assert status is not None and status.status == PROPOSED


def _refuse_activation(engine: Engine) -> None:
    """A trigger that makes the database refuse the activation event itself."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_activation() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.status = 'active' THEN RAISE EXCEPTION 'activation refused'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_activation BEFORE INSERT ON policy_event "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_activation()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_activation BEFORE INSERT ON policy_event "
                    "WHEN NEW.status = 'active' "
                    "BEGIN SELECT RAISE(ABORT, 'activation refused'); END"
                )
            )


def test_a_policy_activation_that_fails_writes_no_audit_row(engine: Engine) -> None:
    store = PolicyStore(engine)
    policy = parse_policies(TEST_POLICIES).policies[0].policy
    first, _ = store.save(policy, by="anna")
    store.activate("teststad", first.content_hash, by="bert", note="vastgesteld")
    second, _ = store.save(policy.model_copy(update={"title": "Nieuw"}), by="anna")
    before = rows(engine)
    _refuse_activation(engine)
    with pytest.raises(Exception, match="activation refused"):
        store.activate("teststad", second.content_hash, by="bert", note="herzien")
    # Neither the retirement of the active version nor the activation happened or is recorded.
    assert rows(engine) == before
    assert [v.content_hash for v in store.active()] == [first.content_hash]


@pytest.mark.parametrize(
    "table", [audit_event, register_load_event, register_proposed_entry], ids=lambda t: t.name
)
def test_the_trail_refuses_update_and_delete(engine: Engine, table: object) -> None:
    loaded = load_register(engine, TEST_REGISTER, loaded_by="anna", approved_by="bert")
    assert loaded.load_id is not None
    target = table  # type: ignore[assignment]
    key = target.c.id  # type: ignore[attr-defined]
    for statement in (update(target).values(id=key + 1000), delete(target)):  # type: ignore[arg-type]
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {target.name} CASCADE"))  # type: ignore[attr-defined]
    assert len(read_events(engine)) == 2


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    engine = make_engine(database_url)
    migrate(engine)
    load_register(
        engine, DEMO_REGISTER, loaded_by="informatiemanager", approved_by="fg", note="demo"
    )
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path))
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


PATH = "/api/v1/organisations/voorbeeldstad/audit-events"


def test_staff_read_their_own_organisations_trail(client: TestClient) -> None:
    answer = client.get(PATH, headers=staff_token("informatiemanager"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["API-Version"]
    page = answer.json()
    results = page["results"]
    assert [(r["action"], r["actor"]) for r in results] == [
        ("register.approved", "fg"),
        ("register.proposed", "informatiemanager"),
    ]
    assert {r["organisationId"] for r in results} == {"voorbeeldstad"}  # not duinwijk's rows
    assert results[0]["actionLabel"] == "Wijziging van het register goedgekeurd"
    assert results[0]["reason"] == "demo" and results[0]["traceId"] is None
    assert page["pagination"]["totalResults"] == 2
    first = client.get(PATH, params={"pageSize": 1}, headers=staff_token("fg")).json()
    assert [r["id"] for r in first["results"]] == [results[0]["id"]]
    assert first["links"]["next"] and first["pagination"]["totalPages"] == 2
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = client.get(PATH, params={"since": future}, headers=staff_token("fg")).json()
    assert later["results"] == [] and later["pagination"]["totalResults"] == 0


def test_other_organisations_staff_get_404_and_strangers_401(client: TestClient) -> None:
    other = client.get(PATH, headers=staff_token("duinwijk-fg"))
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    own = client.get(
        "/api/v1/organisations/duinwijk/audit-events", headers=staff_token("duinwijk-fg")
    )
    assert own.status_code == 200 and {r["organisationId"] for r in own.json()["results"]} == {
        "duinwijk"
    }
    anonymous = client.get(PATH)
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]
    lacking = client.get(PATH, headers=staff_token("wmo-consulent"))
    assert lacking.status_code == 403
    bad = client.get(PATH, params={"since": "gisteren"}, headers=staff_token("fg"))
    assert bad.status_code == 400


def test_the_route_is_documented(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/organisations/{organisationId}/audit-events"]["get"]
    assert operation["operationId"] == "listAuditEvents"
    assert {"staffToken": []} in operation["security"]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])


# --- the command line -------------------------------------------------------------------------


def test_glazenstad_audit_lists_and_filters(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from glazenstad.cli import app
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = make_engine(database_url)
    migrate(engine)
    load_register(engine, DEMO_REGISTER, loaded_by="informatiemanager", approved_by="fg")
    runner = CliRunner()
    try:
        listed = runner.invoke(app, ["audit", "--organisation", "duinwijk", "--json"])
        assert listed.exit_code == 0, listed.output
        found = json.loads(listed.stdout)
        assert [(r["action"], r["actor"], r["organisation"]) for r in found] == [
            ("register.approved", "fg", "duinwijk"),
            ("register.proposed", "informatiemanager", "duinwijk"),
        ]
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        assert json.loads(runner.invoke(app, ["audit", "--since", tomorrow, "--json"]).stdout) == []
        table = runner.invoke(app, ["audit"])
        assert table.exit_code == 0 and "4 event(s)." in table.output
        wrong = runner.invoke(app, ["audit", "--since", "gisteren"])
        assert wrong.exit_code == 2 and "--since" in wrong.output
    finally:
        engine.dispose()
        get_settings.cache_clear()
