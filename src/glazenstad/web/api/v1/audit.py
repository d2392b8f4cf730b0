"""Audit trail API: who changed the register or the rules of an organisation, when and why.

For staff with `insight:read` of that organisation only (another organisation's address answers
404, as everywhere). The trail names employees, which the logbook itself never does; where a
change came through a logged request, `traceId` links it to the logbook's processing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, Field

from glazenstad.audit.trail import ACTIONS, count_events, read_events
from glazenstad.web import staff
from glazenstad.web.api.v1.common import (
    ApiModel,
    OrgId,
    PageParams,
    described_problem,
    moment_in_range,
    page_model,
    page_of,
    problem_responses,
    registered_organisation,
)
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Audit"])

STAFF_ERRORS = {
    **problem_responses(400, 401, 404, 500),
    **described_problem(403, "The staff member lacks the permission this needs (insight:read)."),
}


class AuditEventModel(ApiModel):
    """One change to the register or the rules (or a refused attempt), as recorded."""

    id: int = Field(description="Position in the trail (higher is later).")
    organisation_id: str
    at: datetime = Field(description="When (UTC).")
    actor: str = Field(description="Who: the person named with --by.")
    action: str = Field(
        description="What: " + ", ".join(ACTIONS) + ".", examples=["policy.activated"]
    )
    action_label: str = Field(description="What, in plain Dutch.")
    subject: str = Field(description="A register load id, or a policy version's content hash.")
    reason: str | None = Field(description="Why, as the person wrote it.")
    trace_id: str | None = Field(
        description="W3C trace id of the logbook processing this change came through, if any.",
        pattern=r"^[0-9a-f]{32}$",
    )


AuditEventPage = page_model("AuditEventPage", AuditEventModel)


@router.get(
    "/organisations/{organisationId}/audit-events",
    response_model=AuditEventPage,
    operation_id="listAuditEvents",
    summary="The audit trail of register and policy changes, newest first (staff)",
    responses=STAFF_ERRORS,
)
def list_audit_events(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    since: Annotated[
        AwareDatetime | None,
        Query(description="Only events from this moment on (ISO 8601 with time zone)."),
    ] = None,
    _user: staff.StaffUser = Depends(staff.api_staff(staff.INSIGHT_READ)),
    state: AppState = Depends(get_state),
) -> Any:
    moment_in_range("query.since", since)
    registered_organisation(state, organisation_id)
    total = count_events(state.engine, organisation_id=organisation_id, since=since)
    events = read_events(
        state.engine,
        organisation_id=organisation_id,
        since=since,
        limit=pages.page_size,
        offset=(pages.page - 1) * pages.page_size,
    )
    results = [
        {
            "id": e.id,
            "organisation_id": e.organisation_id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "action_label": ACTIONS.get(e.action, e.action),
            "subject": e.subject,
            "reason": e.reason,
            "trace_id": e.trace_id,
        }
        for e in events
    ]
    return page_of(request, results, total, pages)
