"""Every compliance check, once with data that triggers it and once with data that does not.

The data is made by the real components: register loads (with versions), the logbook ingest,
the rules engine and the decision log, retention runs, reviews, breaches and the sensor pipeline.
Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import SensorPipeline, encode_reading, sensor_topic
from glazenstad.insight.compliance import run_checks
from glazenstad.insight.compliance.checks import (
    CHECKS,
    NEW_ACTIVITY_GRACE,
    RETENTION_TOLERANCE,
    REVIEW_PERIOD,
)
from glazenstad.insight.incidents.breaches import (
    BreachFacts,
    Who,
    decide_authority,
    register_breach,
)
from glazenstad.insight.incidents.reviews import Reviewer, record_review
from glazenstad.logbook.retention import apply_retention
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from tests.insight.test_compliance_support import (
    BSN,
    ORG,
    POLICY,
    Municipality,
    checks,
    ingest,
    local_saturday_night,
    record,
    status,
    uri,
)

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def town(tmp_path: Path) -> Municipality:
    return Municipality(tmp_path / "register")


def _everything_logged(engine: Engine, t0: datetime) -> None:
    """One record for each active activity, so NA009 stays quiet where it is not the subject."""
    ingest(
        engine,
        [
            record(a, t0 + HOUR, outcome="onbetaald" if a == "parkeren" else None)
            for a in ("parkeren", "zorg", "archief")
        ],
    )


# --- NA001 ------------------------------------------------------------------------------------


def test_records_without_a_registered_activity(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    _everything_logged(engine, t0)
    now = t0 + 2 * DAY
    assert status(checks(engine, now), "NA001") == "pass"

    unknown = uri("bestaat-niet")
    other_register = "https://register.elders.example/processing-activities/parkeren"
    ingest(
        engine,
        [record(unknown, t0 + HOUR * n) for n in (2, 3, 4)]
        + [record(other_register, t0 + 5 * HOUR)],
    )
    report = checks(engine, now)
    result = report.result("NA001")
    assert (result.status, result.count) == ("fail", 4)
    assert [(i.subject, i.count) for i in result.items] == [(unknown, 3), (other_register, 1)]
    assert len(result.items[0].examples) == 3
    assert all(e.kind == "log-record" for e in result.items[0].examples)
    # Evidence names records by trace and span id, never the data subject.
    text = json.dumps([asdict(r) for r in report.checks], default=str)
    assert BSN not in text and "k2026" not in text
    # Records that started after the measured moment are not judged yet.
    assert status(checks(engine, t0 + HOUR + timedelta(minutes=30)), "NA001") == "pass"


# --- NA002 ------------------------------------------------------------------------------------


def test_processing_is_judged_by_the_activity_version_in_force(
    engine: Engine, town: Municipality
) -> None:
    v1 = town.load(engine)
    _everything_logged(engine, v1)
    # Logged while the activity was active (between version 1 and version 2).
    ingest(engine, [record("archief", v1 + timedelta(milliseconds=2))])
    time.sleep(0.01)
    town.archief_status = "beeindigd"
    v2 = town.load(engine)
    now = v2 + 3 * DAY
    assert status(checks(engine, now), "NA002") == "pass"

    ingest(engine, [record("archief", v2 + HOUR), record("archief", v2 + 2 * HOUR)])
    result = checks(engine, now).result("NA002")
    assert (result.status, result.count) == ("fail", 2)
    [item] = result.items
    assert item.activity_id == "archief" and "beëindigd" in item.detail
    assert len(item.examples) == 2


def test_a_concept_activity_counts_as_not_active(engine: Engine, town: Municipality) -> None:
    town.archief_status = "concept"
    t0 = town.load(engine)
    ingest(engine, [record("archief", t0 + HOUR)])
    result = checks(engine, t0 + DAY).result("NA002")
    assert (result.status, result.count) == ("fail", 1)
    assert "concept" in result.items[0].detail


# --- NA003 ------------------------------------------------------------------------------------


def _retention_records(t0: datetime) -> list[dict[str, object]]:
    start = t0 + HOUR - timedelta(seconds=1)
    early = t0 + HOUR
    later = t0 + 60 * HOUR
    return [
        *(record("parkeren", start, end=early, outcome="betaald") for _ in range(3)),
        *(record("parkeren", later - HOUR, end=later, outcome="betaald") for _ in range(2)),
        record("parkeren", start, end=early, outcome="onbetaald"),
        record("parkeren", start, end=early),  # no outcome: the longest rule applies
        record("parkeren", start, end=early, outcome="raar"),  # unknown outcome: the same
        record("zorg", start, end=early),
    ]


def _due_by_retention(engine: Engine, now: datetime) -> int:
    """What the retention job itself would delete a day earlier (the check's tolerance)."""
    return apply_retention(engine, now=now - RETENTION_TOLERANCE, dry_run=True).due


def test_retention_overdue_counts_what_retention_would_delete(
    engine: Engine, town: Municipality
) -> None:
    t0 = town.load(engine)
    ingest(engine, _retention_records(t0))

    # 40 hours on the early "betaald" records are 15 hours past term: within the tolerance.
    assert status(checks(engine, t0 + 40 * HOUR), "NA003") == "pass"

    now = t0 + 100 * HOUR  # early ones 75 hours past term, later ones only 16
    result = checks(engine, now).result("NA003")
    assert (result.status, result.count) == ("fail", 3) == ("fail", _due_by_retention(engine, now))
    [item] = result.items
    assert item.activity_id == "parkeren" and item.count == 3
    figures = {f.key: f.value for f in result.figures}
    assert figures["oldestOverdueHours"] == 75.0
    assert len(item.examples) == 3

    # After half a year the six-month records are overdue too; zorg (seven years) is not.
    later = t0 + 200 * DAY
    result = checks(engine, later).result("NA003")
    assert result.count == 8 == _due_by_retention(engine, later)

    # The retention job removes them; then nothing is overdue.
    apply_retention(engine, now=later)
    assert status(checks(engine, later), "NA003") == "pass"


@pytest.mark.parametrize("seed", [1, 2])
def test_retention_overdue_agrees_with_the_retention_job_on_random_logs(
    engine: Engine, town: Municipality, seed: int
) -> None:
    """Calendar periods (P6M), several outcomes and rule versions: the check's SQL count and
    the bisection over end times must give exactly the retention job's own answer."""
    t0 = town.load(engine)
    rng = random.Random(seed)
    records = []
    for _ in range(300):
        start = t0 + timedelta(minutes=rng.randrange(1, 60 * 24 * 400))
        end = start + timedelta(seconds=rng.randrange(0, 3600 * 30))
        activity = rng.choice(["parkeren", "parkeren", "zorg", "archief"])
        outcome = rng.choice(["betaald", "onbetaald", None, "raar"])
        records.append(record(activity, start, end=end, outcome=outcome))
    ingest(engine, records)
    counts = []
    for days in (3, 45, 190, 420):
        now = t0 + timedelta(days=days, hours=rng.randrange(24))
        result = checks(engine, now).result("NA003")
        assert result.count == _due_by_retention(engine, now), days
        counts.append(result.count)
    # The moments cut through the groups: some overdue, never all (zorg keeps seven years).
    assert counts == sorted(counts) and 0 < counts[-1] < len(records)
    assert len(set(counts)) > 2


# --- NA004 ------------------------------------------------------------------------------------


def test_retention_runs_missing_or_late(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    now = t0 + 10 * DAY
    empty = checks(engine, now).result("NA004")
    assert empty.status == "pass" and "leeg" in empty.summary

    ingest(engine, [record("zorg", t0 + HOUR)])
    never = checks(engine, now).result("NA004")
    assert never.status == "fail" and "nog nooit" in never.summary

    apply_retention(engine, now=now - HOUR)  # on time, nothing due
    assert status(checks(engine, now), "NA004") == "pass"
    stopped = checks(engine, now + 3 * DAY).result("NA004")
    assert stopped.status == "fail" and "uur geleden" in stopped.summary

    # A run that deletes records four days past their term is a late run.
    ingest(engine, [record("parkeren", t0 + HOUR, outcome="betaald")])
    late_run = t0 + 5 * DAY
    apply_retention(engine, now=late_run)
    late = checks(engine, late_run + HOUR).result("NA004")
    assert late.status == "fail" and "na het einde van hun bewaartermijn" in late.summary
    figures = {f.key: f.value for f in late.figures}
    assert isinstance(figures["maxLatenessHours"], float) and figures["maxLatenessHours"] > 90


# --- NA005 ------------------------------------------------------------------------------------


def _deletion_record(moment: datetime, lateness_s: float) -> dict[str, object]:
    return record(
        "parkeren",
        moment,
        subject=None,
        name="Verlopen scans verwijderd (bewaartermijn)",
        extra={"glazenstad.deleted_scans": 12, "glazenstad.retention_lateness_s": lateness_s},
    )


def test_pipeline_deletions_late(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    _everything_logged(engine, t0)
    now = t0 + 3 * DAY
    quiet = checks(engine, now).result("NA005")
    assert quiet.status == "pass" and "geen systeem" in quiet.summary

    ingest(engine, [_deletion_record(t0 + DAY, 90)])
    assert status(checks(engine, now), "NA005") == "pass"

    ingest(engine, [_deletion_record(t0 + 2 * DAY, 3 * 24 * 3600)])
    result = checks(engine, now).result("NA005")
    assert (result.status, [i.activity_id for i in result.items]) == ("fail", ["parkeren"])
    assert {f.key: f.value for f in result.figures}["maxLatenessHours"] == 72.0
    # Thirty days on, that run is history.
    assert status(checks(engine, now + 31 * DAY), "NA005") == "pass"


def test_late_deletion_by_the_parking_pipeline(engine: Engine) -> None:
    """The real scan-car retention job logs its lateness; the check reads it back."""
    from glazenstad.execution.parking.retention import delete_expired
    from tests.parking.conftest import make_setup

    setup = make_setup(engine)
    plate = setup.plates(paid=True)[0]
    assert setup.pipeline.handle([setup.message(plate)]).stored == 1
    term = setup.clock.now + DAY  # PT24H for "betaald" in the demo register
    on_time = term + timedelta(minutes=5)
    delete_expired(engine, now=on_time, logbook=setup.pipeline.logbook)
    report = run_checks(engine, RegisterStore(engine), "voorbeeldstad", on_time + HOUR)
    assert report.result("NA005").status == "pass"

    assert setup.pipeline.handle([setup.message(setup.plates(paid=True)[0])]).stored == 1
    late = setup.clock.now + 4 * DAY
    delete_expired(engine, now=late, logbook=setup.pipeline.logbook)
    result = run_checks(engine, RegisterStore(engine), "voorbeeldstad", late + HOUR).result("NA005")
    assert result.status == "fail"
    assert [i.activity_id for i in result.items] == ["parkeerhandhaving-scanauto"]


# --- NA006 ------------------------------------------------------------------------------------


def test_special_categories_processed_without_a_dpia(engine: Engine, town: Municipality) -> None:
    v1 = town.load(engine)  # zorg: health data, DPIA done
    _everything_logged(engine, v1)
    ingest(engine, [record("zorg", v1 + timedelta(milliseconds=2))])
    time.sleep(0.01)
    town.zorg_dpia = "nodig"
    v2 = town.load(engine)
    now = v2 + 2 * DAY
    assert status(checks(engine, now), "NA006") == "pass"

    # Under version 2 the DPIA is only "needed": these records are processing without one.
    ingest(engine, [record("zorg", v2 + HOUR), record("zorg", v2 + 2 * HOUR)])
    # Activities without special categories never count, whatever their DPIA status.
    ingest(engine, [record("archief", v2 + HOUR)])
    result = checks(engine, now).result("NA006")
    assert (result.status, result.count) == ("fail", 2)
    [item] = result.items
    assert item.activity_id == "zorg"
    assert "gezondheid" in item.detail and "nodig" in item.detail


# --- NA007 ------------------------------------------------------------------------------------


def test_algorithms_in_use_must_be_ready_for_publication(
    engine: Engine, town: Municipality
) -> None:
    from tests.insight.test_compliance_support import ALGORITHM_INCOMPLETE

    t0 = town.load(engine)
    assert status(checks(engine, t0 + DAY), "NA007") == "pass"

    town.algorithm = ALGORITHM_INCOMPLETE
    town.algorithm_status = "In ontwikkeling"
    t1 = town.load(engine)
    assert status(checks(engine, t1 + DAY), "NA007") == "pass"  # not in use yet

    town.algorithm_status = "In gebruik"
    t2 = town.load(engine)
    ingest(engine, [record("zorg", t2 + HOUR)])
    result = checks(engine, t2 + DAY).result("NA007")
    assert (result.status, result.count) == ("fail", 1)
    [item] = result.items
    assert item.subject == "zorgtoewijzing"
    assert "AL001" in item.detail and "AL002" in item.detail
    assert "1 logregel" in item.detail
    # Measured as of a moment before the change, the complete version was in force.
    assert status(checks(engine, t1 - timedelta(milliseconds=1)), "NA007") == "pass"


# --- NA008 ------------------------------------------------------------------------------------


def _sensor_message(sensor_id: str, moment: datetime) -> Message:
    return Message(
        topic=sensor_topic(ORG, sensor_id),
        payload=encode_reading(moment - timedelta(minutes=1), {"pm25": 8.5}),
        qos=1,
        received_at=moment,
    )


def test_sensors_sending_without_registration(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    moment = t0 + DAY
    pipeline = SensorPipeline(engine, RegisterStore(engine), clock=lambda: moment)
    assert pipeline.handle([_sensor_message("luchtmeter", moment)]).accepted == 1
    assert status(checks(engine, t0 + 2 * DAY), "NA008") == "pass"

    pipeline.handle([_sensor_message("spookmeter", moment)] * 3)
    result = checks(engine, t0 + 2 * DAY).result("NA008")
    assert (result.status, result.count) == ("fail", 1)
    [item] = result.items
    assert (item.subject, item.count) == ("spookmeter", 3)
    assert {f.key: f.value for f in result.figures}["messages"] == 3
    # A sensor that stopped sending more than 30 days ago is history.
    assert status(checks(engine, t0 + 40 * DAY), "NA008") == "pass"


# --- NA009 ------------------------------------------------------------------------------------


def test_active_activities_without_any_log_record(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    # Newly registered: not yet a finding.
    assert status(checks(engine, t0 + NEW_ACTIVITY_GRACE - DAY), "NA009") == "pass"

    now = t0 + 40 * DAY
    result = checks(engine, now).result("NA009")
    assert result.status == "fail"
    assert sorted(str(i.activity_id) for i in result.items) == ["archief", "parkeren", "zorg"]

    ingest(engine, [record("zorg", t0 + HOUR), record("parkeren", t0 + HOUR, outcome="betaald")])
    # Records deleted by retention were logged all the same (the deletion receipt says so).
    apply_retention(engine, now=t0 + 3 * DAY)
    result = checks(engine, now).result("NA009")
    assert [i.activity_id for i in result.items] == ["archief"]

    town.archief_status = "beeindigd"  # an ended activity is not expected to log
    town.load(engine)
    assert status(checks(engine, now), "NA009") == "pass"


# --- NA010 ------------------------------------------------------------------------------------


def _activate_policy(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "policies" / ORG
    root.mkdir(parents=True)
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    store = PolicyStore(engine)
    for loaded in parse_policies(tmp_path / "policies").policies:
        version, _ = store.save(loaded.policy, by="test")
        store.activate(version.organisation_id, version.content_hash, by="test-approver")


def _emergency(engine: Engine, moment: datetime) -> str:
    """A real break-the-glass permit: health data read on a Saturday night, with a reason."""
    request = DecisionRequest(
        actor=Actor(role="medewerker", department="Afdeling Test", organisation=ORG),
        action="read",
        resource=Resource(data_category="gezondheid", subject="p:0a1b"),
        purpose="zorg",
        context=Context(time=moment.timestamp(), justification="Spoed: cliënt in nood"),
    )
    decision = RulesService(RegisterStore(engine), PolicyStore(engine)).decide(request)
    assert decision.outcome.effect == "permit" and decision.outcome.break_glass
    row = decision_row(decision)
    row["decided_at"] = moment
    with engine.begin() as conn:
        write_decisions(conn, [row])
    return str(row["decision_id"])


def test_break_glass_without_a_review(engine: Engine, town: Municipality, tmp_path: Path) -> None:
    t0 = town.load(engine)
    _activate_policy(engine, tmp_path)
    moment = local_saturday_night(t0)
    decision_id = _emergency(engine, moment)

    waiting = checks(engine, moment + 2 * DAY).result("NA010")
    assert waiting.status == "pass"
    assert {f.key: f.value for f in waiting.figures}["waiting"] == 1

    overdue = checks(engine, moment + REVIEW_PERIOD + DAY).result("NA010")
    assert (overdue.status, overdue.count) == ("fail", 1)
    [item] = overdue.items
    assert item.activity_id == "zorg"
    assert [e.reference for e in item.examples] == [decision_id]

    reviewer = Reviewer("fg", "F. G.", ORG, ("functionaris-gegevensbescherming",), "FG")
    record_review(
        engine,
        ORG,
        decision_id,
        reviewer=reviewer,
        verdict="justified",
        note=None,
        now=moment + 3 * DAY,
    )
    reviewed = checks(engine, moment + REVIEW_PERIOD + DAY).result("NA010")
    assert reviewed.status == "pass"
    assert {f.key: f.value for f in reviewed.figures}["reviewed"] == 1


# --- NA011 ------------------------------------------------------------------------------------


def test_breaches_past_their_72_hours(engine: Engine, town: Municipality) -> None:
    t0 = town.load(engine)
    discovered = t0 + DAY
    fg = Who("fg", "F. G.")
    breach = register_breach(
        engine,
        RegisterStore(engine),
        ORG,
        BreachFacts(
            title="Brief naar verkeerd adres",
            description="Een brief over zorg ging naar een verkeerd adres.",
            discovered_at=discovered,
            activities=("zorg",),
            estimated_subjects=1,
        ),
        fg,
        now=discovered + HOUR,
    )
    assert status(checks(engine, discovered + 71 * HOUR), "NA011") == "pass"
    result = checks(engine, discovered + 73 * HOUR).result("NA011")
    assert (result.status, result.count) == ("fail", 1)
    assert result.items[0].subject == str(breach.id) and "zorg" in result.items[0].detail

    decide_authority(
        engine,
        ORG,
        breach.id,
        notify=False,
        reason="Eén brief, teruggekregen en vernietigd: geen risico.",
        by=fg,
        now=discovered + 74 * HOUR,
    )
    settled = checks(engine, discovered + 80 * HOUR).result("NA011")
    assert settled.status == "pass"
    assert {f.key: f.value for f in settled.figures}["settledLate"] == 1


# --- all together -----------------------------------------------------------------------------


def test_a_municipality_that_does_everything_right_scores_100(
    engine: Engine, town: Municipality, tmp_path: Path
) -> None:
    t0 = town.load(engine)
    _activate_policy(engine, tmp_path)
    ingest(
        engine,
        [
            record("parkeren", t0 + HOUR, outcome="betaald"),
            record("zorg", t0 + HOUR),
            record("archief", t0 + HOUR),
        ],
    )
    apply_retention(engine, now=t0 + 26 * HOUR)  # the paid scan's record, an hour after term
    moment = local_saturday_night(t0)
    decision_id = _emergency(engine, moment)
    record_review(
        engine,
        ORG,
        decision_id,
        reviewer=Reviewer("fg", "F. G.", ORG, ("fg",), "FG"),
        verdict="justified",
        note=None,
        now=moment + DAY,
    )
    now = t0 + 40 * DAY
    apply_retention(engine, now=now - HOUR)
    report = checks(engine, now)
    assert {r.check.code: r.status for r in report.checks} == dict.fromkeys(CHECKS, "pass")
    assert report.overall_score == 100.0
    assert {(a.activity_id, a.score) for a in report.activities} == {
        ("parkeren", 100.0),
        ("zorg", 100.0),
        ("archief", 100.0),
    }


def test_scores_follow_the_documented_arithmetic(engine: Engine, town: Municipality) -> None:
    town.zorg_dpia = "nodig"
    t0 = town.load(engine)
    ingest(
        engine,
        [record("zorg", t0 + HOUR), record(uri("bestaat-niet"), t0 + HOUR)],
    )
    now = t0 + 40 * DAY
    report = checks(engine, now)
    by_id = {a.activity_id: a for a in report.activities}
    # zorg: special categories without DPIA (25); parkeren and archief: never logged (5 each).
    assert by_id["zorg"].failed == ("NA006",) and by_id["zorg"].score == 75.0
    assert by_id["parkeren"].failed == ("NA009",) and by_id["parkeren"].score == 95.0
    assert by_id["archief"].score == 95.0
    # Organisation checks: unregistered activity (20), retention never run (10).
    failed_org = {r.check.code for r in report.failed if r.check.scope == "organisation"}
    assert failed_org == {"NA001", "NA004"}
    assert report.organisation_deduction == 30
    assert report.activity_average == round((75 + 95 + 95) / 3, 1)
    assert report.overall_score == round((75 + 95 + 95) / 3 - 30, 1)


def test_unknown_organisation(engine: Engine, town: Municipality) -> None:
    from glazenstad.insight.compliance import OrganisationNotFound

    t0 = town.load(engine)
    with pytest.raises(OrganisationNotFound):
        checks(engine, t0 + DAY, organisation="nergensstad")
    # Before the register was loaded the organisation did not exist either.
    with pytest.raises(OrganisationNotFound):
        checks(engine, t0 - DAY)


def test_now_defaults_to_the_clock(engine: Engine, town: Municipality) -> None:
    town.load(engine)
    report = run_checks(engine, RegisterStore(engine), ORG)
    assert abs(report.measured_at - datetime.now(UTC)) < timedelta(minutes=1)
