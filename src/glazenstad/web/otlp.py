"""OTLP/HTTP trace ingest (`POST /v1/traces`): spans from any OpenTelemetry SDK, unchanged.

Each span becomes one log record. A span without `dpl.core.processing_activity_id`, or one the
logbook refuses, is counted in OTLP's partial success with the reasons; the others are stored.
The exporter authenticates as a system with the `logbook:write` scope (a bearer token in
OTEL_EXPORTER_OTLP_HEADERS); its spans are stored for the client's own organisation, and a span
whose activity id belongs to another organisation's register is refused. A
`Glazenstad-Organisation` header, when sent, must name the client's organisation. The answer is
sent after the records are committed, or, with a JetStream ingest queue (docs/scaling.md),
after JetStream stored them; a queue that does not confirm is a 503 with Retry-After, which
OTLP exporters retry.
"""

from __future__ import annotations

import logging
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
from glazenstad.logbook.stream import StreamUnavailable
from glazenstad.logbook.stream_publish import StreamPublisher
from glazenstad.register.store import OrganisationRegister
from glazenstad.web.api.v1.logbook import QUEUE_UNAVAILABLE, RETRY_AFTER_QUEUE
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState
from glazenstad.web.systems import LOGBOOK_WRITE, authorise, bearer_token, require_organisation

router = APIRouter(include_in_schema=False)
_log = logging.getLogger("glazenstad.web")
ORGANISATION_HEADER = "glazenstad-organisation"


def _other_organisation(
    organisations: dict[str, OrganisationRegister], own: str, record: dict[str, Any]
) -> str | None:
    """The other organisation whose register the record's activity id is in, if any."""
    activity = str(record.get("attributes", {}).get("dpl.core.processing_activity_id", ""))
    for organisation_id, register in organisations.items():
        if organisation_id != own and activity.startswith(
            register.org.register_uri.rstrip("/") + "/"
        ):
            return organisation_id
    return None


@router.post("/v1/traces")
async def export_traces(request: Request) -> Response:
    state: AppState = request.app.state.glazenstad
    content_type = request.headers.get("content-type")
    answer_type = media_type(content_type) if content_type else "application/x-protobuf"
    try:
        client = authorise(request, bearer_token(request), LOGBOOK_WRITE)
        require_organisation(
            client, request.headers.get(ORGANISATION_HEADER) or client.organisation_id
        )
    except ProblemError as exc:
        return Response(
            error_response(str(exc.detail), answer_type),
            status_code=exc.status_code,
            media_type=answer_type,
            headers=exc.headers,
        )
    organisation = client.organisation_id
    try:
        message = decode_request(
            await request.body(), content_type, request.headers.get("content-encoding")
        )
    except OtlpError as exc:
        return Response(
            error_response(str(exc), answer_type), status_code=exc.status, media_type=answer_type
        )
    # Once per request, and in a worker: it asks the database whether the register changed.
    organisations = (await run_in_threadpool(state.register.snapshot)).organisations
    reasons: list[str] = []
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, (record, reason) in enumerate(spans_to_records(message)):
        if record is None:
            reasons.append(f"span {index}: {reason}")
            continue
        other = _other_organisation(organisations, organisation, record)
        if other is not None:
            reasons.append(
                f"span {index}: the activity id is in the register of '{other}', and this "
                f"client writes only for '{organisation}'"
            )
            continue
        records.append(record)
        positions.append(index)
    stream: StreamPublisher | None = getattr(request.app.state, "logbook_stream", None)
    if records and stream is not None:  # a queue: answered once JetStream stored the spans
        try:
            queued = await stream.publish(organisation, records)
        except StreamUnavailable as exc:
            _log.warning("OTLP spans not queued: %s", exc)
            return Response(
                error_response(QUEUE_UNAVAILABLE, answer_type),
                status_code=503,
                media_type=answer_type,
                headers={"Retry-After": str(RETRY_AFTER_QUEUE)},
            )
        reasons += [f"span {positions[r.index]}: {r.reason}" for r in queued.rejected]
    elif records:
        result = await run_in_threadpool(state.logbook.ingest, organisation, records)
        reasons += [f"span {positions[r.index]}: {r.reason}" for r in result.rejected]
    body = partial_success_response(len(reasons), "; ".join(reasons[:20]), answer_type)
    return Response(body, status_code=200, media_type=answer_type)
