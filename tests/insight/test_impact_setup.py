"""A recorded month for impact-replay tests: the demo municipality, its active policy, a draft
with two changes, and a handful of decisions whose fate under the draft is known by hand.

- 3 × a Wmo consultant reads a BSN at 17:30 on a Tuesday: permitted now; the draft ends office
  hours at 17:00, so denied by `kantoortijd-sociaal-domein` (permit → deny);
- 2 × the same at 10:00: permitted by both (unchanged);
- 2 × a work-and-income client manager reads health data in the mobile app at 10:00: denied
  now by `gezondheid-en-strafrecht-alleen-intern`; the draft allows the app (deny → permit);
- outside the period or of another organisation, one decision each (never counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.language import Policy
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from tests.conftest import DEMO_REGISTER, ROOT

DEMO_POLICIES = ROOT / "demo" / "policies"
SINCE = datetime(2026, 3, 1, tzinfo=TIMEZONE)
UNTIL = datetime(2026, 4, 1, tzinfo=TIMEZONE)


@dataclass(frozen=True)
class Seeded:
    draft: str
    active: str
    decision_ids: dict[str, list[str]]


def draft_policy(active: Policy) -> Policy:
    document = active.model_dump(mode="json")
    document["title"] = "Concept: kantoortijd tot 17.00 uur"
    for rule in document["rules"]:
        if rule["id"] == "kantoortijd-sociaal-domein":
            rule["when"] = [
                {"not": {"time": {"days": ["ma", "di", "wo", "do", "vr"], "start": "08:00",
                                  "end": "17:00"}}}
            ]  # fmt: skip
        elif rule["id"] == "gezondheid-en-strafrecht-alleen-intern":
            rule["when"] = [{"not": {"channel": ["intern", "mobiel"]}}]
    return Policy.model_validate(document)


def _at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=TIMEZONE).timestamp()


def _wmo(moment: float, subject: str, organisation: str = "voorbeeldstad") -> DecisionRequest:
    return DecisionRequest(
        Actor("wmo-consulent", "Sociaal Domein", organisation, frozenset({"zaak-1", "zaak-2"})),
        "read",
        Resource("bsn", "sociaal-domein-zaaksysteem", subject, "zaak-1"),
        "wmo-maatwerkvoorziening",
        Context(moment, "intern"),
    )


def _health_in_app(moment: float, subject: str) -> DecisionRequest:
    return DecisionRequest(
        Actor("klantmanager-werk-inkomen", "Werk en Inkomen", "voorbeeldstad", frozenset({"z"})),
        "read",
        Resource("gezondheidsgegevens", "werk-inkomen-suite", subject, "z"),
        "bijstand-levensonderhoud",
        Context(moment, "mobiel"),
    )


def seed_impact(engine: Engine) -> Seeded:
    """Load the demo, activate its policies, store the draft and record the decisions."""
    load_register(engine, DEMO_REGISTER, loaded_by="test", approved_by="test-approver")
    store = PolicyStore(engine)
    active_hash = ""
    voorbeeldstad: Policy | None = None
    for loaded in parse_policies(DEMO_POLICIES).policies:
        version, _ = store.save(loaded.policy, by="test")
        store.activate(version.organisation_id, version.content_hash, by="test-approver")
        if loaded.policy.organisation == "voorbeeldstad":
            voorbeeldstad, active_hash = loaded.policy, version.content_hash
    assert voorbeeldstad is not None
    draft, _ = store.save(draft_policy(voorbeeldstad), by="test")
    engine_ = RulesService(RegisterStore(engine), store, refresh_interval=0).engine()
    planned = {
        "permit_to_deny": [_wmo(_at(3, 17, 30), f"k1:{n:064x}") for n in range(3)],
        "unchanged": [_wmo(_at(3, 10), f"k1:{n:064x}") for n in range(3, 5)],
        "deny_to_permit": [_health_in_app(_at(4, 10), f"k1:{n:064x}") for n in range(5, 7)],
        "outside": [_wmo(_at(3, 17, 30) - 40 * 86400, "k1:" + "7" * 64)],
        "elsewhere": [_wmo(_at(3, 17, 30), "k1:" + "8" * 64, organisation="duinwijk")],
    }
    rows = []
    ids: dict[str, list[str]] = {}
    for name, requests in planned.items():
        for request in requests:
            decision = engine_.decide(request)
            row = decision_row(decision)
            assert request.context.time is not None
            row["decided_at"] = datetime.fromtimestamp(request.context.time + 0.01, UTC)
            rows.append(row)
            ids.setdefault(name, []).append(row["decision_id"])
    with engine.begin() as conn:
        write_decisions(conn, rows)
    return Seeded(draft.content_hash, active_hash, ids)
