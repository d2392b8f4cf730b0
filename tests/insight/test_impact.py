"""Impact replay from the decision log, on SQLite and PostgreSQL: counts, examples, errors."""

from __future__ import annotations

import threading
from collections.abc import Generator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from glazenstad.insight.impact import (
    ImpactError,
    parse_bound,
    report_json,
    run_impact_replay,
)
from glazenstad.insight.impact_source import count_rows, prefetched, stream_rows
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import write_decisions
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import decision_log
from tests.insight.test_impact_setup import SINCE, UNTIL, seed_impact


def service(engine: Engine) -> RulesService:
    return RulesService(RegisterStore(engine), PolicyStore(engine), refresh_interval=0)


def test_replay_counts_per_activity_rule_and_department(engine: Engine) -> None:
    seeded = seed_impact(engine)
    report = run_impact_replay(
        engine, service(engine), "voorbeeldstad", seeded.draft[:12], SINCE, UNTIL, examples=2
    )
    assert report.version == seeded.draft and report.status == "draft"
    totals = report.totals
    assert (totals.requests, totals.permit_to_deny, totals.deny_to_permit) == (7, 3, 2)
    assert totals.other_changes == 0
    assert report.groups == 3  # three distinct questions, each decided once
    assert report.deduplicated and report.skipped == 0

    activities = {a.activity_id: a.counts for a in report.aggregate.activities}
    assert set(activities) == {"wmo-maatwerkvoorziening", "bijstand-levensonderhoud"}
    wmo, bijstand = activities["wmo-maatwerkvoorziening"], activities["bijstand-levensonderhoud"]
    assert (wmo.requests, wmo.permit_to_deny, wmo.deny_to_permit) == (5, 3, 0)
    assert (bijstand.requests, bijstand.permit_to_deny, bijstand.deny_to_permit) == (2, 0, 2)
    assert report.aggregate.activities[0].activity_id == "wmo-maatwerkvoorziening"  # most first

    rules = {r.rule_id: r for r in report.aggregate.rules}
    assert set(rules) == {"kantoortijd-sociaal-domein", "gezondheid-en-strafrecht-alleen-intern"}
    assert rules["kantoortijd-sociaal-domein"].counts.permit_to_deny == 3
    assert rules["gezondheid-en-strafrecht-alleen-intern"].counts.deny_to_permit == 2
    assert rules["kantoortijd-sociaal-domein"].title.startswith("Dossiers in het sociaal domein")

    departments = {d.department: d.counts for d in report.aggregate.departments}
    assert departments["Sociaal Domein"].permit_to_deny == 3
    assert departments["Werk en Inkomen"].deny_to_permit == 2


def test_examples_are_real_decisions_explained(engine: Engine) -> None:
    seeded = seed_impact(engine)
    report = run_impact_replay(
        engine, service(engine), "voorbeeldstad", seeded.draft, SINCE, UNTIL, examples=3
    )
    by_kind = {e.kind: e for e in report.examples}
    assert set(by_kind) == {"permit_to_deny", "deny_to_permit"}  # one group of each
    denied = by_kind["permit_to_deny"]
    assert denied.decision_id == seeded.decision_ids["permit_to_deny"][0]  # the first recorded
    assert denied.identical == 3
    assert denied.recorded.effect == "permit" and denied.replayed.effect == "deny"
    assert [r.id for r in denied.replayed.rules] == ["kantoortijd-sociaal-domein"]
    assert denied.explanation.startswith("Nee.")
    assert "Dossiers in het sociaal domein alleen inzien in kantoortijd" in denied.explanation
    assert denied.moment.isoformat().startswith("2026-03-03T17:30")
    permitted = by_kind["deny_to_permit"]
    assert permitted.explanation.startswith("Ja.") and permitted.channel == "mobiel"
    assert [r.id for r in permitted.recorded.rules] == ["gezondheid-en-strafrecht-alleen-intern"]

    document = report_json(report)
    assert document["totals"] == {
        "requests": 7,
        "permitToDeny": 3,
        "denyToPermit": 2,
        "otherChanges": 0,
    }
    assert document["examples"][0]["decisionId"] in seeded.decision_ids["permit_to_deny"]
    assert "subject" not in str(document)  # no pseudonyms of residents in a result


def test_the_active_version_changes_nothing(engine: Engine) -> None:
    seeded = seed_impact(engine)
    report = run_impact_replay(
        engine, service(engine), "voorbeeldstad", seeded.active, SINCE, UNTIL
    )
    assert report.totals.requests == 7 and report.totals.changed == 0
    assert report.examples == [] and report.aggregate.rules == []


def test_period_and_organisation_select_the_rows(engine: Engine) -> None:
    seed_impact(engine)
    assert count_rows(engine, "voorbeeldstad", SINCE, UNTIL) == 7
    assert count_rows(engine, "duinwijk", SINCE, UNTIL) == 1
    streamed = [
        row for chunk in stream_rows(engine, "voorbeeldstad", SINCE, UNTIL, 3) for row in chunk
    ]
    assert len(streamed) == 7
    assert all(isinstance(row[1], str) and row[1].startswith("{") for row in streamed)
    tuesday = parse_bound("2026-03-03", end=False)
    assert count_rows(engine, "voorbeeldstad", tuesday, parse_bound("2026-03-03", end=True)) == 5


def test_unreadable_rows_are_counted_not_fatal(engine: Engine) -> None:
    seeded = seed_impact(engine)
    with engine.begin() as conn:
        write_decisions(
            conn,
            [
                {
                    "decision_id": "f" * 32,
                    "decided_at": datetime(2026, 3, 5, 9, tzinfo=UTC),
                    "organisation_id": "voorbeeldstad",
                    "policy_version": None,
                    "compiled_hash": None,
                    "engine_version": "test",
                    "input_hash": "0" * 64,
                    "purpose": "x",
                    "action": "read",
                    "data_category": "x",
                    "role": "x",
                    "department": "x",
                    "effect": "deny",
                    "reason": "no_policy",
                    "rules": [],
                    "break_glass": False,
                    "request": {"not": "a request"},
                }
            ],
        )
    report = run_impact_replay(engine, service(engine), "voorbeeldstad", seeded.draft, SINCE, UNTIL)
    assert report.skipped == 1 and report.totals.requests == 7


def test_a_request_without_moment_is_replayed_at_its_decision_time(engine: Engine) -> None:
    seeded = seed_impact(engine)
    with engine.begin() as conn:
        row = conn.execute(
            decision_log.select().where(
                decision_log.c.decision_id == seeded.decision_ids["permit_to_deny"][0]
            )
        ).one()
        request = dict(row.request)
        request["context"] = {**request["context"], "time": None}
        values = {k: v for k, v in row._mapping.items() if k != "id"}
        values.update(decision_id="e" * 32, request=request)
        write_decisions(conn, [values])
    report = run_impact_replay(engine, service(engine), "voorbeeldstad", seeded.draft, SINCE, UNTIL)
    # Decided 10 ms after 17:30: under the draft, after office hours.
    assert report.totals.requests == 8 and report.totals.permit_to_deny == 4
    assert report.skipped == 0


@pytest.mark.parametrize(
    ("version", "since", "until", "message"),
    [
        ("0" * 12, SINCE, UNTIL, "no policy version"),
        (None, UNTIL, SINCE, "before or when it starts"),
    ],
)
def test_what_cannot_be_replayed_is_said(
    engine: Engine,
    version: str | None,
    since: datetime,
    until: datetime,
    message: str,
) -> None:
    seeded = seed_impact(engine)
    with pytest.raises(ImpactError, match=message):
        run_impact_replay(
            engine, service(engine), "voorbeeldstad", version or seeded.draft, since, until
        )
    with pytest.raises(ImpactError, match="no policy version"):
        run_impact_replay(engine, service(engine), "duinwijk", seeded.draft, SINCE, UNTIL)


def test_period_bounds_are_local_days() -> None:
    assert parse_bound("2026-03-29", end=False).isoformat() == "2026-03-28T23:00:00+00:00"
    # The day the clock moves: it ends at midnight summer time.
    assert parse_bound("2026-03-29", end=True).isoformat() == "2026-03-29T22:00:00+00:00"
    assert parse_bound("2026-03-29T12:00", end=False).isoformat() == "2026-03-29T10:00:00+00:00"
    assert parse_bound("2026-03-29T12:00Z", end=True).isoformat() == "2026-03-29T12:00:00+00:00"
    with pytest.raises(ValueError, match="not a date"):
        parse_bound("gisteren", end=False)


def test_prefetching_keeps_order_errors_and_the_reader_thread() -> None:
    seen: list[str] = []

    def failing() -> Generator[int, None, None]:
        seen.append(threading.current_thread().name)
        yield 1
        yield 2
        raise RuntimeError("verbinding weg")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="verbinding weg"):
        for chunk in prefetched(failing()):
            got.append(chunk)
    assert got == [1, 2] and seen == ["impact-replay-reader"]

    closed_in: list[str] = []

    def endless() -> Generator[int, None, None]:
        number = 0
        try:
            while True:
                yield number
                number += 1
        finally:
            closed_in.append(threading.current_thread().name)

    chunks = prefetched(endless())
    assert next(chunks) == 0
    chunks.close()
    assert closed_in == ["impact-replay-reader"]  # closed where it ran: its connection stays put
