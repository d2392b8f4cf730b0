"""The staff side of the portal: the login page, a development login and the start page.

The login page offers single sign-on with the municipality's identity provider when it is
configured (`oidclogin`). The development login lets a demonstrator or developer choose a member
of staff from the staff directory; it exists only in demo and development mode, because it
checks no password. Production without single sign-on answers 404 here; the API accepts staff
tokens in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.web import staff
from glazenstad.web.portal import views
from glazenstad.web.portal.devlogin import (
    CSRF_FIELD,
    check_csrf,
    csrf_token,
    login_available,
    strict_cookie,
    with_csrf,
)

router = APIRouter(include_in_schema=False)
HOME_PATH = "/medewerkers"
LOGOUT_PATH = "/medewerkers/uitloggen"


@dataclass(frozen=True)
class StaffPage:
    """A page of the staff portal and the permission it needs (the start page lists them)."""

    title: str
    href: str
    description: str
    permissions: tuple[str, ...]
    """Any one of these opens the page."""


STAFF_PAGES = (
    StaffPage(
        "Dashboard",
        "/medewerkers/dashboard",
        "Besluiten, weigeringen, noodtoegang, logboek en bewaartermijnen per verwerking en regel.",
        (staff.INSIGHT_READ,),
    ),
    StaffPage(
        "Signalen uit de uitvoering",
        "/medewerkers/signalen",
        "Meldingen van collega's dat een regel hun werk blokkeert, en wat ermee gebeurt.",
        (staff.SIGNALS_FILE, staff.SIGNALS_TRIAGE, staff.SIGNALS_TRIAGE_ALL),
    ),
    StaffPage(
        "Naleving",
        "/medewerkers/naleving",
        "Controles op wat er echt gebeurde, met bewijs en een score per verwerking.",
        (staff.INSIGHT_READ,),
    ),
    StaffPage(
        "Gevolgen van een nieuwe versie van de spelregels",
        "/medewerkers/gevolgen",
        "Besluiten uit een periode opnieuw nemen met een conceptversie: wat verandert er?",
        (staff.POLICY_IMPACT,),
    ),
    StaffPage(
        "Datalekken",
        "/medewerkers/datalekken",
        "Datalekken registreren en binnen 72 uur melden bij de Autoriteit Persoonsgegevens.",
        (staff.INCIDENTS_MANAGE,),
    ),
    StaffPage(
        "Noodtoegang beoordelen",
        "/medewerkers/doorbraken",
        "Besluiten waarbij een regel in een noodsituatie is doorbroken, achteraf beoordelen.",
        (staff.BREAK_GLASS_REVIEW,),
    ),
    StaffPage(
        "Verantwoording aan de gemeenteraad",
        "/medewerkers/verantwoording",
        "Het verslag over een kwartaal of jaar, als webpagina en als PDF.",
        (staff.REPORTS,),
    ),
    StaffPage(
        "Vergelijking met andere gemeenten",
        "/medewerkers/vergelijking",
        "Onze cijfers naast die van gemeenten die ze ook delen; zelf kiezen of we meedoen.",
        (staff.INSIGHT_READ,),
    ),
)


def safe_return_path(value: str | None) -> str:
    """Only a path on this site: never another host (`//evil`, `https://…`, `\\\\evil`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME_PATH
    return value


def _require_available(request: Request) -> None:
    if not login_available(request):
        raise HTTPException(status_code=404)


def _login_page(
    request: Request, *, back: str, error: str | None = None, status_code: int = 200
) -> Response:
    from glazenstad.web.portal import oidclogin
    from glazenstad.web.portal.routes import render

    token = csrf_token(request)
    directory = staff.directory_of(request)
    dev_login = login_available(request)
    people = sorted(directory.users.values(), key=lambda u: (u.organisation_id, u.name))
    response = render(
        request,
        "staff_login.html",
        status_code=status_code,
        section="staff",
        people=people if dev_login else [],
        dev_login=dev_login,
        sso_url=oidclogin.staff_sso_url(request, back),
        back=back,
        error=error,
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        crumbs=[views.Crumb("Home", "/"), views.Crumb("Inloggen voor medewerkers")],
    )
    return with_csrf(request, response, token)


@router.get(staff.LOGIN_PATH, response_class=HTMLResponse)
def login_form(request: Request, terug: str | None = None) -> Response:
    from glazenstad.web.portal import oidclogin

    if not login_available(request) and not oidclogin.staff_sso_configured(request):
        raise HTTPException(status_code=404)
    return _login_page(request, back=safe_return_path(terug))


@router.post(staff.LOGIN_PATH, response_class=HTMLResponse)
def login(
    request: Request,
    medewerker: Annotated[str, Form(max_length=200)] = "",
    terug: Annotated[str, Form(max_length=2000)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _require_available(request)
    check_csrf(request, formulier_token)
    back = safe_return_path(terug)
    user = staff.directory_of(request).user(medewerker)
    if user is None:
        return _login_page(
            request, back=back, error="Kies een medewerker uit de lijst.", status_code=400
        )
    sessions = staff.staff_sessions(request)
    sessions.end(request.cookies.get(staff.STAFF_SESSION_COOKIE))  # never continue an old one
    response = RedirectResponse(back, status_code=303)
    strict_cookie(
        request,
        response,
        staff.STAFF_SESSION_COOKIE,
        sessions.start(user.id),
        max_age=staff.STAFF_SESSION_SECONDS,
    )
    return response


@router.post(LOGOUT_PATH)
def logout(
    request: Request, formulier_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(request, formulier_token)
    ended = staff.staff_sessions(request).end(request.cookies.get(staff.STAFF_SESSION_COOKIE))
    response: Response = RedirectResponse("/", status_code=303)
    if ended is not None and ended.id_token is not None:
        from glazenstad.web.portal import oidclogin

        response = oidclogin.staff_provider_logout(request, ended.id_token) or response
    response.delete_cookie(
        staff.STAFF_SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _any_staff(request: Request) -> staff.StaffUser:
    """The start page needs a login but no particular permission."""
    user = staff.session_user(request)
    if user is None:
        raise HTTPException(
            status_code=303, headers={"Location": f"{staff.LOGIN_PATH}?terug={HOME_PATH}"}
        )
    return user


@router.get(HOME_PATH, response_class=HTMLResponse)
def start(request: Request, user: staff.StaffUser = Depends(_any_staff)) -> Response:
    from glazenstad.web.portal.routes import render

    token = csrf_token(request)
    response = render(
        request,
        "staff_home.html",
        section="staff",
        user=user,
        pages=[p for p in STAFF_PAGES if any(user.can(x) for x in p.permissions)],
        permissions=[staff.PERMISSIONS[p] for p in staff.PERMISSIONS if user.can(p)],
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        crumbs=[views.Crumb("Home", "/"), views.Crumb("Medewerkers")],
    )
    return with_csrf(request, response, token)
