"""The staff page for the council report: choose a period, read the summary, open or download.

`/medewerkers/verantwoording` asks for a period (with the periods a council usually asks about
as links) and shows the report's "in het kort" for it. The report itself is one self-contained
document (`report_html`): `.../verslag.html` shows it in the browser with its own, stricter
Content-Security-Policy (only its inline stylesheet, by hash; no scripts, nothing fetched), and
`.../verslag.pdf` is the same document printed by Chromium. Only staff with the permission to
make the report see any of it, and only for their own organisation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.db.base import utcnow
from glazenstad.insight.figures import MUNICIPAL_ZONE
from glazenstad.insight.report import ReportData, UnknownOrganisation
from glazenstad.insight.report_pdf import PdfError, html_to_pdf
from glazenstad.insight.report_period import (
    FORMS_NL,
    PeriodError,
    parse_period,
    recent_periods,
)
from glazenstad.web import staff
from glazenstad.web.portal import views
from glazenstad.web.portal.report_html import csp_header, file_name, make_report, render_report
from glazenstad.web.state import AppState, get_state

router = APIRouter(include_in_schema=False)
PAGE_PATH = "/medewerkers/verantwoording"
MAX_PERIOD_TEXT = 40


def _crumbs(*extra: views.Crumb) -> list[views.Crumb]:
    return [
        views.Crumb("Home", "/"),
        views.Crumb("Medewerkers", "/medewerkers"),
        *extra,
    ]


def _report(state: AppState, user: staff.StaffUser, text: str) -> ReportData:
    """The report of the user's organisation; 404 for an unreadable period in a path (the page
    with the form explains periods), and for an organisation that is not in the register."""
    try:
        period = parse_period(text)
        return make_report(state.engine, state.register, user.organisation_id, period)
    except (PeriodError, UnknownOrganisation):
        raise HTTPException(status_code=404) from None


@router.get(PAGE_PATH, response_class=HTMLResponse)
def report_page(
    request: Request,
    periode: Annotated[str | None, Query(max_length=200)] = None,
    user: staff.StaffUser = Depends(staff.portal_staff(staff.REPORTS)),
    state: AppState = Depends(get_state),
) -> Response:
    from glazenstad.web.portal.routes import render

    now = utcnow()
    error: str | None = None
    data: ReportData | None = None
    text = (periode or "").strip()[:MAX_PERIOD_TEXT]
    if text:
        try:
            data = make_report(
                state.engine, state.register, user.organisation_id, parse_period(text), now=now
            )
        except PeriodError as exc:
            error = exc.dutch
        except UnknownOrganisation:
            error = "Uw organisatie staat (nog) niet in het register."
    links = None
    if data is not None:
        base = f"{PAGE_PATH}/{data.period.key}"
        links = {
            "html": f"{base}/verslag.html",
            "pdf": f"{base}/verslag.pdf",
            "html_name": file_name(data, "html"),
            "pdf_name": file_name(data, "pdf"),
        }
    today = now.astimezone(MUNICIPAL_ZONE).date()
    return render(
        request,
        "report_page.html",
        status_code=400 if error else 200,
        section="staff",
        user=user,
        data=data,
        links=links,
        error=error,
        value=text,
        forms=FORMS_NL,
        suggestions=[(p.key, p.title) for p in recent_periods(today)],
        crumbs=_crumbs(views.Crumb("Verantwoording aan de gemeenteraad")),
    )


@router.get(PAGE_PATH + "/{periode}/verslag.html", response_class=HTMLResponse)
def report_document(
    periode: str,
    user: staff.StaffUser = Depends(staff.portal_staff(staff.REPORTS)),
    state: AppState = Depends(get_state),
) -> Response:
    data = _report(state, user, periode)
    return HTMLResponse(
        render_report(data),
        headers={
            "Content-Security-Policy": csp_header(),
            "Content-Disposition": f'inline; filename="{file_name(data, "html")}"',
        },
    )


@router.get(PAGE_PATH + "/{periode}/verslag.pdf")
def report_pdf(
    request: Request,
    periode: str,
    user: staff.StaffUser = Depends(staff.portal_staff(staff.REPORTS)),
    state: AppState = Depends(get_state),
) -> Response:
    from glazenstad.web.portal.routes import render

    data = _report(state, user, periode)
    try:
        pdf = html_to_pdf(render_report(data))
    except PdfError as exc:
        return render(
            request,
            "error.html",
            status_code=503,
            title="De PDF kan nu niet worden gemaakt",
            text=exc.dutch,
            status=503,
        )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{file_name(data, "pdf")}"'},
    )
