"""Snapshots: what a run stores, and the history read back in time order."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from glazenstad.insight.compliance import activity_history, score_history, store_snapshot
from glazenstad.insight.compliance.checks import WEIGHTING_VERSION
from glazenstad.insight.compliance.tables import compliance_activity_score, compliance_snapshot
from tests.insight.test_compliance_support import (
    BSN,
    ORG,
    Municipality,
    checks,
    ingest,
    record,
    uri,
)

DAY = timedelta(days=1)


def test_snapshots_keep_figures_and_come_back_in_time_order(engine: Engine, tmp_path: Path) -> None:
    town = Municipality(tmp_path / "register")
    t0 = town.load(engine)
    ingest(engine, [record("zorg", t0 + DAY), record(uri("bestaat-niet"), t0 + DAY)])
    ids = []
    for days in (40, 41, 42):
        report = checks(engine, t0 + days * DAY)
        ids.append(store_snapshot(engine, report, stored_by="nachtelijke meting"))
    # Stored out of order still reads back by the measured moment.
    late_first = checks(engine, t0 + 39 * DAY)
    ids.append(store_snapshot(engine, late_first, stored_by="inhaalmeting"))

    history = score_history(engine, ORG)
    assert [s.measured_at for s in history] == sorted(s.measured_at for s in history)
    assert [s.id for s in history] == [ids[3], ids[0], ids[1], ids[2]]
    first = history[0]
    assert first.stored_by == "inhaalmeting" and first.weighting_version == WEIGHTING_VERSION
    assert first.overall_score == late_first.overall_score
    assert first.activity_scores == {a.activity_id: a.score for a in late_first.activities}
    assert [c.code for c in first.checks] == sorted(c.code for c in first.checks)
    assert {c.code: c.status for c in first.checks} == {
        r.check.code: r.status for r in late_first.checks
    }
    assert first.checks_failed == len(late_first.failed)

    newest_two = score_history(engine, ORG, limit=2)
    assert [s.id for s in newest_two] == [ids[1], ids[2]]
    window = score_history(engine, ORG, since=t0 + 40 * DAY, until=t0 + 42 * DAY)
    assert [s.id for s in window] == [ids[0], ids[1]]
    assert score_history(engine, "elders") == []

    zorg = activity_history(engine, ORG, "zorg")
    assert [moment for moment, _, _ in zorg] == [s.measured_at for s in history]
    assert all(score == 100.0 for _, score, _ in zorg)
    parkeren = activity_history(engine, ORG, "parkeren")
    assert all(failed == ("NA009",) for _, _, failed in parkeren)  # never logged

    # Figures only: no trace ids, URIs of unknown activities or pseudonyms are stored.
    with engine.connect() as conn:
        stored = repr(conn.execute(select(compliance_snapshot)).all())
        stored += repr(conn.execute(select(compliance_activity_score)).all())
    assert uri("bestaat-niet") not in stored and BSN not in stored
    assert "0000000000" not in stored
