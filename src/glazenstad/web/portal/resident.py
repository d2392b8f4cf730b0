""" "Mijn verwerkingen": a logged-in resident sees the processing of their own data.

The overview joins the logbook with the register version in force at each processing
(`resident_overview`, which already leaves out confidential activities). Reading it is itself a
processing: after the read an access-request record is logged under the organisation's
`inzageverzoeken` activity, with the resident as data subject, as the API's read does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from glazenstad.logbook.read import ResidentEntry, access_request_record, resident_overview
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.web.api.v1.logbook import ACCESS_ACTIVITY
from glazenstad.web.portal import devlogin, views
from glazenstad.web.portal import format as fmt
from glazenstad.web.readlag import lag_headers, replica_age, whole_seconds

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass(frozen=True)
class OverviewItem:
    """One processing as the page shows it (all text, no BSN and no pseudonym)."""

    date: str
    entry: ResidentEntry


def access_activity_uri(register_uri: str) -> str:
    return entry_uri(register_uri, KIND_ACTIVITY, ACCESS_ACTIVITY)


@router.get(devlogin.OVERVIEW_URL, response_class=HTMLResponse)
def my_processing(request: Request, pagina: Annotated[int, Query(ge=1, le=200)] = 1) -> Response:
    from glazenstad.web.portal.routes import app_state, render, snapshot_of

    crumbs = [views.Crumb("Home", "/"), views.Crumb("Mijn verwerkingen")]
    session = devlogin.current_session(request)
    if session is None:
        return render(
            request,
            "mine.html",
            section="mine",
            crumbs=crumbs,
            logged_in=False,
            login_available=devlogin.sign_in_available(request),
            login_url=devlogin.LOGIN_URL,
        )
    reg = snapshot_of(request).organisation(session.organisation_id)
    if reg is None:  # the organisation left the register during the session
        devlogin.sessions(request).end(request.cookies.get(devlogin.SESSION_COOKIE))
        return render(
            request,
            "mine.html",
            section="mine",
            crumbs=crumbs,
            logged_in=False,
            login_available=True,
            login_url=devlogin.LOGIN_URL,
        )
    state = app_state(request)
    started = int(time.time() * 1000)
    # On the read replica when one is configured (the primary when it is away).
    overview, source = state.reads.read(
        lambda engine: resident_overview(
            engine,
            state.register,
            state.logbook.pseudonymizer,
            session.organisation_id,
            session.bsn,
            page=pagina,
            page_size=PAGE_SIZE,
        )
    )
    stale = replica_age(state.reads, source, state.settings.database_read_lag_notice_s)
    access = access_request_record(
        access_activity_uri(reg.org.register_uri),
        subject_id=session.bsn,
        start_time_ms=started,
        end_time_ms=int(time.time() * 1000),
    )
    state.logbook.ingest(session.organisation_id, [access])
    items = [OverviewItem(fmt.datetime_nl(e.date), e) for e in overview.items]
    pages = max(1, -(-overview.total // overview.page_size))
    token = devlogin.csrf_token(request)
    response = render(
        request,
        "mine.html",
        section="mine",
        crumbs=crumbs,
        logged_in=True,
        org=reg.org,
        org_id=session.organisation_id,
        items=items,
        overview=overview,
        page=overview.page,
        pages=pages,
        previous_url=f"{devlogin.OVERVIEW_URL}?pagina={pagina - 1}" if pagina > 1 else None,
        next_url=f"{devlogin.OVERVIEW_URL}?pagina={pagina + 1}" if pagina < pages else None,
        logout_url=devlogin.LOGOUT_URL,
        csrf_field=devlogin.CSRF_FIELD,
        csrf_token=token,
        lag_seconds=None if stale is None else whole_seconds(stale),
    )
    response.headers.update(lag_headers(stale))
    return devlogin.with_csrf(request, response, token)
