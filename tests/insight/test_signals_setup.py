"""What the signal tests share: the demo municipality, real decisions, and signal actors.

The decisions are taken by the real rules service over the demo register and the demo policy
and written to the real decision log, so a signal test starts where a member of staff does: at
a denial with a decision id. (This module holds no tests of its own.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from glazenstad.insight.signals import Actor
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.request import Actor as RequestActor
from glazenstad.rules.request import Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from tests.gateway.conftest import load_demo

ORG = "voorbeeldstad"
# Wednesday 25 November 2026, 10:00 and 21:00 in Amsterdam.
OFFICE_HOURS = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()
EVENING = datetime(2026, 11, 25, 20, 0, tzinfo=UTC).timestamp()
SD = "Afdeling Sociaal Domein"
WI = "Afdeling Werk en Inkomen"
FG = "Functionaris gegevensbescherming"

FILER = Actor("wmo-consulent", ORG, may_file=True)
OTHER_FILER = Actor("klantmanager", ORG, may_file=True)
SD_OWNER = Actor("beleidsadviseur-sociaal-domein", ORG, frozenset({SD}), may_triage=True)
WI_OWNER = Actor("beleidsadviseur-werk-inkomen", ORG, frozenset({WI}), may_triage=True)
TRIAGE_ALL = Actor("fg", ORG, frozenset({FG}), may_file=True, may_triage_all=True)
NOBODY = Actor("informatiemanager", ORG)
ELSEWHERE = Actor("duinwijk-fg", "duinwijk", frozenset({FG}), True, True, True)


@dataclass(frozen=True)
class Decisions:
    """Decision ids of denials (and one permit) of every kind a signal can be about."""

    own_file: str  # deny: alleen-eigen-dossier (owner Sociaal Domein)
    two_rules: str  # deny: kantoortijd-sociaal-domein and alleen-eigen-dossier
    no_permit: str  # deny: no rule permitted (purpose binding of wmo-maatwerkvoorziening)
    no_owner: str  # deny: gezondheid-en-strafrecht-alleen-intern (no owner: the policy's)
    unknown_purpose: str  # deny: the purpose is not in the register (no rule)
    permit: str


def request(
    role: str,
    department: str,
    *,
    purpose: str = "wmo-maatwerkvoorziening",
    category: str = "huishoudsituatie",
    cases: frozenset[str] = frozenset({"z-1"}),
    case: str = "z-1",
    channel: str = "intern",
    at: float = OFFICE_HOURS,
) -> DecisionRequest:
    return DecisionRequest(
        actor=RequestActor(role, department, ORG, cases),
        action="read",
        resource=Resource(category, "sociaal-domein-zaaksysteem", "pseudoniem-1", case),
        purpose=purpose,
        context=Context(time=at, channel=channel),
    )


def decide(engine: Engine, wanted: DecisionRequest, effect: str, rules: tuple[str, ...]) -> str:
    """Decide with the active demo policy, log the decision, and check it came out as meant."""
    service = RulesService(RegisterStore(engine), PolicyStore(engine))
    decision = service.decide(wanted)
    assert (decision.outcome.effect, decision.outcome.rule_ids) == (effect, rules), decision
    with engine.begin() as conn:
        write_decisions(conn, [decision_row(decision)])
    return decision.id


def demo_decisions(engine: Engine) -> Decisions:
    """Load the demo municipality into `engine` and take one decision of each kind."""
    load_demo(engine)
    consultant = ("wmo-consulent", "Sociaal Domein")
    return Decisions(
        own_file=decide(
            engine, request(*consultant, case="z-2"), "deny", ("alleen-eigen-dossier",)
        ),
        two_rules=decide(
            engine,
            request(*consultant, case="z-2", at=EVENING),
            "deny",
            ("kantoortijd-sociaal-domein", "alleen-eigen-dossier"),
        ),
        no_permit=decide(engine, request("medewerker-burgerzaken", "Burgerzaken"), "deny", ()),
        no_owner=decide(
            engine,
            request(*consultant, category="gezondheidsgegevens", channel="mobiel"),
            "deny",
            ("gezondheid-en-strafrecht-alleen-intern",),
        ),
        unknown_purpose=decide(engine, request(*consultant, purpose="bestaat-niet"), "deny", ()),
        permit=decide(
            engine, request(*consultant), "permit", ("doelbinding-wmo-maatwerkvoorziening",)
        ),
    )


def demo_register(engine: Engine) -> OrganisationRegister:
    found = RegisterStore(engine).snapshot().organisation(ORG)
    assert found is not None
    return found
