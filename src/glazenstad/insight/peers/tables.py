"""Tables of insight.peers: who chose to publish their figures among peers, and when.

Append-only: the newest event of an organisation is its current choice, so "who opted in or
withdrew, when and why" is never overwritten.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from glazenstad.db.base import UTCDateTime, metadata

peer_publication_event = Table(
    "peer_publication_event",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("organisation_id", String(80), nullable=False),
    Column("published", Boolean, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text, nullable=True),
    Index("ix_peer_publication_event_org", "organisation_id", "id"),
)
