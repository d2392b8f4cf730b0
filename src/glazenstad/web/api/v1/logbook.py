"""Logbook API: log records in (JSON batches, acknowledged once committed) and the read extension.

A record that fails validation is refused on its own, with its index and reason; the rest of
the batch is stored. A record for an activity that is not in the register is stored and
flagged, because refusing a log record would lose evidence.
"""

import json
import logging
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from msgspec import Raw
from pydantic import Field, ValidationError

from glazenstad.logbook.decode import decode_envelope, decode_records
from glazenstad.logbook.read import (
    ReadError,
    ReadFilter,
    ReadResult,
    access_request_record,
    read_processing,
)
from glazenstad.logbook.store import IngestResult
from glazenstad.logbook.stream import StreamUnavailable
from glazenstad.logbook.stream_publish import StreamPublisher
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.web.api.v1.common import SLUG, SYSTEM_ERRORS, ApiModel, problem_responses
from glazenstad.web.problems import ProblemError
from glazenstad.web.readlag import LAG_HEADER_DOC, lag_headers, replica_age
from glazenstad.web.state import AppState, get_state
from glazenstad.web.systems import (
    LOGBOOK_READ,
    LOGBOOK_WRITE,
    SystemClient,
    api_system,
    require_organisation,
)

router = APIRouter(tags=["Logboek"])
_log = logging.getLogger("glazenstad.web")
MAX_RECORDS = 10_000
_SLUG = re.compile(SLUG)


class RecordBatch(ApiModel):
    organisation_id: Annotated[str, Field(pattern=SLUG, examples=["voorbeeldstad"])]
    records: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_RECORDS,
        description="Log records in the Logboek Dataverwerkingen format (trace_id, span_id, "
        "parent_span_id, name, start_time, end_time, status, resource, attributes).",
    )


class RejectedRecord(ApiModel):
    index: int = Field(description="Position of the record in the batch, from 0.")
    reason: str


class IngestOut(ApiModel):
    accepted: int = Field(description="Records committed now.")
    duplicates: int = Field(description="Records that were already stored (idempotent).")
    unknown_activity: int = Field(
        description="Accepted records whose processing activity is not in the register at "
        "their time: processing without a registered purpose."
    )
    rejected: list[RejectedRecord]
    chain_partition: str | None = Field(
        description="The hash chain of the organisation the accepted records joined "
        "(sequence numbers count per chain)."
    )
    first_sequence: int | None = Field(description="Chain position of the first accepted record.")
    last_sequence: int | None = Field(description="Chain position of the last accepted record.")


async def _record_batch(request: Request) -> tuple[str, list[Any]]:
    """The organisation and its records, read with the typed batch decoder when it can.

    Only a batch the typed decoder cannot read (or whose envelope is invalid) is read again
    the general way, so that bad input gets the same 400 answer as every other API body.
    """
    body = await request.body()
    envelope = decode_envelope(body)
    if (
        envelope is not None
        and _SLUG.fullmatch(envelope.organisation_id)
        and 1 <= len(envelope.records) <= MAX_RECORDS
        and all(memoryview(raw)[:1].tobytes() == b"{" for raw in envelope.records)  # objects only
    ):
        return envelope.organisation_id, envelope.records
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", getattr(exc, "pos", 0)),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": getattr(exc, "msg", str(exc))},
                }
            ]
        ) from None
    try:
        batch = RecordBatch.model_validate(document)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    return batch.organisation_id, batch.records


def _ingest(state: AppState, organisation_id: str, records: list[Any]) -> IngestResult:
    decoded = decode_records(records) if records and isinstance(records[0], Raw) else records
    return state.logbook.ingest(organisation_id, decoded)


class QueuedOut(ApiModel):
    """The answer of a front node with a JetStream queue (GLAZENSTAD_NATS_URL set)."""

    stored: Literal["queued"] = Field(
        description="The valid records are stored durably in the queue (JetStream acknowledged "
        "them); a logbook writer commits them to the logbook shortly."
    )
    queued: int = Field(description="Records queued for the logbook.")
    duplicates: int = Field(
        description="Records repeated earlier in this batch. Records already in the logbook "
        "are recognised when written (idempotent) and not stored twice."
    )
    rejected: list[RejectedRecord]
    batch_id: str | None = Field(
        description="Id of the queued batch (also JetStream's message id; the same batch "
        "sent again is queued once). None when no record was valid."
    )


QUEUE_UNAVAILABLE = (
    "Het logboek kan deze records nu niet aannemen. Stuur dezelfde aanvraag opnieuw na het "
    "aantal seconden in Retry-After; dubbel versturen kan geen kwaad. (The logbook queue did "
    "not confirm storing the batch; re-sending it is harmless.)"
)
RETRY_AFTER_QUEUE = 2


async def _queue(stream: StreamPublisher, organisation_id: str, records: list[Any]) -> JSONResponse:
    """Screen, pseudonymise and queue the batch; 202 only after JetStream stored it."""
    decoded = decode_records(records) if records and isinstance(records[0], Raw) else records
    try:
        result = await stream.publish(organisation_id, decoded)
    except StreamUnavailable as exc:
        _log.warning("log record batch not queued: %s", exc)
        raise ProblemError(
            503, QUEUE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_QUEUE)}
        ) from exc
    body = QueuedOut(
        stored="queued",
        queued=len(result.queued_indexes),
        duplicates=len(result.duplicate_indexes),
        rejected=[RejectedRecord(index=r.index, reason=r.reason) for r in result.rejected],
        batch_id=result.batch_id,
    )
    return JSONResponse(body.model_dump(by_alias=True, mode="json"), status_code=202)


@router.post(
    "/logboek/records",
    response_model=IngestOut,
    operation_id="ingestLogRecords",
    summary=f"Store a batch of log records (at most {MAX_RECORDS})",
    description="200: the accepted records are committed to the logbook. 202 (only on a "
    "platform with a JetStream ingest queue): the valid records are stored durably in the "
    "queue and committed by a logbook writer shortly; rejected records are answered at once "
    "either way. See docs/scaling.md.",
    responses={
        202: {
            "model": QueuedOut,
            "description": "Queued: the valid records are stored durably in the ingest queue.",
        },
        **SYSTEM_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": RecordBatch.model_json_schema(by_alias=True, mode="validation")
                }
            },
        }
    },
)
async def ingest_records(
    request: Request,
    client: SystemClient = Depends(api_system(LOGBOOK_WRITE)),
    batch: tuple[str, list[Any]] = Depends(_record_batch),
    state: AppState = Depends(get_state),
) -> Any:
    organisation_id, records = batch
    require_organisation(client, organisation_id)
    stream: StreamPublisher | None = getattr(request.app.state, "logbook_stream", None)
    if stream is not None:
        return await _queue(stream, organisation_id, records)
    result = await run_in_threadpool(_ingest, state, organisation_id, records)
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        unknown_activity=result.unknown_activity,
        rejected=[RejectedRecord(index=r.index, reason=r.reason) for r in result.rejected],
        chain_partition=result.chain_partition,
        first_sequence=result.first_sequence,
        last_sequence=result.last_sequence,
    )


ACCESS_ACTIVITY = "inzageverzoeken"


def _read_and_log(
    state: AppState, organisation_id: str, filter: ReadFilter, page: int, page_size: int
) -> tuple[ReadResult, float | None]:
    """The read, the replica's age and the logged read, in one worker thread.

    Each step asks the database, so none may run on the event loop; one hop to a worker
    instead of one per step keeps the read's latency to the queries themselves.
    """
    snapshot = state.register.snapshot()
    register = snapshot.organisation(organisation_id)
    if register is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    started = int(time.time() * 1000)
    try:
        # On the read replica when one is configured (the primary when it is away).
        result, source = state.reads.read(
            lambda engine: read_processing(
                engine,
                state.register,
                state.logbook.pseudonymizer,
                organisation_id,
                filter,
                resident=False,
                page=page,
                page_size=page_size,
                snapshot=snapshot,
            )
        )
    except ReadError as exc:
        raise ProblemError(400, str(exc)) from exc
    stale = replica_age(state.reads, source, state.settings.database_read_lag_notice_s)
    access = access_request_record(
        entry_uri(register.org.register_uri, KIND_ACTIVITY, ACCESS_ACTIVITY),
        subject_id=filter.data_subject_id,
        subject_id_type=filter.data_subject_id_type,
        start_time_ms=started,
    )
    state.logbook.ingest(organisation_id, [access])
    return result, stale


@router.post(
    "/logboek/processing-activities",
    operation_id="readLogbook",
    summary="Read the logbook (LDV read extension): by trace, processing activity or data subject",
    responses={
        200: {
            "description": "The read extension's answer: metadata, processingActivities "
            "(each with traceId, spanId, status, name, startTime, endTime, parentSpanId, "
            "resource, attributes) and pagination.",
            "content": {"application/json": {"schema": {"type": "object"}}},
            "headers": LAG_HEADER_DOC,
        },
        **SYSTEM_ERRORS,
        **problem_responses(404),
    },
)
async def read_logbook(
    filter: ReadFilter,
    organisation_id: Annotated[
        str, Query(alias="organisationId", pattern=SLUG, examples=["voorbeeldstad"])
    ],
    # At most 100 pages of 100: the window stays within the read's cap of 10,000 records.
    page: Annotated[int, Query(ge=1, le=100)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 100,
    state: AppState = Depends(get_state),
    client: SystemClient = Depends(api_system(LOGBOOK_READ)),
) -> JSONResponse:
    """Every read is itself a processing: it is logged under the access-request activity."""
    require_organisation(client, organisation_id)
    result, stale = await run_in_threadpool(
        _read_and_log, state, organisation_id, filter, page, page_size
    )
    return JSONResponse(result.to_response(), headers=lag_headers(stale))
