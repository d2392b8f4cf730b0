"""Shared set-up for the incident and review tests: the demo municipality and real decisions.

No tests here; the other test_incidents*/test_reviews* modules import these helpers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import DEMO_REGISTER, ROOT

DEMO_POLICIES = ROOT / "demo" / "policies"
ORG = "voorbeeldstad"
OTHER_ORG = "duinwijk"
MARCH_2 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Dutch winter time

_case = itertools.count(1)


def load_demo(engine: Engine) -> None:
    """The demo register and the demo policies, activated, as `glazenstad demo` loads them."""
    load_register(engine, DEMO_REGISTER, loaded_by="test", approved_by="test-approver")
    store = PolicyStore(engine)
    for loaded in parse_policies(DEMO_POLICIES).policies:
        version, _ = store.save(loaded.policy, by="test")
        if version.status != "active":
            store.activate(version.organisation_id, version.content_hash, by="test-approver")


def emergency_request(
    *,
    role: str = "wmo-consulent",
    department: str = "Sociaal Domein",
    justification: str | None = "Consulent ziek, cliënt heeft vandaag hulp nodig",
    subject: str | None = "k:0123abcd",
) -> DecisionRequest:
    """A Wmo consultant opening a colleague's case (demo scenario 'break-the-glass')."""
    return DecisionRequest(
        actor=Actor(
            role=role,
            department=department,
            organisation=ORG,
            case_assignments=frozenset({"wmo-2026-001"}),
        ),
        action="read",
        resource=Resource(
            data_category="huishoudsituatie",
            dataset="sociaal-domein-zaaksysteem",
            case_id=f"wmo-2026-{next(_case):03d}-x",
            subject=subject,
        ),
        purpose="wmo-maatwerkvoorziening",
        context=Context(time=MARCH_2.timestamp(), channel="intern", justification=justification),
    )


def record_decisions(
    engine: Engine, requests: list[DecisionRequest], at: list[datetime]
) -> list[str]:
    """Decide with the real engine and store in the decision log, at the given moments."""
    service = RulesService(RegisterStore(engine), PolicyStore(engine))
    rows = []
    for request, moment in zip(requests, at, strict=True):
        row = decision_row(service.decide(request))
        row["decided_at"] = moment
        rows.append(row)
    with engine.begin() as conn:
        write_decisions(conn, rows)
    return [str(r["decision_id"]) for r in rows]


@contextmanager
def demo_app(database_url: str, data_dir: Path) -> Iterator[TestClient]:
    """The whole application on the demo municipality (demo mode: demo staff and logins)."""
    app = create_app(Settings(database_url=database_url, data_dir=data_dir, mode="demo"))
    engine = make_engine(database_url)
    load_demo(engine)
    engine.dispose()
    with TestClient(app) as client:
        yield client
