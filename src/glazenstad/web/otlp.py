"""OTLP/HTTP trace ingest (`POST /v1/traces`): spans from any OpenTelemetry SDK, unchanged.

Each span becomes one log record. A span without `dpl.core.processing_activity_id`, or one the
logbook refuses, is counted in OTLP's partial success with the reasons; the others are stored.
The organisation is the `Glazenstad-Organisation` header when the exporter sends one
(OTEL_EXPORTER_OTLP_HEADERS), else the one whose register URI the activity id starts with.
The answer is sent after the records are committed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from glazenstad.logbook.otlp import (
    OtlpError,
    decode_request,
    error_response,
    media_type,
    partial_success_response,
    spans_to_records,
)
from glazenstad.register.store import OrganisationRegister
from glazenstad.web.state import AppState

router = APIRouter(include_in_schema=False)
ORGANISATION_HEADER = "glazenstad-organisation"


def _organisation(
    organisations: dict[str, OrganisationRegister], header: str | None, record: dict[str, Any]
) -> str | None:
    if header:
        return header if header in organisations else None
    activity = str(record.get("attributes", {}).get("dpl.core.processing_activity_id", ""))
    for organisation_id, register in organisations.items():
        if activity.startswith(register.org.register_uri.rstrip("/") + "/"):
            return organisation_id
    return None


@router.post("/v1/traces")
async def export_traces(request: Request) -> Response:
    state: AppState = request.app.state.glazenstad
    content_type = request.headers.get("content-type")
    answer_type = media_type(content_type) if content_type else "application/x-protobuf"
    try:
        message = decode_request(
            await request.body(), content_type, request.headers.get("content-encoding")
        )
    except OtlpError as exc:
        return Response(
            error_response(str(exc), answer_type), status_code=exc.status, media_type=answer_type
        )
    header = request.headers.get(ORGANISATION_HEADER)
    organisations = state.register.snapshot().organisations  # once: it may ask the database
    reasons: list[str] = []
    batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index, (record, reason) in enumerate(spans_to_records(message)):
        if record is None:
            reasons.append(f"span {index}: {reason}")
            continue
        organisation = _organisation(organisations, header, record)
        if organisation is None:
            reasons.append(
                f"span {index}: the activity id belongs to no organisation here "
                "(send the Glazenstad-Organisation header)"
            )
            continue
        batches[organisation].append(record)
    for organisation, records in batches.items():
        result = await run_in_threadpool(state.logbook.ingest, organisation, records)
        reasons += [f"{organisation} record {r.index}: {r.reason}" for r in result.rejected]
    body = partial_success_response(len(reasons), "; ".join(reasons[:20]), answer_type)
    return Response(body, status_code=200, media_type=answer_type)
