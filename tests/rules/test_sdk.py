"""The SDK: in process and over HTTP, the same answer, and every decision logged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import load_register
from glazenstad.rules.decisionlog import stored_decision
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.sdk import DecisionRequestError, HttpDecider, InProcessDecider
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS
from tests.rules.conftest import TEST_POLICIES

FIELDS = {
    "role": "parkeerhandhaver",
    "department": "Parkeren",
    "organisation": "teststad",
    "action": "read",
    "data_category": "kenteken",
    "purpose": "parkeren-scanauto",
    "time": datetime.fromisoformat("2026-03-02T10:00:00+01:00"),
}


def _prepare(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="test")
    store.activate("teststad", version.content_hash, by="test-approver")


def test_in_process_and_http_agree(database_url: str, tmp_path: Path) -> None:
    _prepare(database_url)
    local = InProcessDecider(database_url)
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path, system_clients=TEST_SYSTEMS)
    )
    with TestClient(app) as client:
        remote = HttpDecider("http://testserver", client=client, token="test-system-teststad")
        for fields in (
            FIELDS,
            {**FIELDS, "role": "wmo-consulent"},
            {**FIELDS, "time": datetime.fromisoformat("2026-03-01T10:00:00+01:00")},
        ):
            mine = local.decide(wait=True, **fields)
            theirs = remote.decide(**fields)
            assert (mine.effect, mine.reason, mine.rules) == (
                theirs.effect,
                theirs.reason,
                theirs.rules,
            )
            assert mine.receipt["inputHash"] == theirs.receipt["inputHash"]
            assert mine.explanation == theirs.explanation
            assert stored_decision(local.service.register.engine, mine.decision_id) is not None
            assert stored_decision(local.service.register.engine, theirs.decision_id) is not None
        try:
            remote.decide(**{**FIELDS, "subject": "123456782"})
        except DecisionRequestError as exc:
            assert exc.status == 400
            assert exc.problem["invalidParams"][0]["name"] == "body.resource.subject"
        else:
            raise AssertionError("a BSN as subject must be refused")
    local.close()
