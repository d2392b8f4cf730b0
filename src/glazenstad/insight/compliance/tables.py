"""Tables of insight.compliance: snapshots of measured compliance, for its history.

A snapshot is what one run of the checks found at one moment: the overall score, each check's
status and count, and the score of every activity. It holds no evidence with identifiers (no
trace or decision ids): the history is published as figures, the evidence is looked up fresh.
Snapshots are only ever added, never changed; `weighting_version` says which weights made the
score, so a change in method is not mistaken for a change in practice.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from glazenstad.db.base import UTCDateTime, metadata

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (64-bit anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")

compliance_snapshot = Table(
    "compliance_snapshot",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    # The moment the checks measured ("now" of the run).
    Column("measured_at", UTCDateTime(), nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
    Column("stored_by", String(200), nullable=False),
    Column("weighting_version", String(20), nullable=False),
    Column("overall_score", Float(precision=53), nullable=False),
    Column("activities_scored", Integer, nullable=False),
    Column("checks_failed", Integer, nullable=False),
    Column("checks_measured", Integer, nullable=False),
    # [{code, status, count}] per check, in code order.
    Column("checks", JSON, nullable=False),
    Index("ix_compliance_snapshot_org_time", "organisation_id", "measured_at"),
)

compliance_activity_score = Table(
    "compliance_activity_score",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("snapshot_id", BigId, ForeignKey("compliance_snapshot.id"), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("activity_id", String(80), nullable=False),
    Column("score", Float(precision=53), nullable=False),
    # Codes of the activity checks it failed.
    Column("failed", JSON, nullable=False),
    Index("ix_compliance_activity_score", "organisation_id", "activity_id", "snapshot_id"),
)
