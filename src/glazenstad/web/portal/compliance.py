"""The staff page "Naleving": every compliance check with its evidence, scores and history.

The page measures when it is opened (staff want today's answer) and shows the stored snapshots
below it as a table, so a trend does not depend on when someone happened to look. The view
model is built here in plain Python (`compliance_page`), the template only lays it out; the
dashboard can show the same figures by calling `run_checks` and `score_history` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from glazenstad.insight.compliance.history import Snapshot, score_history
from glazenstad.insight.compliance.model import STATUS_LABELS, CheckResult, ComplianceReport
from glazenstad.insight.compliance.present import weighting_rows
from glazenstad.insight.compliance.run import OrganisationNotFound, run_checks
from glazenstad.web import staff
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import views

router = APIRouter(include_in_schema=False)

COMPLIANCE_PATH: Final = "/medewerkers/naleving"
STAFF_HOME: Final = "/medewerkers"
HISTORY_ROWS: Final = 30
SCOPES: Final = {"activity": "Per verwerking", "organisation": "Hele organisatie"}
ACTIVITY_STATUS: Final = {
    "actief": "Actief",
    "concept": "Concept",
    "beeindigd": "Beëindigd",
    "onbekend": "Niet (meer) in het register",
}


@dataclass(frozen=True)
class CheckView:
    anchor: str
    code: str
    title: str
    title_en: str
    explanation: str
    status: views.Badge
    summary: str
    rows: list[views.Row]
    items: views.Table | None
    links: list[views.Link]


@dataclass(frozen=True)
class CompliancePage:
    organisation: str
    measured_at: str
    overall: str
    overall_badge: views.Badge
    summary: list[views.Row]
    contents: list[tuple[views.Link, views.Badge]]
    checks: list[CheckView]
    activities: views.Table
    weighting: views.Table
    history: views.Table | None
    api_url: str


def score_text(score: float) -> str:
    return f"{fmt_number(score)} van 100"


def fmt_number(value: float) -> str:
    text = f"{value:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


def score_badge(score: float) -> views.Badge:
    """The score in words as well as colour: 90 or more is good, below 70 needs action."""
    if score >= 90:
        return views.Badge("Goed", "safe")
    if score >= 70:
        return views.Badge("Aandacht nodig", "warning")
    return views.Badge("Actie nodig", "danger")


def status_badge(result: CheckResult) -> views.Badge:
    label = STATUS_LABELS[result.status]
    if result.status == "pass":
        return views.Badge(label, "safe")
    if result.status == "not-measured":
        return views.Badge(label, "neutral")
    return views.Badge(label, "danger" if result.check.severity == "fout" else "warning")


def _figure_value(value: int | float | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return fmt.yes_no(value)
    if isinstance(value, float):
        return fmt_number(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if len(value) >= 19 and value[4] == "-" and value[10] == "T":  # an ISO 8601 moment
        return fmt.datetime_nl(datetime.fromisoformat(value))
    return value


def _check_view(result: CheckResult) -> CheckView:
    check = result.check
    rows = [
        views.Row("Geldt voor", SCOPES[check.scope]),
        views.Row("Gewicht", f"{check.weight} punten"),
        *(views.Row(f.label, _figure_value(f.value), optional=True) for f in result.figures),
    ]
    items = None
    if result.items:
        items = views.Table(
            caption=f"{check.code}: waar het om gaat",
            headers=("Wat", "Aantal", "Toelichting", "Voorbeelden", "Meer zien"),
            rows=[
                (
                    item.label,
                    f"{item.count:,}".replace(",", "."),
                    item.detail,
                    [
                        f"{e.reference}"
                        + (f" ({fmt.datetime_nl(e.moment)})" if e.moment else "")
                        + (f": {e.text}" if e.text else "")
                        for e in item.examples
                    ],
                    [views.Link(link.text, link.href) for link in item.links],
                )
                for item in result.items
            ],
        )
    return CheckView(
        anchor=check.code.lower(),
        code=check.code,
        title=check.title,
        title_en=check.title_en,
        explanation=check.explanation,
        status=status_badge(result),
        summary=result.summary,
        rows=rows,
        items=items,
        links=[views.Link(link.text, link.href) for link in result.links],
    )


def _history_table(snapshots: list[Snapshot]) -> views.Table | None:
    if not snapshots:
        return None
    return views.Table(
        caption="Eerdere metingen, nieuwste eerst",
        headers=("Gemeten op", "Score", "Niet voldaan", "Gemeten controles", "Weging"),
        rows=[
            (
                fmt.datetime_nl(s.measured_at),
                score_text(s.overall_score),
                ", ".join(c.code for c in s.checks if c.status == "fail") or "Alles voldaan",
                str(s.checks_measured),
                f"versie {s.weighting_version}",
            )
            for s in reversed(snapshots)
        ],
    )


def compliance_page(
    org_id: str, report: ComplianceReport, snapshots: list[Snapshot]
) -> CompliancePage:
    failed = report.failed
    checks = [_check_view(r) for r in report.checks]
    return CompliancePage(
        organisation=report.organisation_name,
        measured_at=fmt.datetime_nl(report.measured_at),
        overall=score_text(report.overall_score),
        overall_badge=score_badge(report.overall_score),
        summary=[
            views.Row("Gemiddelde score van de verwerkingen", score_text(report.activity_average)),
            views.Row(
                "Aftrek voor controles over de hele organisatie",
                f"{report.organisation_deduction} punten",
            ),
            views.Row(
                "Controles niet voldaan",
                f"{len(failed)} van {len(report.measured)}"
                + (f": {', '.join(r.check.code for r in failed)}" if failed else ""),
            ),
            views.Row("Verwerkingen met een score", str(len(report.activities))),
        ],
        contents=[(views.Link(f"{c.code} {c.title}", f"#{c.anchor}"), c.status) for c in checks],
        checks=checks,
        activities=views.Table(
            caption="Score per verwerking, laagste eerst",
            headers=("Verwerking", "Score", "Oordeel", "Niet voldaan", "Status in het register"),
            rows=[
                (
                    views.Link(a.name, views.activity_url(org_id, a.activity_id)),
                    score_text(a.score),
                    score_badge(a.score),
                    ", ".join(a.failed) or "Alles voldaan",
                    ACTIVITY_STATUS.get(a.status, a.status),
                )
                for a in report.activities
            ],
        ),
        weighting=views.Table(
            caption="Zo telt elke controle mee",
            headers=("Controle", "Wat wordt gecontroleerd", "Geldt voor", "Ernst", "Gewicht"),
            rows=[
                (code, title, scope.capitalize(), severity, f"{weight} punten")
                for code, title, scope, severity, weight in weighting_rows()
            ],
        ),
        history=_history_table(snapshots),
        api_url=f"{views.api_org_url(org_id)}/compliance",
    )


def _measure(request: Request, user: staff.StaffUser) -> tuple[ComplianceReport, list[Snapshot]]:
    from glazenstad.web.portal.routes import app_state

    state = app_state(request)
    try:
        report = run_checks(
            state.engine,
            state.register,
            user.organisation_id,
            public_url=state.settings.effective_public_url,
        )
    except OrganisationNotFound:
        raise HTTPException(status_code=404) from None
    return report, score_history(state.engine, user.organisation_id, limit=HISTORY_ROWS)


@router.get(COMPLIANCE_PATH, response_class=HTMLResponse)
async def compliance(
    request: Request, user: staff.StaffUser = Depends(staff.portal_staff(staff.INSIGHT_READ))
) -> HTMLResponse:
    from glazenstad.web.portal.routes import render

    report, snapshots = await run_in_threadpool(_measure, request, user)
    return render(
        request,
        "compliance.html",
        section="staff",
        page=compliance_page(user.organisation_id, report, snapshots),
        user=user,
        crumbs=[
            views.Crumb("Home", "/"),
            views.Crumb("Medewerkers", STAFF_HOME),
            views.Crumb("Naleving"),
        ],
    )
