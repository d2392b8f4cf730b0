"""Signals from execution: filing, the triage workflow, who sees what, counting, no BSNs.

Every test runs on SQLite and on PostgreSQL, against real decisions of the demo policy.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from glazenstad.insight.signals import (
    FALLBACK_OWNER,
    Actor,
    Signal,
    SignalConflict,
    SignalForbidden,
    SignalInputError,
    SignalNotFound,
    SignalStore,
    denied_decision,
    public_signal_figures,
    rule_owner,
    signal_counts,
)
from glazenstad.insight.signals.content import contains_bsn, contains_plate
from glazenstad.insight.signals.decisions import decision_policy
from glazenstad.rules.language import Policy
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore, policy_hash
from tests.conftest import FIXTURES
from tests.insight.test_signals_setup import (
    ELSEWHERE,
    FG,
    FILER,
    NOBODY,
    ORG,
    OTHER_FILER,
    SD,
    SD_OWNER,
    TRIAGE_ALL,
    WI_OWNER,
    Decisions,
    demo_decisions,
    demo_register,
)

REASON = "Ik vervang een zieke collega en kan het dossier van haar cliënt niet openen."


@pytest.fixture
def decisions(engine: Engine) -> Decisions:
    return demo_decisions(engine)


def file(
    engine: Engine,
    actor: Actor,
    decision_id: str,
    rule_id: str | None = None,
    body: str = REASON,
) -> Signal:
    """File a signal the way the API and portal do: look up the denial, then store."""
    denied = denied_decision(engine, PolicyStore(engine), demo_register(engine), actor, decision_id)
    return SignalStore(engine).file(actor, denied, rule_id, body)


# --- which rule, and who answers for it --------------------------------------------------------


def test_each_kind_of_denial_names_its_rule_and_owner(engine: Engine, decisions: Decisions) -> None:
    def rules(decision_id: str) -> list[tuple[str | None, str]]:
        found = denied_decision(
            engine, PolicyStore(engine), demo_register(engine), FILER, decision_id
        )
        return [(r.id, r.owner) for r in found.rules]

    assert rules(decisions.own_file) == [("alleen-eigen-dossier", SD)]
    assert rules(decisions.two_rules) == [
        ("kantoortijd-sociaal-domein", SD),
        ("alleen-eigen-dossier", SD),
    ]
    # No rule permitted it: the purpose binding of the activity, answered for by its owner.
    assert rules(decisions.no_permit) == [("doelbinding-wmo-maatwerkvoorziening", SD)]
    # A rule without an owner of its own falls to the policy's owner.
    assert rules(decisions.no_owner) == [("gezondheid-en-strafrecht-alleen-intern", FG)]
    assert rules(decisions.unknown_purpose) == [(None, FG)]
    no_permit = denied_decision(
        engine, PolicyStore(engine), demo_register(engine), FILER, decisions.no_permit
    )
    assert (
        no_permit.rules[0].title == "Doelbinding: Ondersteuning via de Wmo (maatwerkvoorzieningen)"
    )
    assert no_permit.purpose == "wmo-maatwerkvoorziening"


def test_owner_falls_back_from_rule_to_activity_to_policy_to_the_fg(
    engine: Engine, decisions: Decisions
) -> None:
    register = demo_register(engine)
    policy = decision_policy(PolicyStore(engine), ORG, None)
    assert policy is not None and policy.owner == FG
    assert rule_owner("vroegsignalen-alleen-schuldhulpteam", policy, register) == (
        "Afdeling Werk en Inkomen"
    )
    assert rule_owner("doelbinding-parkeerhandhaving-scanauto", policy, register) == (
        "Afdeling Parkeren"
    )
    assert rule_owner("doelbinding-koppelen-wmo-maatwerkvoorziening", policy, register) == SD
    unowned = policy.model_copy(update={"owner": None})
    assert rule_owner("gezondheid-en-strafrecht-alleen-intern", unowned, register) == (
        FALLBACK_OWNER
    )
    other = policy.model_copy(update={"owner": "Team Privacy"})
    assert rule_owner("gezondheid-en-strafrecht-alleen-intern", other, register) == ("Team Privacy")
    assert rule_owner(None, None, None) == FALLBACK_OWNER


def test_owner_fields_leave_existing_policy_hashes_unchanged() -> None:
    (loaded,) = parse_policies(FIXTURES / "policies").policies
    policy = loaded.policy
    assert policy.owner is None and all(r.owner is None for r in policy.rules)
    document = policy.model_dump(mode="json")
    assert "owner" not in json.dumps(document)
    # The stored version name of the test policy from before rules had owners.
    assert policy_hash(policy) == (
        "ac015c0d11d099af818d605aa4d8364c0720c62eb801baf55e96adacb28e5dba"
    )
    owned = Policy.model_validate({**document, "owner": "Afdeling Sociaal Domein"})
    assert owned.owner == "Afdeling Sociaal Domein"
    assert policy_hash(owned) != policy_hash(policy)
    assert Policy.model_validate(owned.model_dump(mode="json")) == owned


# --- filing ------------------------------------------------------------------------------------


def test_filing_links_decision_rule_and_owner(engine: Engine, decisions: Decisions) -> None:
    signal = file(engine, FILER, decisions.own_file)
    assert (signal.state, signal.decision_id, signal.rule_id, signal.owner) == (
        "new",
        decisions.own_file,
        "alleen-eigen-dossier",
        SD,
    )
    assert signal.text == REASON and signal.filed_by == FILER.id
    assert signal.purpose == "wmo-maatwerkvoorziening"
    assert [(e.from_state, e.to_state, e.by, e.text) for e in signal.history] == [
        (None, "new", FILER.id, REASON)
    ]
    # Two rules: the signal must say which; a rule that did not decide is refused.
    with pytest.raises(SignalInputError) as missing:
        file(engine, FILER, decisions.two_rules)
    assert missing.value.field == "rule" and "kantoortijd-sociaal-domein" in missing.value.message
    with pytest.raises(SignalInputError) as wrong:
        file(engine, FILER, decisions.two_rules, "brp-alleen-bijhouden-door-burgerzaken")
    assert wrong.value.field == "rule"
    chosen = file(engine, FILER, decisions.two_rules, "kantoortijd-sociaal-domein")
    assert chosen.rule_title == "Dossiers in het sociaal domein alleen inzien in kantoortijd"
    # No rule at all: still a signal, for the policy's owner.
    none = file(engine, FILER, decisions.unknown_purpose)
    assert (none.rule_id, none.owner) == (None, FG)
    assert none.rule_title.startswith("Geen regel")


def test_filing_is_refused_for_permits_other_organisations_and_twice(
    engine: Engine, decisions: Decisions
) -> None:
    for decision_id in (decisions.permit, "0" * 32, "geen-beslissing"):
        with pytest.raises(SignalInputError) as refused:
            file(engine, FILER, decision_id)
        assert refused.value.field == "decision"
    with pytest.raises(SignalInputError, match="toestemming"):
        file(engine, FILER, decisions.permit)
    # Staff of another municipality cannot even learn that the decision exists.
    with pytest.raises(SignalInputError, match="staat niet in het beslissingenlogboek"):
        file(engine, ELSEWHERE, decisions.own_file)
    with pytest.raises(SignalForbidden):
        file(engine, NOBODY, decisions.own_file)
    with pytest.raises(SignalForbidden):
        file(engine, SD_OWNER, decisions.own_file)
    first = file(engine, FILER, decisions.own_file)
    with pytest.raises(SignalConflict, match=f"signaal {first.id}"):
        file(engine, FILER, decisions.own_file)
    # Another colleague may raise the same problem: it counts twice.
    assert file(engine, OTHER_FILER, decisions.own_file).id != first.id


TEXTS = [
    ("De BSN 999993653 staat in het dossier dat ik niet kan openen.", False),
    ("Het gaat om inwoner 9999 93 653, die dringend hulp nodig heeft.", False),
    ("Het gaat om inwoner 999.993.653, die dringend hulp nodig heeft.", False),
    ("Auto met kenteken 12-BBB-3 stond er de hele dag; ik kon de foto niet zien.", False),
    ("Te kort", False),
    ("x" * 2001, False),
    ("Zaaknummer 123456789 kan ik niet openen tijdens mijn dienst.", True),  # no elfproef
    ("Ik werk 's avonds tot 21:00 en dan blokkeert de regel het dossier.", True),
]


def test_signal_text_is_checked_for_length_and_identifiers(
    engine: Engine, decisions: Decisions
) -> None:
    for body, accepted in TEXTS:
        if not accepted:
            with pytest.raises(SignalInputError) as refused:
                file(engine, FILER, decisions.own_file, body=body)
            assert refused.value.field == "text", body
            assert SignalStore(engine).search(TRIAGE_ALL) == [], body  # nothing was stored
    first, second = (body for body, accepted in TEXTS if accepted)
    assert file(engine, FILER, decisions.own_file, body=first).text == first
    assert file(engine, OTHER_FILER, decisions.own_file, body=second).text == second


def test_identifier_detection() -> None:
    assert contains_bsn("bsn 999993653") and contains_bsn("9999-93-653")
    assert not contains_bsn("1999993653")  # ten digits: no BSN
    assert not contains_bsn("123456789") and not contains_bsn("000000000")
    assert contains_plate("kenteken AB-123-C") and contains_plate("12-bbb-3")
    assert not contains_plate("2026-11-25") and not contains_plate("wmo-maatwerk-voorziening")


# --- triage ------------------------------------------------------------------------------------


def test_the_workflow_allows_its_steps_and_refuses_the_rest(
    engine: Engine, decisions: Decisions
) -> None:
    store = SignalStore(engine)
    signal = file(engine, FILER, decisions.own_file)
    with pytest.raises(SignalConflict, match="alleen naar: under_review"):
        store.move(SD_OWNER, signal.id, "explained", "De regel blijft.")
    with pytest.raises(SignalInputError) as unknown:
        store.move(SD_OWNER, signal.id, "done", None)
    assert unknown.value.field == "state"
    reviewing = store.move(SD_OWNER, signal.id, "under_review", None)
    assert reviewing.state == "under_review" and reviewing.response is None
    with pytest.raises(SignalConflict):
        store.move(SD_OWNER, signal.id, "under_review", None)
    with pytest.raises(SignalInputError) as no_answer:
        store.move(SD_OWNER, signal.id, "explained", "  ")
    assert no_answer.value.field == "response"
    with pytest.raises(SignalInputError, match="burgerservicenummer"):
        store.move(SD_OWNER, signal.id, "explained", "Inwoner 999993653 heeft toestemming.")
    answer = "Bij ziekte mag u het dossier openen met noodtoegang en een schriftelijke reden."
    closed = store.move(SD_OWNER, signal.id, "explained", answer)
    assert (closed.state, closed.response) == ("explained", answer)
    for then in ("under_review", "rule_changed", "new"):
        with pytest.raises(SignalConflict, match="afgerond"):
            store.move(TRIAGE_ALL, signal.id, then, "Toch nog eens bekijken.")
    history = [(e.by, e.from_state, e.to_state, e.text) for e in closed.history]
    assert history == [
        (FILER.id, None, "new", REASON),
        (SD_OWNER.id, "new", "under_review", None),
        (SD_OWNER.id, "under_review", "explained", answer),
    ]
    assert [e.at for e in closed.history] == sorted(e.at for e in closed.history)
    # The filer reads the answer.
    assert store.get(FILER, signal.id).response == answer


def test_only_the_owner_or_triage_all_may_answer(engine: Engine, decisions: Decisions) -> None:
    store = SignalStore(engine)
    signal = file(engine, FILER, decisions.own_file)
    with pytest.raises(SignalForbidden):  # the filer sees it, but may not triage it
        store.move(FILER, signal.id, "under_review", None)
    with pytest.raises(SignalNotFound):  # another owner does not even see it
        store.move(WI_OWNER, signal.id, "under_review", None)
    with pytest.raises(SignalNotFound):
        store.move(ELSEWHERE, signal.id, "under_review", None)
    assert store.move(TRIAGE_ALL, signal.id, "under_review", None).state == "under_review"
    done = store.move(SD_OWNER, signal.id, "rule_changed", "De regel geldt niet meer bij ziekte.")
    assert done.state == "rule_changed"


def test_who_sees_which_signal(engine: Engine, decisions: Decisions) -> None:
    store = SignalStore(engine)
    sd = file(engine, FILER, decisions.own_file)
    fg = file(engine, FILER, decisions.no_owner)
    other = file(engine, OTHER_FILER, decisions.no_permit)

    def ids(actor: Actor, **filters: str) -> set[int]:
        return {s.id for s in store.search(actor, **filters)}

    assert ids(FILER) == {sd.id, fg.id}  # their own
    assert ids(OTHER_FILER) == {other.id}
    assert ids(SD_OWNER) == {sd.id, other.id}  # the rules Sociaal Domein answers for
    assert ids(WI_OWNER) == set()
    assert ids(TRIAGE_ALL) == {sd.id, fg.id, other.id}
    assert ids(ELSEWHERE) == set() and ids(NOBODY) == set()
    assert ids(TRIAGE_ALL, rule_id="alleen-eigen-dossier") == {sd.id}
    assert ids(TRIAGE_ALL, state="new") == {sd.id, fg.id, other.id}
    assert ids(TRIAGE_ALL, state="under_review") == set()
    assert ids(TRIAGE_ALL, owner=FG) == {fg.id}
    for actor in (WI_OWNER, OTHER_FILER, ELSEWHERE, NOBODY):
        with pytest.raises(SignalNotFound):
            store.get(actor, sd.id)
    assert store.get(SD_OWNER, sd.id).history[0].text == REASON
    with pytest.raises(SignalNotFound):
        store.get(TRIAGE_ALL, 10_000)


def test_history_is_append_only_in_the_database(engine: Engine, decisions: Decisions) -> None:
    file(engine, FILER, decisions.own_file)
    for statement in ("UPDATE signal_event SET text = 'anders'", "DELETE FROM signal_event"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM signal_event")).scalar_one() == REASON


# --- counting ----------------------------------------------------------------------------------


def test_counts_per_rule_and_state_and_public_figures(engine: Engine, decisions: Decisions) -> None:
    store = SignalStore(engine)
    start = datetime.now(UTC) - timedelta(minutes=1)
    a = file(engine, FILER, decisions.own_file)
    b = file(engine, OTHER_FILER, decisions.own_file)
    c = file(engine, FILER, decisions.no_owner)
    d = file(engine, FILER, decisions.unknown_purpose)
    store.move(SD_OWNER, a.id, "under_review", None)
    store.move(
        SD_OWNER, a.id, "rule_changed", "Aangepast: bij ziekte mag een collega het dossier openen."
    )
    store.move(TRIAGE_ALL, c.id, "under_review", None)
    store.move(
        TRIAGE_ALL, c.id, "rejected", "Gezondheidsgegevens blijven op de beveiligde werkplek."
    )
    end = datetime.now(UTC) + timedelta(minutes=1)

    counts = signal_counts(engine, ORG, start, end)
    assert counts.total == 4
    assert counts.by_state == {
        "new": 2,
        "under_review": 0,
        "rule_changed": 1,
        "explained": 0,
        "rejected": 1,
    }
    per_rule = {r.rule_id: (r.total, r.owner, r.by_state) for r in counts.by_rule}
    assert per_rule["alleen-eigen-dossier"][:2] == (2, SD)
    assert per_rule["alleen-eigen-dossier"][2]["new"] == 1
    assert per_rule["alleen-eigen-dossier"][2]["rule_changed"] == 1
    assert per_rule["gezondheid-en-strafrecht-alleen-intern"][:2] == (1, FG)
    assert per_rule[None][0] == 1
    assert counts.by_rule[0].rule_id == "alleen-eigen-dossier"  # most signals first
    assert counts.by_rule[0].open == 1
    # Outside the period nothing counts; another organisation has nothing.
    assert signal_counts(engine, ORG, end, end + timedelta(days=1)).total == 0
    assert signal_counts(engine, ORG, start - timedelta(days=1), start).by_rule == ()
    assert signal_counts(engine, "duinwijk", start, end).total == 0

    figures = public_signal_figures(engine, ORG)
    assert (figures.total, figures.open, figures.handled) == (4, 2, 2)
    assert figures.rules_with_signals == 3
    assert figures.median_days_to_handle is not None and 0 <= figures.median_days_to_handle < 1
    assert figures.first_filed_at is not None and figures.first_filed_at.tzinfo is not None
    assert start <= figures.first_filed_at <= figures.last_filed_at <= end  # type: ignore[operator]
    # Aggregate numbers only: no text, no response, no person, no rule.
    public = json.dumps(dataclasses.asdict(figures), default=str)
    for private in (REASON, "Aangepast", FILER.id, OTHER_FILER.id, "alleen-eigen-dossier", b.text):
        assert private not in public
    empty = public_signal_figures(engine, "duinwijk")
    assert (empty.total, empty.median_days_to_handle, empty.first_filed_at) == (0, None, None)
    assert d.id > 0
