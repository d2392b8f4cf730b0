"""Tables of insight.signals: the signals staff file, and the history of each one.

`signal` holds a signal as it stands now: which decision and rule it is about, who answers for
that rule, its state and the owner's latest response. What the rule was called and who owned it
are copied in when the signal is filed, so a signal still reads as it was meant after the rule
is renamed, moved to another owner or removed.

`signal_event` is the signal's history: one row per step (filed, taken under review, answered),
with who, when, the state before and after, and the text that came with it. It is append-only:
the database refuses UPDATE and DELETE on it (migration 0010), so "who answered what, when" can
never be rewritten, only added to.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from glazenstad.db.base import UTCDateTime, metadata

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (64-bit anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")

signal = Table(
    "signal",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    # The decision receipt (decision_log.decision_id) the signal is about.
    Column("decision_id", String(32), nullable=False),
    # NULL when the denial came from no rule (e.g. the purpose is not in the register).
    Column("rule_id", String(80), nullable=True),
    Column("rule_title", String(200), nullable=False),
    # The department or role that answers for the rule (see insight.signals.rules).
    Column("owner", String(200), nullable=False),
    # The processing activity the decision was about (its id when the register knows it).
    Column("purpose", String(600), nullable=False),
    Column("state", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("response", Text, nullable=True),
    Column("filed_by", String(80), nullable=False),
    Column("filed_at", UTCDateTime(), nullable=False),
    # When the state last changed (the filing moment until then).
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_signal_org_filed", "organisation_id", "filed_at"),
    Index("ix_signal_org_owner_state", "organisation_id", "owner", "state"),
    Index("ix_signal_decision", "decision_id"),
)

signal_event = Table(
    "signal_event",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("signal_id", BigId, ForeignKey("signal.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # The staff member's id (from the staff directory).
    Column("by", String(80), nullable=False),
    # NULL for the filing itself.
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=False),
    Column("text", Text, nullable=True),
    Index("ix_signal_event_signal", "signal_id", "id"),
)
