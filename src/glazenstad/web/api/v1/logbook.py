"""Logbook API: log records in (JSON batches), acknowledged only once committed.

A record that fails validation is refused on its own, with its index and reason; the rest of
the batch is stored. A record for an activity that is not in the register is stored and
flagged, because refusing a log record would lose evidence.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from glazenstad.web.api.v1.common import SLUG, ApiModel, problem_responses
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Logboek"])
MAX_RECORDS = 10_000


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
    first_sequence: int | None = Field(description="Chain position of the first accepted record.")
    last_sequence: int | None = Field(description="Chain position of the last accepted record.")


@router.post(
    "/logboek/records",
    response_model=IngestOut,
    operation_id="ingestLogRecords",
    summary=f"Store a batch of log records (at most {MAX_RECORDS})",
    responses=problem_responses(400, 500),
)
async def ingest_records(batch: RecordBatch, state: AppState = Depends(get_state)) -> Any:
    result = await run_in_threadpool(state.logbook.ingest, batch.organisation_id, batch.records)
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        unknown_activity=result.unknown_activity,
        rejected=[RejectedRecord(index=r.index, reason=r.reason) for r in result.rejected],
        first_sequence=result.first_sequence,
        last_sequence=result.last_sequence,
    )
