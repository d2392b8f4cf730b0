"""Tables of insight.incidents: data breaches, their history, and reviews of break-the-glass.

`data_breach` holds the current state of each breach (what happened, the notification
decisions, the status), so lists and the 72-hour check are one indexed query. Every change to
it is also written, in the same transaction, as a row of `data_breach_event`: who did what,
when, with the fields before and after. That history is append-only (migration 0009 makes the
database refuse UPDATE and DELETE on it): it is the evidence that a decision was taken in time,
so it must not be rewritten afterwards. `revision` counts the changes of a breach; an update
names the revision it read, so two people editing at once cannot silently overwrite each other.

`break_glass_review` holds the review of a decision that set a rule aside under break-the-glass
(`decision_log.break_glass`). One decision has at most one review (unique on decision_id), and
reviews are append-only as well: a verdict is final.

`ix_decision_log_break_glass` is an index on the rules domain's `decision_log`, declared here
because only the review needs it: break-the-glass decisions are a tiny share of all decisions,
so "the unreviewed ones of this month" would otherwise read every decision of the month. It is
partial (only rows with break_glass true), so it costs the hot insert path nothing for ordinary
decisions and stays small.
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
    String,
    Table,
    Text,
    UniqueConstraint,
)

from glazenstad.db.base import UTCDateTime, metadata
from glazenstad.rules.tables import decision_log

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (64-bit anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")

data_breach = Table(
    "data_breach",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("title", String(200), nullable=False),
    # What happened, in the words of whoever registered it (no personal identifiers).
    Column("description", Text, nullable=False),
    # When the organisation became aware of it: the 72 hours of AVG art. 33 count from here.
    Column("discovered_at", UTCDateTime(), nullable=False),
    # When it happened, as far as known (either or both may be unknown).
    Column("occurred_from", UTCDateTime(), nullable=True),
    Column("occurred_until", UTCDateTime(), nullable=True),
    # Ids of processing activities in the organisation's register.
    Column("activities", JSON, nullable=False),
    # Ids of data categories in the organisation's register.
    Column("data_categories", JSON, nullable=False),
    Column("estimated_subjects", BigInteger, nullable=True),
    # open, notified, not-notifiable, closed (see glazenstad.insight.incidents.breaches).
    Column("status", String(20), nullable=False),
    # Notification to the Autoriteit Persoonsgegevens (art. 33): None is "not decided yet".
    Column("authority_notify", Boolean, nullable=True),
    Column("authority_reason", Text, nullable=True),
    Column("authority_decided_at", UTCDateTime(), nullable=True),
    Column("authority_notified_at", UTCDateTime(), nullable=True),
    Column("authority_reference", String(100), nullable=True),
    # Notification to the people concerned (art. 34): None is "not decided yet".
    Column("residents_notify", Boolean, nullable=True),
    Column("residents_reason", Text, nullable=True),
    Column("residents_decided_at", UTCDateTime(), nullable=True),
    Column("residents_notified_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("registered_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("revision", Integer, nullable=False),
    # Lists per organisation, newest discovery first; the overdue check filters on status.
    Index("ix_data_breach_org_discovered", "organisation_id", "discovered_at"),
)

data_breach_event = Table(
    "data_breach_event",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("breach_id", BigId, ForeignKey("data_breach.id"), nullable=False),
    # The breach's revision after this change (1 for the registration).
    Column("revision", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # Who: a staff id ("fg") or "cli:<user>"; and the name shown to readers.
    Column("by_id", String(200), nullable=False),
    Column("by_name", String(200), nullable=False),
    # registered, facts-changed, authority-decided, authority-notified, residents-decided,
    # closed.
    Column("action", String(40), nullable=False),
    # {field: [before, after]} in JSON form (instants as ISO 8601 UTC).
    Column("changes", JSON, nullable=False),
    Column("note", Text, nullable=True),
    UniqueConstraint("breach_id", "revision", name="uq_data_breach_event_revision"),
)

break_glass_review = Table(
    "break_glass_review",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    # decision_log.decision_id; at most one review per decision.
    Column("decision_id", String(32), nullable=False),
    Column("reviewer_id", String(200), nullable=False),
    Column("reviewer_name", String(200), nullable=False),
    # justified or unjustified.
    Column("verdict", String(20), nullable=False),
    Column("note", Text, nullable=True),
    Column("reviewed_at", UTCDateTime(), nullable=False),
    UniqueConstraint("decision_id", name="uq_break_glass_review_decision"),
)

ix_decision_log_break_glass = Index(
    "ix_decision_log_break_glass",
    decision_log.c.organisation_id,
    decision_log.c.decided_at,
    postgresql_where=decision_log.c.break_glass.is_(True),
    sqlite_where=decision_log.c.break_glass.is_(True),
)
