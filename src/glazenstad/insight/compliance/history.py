"""The history of measured compliance: snapshots stored after a run, read back in time order.

A snapshot keeps figures only (scores, each check's status and count), never the evidence with
its trace or decision ids, so the whole history may be shown to the council and the public.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from glazenstad.db.base import utcnow
from glazenstad.insight.compliance.model import ComplianceReport
from glazenstad.insight.compliance.tables import compliance_activity_score, compliance_snapshot


@dataclass(frozen=True)
class CheckSummary:
    code: str
    status: str
    count: int


@dataclass(frozen=True)
class Snapshot:
    id: int
    organisation_id: str
    measured_at: datetime
    stored_at: datetime
    stored_by: str
    weighting_version: str
    overall_score: float
    activities_scored: int
    checks_failed: int
    checks_measured: int
    checks: tuple[CheckSummary, ...]
    activity_scores: dict[str, float]
    """Activity id → score in this snapshot."""


def store_snapshot(engine: Engine, report: ComplianceReport, *, stored_by: str) -> int:
    """Store the figures of `report`; returns the snapshot id."""
    checks = [{"code": r.check.code, "status": r.status, "count": r.count} for r in report.checks]
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(compliance_snapshot).values(
                organisation_id=report.organisation_id,
                measured_at=report.measured_at,
                stored_at=utcnow(),
                stored_by=stored_by[:200],
                weighting_version=report.weighting_version,
                overall_score=report.overall_score,
                activities_scored=len(report.activities),
                checks_failed=len(report.failed),
                checks_measured=len(report.measured),
                checks=checks,
            )
        ).inserted_primary_key
        assert inserted is not None
        snapshot_id = int(inserted[0])
        if report.activities:
            conn.execute(
                insert(compliance_activity_score),
                [
                    {
                        "snapshot_id": snapshot_id,
                        "organisation_id": report.organisation_id,
                        "activity_id": a.activity_id,
                        "score": a.score,
                        "failed": list(a.failed),
                    }
                    for a in report.activities
                ],
            )
    return snapshot_id


def score_history(
    engine: Engine,
    organisation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[Snapshot]:
    """Snapshots of the organisation, oldest first (with `limit`: the newest `limit` of them)."""
    s, a = compliance_snapshot, compliance_activity_score
    query = select(s).where(s.c.organisation_id == organisation_id)
    if since is not None:
        query = query.where(s.c.measured_at >= since)
    if until is not None:
        query = query.where(s.c.measured_at < until)
    query = query.order_by(s.c.measured_at.desc(), s.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = list(reversed(conn.execute(query).all()))
        ids = [int(r.id) for r in rows]
        scores: dict[int, dict[str, float]] = defaultdict(dict)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(
                select(a.c.snapshot_id, a.c.activity_id, a.c.score).where(
                    a.c.snapshot_id.in_(chunk)
                )
            ):
                scores[int(row.snapshot_id)][row.activity_id] = float(row.score)
    return [_snapshot(r, scores.get(int(r.id), {})) for r in rows]


def _snapshot(row: Any, activity_scores: dict[str, float]) -> Snapshot:
    return Snapshot(
        id=int(row.id),
        organisation_id=row.organisation_id,
        measured_at=row.measured_at,
        stored_at=row.stored_at,
        stored_by=row.stored_by,
        weighting_version=row.weighting_version,
        overall_score=float(row.overall_score),
        activities_scored=int(row.activities_scored),
        checks_failed=int(row.checks_failed),
        checks_measured=int(row.checks_measured),
        checks=tuple(
            CheckSummary(str(c["code"]), str(c["status"]), int(c["count"])) for c in row.checks
        ),
        activity_scores=dict(sorted(activity_scores.items())),
    )


def activity_history(
    engine: Engine, organisation_id: str, activity_id: str
) -> list[tuple[datetime, float, tuple[str, ...]]]:
    """(measured at, score, failed codes) of one activity over all snapshots, oldest first."""
    s, a = compliance_snapshot, compliance_activity_score
    query = (
        select(s.c.measured_at, a.c.score, a.c.failed)
        .select_from(a.join(s, s.c.id == a.c.snapshot_id))
        .where(a.c.organisation_id == organisation_id, a.c.activity_id == activity_id)
        .order_by(s.c.measured_at, s.c.id)
    )
    with engine.connect() as conn:
        return [(r.measured_at, float(r.score), tuple(r.failed or ())) for r in conn.execute(query)]
