"""Tables of the rules domain: policy versions, their lifecycle events, and the decision log.

All three are append-only. A policy version's status is its newest lifecycle event, so "who
activated what, when" is never overwritten.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from glazenstad.db.base import UTCDateTime, metadata

policy_version = Table(
    "policy_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("document", JSON, nullable=False),
    Column("source", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("organisation_id", "content_hash", name="uq_policy_version_hash"),
)

policy_event = Table(
    "policy_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("policy_version.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text, nullable=True),
    Index("ix_policy_event_version", "version_id", "id"),
)

decision_log = Table(
    "decision_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("decision_id", String(32), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("policy_version", String(64), nullable=True),
    Column("compiled_hash", String(64), nullable=True),
    Column("engine_version", String(40), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("purpose", String(600), nullable=False),
    Column("action", String(20), nullable=False),
    Column("data_category", String(80), nullable=False),
    Column("role", String(200), nullable=False),
    Column("department", String(200), nullable=False),
    Column("effect", String(10), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("rules", JSON, nullable=False),
    Column("break_glass", Boolean, nullable=False),
    Column("request", JSON, nullable=False),
    # On PostgreSQL decision_log is partitioned by month of decided_at (migration 0015, ADR 16):
    # its primary key is (id, decided_at), the unique decision id lives in the unpartitioned
    # table decision_log_key (below), filled by a trigger, and decision_log has a plain index
    # ix_decision_log_decision_id for reads by id (see glazenstad.rules.partitions).
    UniqueConstraint("decision_id", name="uq_decision_log_decision_id"),
    Index("ix_decision_log_org_time", "organisation_id", "decided_at"),
)

# PostgreSQL only (migration 0015): every stored decision id, unique across all months. Not in
# `metadata`, which describes the tables of both databases; SQLite keeps the unique constraint
# on decision_log itself.
decision_log_key = Table(
    "decision_log_key",
    MetaData(),
    Column("decision_id", String(32), primary_key=True),
)
