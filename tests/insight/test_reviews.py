"""Reviews of break-the-glass decisions taken by the real rules engine, on both databases."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, text, update

from glazenstad.insight.incidents import reviews as r
from glazenstad.insight.incidents.tables import break_glass_review
from tests.insight.test_incidents_support import (
    MARCH_2,
    ORG,
    OTHER_ORG,
    emergency_request,
    load_demo,
    record_decisions,
)

pytestmark = pytest.mark.heavy

TEAMLEIDER = r.Reviewer(
    "teamleider-sociaal-domein", "T. Smit", ORG, ("teamleider",), "Sociaal Domein"
)
FG = r.Reviewer("fg", "F. de Graaf", ORG, ("functionaris-gegevensbescherming",), "FG")


@pytest.fixture
def demo_engine(engine: Engine) -> Engine:
    load_demo(engine)
    return engine


def emergencies(engine: Engine, count: int, start: datetime = MARCH_2) -> list[str]:
    moments = [start + timedelta(hours=n) for n in range(count)]
    return record_decisions(engine, [emergency_request() for _ in moments], moments)


def test_only_break_the_glass_decisions_are_listed(demo_engine: Engine) -> None:
    glass = emergencies(demo_engine, 2)
    # The same request without a justification is denied: no break-the-glass.
    plain = record_decisions(
        demo_engine,
        [emergency_request(justification=None)],
        [MARCH_2 + timedelta(minutes=30)],
    )
    items, total = r.list_break_glass(demo_engine, ORG)
    assert total == 2 and [d.decision_id for d in items] == list(reversed(glass))
    first = items[-1]
    assert first.justification == "Consulent ziek, cliënt heeft vandaag hulp nodig"
    assert first.role == "wmo-consulent" and first.department == "Sociaal Domein"
    assert first.purpose == "wmo-maatwerkvoorziening" and first.about_person
    assert first.rules == ("doelbinding-wmo-maatwerkvoorziening",)
    assert r.get_break_glass(demo_engine, ORG, plain[0]) is None
    assert r.get_break_glass(demo_engine, OTHER_ORG, glass[0]) is None
    assert r.list_break_glass(demo_engine, OTHER_ORG) == ([], 0)


def test_review_once_and_the_figures_follow(demo_engine: Engine) -> None:
    ids = emergencies(demo_engine, 3)
    before = r.unreviewed_break_glass(demo_engine, ORG, None, None)
    assert (before.total, before.unreviewed, before.reviewed) == (3, 3, 0)
    assert before.oldest_unreviewed == MARCH_2
    assert [d.decision_id for d in before.examples] == ids  # the longest waiting first

    review = r.record_review(
        demo_engine, ORG, ids[0], reviewer=TEAMLEIDER, verdict=r.JUSTIFIED, note=None
    )
    assert review.reviewer_id == "teamleider-sociaal-domein" and review.note is None
    r.record_review(
        demo_engine,
        ORG,
        ids[1],
        reviewer=FG,
        verdict=r.UNJUSTIFIED,
        note="Geen spoed: de cliënt had al hulp. Besproken met de consulent.",
    )
    after = r.unreviewed_break_glass(demo_engine, ORG, None, None)
    assert (after.total, after.reviewed, after.justified, after.unjustified) == (3, 2, 1, 1)
    assert after.unreviewed == 1 and after.oldest_unreviewed == MARCH_2 + timedelta(hours=2)
    assert [d.decision_id for d in after.examples] == [ids[2]]

    with pytest.raises(r.AlreadyReviewed, match=r"door T. Smit .* Een beoordeling is definitief"):
        r.record_review(demo_engine, ORG, ids[0], reviewer=FG, verdict=r.UNJUSTIFIED, note="x")
    waiting, count = r.list_break_glass(demo_engine, ORG, reviewed=False)
    assert count == 1 and [d.decision_id for d in waiting] == [ids[2]]
    done, count = r.list_break_glass(demo_engine, ORG, reviewed=True)
    assert count == 2 and {d.review.verdict for d in done if d.review} == {
        "justified",
        "unjustified",
    }


def test_the_period_is_half_open(demo_engine: Engine) -> None:
    emergencies(demo_engine, 4)  # 09:00, 10:00, 11:00, 12:00 UTC
    summary = r.unreviewed_break_glass(
        demo_engine, ORG, MARCH_2 + timedelta(hours=1), MARCH_2 + timedelta(hours=3)
    )
    assert summary.total == 2 and summary.oldest_unreviewed == MARCH_2 + timedelta(hours=1)
    page, total = r.list_break_glass(demo_engine, ORG, limit=1, offset=1)
    assert total == 4 and page[0].decided_at == MARCH_2 + timedelta(hours=2)


def test_unjustified_needs_a_note_and_verdicts_are_fixed(demo_engine: Engine) -> None:
    (decision,) = emergencies(demo_engine, 1)
    with pytest.raises(r.ReviewError) as caught:
        r.record_review(demo_engine, ORG, decision, reviewer=FG, verdict=r.UNJUSTIFIED, note=" ")
    assert caught.value.field == "note"
    with pytest.raises(r.ReviewError) as caught:
        r.record_review(demo_engine, ORG, decision, reviewer=FG, verdict="prima", note=None)
    assert caught.value.field == "verdict"
    assert r.unreviewed_break_glass(demo_engine, ORG, None, None).unreviewed == 1


def test_nobody_reviews_their_own_emergency(demo_engine: Engine) -> None:
    (decision,) = emergencies(demo_engine, 1)
    colleague = r.Reviewer("c2", "Collega", ORG, ("wmo-consulent",), "Sociaal Domein")
    with pytest.raises(r.SelfReview, match="Iemand buiten die functie"):
        r.record_review(
            demo_engine, ORG, decision, reviewer=colleague, verdict=r.JUSTIFIED, note=None
        )
    # The same role in another department could not have been the actor.
    elsewhere = r.Reviewer("c3", "Elders", ORG, ("wmo-consulent",), "Werk en Inkomen")
    assert r.self_review_reason(elsewhere, r.get_break_glass(demo_engine, ORG, decision)) is None  # type: ignore[arg-type]
    # A request that names the person (an actor id) is compared on the person.
    named = r.get_break_glass(demo_engine, ORG, decision)
    assert named is not None
    assert r.self_review_reason(FG, replace(named, actor_id="fg")) is not None


def test_another_organisation_cannot_review(demo_engine: Engine) -> None:
    (decision,) = emergencies(demo_engine, 1)
    outsider = r.Reviewer("duinwijk-fg", "D. de Vries", OTHER_ORG, ("fg",), "FG")
    with pytest.raises(r.ReviewNotFound):
        r.record_review(
            demo_engine, OTHER_ORG, decision, reviewer=outsider, verdict=r.JUSTIFIED, note=None
        )
    with pytest.raises(r.ReviewNotFound):
        r.record_review(
            demo_engine, ORG, decision, reviewer=outsider, verdict=r.JUSTIFIED, note=None
        )
    with pytest.raises(r.ReviewNotFound):
        r.record_review(demo_engine, ORG, "0" * 32, reviewer=FG, verdict=r.JUSTIFIED, note=None)


def test_two_reviewers_at_once_one_wins(demo_engine: Engine) -> None:
    (decision,) = emergencies(demo_engine, 1)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def review(reviewer: r.Reviewer) -> None:
        barrier.wait()
        try:
            r.record_review(
                demo_engine, ORG, decision, reviewer=reviewer, verdict=r.JUSTIFIED, note=None
            )
            outcomes.append("stored")
        except r.AlreadyReviewed:
            outcomes.append("already")

    threads = [threading.Thread(target=review, args=(x,)) for x in (FG, TEAMLEIDER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "stored"]
    with demo_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM break_glass_review")).scalar_one() == 1


def test_a_review_cannot_be_changed_afterwards(demo_engine: Engine) -> None:
    (decision,) = emergencies(demo_engine, 1)
    r.record_review(demo_engine, ORG, decision, reviewer=FG, verdict=r.JUSTIFIED, note=None)
    with pytest.raises(Exception, match="append-only"), demo_engine.begin() as conn:
        conn.execute(update(break_glass_review).values(verdict=r.UNJUSTIFIED))
    with pytest.raises(Exception, match="append-only"), demo_engine.begin() as conn:
        conn.execute(delete(break_glass_review))
    stored = r.get_break_glass(demo_engine, ORG, decision)
    assert stored is not None and stored.review is not None
    assert stored.review.verdict == r.JUSTIFIED


def test_the_review_list_reads_the_partial_index(demo_engine: Engine) -> None:
    emergencies(demo_engine, 2)
    query = (
        "SELECT count(*) FROM decision_log WHERE organisation_id = 'voorbeeldstad' "
        "AND break_glass IS {true} AND decided_at >= '2026-03-01'"
    )
    with demo_engine.connect() as conn:
        if demo_engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            sql = query.format(true="true")
            plan = " ".join(str(x[0]) for x in conn.execute(text(f"EXPLAIN {sql}")))
        else:
            sql = query.format(true="1")
            plan = " ".join(str(x[-1]) for x in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "ix_decision_log_break_glass" in plan
