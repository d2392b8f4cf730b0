"""Tables of the logbook: append-only log records in hash chains, and the head of every chain.

A chain is identified by (organisation_id, chain_partition). Every record carries its sequence
number in the chain, the hash of the record before it (`prev_hash`) and its own hash over its
stored fields and `prev_hash` (see `glazenstad.logbook.chain`). `log_chain_head` holds the last
sequence and hash of each chain: writers lock that row so concurrent batches cannot fork a chain,
and `verify` compares it with the last record so a deleted tail is detected too.

Records removed after their retention leave gaps in a chain. Each batch of removals writes a
deletion receipt (`log_deletion_receipt`) with one `log_deletion_range` per contiguous run of
deleted sequence numbers: its count and the chain anchors around it (the `prev_hash` of the first
deleted record and the `record_hash` of the last), so `verify` can still check the links across
every gap. Receipts are themselves chained per (organisation, partition) and, like log records,
append-only. `log_retention_run` keeps one row per retention run for measuring how late
retention is applied (see `glazenstad.logbook.retention`).
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
    # The idempotency key, which also serves reads by trace (migration 0006; SQLite keeps the
    # older pair uq_log_record_span (organisation_id, span_id, trace_id) + ix_log_record_trace).
    # On PostgreSQL log_record is partitioned by month of start_time_ms (migration 0014, ADR 14):
    # both unique keys live in the unpartitioned table log_record_key, filled by a trigger, and
    # log_record has plain indexes on the same columns (see glazenstad.logbook.partitions).
    UniqueConstraint("organisation_id", "trace_id", "span_id", name="uq_log_record_trace"),
    UniqueConstraint("organisation_id", "chain_partition", "sequence", name="uq_log_record_chain"),
    Index("ix_log_record_subject", "data_subject_pseudonym", "start_time_ms"),
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

log_deletion_receipt = Table(
    "log_deletion_receipt",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("chain_partition", String(40), nullable=False),
    # 1, 2, 3, … per chain: a removed receipt shows as a missing number.
    Column("receipt_number", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=False),
    # The moment the run took as "now" (deletion time; lateness is measured against it).
    Column("ran_at", UTCDateTime(), nullable=False),
    Column("deleted", BigInteger, nullable=False),
    Column("first_sequence", BigInteger, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    # Deleted records per processing activity URI.
    Column("by_activity", JSON, nullable=False),
    # Lateness of the deleted records (deletion time minus expiry), in milliseconds.
    Column("lateness_max_ms", BigInteger, nullable=False),
    Column("lateness_median_ms", BigInteger, nullable=False),
    Column("lateness_p95_ms", BigInteger, nullable=False),
    Column("prev_receipt_hash", String(64), nullable=False),
    Column("receipt_hash", String(64), nullable=False),
    UniqueConstraint(
        "organisation_id", "chain_partition", "receipt_number", name="uq_log_deletion_receipt"
    ),
)

log_deletion_range = Table(
    "log_deletion_range",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("receipt_id", BigId, ForeignKey("log_deletion_receipt.id"), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("chain_partition", String(40), nullable=False),
    Column("first_sequence", BigInteger, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    # prev_hash of the first deleted record: the record_hash of the record before the gap.
    Column("first_prev_hash", String(64), nullable=False),
    # record_hash of the last deleted record: the prev_hash of the record after the gap.
    Column("last_hash", String(64), nullable=False),
    # Ranges never overlap: a sequence number is deleted once.
    UniqueConstraint(
        "organisation_id", "chain_partition", "first_sequence", name="uq_log_deletion_range"
    ),
)

log_retention_run = Table(
    "log_retention_run",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, unique=True),
    # None: the run covered every organisation.
    Column("organisation_id", String(80), nullable=True),
    Column("ran_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("examined", BigInteger, nullable=False),
    Column("deleted", BigInteger, nullable=False),
    Column("receipts", Integer, nullable=False),
    # Of `deleted`, the records removed by dropping whole monthly partitions (PostgreSQL).
    Column("dropped", BigInteger, nullable=False, server_default="0"),
    Column("lateness_max_ms", BigInteger, nullable=True),
    Column("lateness_median_ms", BigInteger, nullable=True),
    Column("lateness_p95_ms", BigInteger, nullable=True),
    # Records kept, per reason.
    Column("kept", JSON, nullable=False),
)
