"""Tables of the register domain: loads, their approval, and append-only entry versions.

Nothing here is ever updated or deleted: a changed entry is a new version row, a removed entry a
tombstone row. "Entry X as of time T" is the newest version of X recorded at or before T.

A load is first a proposal: its changes wait in `register_proposed_entry` and become entry
versions only when a second person approves it (`register_load_event`, four-eyes rule), so
`register_entry_version` only ever holds what was in force, from the moment it was approved.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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

register_load = Table(
    "register_load",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loaded_at", UTCDateTime(), nullable=False),
    Column("loaded_by", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("organisations", JSON, nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
)

register_entry_version = Table(
    "register_entry_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", Integer, ForeignKey("register_load.id"), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("entry_id", String(80), nullable=False),
    Column("uri", String(600), nullable=False),
    Column("version", Integer, nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("removed", Boolean, nullable=False, default=False),
    Column("name", String(200), nullable=False),
    Column("document", JSON, nullable=False),
    Column("source_file", Text, nullable=True),
    Column("source_line", Integer, nullable=True),
    UniqueConstraint("organisation_id", "kind", "entry_id", "version", name="uq_entry_version"),
    Index("ix_entry_version_asof", "organisation_id", "kind", "entry_id", "recorded_at"),
    Index("ix_entry_version_uri", "uri", "recorded_at"),
)

register_load_event = Table(
    "register_load_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", Integer, ForeignKey("register_load.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text, nullable=True),
    UniqueConstraint("load_id", "status", name="uq_register_load_event_status"),
)
"""The lifecycle of a load: `proposed`, then `approved` (at most once each; the ids order them)."""

register_proposed_entry = Table(
    "register_proposed_entry",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", Integer, ForeignKey("register_load.id"), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("entry_id", String(80), nullable=False),
    Column("uri", String(600), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("removed", Boolean, nullable=False, default=False),
    Column("name", String(200), nullable=False),
    Column("document", JSON, nullable=False),
    Column("source_file", Text, nullable=True),
    Column("source_line", Integer, nullable=True),
    Index("ix_register_proposed_entry_load", "load_id", "id"),
)
"""The versions a load proposes, kept as proposed (also after approval, as evidence)."""
