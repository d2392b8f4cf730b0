"""The message a front node publishes per accepted batch, and reading it back.

A message holds one organisation's validated records, already pseudonymised: the field
`data_subject_pseudonym` replaces the plain identifier, which never enters the queue. It is
msgspec JSON (readable with any NATS tool, fast to encode and decode). The batch id is a digest
of the organisation and the records, used as JetStream's `Nats-Msg-Id`: the same batch
published twice within the duplicate window is stored once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec

from glazenstad.logbook.record import LogRecord

FORMAT = 1


class QueuedRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One validated record; the data subject only as the pseudonym of the current key."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time: int
    end_time: int
    status: str
    processing_activity_id: str
    data_subject_pseudonym: str | None
    data_subject_id_type: str | None
    processor: str | None
    resource: dict[str, Any] | None
    attributes: dict[str, Any]


class QueuedBatch(msgspec.Struct, forbid_unknown_fields=True):
    """What a writer receives: whose records, since when the platform answers for them."""

    format: int
    batch_id: str
    organisation_id: str
    accepted_at: datetime
    records: list[QueuedRecord]


class MessageError(ValueError):
    """A queue message that is not a batch of this format (never retried: it cannot improve)."""


_RECORDS = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(QueuedBatch)


def queued(record: LogRecord) -> QueuedRecord:
    """A pseudonymised LogRecord (see `LogStore.pseudonymise`) as it goes into the queue."""
    return QueuedRecord(
        trace_id=record.trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        name=record.name,
        start_time=record.start_time,
        end_time=record.end_time,
        status=record.status,
        processing_activity_id=record.processing_activity_id,
        data_subject_pseudonym=record.data_subject_id,
        data_subject_id_type=record.data_subject_id_type,
        processor=record.processor,
        resource=record.resource,
        attributes=record.attributes,
    )


def encode_batch(
    organisation_id: str, records: list[LogRecord], accepted_at: datetime
) -> tuple[str, bytes]:
    """(batch id, message body) of pseudonymised records."""
    items = [queued(r) for r in records]
    digest = hashlib.sha256(organisation_id.encode() + b"\n" + _RECORDS.encode(items))
    batch_id = digest.hexdigest()[:32]
    body = _RECORDS.encode(QueuedBatch(FORMAT, batch_id, organisation_id, accepted_at, items))
    return batch_id, body


def decode_batch(body: bytes) -> QueuedBatch:
    try:
        batch = _DECODER.decode(body)
    except msgspec.MsgspecError as exc:
        raise MessageError(f"not a queued log record batch: {exc}") from None
    if batch.format != FORMAT:
        raise MessageError(f"queued batch format {batch.format}; this writer reads {FORMAT}")
    return batch


def log_records(batch: QueuedBatch) -> list[LogRecord]:
    """The batch's records for `LogStore.ingest(..., pseudonymised=True)`."""
    return [
        LogRecord(
            trace_id=r.trace_id,
            span_id=r.span_id,
            parent_span_id=r.parent_span_id,
            name=r.name,
            start_time=r.start_time,
            end_time=r.end_time,
            status=r.status,
            processing_activity_id=r.processing_activity_id,
            data_subject_id=r.data_subject_pseudonym,
            data_subject_id_type=r.data_subject_id_type,
            processor=r.processor,
            resource=r.resource,
            attributes=r.attributes,
        )
        for r in batch.records
    ]
