"""Portal routes (Dutch, B1), rendered with Jinja2 and styled with NL Design System CSS.

Handlers only look up what the address asks for, answer 404 when it does not exist, and hand a
view model (see `views`) to a template. The portal reads the same cached register snapshot as
the API, so both always show the same version of the register.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from glazenstad.register.model import KIND_ACTIVITY, KIND_ALGORITHM, KIND_SENSOR
from glazenstad.register.store import OrganisationRegister, RegisterSnapshot, StoredEntry
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import spelregels, views
from glazenstad.web.portal.richtext import sanitize_rich_text
from glazenstad.web.state import AppState

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.filters.update(
    duration=fmt.duration_nl,
    date_nl=fmt.date_nl,
    yes_no=fmt.yes_no,
    richtext=sanitize_rich_text,
    value_kind=views.value_kind,
)
templates.env.globals.update(openapi_url=views.OPENAPI_URL, site_name="Glazen Stad")


def _staff_member(request: Request) -> Any:
    """The member of staff logged in in this browser (for the menu); None for everyone else."""
    from glazenstad.web.staff import session_user

    try:
        return session_user(request)
    except AttributeError:  # an application without a staff directory
        return None


templates.env.globals.update(staff_member=_staff_member)
router = APIRouter(include_in_schema=False)
STATIC_CACHE_CONTROL = "public, max-age=3600"

ERROR_TEXT = {
    403: (
        "Formulier verlopen",
        "We konden niet controleren dat dit formulier van deze website kwam. Misschien was het "
        "formulier te lang open. Ga terug, laad de pagina opnieuw en probeer het nog een keer.",
    ),
    404: (
        "Pagina niet gevonden",
        "Deze pagina bestaat niet (meer). Misschien is het adres niet goed, of is de verwerking, "
        "het algoritme of de sensor uit het register gehaald.",
    ),
    405: ("Niet toegestaan", "Deze actie is op deze pagina niet mogelijk."),
    413: ("Te veel gegevens", "U stuurde meer gegevens dan deze website in één keer aanneemt."),
    429: (
        "Even geduld",
        "U probeerde dit te vaak achter elkaar. Wacht even en probeer het opnieuw.",
    ),
}
LIMIT_STATUSES = (413, 429)
"""Answers whose reason (how large, how long to wait) is shown as the page's text."""


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.glazenstad
    return state


def app_state(request: Request) -> AppState:
    return _state(request)


def _snapshot(request: Request) -> RegisterSnapshot:
    """The register as of this request: one snapshot per request, so a page and its menu never
    come from two different loads."""
    snapshot: RegisterSnapshot | None = getattr(request.state, "register_snapshot", None)
    if snapshot is None:
        snapshot = _state(request).register.snapshot()
        request.state.register_snapshot = snapshot
    return snapshot


snapshot_of = _snapshot


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; every page gets the main menu, marked for the section it belongs to."""
    if "nav" not in context:
        try:
            snapshot = _snapshot(request)
        except Exception:  # an error page must still render when the database is the problem
            log.exception("register unavailable while rendering %s", template)
        else:
            org_id = context.get("org_id")
            context["nav"] = views.navigation(snapshot, org_id, context.get("section"))
    context.setdefault("nav", [views.NavItem("Home", "/")])
    return templates.TemplateResponse(
        request, template, {"request": request, **context}, status_code=status_code
    )


def _active_policy(request: Request, org_id: str) -> CompiledPolicy | None:
    """The organisation's active rules, compiled against the current register (cached by the
    rules service until the register or a policy changes)."""
    return _state(request).rules.engine().active(org_id)


def _not_found() -> HTTPException:
    return HTTPException(status_code=404)


def _org(request: Request, org_id: str) -> OrganisationRegister:
    reg = _snapshot(request).organisation(org_id)
    if reg is None:
        raise _not_found()
    return reg


def _entry(reg: OrganisationRegister, kind: str, entry_id: str) -> StoredEntry:
    stored = reg.get(kind, entry_id)
    if stored is None:
        raise _not_found()
    return stored


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    from glazenstad.web.portal.dashboard import home_figures

    snapshot = _snapshot(request)
    organisations = views.organisation_summaries(snapshot)
    return render(
        request,
        "home.html",
        section="home",
        organisations=organisations,
        figures=home_figures(request, snapshot),
    )


@router.get("/organisaties/{org_id}", response_class=HTMLResponse)
def organisation(request: Request, org_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    return render(
        request,
        "organisation.html",
        section="organisation",
        org_id=org_id,
        org=reg.org,
        summary=views.organisation_summary(reg),
        rules=spelregels.policy_summary(org_id, _state(request).rules.policies.versions(org_id)),
        contact=views.organisation_contact(reg),
        exports=views.organisation_exports(org_id),
        crumbs=views.org_crumbs(reg),
    )


@router.get("/organisaties/{org_id}/verwerkingen", response_class=HTMLResponse)
def activities(request: Request, org_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    filters = views.ActivityFilters.from_query(request.query_params)
    listing = views.activity_list(reg, filters)
    return render(
        request,
        "activities.html",
        section="activities",
        org_id=org_id,
        org=reg.org,
        listing=listing,
        crumbs=views.org_crumbs(reg, views.Crumb("Verwerkingen")),
    )


@router.get("/organisaties/{org_id}/verwerkingen/{activity_id}", response_class=HTMLResponse)
def activity(request: Request, org_id: str, activity_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    page = views.activity_detail(reg, _entry(reg, KIND_ACTIVITY, activity_id))
    rules = spelregels.activity_rules(reg, _active_policy(request, org_id), activity_id)
    crumbs = views.org_crumbs(
        reg, views.Crumb("Verwerkingen", views.activities_url(org_id)), views.Crumb(page.title)
    )
    return render(
        request,
        "detail.html",
        section="activities",
        org_id=org_id,
        org=reg.org,
        page=page,
        rules=rules,
        kind_label="Verwerking",
        crumbs=crumbs,
        back=views.Link("Terug naar alle verwerkingen", views.activities_url(org_id)),
        api_label="Deze verwerking als JSON in de API",
    )


@router.get("/organisaties/{org_id}/algoritmes", response_class=HTMLResponse)
def algorithms(request: Request, org_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    return render(
        request,
        "algorithms.html",
        section="algorithms",
        org_id=org_id,
        org=reg.org,
        rows=views.algorithm_rows(reg),
        export_url=views.algoritmeregister_export_url(org_id),
        crumbs=views.org_crumbs(reg, views.Crumb("Algoritmes")),
    )


@router.get("/organisaties/{org_id}/algoritmes/{algorithm_id}", response_class=HTMLResponse)
def algorithm(request: Request, org_id: str, algorithm_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    public_url = _state(request).settings.effective_public_url
    page = views.algorithm_detail(reg, _entry(reg, KIND_ALGORITHM, algorithm_id), public_url)
    crumbs = views.org_crumbs(
        reg, views.Crumb("Algoritmes", views.algorithms_url(org_id)), views.Crumb(page.title)
    )
    return render(
        request,
        "detail.html",
        section="algorithms",
        org_id=org_id,
        org=reg.org,
        page=page,
        kind_label="Algoritme",
        crumbs=crumbs,
        back=views.Link("Terug naar alle algoritmes", views.algorithms_url(org_id)),
        api_label="Dit algoritme als JSON in de API",
        export=views.Link(
            "Alle algoritmes in het formaat van het Algoritmeregister (JSON)",
            views.algoritmeregister_export_url(org_id),
        ),
    )


@router.get("/organisaties/{org_id}/sensoren", response_class=HTMLResponse)
def sensors(request: Request, org_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    return render(
        request,
        "sensors.html",
        section="sensors",
        org_id=org_id,
        org=reg.org,
        rows=views.sensor_rows(reg),
        export_url=f"{views.api_org_url(org_id)}/exports/sensors",
        crumbs=views.org_crumbs(reg, views.Crumb("Sensoren")),
    )


@router.get("/organisaties/{org_id}/sensoren/{sensor_id}", response_class=HTMLResponse)
def sensor(request: Request, org_id: str, sensor_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    page = views.sensor_detail(reg, _entry(reg, KIND_SENSOR, sensor_id))
    crumbs = views.org_crumbs(
        reg, views.Crumb("Sensoren", views.sensors_url(org_id)), views.Crumb(page.title)
    )
    return render(
        request,
        "detail.html",
        section="sensors",
        org_id=org_id,
        org=reg.org,
        page=page,
        kind_label="Sensor",
        crumbs=crumbs,
        back=views.Link("Terug naar alle sensoren", views.sensors_url(org_id)),
        api_label="Deze sensor als JSON in de API",
    )


@router.get("/organisaties/{org_id}/spelregels", response_class=HTMLResponse)
def rules(request: Request, org_id: str) -> HTMLResponse:
    reg = _org(request, org_id)
    overview = spelregels.policy_overview(
        reg, _active_policy(request, org_id), _state(request).rules.policies.versions(org_id)
    )
    return render(
        request,
        "spelregels.html",
        section="rules",
        org_id=org_id,
        org=reg.org,
        overview=overview,
        crumbs=views.org_crumbs(reg, views.Crumb("Spelregels")),
    )


@router.get("/toegankelijkheid", response_class=HTMLResponse)
def accessibility(request: Request) -> HTMLResponse:
    organisations = views.organisation_summaries(_snapshot(request))
    return render(
        request,
        "accessibility.html",
        section="accessibility",
        organisations=organisations,
        crumbs=[views.Crumb("Home", "/"), views.Crumb("Toegankelijkheid")],
    )


def error_page(request: Request, status: int, reason: str | None = None) -> HTMLResponse:
    """The Dutch page for an HTTP error on a portal address (the API answers problem+json).

    A 403 is a failed form check unless `reason` says which permission was missing.
    """
    title, text = ERROR_TEXT.get(status, ("Er ging iets mis", "Probeer het later opnieuw."))
    if status in LIMIT_STATUSES and reason:
        text = reason
    elif status == 403 and reason:
        title, text = (
            "Geen toegang",
            f"{reason} Denkt u dat u dit wel mag? Vraag het uw leidinggevende.",
        )
    return render(request, "error.html", status_code=status, title=title, text=text, status=status)


class CachedStaticFiles(StaticFiles):
    """Static files a browser may keep for an hour.

    The application sends `Cache-Control: no-store` by default (pages can change with every
    register load); for 600 kB of CSS that would mean a download on every page view.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = STATIC_CACHE_CONTROL
        return response


def mount(app: FastAPI) -> None:
    """Add the portal pages and static files; warn when the NL Design System CSS is missing,
    because the pages then still work but look unstyled."""
    # Imported here so `python -m glazenstad.web.portal.assets` does not import itself twice.
    from glazenstad.web.portal.assets import VENDOR_FILES, vendor_dir

    missing = [name for name in VENDOR_FILES if not (vendor_dir() / name).is_file()]
    if missing:
        log.warning(
            "NL Design System CSS not found in %s (%s); run "
            "`python -m glazenstad.web.portal.assets` after `npm ci`",
            vendor_dir(),
            ", ".join(missing),
        )
    from glazenstad.web.portal import (
        compliance,
        dashboard,
        devlogin,
        impact,
        incidents,
        metingen,
        oidclogin,
        peers,
        report,
        resident,
        signals,
        stafflogin,
    )

    app.state.portal_sessions = devlogin.SessionStore()
    oidclogin.configure(app)
    app.include_router(router)
    for module in (
        oidclogin,
        devlogin,
        resident,
        metingen,
        stafflogin,
        peers,
        dashboard,
        compliance,
        signals,
        report,
        incidents,
        impact,
    ):
        app.include_router(module.router)
    app.mount("/static", CachedStaticFiles(directory=str(WEB_DIR / "static")), name="static")
