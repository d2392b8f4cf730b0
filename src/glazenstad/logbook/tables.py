"""Tables of the logbook: append-only log records in hash chains, and the head of every chain.

A chain is identified by (organisation_id, chain_partition). Every record carries its sequence
number in the chain, the hash of the record before it (`prev_hash`) and its own hash over its
stored fields and `prev_hash` (see `glazenstad.logbook.chain`). `log_chain_head` holds the last
sequence and hash of each chain: writers lock that row so concurrent batches cannot fork a chain,
and `verify` compares it with the last record so a deleted tail is detected too.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from glazenstad.db.base import UTCDateTime, metadata

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (64-bit anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")

DEFAULT_PARTITION = "main"
GENESIS_HASH = "0" * 64

log_record = Table(
    "log_record",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("chain_partition", String(40), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_span_id", String(16), nullable=True),
    Column("name", Text, nullable=False),
    # Milliseconds since the epoch, exactly as the standard sends them (no rounding, exact hash).
    Column("start_time_ms", BigInteger, nullable=False),
    Column("end_time_ms", BigInteger, nullable=False),
    Column("status", String(5), nullable=False),
    Column("processing_activity_id", String(600), nullable=False),
    # False: the URI did not resolve to a processing activity of this organisation in the
    # register at start time ("processing without a registered purpose"); kept as evidence.
    Column("activity_known", Boolean, nullable=False),
    Column("activity_version", Integer, nullable=True),
    Column("data_subject_pseudonym", String(120), nullable=True),
    Column("data_subject_id_type", String(200), nullable=True),
    Column("processor", String(600), nullable=True),
    Column("resource", JSON, nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False),
    # Idempotency key; span_id before trace_id so a batch's duplicates are found with one
    # `span_id IN (…)` lookup on this index.
    UniqueConstraint("organisation_id", "span_id", "trace_id", name="uq_log_record_span"),
    UniqueConstraint("organisation_id", "chain_partition", "sequence", name="uq_log_record_chain"),
    Index("ix_log_record_subject", "data_subject_pseudonym", "start_time_ms"),
    Index("ix_log_record_trace", "trace_id"),
    Index("ix_log_record_activity", "organisation_id", "processing_activity_id", "start_time_ms"),
)

log_chain_head = Table(
    "log_chain_head",
    metadata,
    Column("organisation_id", String(80), nullable=False),
    Column("chain_partition", String(40), nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("organisation_id", "chain_partition", name="pk_log_chain_head"),
)
