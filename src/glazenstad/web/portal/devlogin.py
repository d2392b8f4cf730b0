"""A development login for "Mijn verwerkingen": a resident asserts a BSN, without DigiD.

Only in `demo` and `development` mode; in production the form answers 404 and residents sign in
through an OpenID Connect broker (`oidclogin`), which starts the same kind of session here. With
neither, every address here answers 404. A login starts a session: a random id in an HttpOnly,
SameSite=Strict cookie, mapped in this process's memory to (organisation, BSN) for 30 minutes.
The BSN is never put in a cookie, an address, a log line or the database (the logbook stores
only its pseudonym).

The login and logout forms are protected against cross-site requests with a double-submit
token: a random value in an HttpOnly, SameSite=Strict cookie that the form repeats in a hidden
field; a POST whose field does not match the cookie is refused.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.web.portal import views

SESSION_COOKIE = "gs_sessie"
CSRF_COOKIE = "gs_formulier"
CSRF_FIELD = "formulier_token"
SESSION_SECONDS = 30 * 60
DEV_MODES = frozenset({"demo", "development"})
MAX_SESSIONS = 10_000


def valid_bsn(value: str) -> bool:
    """Nine digits that pass the eleven test (weights 9..2 and -1); 000000000 is no BSN."""
    if len(value) != 9 or not value.isascii() or not value.isdigit() or value == "0" * 9:
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0


@dataclass(frozen=True)
class Session:
    organisation_id: str
    bsn: str
    expires: float
    single_sign_on: bool = False
    """Started by the OpenID Connect broker: logout then also ends the broker's session."""

    def __repr__(self) -> str:  # keep the BSN out of logs and tracebacks
        return f"Session(organisation_id={self.organisation_id!r}, bsn=<hidden>)"

    __str__ = __repr__


class SessionStore:
    """Sessions in server memory: id → (organisation, BSN), each valid for `lifetime` seconds."""

    def __init__(
        self, lifetime: float = SESSION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(
        self,
        organisation_id: str,
        bsn: str,
        *,
        lifetime: float | None = None,
        single_sign_on: bool = False,
    ) -> str:
        """A new session; `lifetime` can only shorten the standard one (an ID token's expiry)."""
        seconds = self.lifetime if lifetime is None else min(self.lifetime, lifetime)
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._purge()
            if len(self._sessions) >= MAX_SESSIONS:  # bounded memory: drop the oldest
                oldest = min(self._sessions, key=lambda k: self._sessions[k].expires)
                del self._sessions[oldest]
            expires = self.clock() + seconds
            self._sessions[session_id] = Session(organisation_id, bsn, expires, single_sign_on)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self.clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> Session | None:
        """End a session; returns it, so logout can also end it at the broker."""
        if not session_id:
            return None
        with self._lock:
            return self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.portal_sessions
    return store


def login_available(request: Request) -> bool:
    return request.app.state.glazenstad.settings.mode in DEV_MODES


def require_login_available(request: Request) -> None:
    if not login_available(request):
        raise HTTPException(status_code=404)


def sign_in_available(request: Request) -> bool:
    """Residents can sign in: with the development login, or through the configured broker."""
    settings = request.app.state.glazenstad.settings
    return login_available(request) or bool(settings.resident_oidc_issuer)


def current_session(request: Request) -> Session | None:
    if not sign_in_available(request):
        return None
    return sessions(request).get(request.cookies.get(SESSION_COOKIE))


# --- cross-site request protection (double-submit token) -------------------------------------


def csrf_token(request: Request) -> str:
    """The form token of this browser: the one in its cookie, or a new one (set by `with_csrf`)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(32)
    return token


def with_csrf(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(CSRF_COOKIE) != token:
        strict_cookie(request, response, CSRF_COOKIE, token, max_age=None)
    return response


def check_csrf(request: Request, submitted: str) -> None:
    """Refuse (403) a form whose token does not match the browser's cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not submitted or not secrets.compare_digest(cookie, submitted):
        raise HTTPException(status_code=403)


def page_with_csrf(
    request: Request, template: str, status_code: int = 200, **context: object
) -> Response:
    """A staff page whose forms carry this browser's token, and the cookie to check it against."""
    from glazenstad.web.portal.routes import render

    token = csrf_token(request)
    response = render(
        request,
        template,
        status_code=status_code,
        section="staff",
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        **context,
    )
    return with_csrf(request, response, token)


def strict_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    """A cookie only this site's own pages send back (HttpOnly, SameSite=Strict, Secure over
    HTTPS): for sessions and form tokens."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


# --- pages ------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)
LOGIN_URL = "/inloggen"
LOGOUT_URL = "/uitloggen"
OVERVIEW_URL = "/mijn-verwerkingen"
BSN_ERROR = (
    "Dit is geen geldig burgerservicenummer. Een BSN heeft 9 cijfers en moet voldoen aan de "
    "elfproef. Controleer het nummer en probeer het opnieuw."
)
ORG_ERROR = "Kies een organisatie uit de lijst."


def _login_page(
    request: Request,
    *,
    organisation_id: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    from glazenstad.web.portal import oidclogin
    from glazenstad.web.portal.routes import render, snapshot_of

    token = csrf_token(request)
    organisations = views.organisation_summaries(snapshot_of(request))
    response = render(
        request,
        "login.html",
        status_code=status_code,
        section="mine",
        dev_login=login_available(request),
        sso_links=oidclogin.resident_links(request, organisations),
        organisations=organisations,
        selected=organisation_id or (organisations[0].id if organisations else None),
        errors=errors or {},
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        crumbs=[views.Crumb("Home", "/"), views.Crumb("Inloggen")],
    )
    return with_csrf(request, response, token)


@router.get(LOGIN_URL, response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if not sign_in_available(request):
        raise HTTPException(status_code=404)
    return _login_page(request)


@router.post(LOGIN_URL, response_class=HTMLResponse)
def login(
    request: Request,
    organisatie: Annotated[str, Form(max_length=200)] = "",
    bsn: Annotated[str, Form(max_length=200)] = "",
    formulier_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_login_available(request)
    check_csrf(request, formulier_token)
    from glazenstad.web.portal.routes import snapshot_of

    errors: dict[str, str] = {}
    if snapshot_of(request).organisation(organisatie) is None:
        errors["organisatie"] = ORG_ERROR
    number = "".join(bsn.split())  # spaces a resident may type between the digits
    if not valid_bsn(number):
        errors["bsn"] = BSN_ERROR
    if errors:
        return _login_page(request, organisation_id=organisatie, errors=errors, status_code=400)
    store = sessions(request)
    store.end(request.cookies.get(SESSION_COOKIE))  # never continue a session from before
    session_id = store.start(organisatie, number)
    response = RedirectResponse(OVERVIEW_URL, status_code=303)
    strict_cookie(request, response, SESSION_COOKIE, session_id, max_age=SESSION_SECONDS)
    return response


@router.post(LOGOUT_URL)
def logout(
    request: Request, formulier_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if not sign_in_available(request):
        raise HTTPException(status_code=404)
    check_csrf(request, formulier_token)
    ended = sessions(request).end(request.cookies.get(SESSION_COOKIE))
    response: Response = RedirectResponse(OVERVIEW_URL, status_code=303)
    if ended is not None and ended.single_sign_on:
        from glazenstad.web.portal import oidclogin

        response = oidclogin.broker_logout(request) or response
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
