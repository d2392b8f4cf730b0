"""Data breaches on SQLite and PostgreSQL: registration, workflow, history, overdue, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, text, update

from glazenstad.insight.incidents import breaches as b
from glazenstad.insight.incidents.tables import data_breach_event
from glazenstad.register.store import RegisterStore
from tests.insight.test_incidents_support import ORG, OTHER_ORG, load_demo

pytestmark = pytest.mark.heavy

FG = b.Who("fg", "F. de Graaf")
IM = b.Who("informatiemanager", "I. Jansen")
# Saturday 24 October 2026, 10:00 Dutch summer time: the clock goes back the next night.
DISCOVERED = datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 10, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def demo_engine(engine: Engine) -> Engine:
    load_demo(engine)
    return engine


def facts(**changes: object) -> b.BreachFacts:
    values: dict[str, object] = {
        "title": "Brief met zorggegevens naar verkeerd adres",
        "description": "Een brief over een Wmo-voorziening is naar een oud adres gestuurd.",
        "discovered_at": DISCOVERED,
        "occurred_from": DISCOVERED - timedelta(days=2),
        "activities": ("wmo-maatwerkvoorziening",),
        "data_categories": ("naw", "gezondheidsgegevens"),
        "estimated_subjects": 1,
    }
    values.update(changes)
    return b.BreachFacts(**values)  # type: ignore[arg-type]


def register(engine: Engine, **changes: object) -> b.Breach:
    return b.register_breach(
        engine,
        RegisterStore(engine),
        ORG,
        facts(**changes),
        FG,
        now=DISCOVERED + timedelta(hours=1),
    )


def test_registration_stores_facts_deadline_and_first_event(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    assert breach.status == b.OPEN and breach.revision == 1
    assert breach.deadline == DEADLINE
    assert breach.activities == ("wmo-maatwerkvoorziening",)
    stored = b.get_breach(demo_engine, ORG, breach.id)
    assert stored == breach
    history = b.breach_history(demo_engine, ORG, breach.id)
    assert [e.action for e in history] == [b.REGISTERED]
    assert history[0].by_id == "fg" and history[0].changes["status"] == [None, "open"]
    assert history[0].changes["discovered_at"] == [None, "2026-10-24T08:00:00+00:00"]


REFUSED: list[tuple[dict[str, object], str]] = [
    ({"activities": ("wmo-maatwerkvoorziening", "bestaat-niet")}, "activities[1]"),
    ({"data_categories": ("schoenmaat",)}, "dataCategories[0]"),
    ({"title": "  "}, "title"),
    ({"discovered_at": DISCOVERED + timedelta(days=30)}, "discoveredAt"),
    ({"discovered_at": datetime(2026, 10, 24, 10, 0)}, "discoveredAt"),
    ({"occurred_from": DISCOVERED + timedelta(minutes=1)}, "occurredFrom"),
    ({"occurred_until": DISCOVERED - timedelta(days=3)}, "occurredUntil"),
    ({"estimated_subjects": -1}, "estimatedSubjects"),
]


def test_registration_refuses_facts_that_do_not_hold(demo_engine: Engine) -> None:
    for changes, field in REFUSED:
        with pytest.raises(b.BreachError) as caught:
            register(demo_engine, **changes)
        assert caught.value.field == field, changes
    assert b.list_breaches(demo_engine, ORG) == []


def test_activities_of_another_organisation_are_not_in_the_register(demo_engine: Engine) -> None:
    # jeugdhulp-toegang exists in Voorbeeldstad; Duinwijk's register is checked on its own.
    duinwijk = RegisterStore(demo_engine).snapshot().organisation(OTHER_ORG)
    assert duinwijk is not None and duinwijk.activity("jeugdhulp-toegang") is None
    with pytest.raises(b.BreachError, match="geen verwerking in het register van duinwijk"):
        b.register_breach(
            demo_engine,
            RegisterStore(demo_engine),
            OTHER_ORG,
            facts(activities=("jeugdhulp-toegang",), data_categories=()),
            FG,
        )
    with pytest.raises(b.BreachError, match="'elders' staat niet in het register"):
        b.register_breach(demo_engine, RegisterStore(demo_engine), "elders", facts(), FG)


def test_notify_the_authority_then_residents_then_close(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    decided = b.decide_authority(
        demo_engine,
        ORG,
        breach.id,
        notify=True,
        reason="Gezondheidsgegevens: risico voor de betrokkene.",
        by=FG,
        now=DISCOVERED + timedelta(hours=20),
    )
    assert decided.status == b.OPEN  # decided, but not notified yet: the clock still runs
    assert decided.overdue(DEADLINE + timedelta(seconds=1))
    with pytest.raises(b.BreachError, match="melding bij de AP is nog niet vastgelegd"):
        b.close_breach(demo_engine, ORG, breach.id, by=FG, now=DISCOVERED + timedelta(hours=21))
    notified = b.record_authority_notification(
        demo_engine,
        ORG,
        breach.id,
        notified_at=DISCOVERED + timedelta(hours=30),
        reference="M-2026-12345",
        by=IM,
        now=DISCOVERED + timedelta(hours=31),
    )
    assert notified.status == b.NOTIFIED
    assert notified.authority_reference == "M-2026-12345"
    assert not notified.overdue(DEADLINE + timedelta(days=10)) and not notified.settled_late
    with pytest.raises(b.BreachError, match="informeren van de betrokkenen ontbreekt"):
        b.close_breach(demo_engine, ORG, breach.id, by=FG, now=DISCOVERED + timedelta(hours=32))
    b.decide_residents(
        demo_engine,
        ORG,
        breach.id,
        notify=True,
        reason="Hoog risico: de betrokkene kan zich beschermen.",
        by=FG,
        now=DISCOVERED + timedelta(hours=33),
    )
    with pytest.raises(b.BreachError, match="wanneer de betrokkenen zijn geïnformeerd"):
        b.close_breach(demo_engine, ORG, breach.id, by=FG, now=DISCOVERED + timedelta(hours=34))
    b.decide_residents(
        demo_engine,
        ORG,
        breach.id,
        notify=True,
        reason="Hoog risico: de betrokkene kan zich beschermen.",
        notified_at=DISCOVERED + timedelta(hours=40),
        by=FG,
        now=DISCOVERED + timedelta(hours=41),
    )
    closed = b.close_breach(
        demo_engine, ORG, breach.id, by=FG, note="Afgehandeld.", now=DISCOVERED + timedelta(days=5)
    )
    assert closed.status == b.CLOSED and closed.closed_at == DISCOVERED + timedelta(days=5)
    with pytest.raises(b.BreachError, match="is afgesloten"):
        b.change_facts(
            demo_engine, RegisterStore(demo_engine), ORG, breach.id, {"estimated_subjects": 2}, FG
        )
    history = b.breach_history(demo_engine, ORG, breach.id)
    assert [e.action for e in history] == [
        b.REGISTERED,
        b.AUTHORITY_DECIDED,
        b.AUTHORITY_NOTIFIED,
        b.RESIDENTS_DECIDED,
        b.RESIDENTS_DECIDED,
        b.CLOSED_ACTION,
    ]
    assert (
        [e.revision for e in history] == [1, 2, 3, 4, 5, 6] == list(range(1, closed.revision + 1))
    )
    assert history[2].by_name == "I. Jansen"
    assert history[2].changes["status"] == ["open", "notified"]
    assert history[4].changes == {
        "residents_decided_at": ["2026-10-25T17:00:00+00:00", "2026-10-26T01:00:00+00:00"],
        "residents_notified_at": [None, "2026-10-26T00:00:00+00:00"],
    }
    assert history[-1].note == "Afgehandeld."


def test_not_notifiable_settles_the_deadline_and_may_turn_into_notify(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    settled = b.decide_authority(
        demo_engine,
        ORG,
        breach.id,
        notify=False,
        reason="Versleutelde gegevens, geen risico.",
        by=FG,
        now=DISCOVERED + timedelta(hours=5),
    )
    assert settled.status == b.NOT_NOTIFIABLE and not settled.overdue(DEADLINE + timedelta(days=1))
    assert b.overdue_breaches(demo_engine, ORG, DEADLINE + timedelta(days=1)) == []
    # New facts: the key was with the laptop after all. Notify, late.
    late = b.decide_authority(
        demo_engine,
        ORG,
        breach.id,
        notify=True,
        reason="De sleutel zat bij de laptop.",
        notified_at=DEADLINE + timedelta(hours=2),
        reference="M-1",
        by=FG,
        now=DEADLINE + timedelta(hours=3),
    )
    assert late.status == b.NOTIFIED and late.settled_late
    with pytest.raises(b.BreachError, match="al gemeld bij de AP"):
        b.decide_authority(demo_engine, ORG, breach.id, notify=False, reason="toch niet", by=FG)


def test_decisions_need_a_reason_and_consistent_moments(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    with pytest.raises(b.BreachError) as caught:
        b.decide_authority(demo_engine, ORG, breach.id, notify=True, reason=" ", by=FG)
    assert caught.value.field == "reason"
    with pytest.raises(b.BreachError, match="vóór de ontdekking"):
        b.decide_authority(
            demo_engine,
            ORG,
            breach.id,
            notify=True,
            reason="risico",
            notified_at=DISCOVERED - timedelta(hours=1),
            by=FG,
        )
    with pytest.raises(b.BreachError, match="geen moment van melden"):
        b.decide_authority(
            demo_engine,
            ORG,
            breach.id,
            notify=False,
            reason="geen risico",
            notified_at=DISCOVERED,
            by=FG,
        )
    with pytest.raises(b.BreachError, match="eerst het besluit vast"):
        b.record_authority_notification(
            demo_engine, ORG, breach.id, notified_at=DISCOVERED, reference=None, by=FG
        )
    assert b.get_breach(demo_engine, ORG, breach.id) == breach  # nothing changed


def test_overdue_is_open_after_exactly_72_hours(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    other = b.register_breach(
        demo_engine,
        RegisterStore(demo_engine),
        ORG,
        facts(title="Later ontdekt", discovered_at=DISCOVERED + timedelta(days=1)),
        FG,
        now=DISCOVERED + timedelta(days=1),
    )
    assert b.overdue_breaches(demo_engine, ORG, DEADLINE) == []  # at the deadline: still in time
    just_after = DEADLINE + timedelta(microseconds=1)
    assert [x.id for x in b.overdue_breaches(demo_engine, ORG, just_after)] == [breach.id]
    assert breach.overdue(just_after) and not breach.overdue(DEADLINE)
    assert breach.time_left(DEADLINE - timedelta(hours=1)) == timedelta(hours=1)
    everything_late = DEADLINE + timedelta(days=2)
    assert [x.id for x in b.overdue_breaches(demo_engine, ORG, everything_late)] == [
        breach.id,
        other.id,
    ]
    assert b.overdue_breaches(demo_engine, OTHER_ORG, everything_late) == []
    counts = b.breach_counts(demo_engine, ORG, now=everything_late)
    assert counts.total == 2 and counts.overdue == 2 and counts.by_status[b.OPEN] == 2


def test_a_change_based_on_an_old_revision_is_refused(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    store = RegisterStore(demo_engine)
    changed = b.change_facts(
        demo_engine, store, ORG, breach.id, {"estimated_subjects": 12}, IM, expected_revision=1
    )
    assert changed.revision == 2 and changed.estimated_subjects == 12
    with pytest.raises(b.BreachConflict, match="intussen gewijzigd"):
        b.change_facts(
            demo_engine, store, ORG, breach.id, {"estimated_subjects": 3}, FG, expected_revision=1
        )
    assert b.get_breach(demo_engine, ORG, breach.id).estimated_subjects == 12  # type: ignore[union-attr]
    # A correction of the discovery moves the deadline; the history keeps both moments.
    moved = b.change_facts(
        demo_engine,
        store,
        ORG,
        breach.id,
        {"discovered_at": DISCOVERED - timedelta(hours=6)},
        FG,
        now=DISCOVERED + timedelta(hours=2),
    )
    assert moved.deadline == DEADLINE - timedelta(hours=6)
    last = b.breach_history(demo_engine, ORG, breach.id)[-1]
    assert last.changes == {
        "discovered_at": ["2026-10-24T08:00:00+00:00", "2026-10-24T02:00:00+00:00"]
    }
    with pytest.raises(b.BreachError, match="geen gegeven van een datalek"):
        b.change_facts(demo_engine, store, ORG, breach.id, {"status": "closed"}, FG)


def test_another_organisation_sees_nothing(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    assert b.get_breach(demo_engine, OTHER_ORG, breach.id) is None
    assert b.list_breaches(demo_engine, OTHER_ORG) == []
    assert b.breach_history(demo_engine, OTHER_ORG, breach.id) == []
    with pytest.raises(b.BreachNotFound):
        b.decide_authority(demo_engine, OTHER_ORG, breach.id, notify=False, reason="x", by=FG)


def test_list_filters_on_status_newest_first(demo_engine: Engine) -> None:
    first = register(demo_engine)
    second = register(demo_engine, discovered_at=DISCOVERED + timedelta(hours=1))
    b.decide_authority(demo_engine, ORG, first.id, notify=False, reason="geen risico", by=FG)
    assert [x.id for x in b.list_breaches(demo_engine, ORG)] == [second.id, first.id]
    assert [x.id for x in b.list_breaches(demo_engine, ORG, status=b.NOT_NOTIFIABLE)] == [first.id]
    with pytest.raises(b.BreachError, match="status"):
        b.list_breaches(demo_engine, ORG, status="gesloten")


def test_the_history_cannot_be_rewritten(demo_engine: Engine) -> None:
    breach = register(demo_engine)
    with pytest.raises(Exception, match="append-only"), demo_engine.begin() as conn:
        conn.execute(update(data_breach_event).values(by_id="iemand-anders"))
    with pytest.raises(Exception, match="append-only"), demo_engine.begin() as conn:
        conn.execute(delete(data_breach_event))
    if demo_engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"), demo_engine.begin() as conn:
            conn.execute(text("TRUNCATE data_breach_event CASCADE"))
    assert len(b.breach_history(demo_engine, ORG, breach.id)) == 1
