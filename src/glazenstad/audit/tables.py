"""The audit trail's one table, append-only in the database (migration 0013).

The Logboek Dataverwerkingen keeps employees out of log records; who changed the rules and the
register belongs in a separate audit trail, linked to the logbook by trace id where a change came
through a logged request. This is that trail.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from glazenstad.db.base import UTCDateTime, metadata

audit_event = Table(
    "audit_event",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("organisation_id", String(80), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("trace_id", String(32), nullable=True),
    Index("ix_audit_event_org_at", "organisation_id", "at"),
)
