"""Council report API: the report of one period as HTML or PDF, for staff with `reports:create`.

One resource, two representations, chosen by the `Accept` header (content negotiation, as the
NL API Design Rules prefer over format suffixes): `text/html` (the default) is the
self-contained document, `application/pdf` the same document printed by Chromium. Anything else
is a 406. The period is written as on the command line: `2026`, `2026-Q3`, `2026-09` or
`2026-07-01--2026-09-30`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from glazenstad.insight.report import UnknownOrganisation
from glazenstad.insight.report_pdf import PdfError, html_to_pdf
from glazenstad.insight.report_period import FORMS_EN, PERIOD_PATTERN, PeriodError, parse_period
from glazenstad.web import staff
from glazenstad.web.api.v1.common import OrgId, described_problem, invalid_input, problem_responses
from glazenstad.web.portal.report_html import csp_header, file_name, make_report, render_report
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Reports"])

HTML: Final = "text/html"
PDF: Final = "application/pdf"
OFFERED: Final = (HTML, PDF)

PeriodPath = Annotated[
    str,
    Path(
        alias="period",
        description=f"The period: {FORMS_EN}. Days are Dutch calendar days (Europe/Amsterdam).",
        examples=["2026-Q3"],
        pattern=PERIOD_PATTERN,
        max_length=22,
    ),
]

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: HTML (self-contained) or PDF, as the Accept header asks.",
        "content": {
            HTML: {"schema": {"type": "string"}},
            PDF: {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {
            "Content-Disposition": {
                "description": "A file name for saving, e.g. "
                "verantwoording-voorbeeldstad-2026-Q3.pdf.",
                "schema": {"type": "string"},
            }
        },
    },
    **problem_responses(400, 401, 404, 406, 500),
    **described_problem(403, "The staff member may not make reports."),
    **described_problem(503, "The PDF cannot be made now (no Chromium on the server); HTML works."),
}


def negotiate(accept: str | None) -> str | None:
    """The offered media type the Accept header likes best (HTML on a tie); None: neither."""
    if not accept or not accept.strip():
        return HTML
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for rank, offered in enumerate(OFFERED):
            kind = offered.split("/")[0]
            if media in (offered, f"{kind}/*", "*/*") and quality > 0:
                specific = 2 if media == offered else (1 if media != "*/*" else 0)
                candidate = (quality, specific * 10 - rank, offered)
                if best is None or candidate > best:
                    best = candidate
    return best[2] if best else None


@router.get(
    "/organisations/{organisationId}/reports/{period}",
    operation_id="getCouncilReport",
    summary="The council report of one period (HTML or PDF)",
    response_class=Response,
    responses=RESPONSES,
)
def get_council_report(
    request: Request,
    organisation_id: OrgId,
    period: PeriodPath,
    _user: staff.StaffUser = Depends(staff.api_staff(staff.REPORTS)),
    state: AppState = Depends(get_state),
) -> Response:
    media = negotiate(request.headers.get("accept"))
    if media is None:
        raise ProblemError(
            406, f"Dit verslag is er als {HTML} en als {PDF}; vraag een van die twee (Accept)."
        )
    try:
        data = make_report(state.engine, state.register, organisation_id, parse_period(period))
    except PeriodError as exc:
        raise invalid_input(
            "path.period", exc.dutch, f"De periode is niet goed: {exc.dutch}."
        ) from None
    except UnknownOrganisation:
        raise ProblemError(404, f"Er is geen organisatie {organisation_id}.") from None
    html = render_report(data)
    if media == HTML:
        return Response(
            html,
            media_type=f"{HTML}; charset=utf-8",
            headers={
                "Content-Security-Policy": csp_header(),
                "Content-Disposition": f'inline; filename="{file_name(data, "html")}"',
                "Vary": "Accept",
            },
        )
    try:
        pdf = html_to_pdf(html)
    except PdfError as exc:
        raise ProblemError(503, exc.dutch) from None
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(data, "pdf")}"',
            "Vary": "Accept",
        },
    )
