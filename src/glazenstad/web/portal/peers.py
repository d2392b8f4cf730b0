"""Portal pages of the peer figures: the public table, and the staff page to compare and choose.

The public page shows only what organisations chose to publish. The staff page shows the
organisation's own figures always, its standing only when it publishes (whoever compares, is
compared), and the form to choose, for those with the permission.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from glazenstad.insight.peers.comparison import compare, published_figures
from glazenstad.insight.peers.figures import METRICS, Metric
from glazenstad.insight.peers.publication import MAX_NOTE, publication_history, set_published
from glazenstad.web import staff
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import views
from glazenstad.web.portal.devlogin import CSRF_FIELD, check_csrf, csrf_token, with_csrf
from glazenstad.web.state import AppState

router = APIRouter(include_in_schema=False)
PUBLIC_PATH = "/vergelijking"
STAFF_PATH = "/medewerkers/vergelijking"


def figure_nl(value: float | None, metric: Metric) -> str:
    """A figure for reading: "87,5%" or "92 punten"; a dash said in words when unmeasured."""
    if value is None:
        return "nog niet gemeten"
    number = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{number}%" if metric.unit == "%" else f"{number} {metric.unit}"


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.glazenstad
    return state


@router.get(PUBLIC_PATH, response_class=HTMLResponse)
def public_page(request: Request) -> Response:
    from glazenstad.web.portal.routes import render

    state = _state(request)
    figures = published_figures(state.engine, state.register.snapshot(), datetime.now(UTC))
    return render(
        request,
        "peers.html",
        section="peers",
        metrics=METRICS,
        figures=figures,
        figure_nl=figure_nl,
        crumbs=[views.Crumb("Home", "/"), views.Crumb("Gemeenten vergeleken")],
    )


def _staff_page(
    request: Request,
    user: staff.StaffUser,
    *,
    error: tuple[str, str] | None = None,
    note: str = "",
    status_code: int = 200,
) -> Response:
    """The page; `error` is (field id, message) of a refused choice, `note` what was typed."""
    from glazenstad.web.portal.routes import render

    state = _state(request)
    found = compare(
        state.engine, state.register.snapshot(), user.organisation_id, datetime.now(UTC)
    )
    if found is None:
        return render(
            request,
            "error.html",
            status_code=404,
            title="Niet gevonden",
            text="Uw organisatie staat niet in het register.",
            status=404,
        )
    token = csrf_token(request)
    response = render(
        request,
        "peers_staff.html",
        status_code=status_code,
        section="staff",
        comparison=found,
        metrics=METRICS,
        history=publication_history(state.engine, user.organisation_id),
        may_choose=user.can(staff.PEERS_PUBLISH),
        figure_nl=figure_nl,
        datetime_nl=fmt.datetime_nl,
        error=error,
        note=note,
        max_note=MAX_NOTE,
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        crumbs=[
            views.Crumb("Home", "/"),
            views.Crumb("Medewerkers", "/medewerkers"),
            views.Crumb("Vergelijking met andere gemeenten"),
        ],
    )
    return with_csrf(request, response, token)


@router.get(STAFF_PATH, response_class=HTMLResponse)
def staff_page(
    request: Request, user: staff.StaffUser = Depends(staff.portal_staff(staff.INSIGHT_READ))
) -> Response:
    return _staff_page(request, user)


@router.post(STAFF_PATH, response_class=HTMLResponse)
def choose(
    request: Request,
    user: staff.StaffUser = Depends(staff.portal_staff(staff.PEERS_PUBLISH)),
    delen: Annotated[str, Form(max_length=10)] = "",
    toelichting: Annotated[str, Form(max_length=MAX_NOTE * 2)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, formulier_token)
    if delen not in ("ja", "nee"):
        return _staff_page(
            request,
            user,
            error=("delen-ja", "Kies of de gemeente haar cijfers deelt."),
            note=toelichting,
            status_code=400,
        )
    note = toelichting.strip() or None
    if note is not None and len(note) > MAX_NOTE:
        return _staff_page(
            request,
            user,
            error=("toelichting", f"De toelichting is te lang: ten hoogste {MAX_NOTE} tekens."),
            note=toelichting,
            status_code=400,
        )
    set_published(
        _state(request).engine, user.organisation_id, delen == "ja", by=user.id, note=note
    )
    return RedirectResponse(STAFF_PATH, status_code=303)
