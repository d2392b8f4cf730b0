"""Single sign-on in the portal: staff at the municipality's identity provider, residents at a
DigiD broker, both with OpenID Connect (authorization code with PKCE).

Starting a login keeps state, nonce and PKCE verifier on the server for ten minutes, under the
`state` the provider sends back, bound to this browser by a random id in the `gs_oidc` cookie
(SameSite=Lax: it must come along when the provider sends the browser back). The callback
checks that binding, exchanges the code and checks the ID token; then:

- staff get a session in the same session store as the development login, holding a member of
  staff made from the claims: id, name, department, and roles mapped onto the roles of the staff
  directory (`GLAZENSTAD_STAFF_OIDC_ROLE_MAP`). Someone whose claims map to no role is refused.
- residents get the same session as the development login, with the BSN from the broker's claim
  (checked with the eleven test). The BSN stays in server memory: never in a cookie, an address
  or a log line.

No session outlives the ID token that started it. The callback answers with a page that moves
on by itself (meta refresh) rather than a redirect, because the session cookies are
SameSite=Strict and a browser does not send them on a redirect chain that began at the
provider. Logout ends the local session and then the provider's (RP-initiated logout), again
through such a page: the page's policy allows forms to post only to this site.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from glazenstad.settings import Settings
from glazenstad.web import staff
from glazenstad.web.oidc import OidcError, Provider, RelyingParty, SignIn
from glazenstad.web.portal import devlogin

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

STAFF_START = "/medewerkers/inloggen/sso"
STAFF_CALLBACK = "/medewerkers/inloggen/terug"
RESIDENT_START = "/inloggen/digid"
RESIDENT_CALLBACK = "/inloggen/terug"
PENDING_COOKIE = "gs_oidc"
PENDING_SECONDS = 10 * 60
MAX_PENDING = 10_000
UNKNOWN_DEPARTMENT = "afdeling onbekend"

FAILED = (
    "Inloggen is niet gelukt",
    "Het inloggen kon niet worden afgemaakt. Misschien duurde het te lang, of begon u in een "
    "ander venster. Probeer het opnieuw.",
)
UNAVAILABLE = (
    "Inloggen kan nu niet",
    "De inlogdienst is op dit moment niet bereikbaar. Probeer het over een paar minuten opnieuw.",
)
NO_ROLE = (
    "Geen toegang tot Glazen Stad",
    "U bent ingelogd bij uw organisatie, maar u heeft geen rol in Glazen Stad. Vraag uw "
    "leidinggevende of de beheerder om u een rol te geven.",
)
NO_BSN = (
    "Inloggen is niet gelukt",
    "We hebben uw burgerservicenummer niet goed ontvangen van DigiD. Probeer het later opnieuw. "
    "Lukt het dan nog niet? Neem contact op met de gemeente.",
)


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffClaimRules:
    """How the staff provider's claims become a member of staff (from the settings)."""

    id_claim: str
    role_claim: str
    department_claim: str
    role_map: dict[str, tuple[str, ...]]
    organisation: str | None
    organisation_claim: str | None


@dataclass(frozen=True)
class Pending:
    """A login that left for the provider and has not come back yet."""

    kind: str
    browser: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    back: str
    organisation_id: str | None
    expires: float


class PendingLogins:
    """Logins under way, by `state`; each can be completed once, within PENDING_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def add(self, state: str, pending: Pending) -> None:
        with self._lock:
            now = self.clock()
            for key in [k for k, p in self._pending.items() if p.expires <= now]:
                del self._pending[key]
            if len(self._pending) >= MAX_PENDING:  # bounded memory: drop the oldest
                del self._pending[min(self._pending, key=lambda k: self._pending[k].expires)]
            self._pending[state] = pending

    def take(self, state: str) -> Pending | None:
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or pending.expires <= self.clock():
            return None
        return pending


@dataclass
class OidcLogins:
    """The configured single sign-on of this application (None where not configured)."""

    staff: RelyingParty | None
    staff_rules: StaffClaimRules | None
    resident: RelyingParty | None
    resident_bsn_claim: str
    resident_organisation: str | None
    public_url: str
    pending: PendingLogins = field(default_factory=PendingLogins)
    clock: Callable[[], float] = time.time
    """Wall clock, to compare with an ID token's `exp`."""


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _role_map(settings: Settings, directory: staff.StaffDirectory) -> dict[str, tuple[str, ...]]:
    mapping: dict[str, tuple[str, ...]] = {}
    for value, roles in settings.staff_oidc_role_map.items():
        names = (roles,) if isinstance(roles, str) else tuple(roles)
        for name in names:
            if name not in directory.roles:
                defined = ", ".join(sorted(directory.roles)) or "none"
                source = directory.source or "no staff directory (set GLAZENSTAD_STAFF_DIRECTORY)"
                raise ValueError(
                    f"GLAZENSTAD_STAFF_OIDC_ROLE_MAP maps {value!r} to role {name!r}, which the "
                    f"staff directory does not define ({source}; defined: {defined})"
                )
        mapping[value] = names
    return mapping


def build(settings: Settings, directory: staff.StaffDirectory) -> OidcLogins:
    """Single sign-on from the settings; ValueError names a wrong role mapping. No network:
    the providers are asked for their configuration on the first login."""
    public_url = settings.effective_public_url
    staff_rp = resident_rp = None
    rules = None
    if settings.staff_oidc_issuer and settings.staff_oidc_client_id:
        staff_rp = RelyingParty(
            Provider(settings.staff_oidc_issuer),
            client_id=settings.staff_oidc_client_id,
            client_secret=_secret(settings.staff_oidc_client_secret),
            redirect_uri=public_url + STAFF_CALLBACK,
            scopes=settings.staff_oidc_scopes,
        )
        rules = StaffClaimRules(
            id_claim=settings.staff_oidc_id_claim,
            role_claim=settings.staff_oidc_role_claim,
            department_claim=settings.staff_oidc_department_claim,
            role_map=_role_map(settings, directory),
            organisation=settings.staff_oidc_organisation,
            organisation_claim=settings.staff_oidc_organisation_claim,
        )
    if settings.resident_oidc_issuer and settings.resident_oidc_client_id:
        resident_rp = RelyingParty(
            Provider(settings.resident_oidc_issuer),
            client_id=settings.resident_oidc_client_id,
            client_secret=_secret(settings.resident_oidc_client_secret),
            redirect_uri=public_url + RESIDENT_CALLBACK,
            scopes=settings.resident_oidc_scopes,
        )
    return OidcLogins(
        staff=staff_rp,
        staff_rules=rules,
        resident=resident_rp,
        resident_bsn_claim=settings.resident_oidc_bsn_claim,
        resident_organisation=settings.resident_oidc_organisation,
        public_url=public_url,
    )


def configure(app: FastAPI) -> None:
    """Attach single sign-on to the application (after its staff directory is loaded)."""
    app.state.oidc_logins = build(app.state.glazenstad.settings, app.state.staff_directory)


def logins_of(request: Request) -> OidcLogins | None:
    found: OidcLogins | None = getattr(request.app.state, "oidc_logins", None)
    return found


# --- what the login pages show ------------------------------------------------------------------


def staff_sso_configured(request: Request) -> bool:
    logins = logins_of(request)
    return logins is not None and logins.staff is not None


def staff_sso_url(request: Request, back: str) -> str | None:
    """The address that starts single sign-on for staff, or None without it."""
    if not staff_sso_configured(request):
        return None
    return f"{STAFF_START}?terug={quote(back, safe='/')}"


@dataclass(frozen=True)
class LoginLink:
    label: str
    url: str


def resident_links(request: Request, organisations: Sequence[Any]) -> list[LoginLink]:
    """Links that start the DigiD login: one, or one per organisation when residents choose."""
    logins = logins_of(request)
    if logins is None or logins.resident is None:
        return []
    if logins.resident_organisation:
        return [LoginLink("Inloggen met DigiD", RESIDENT_START)]
    return [
        LoginLink(
            f"Inloggen met DigiD bij {org.name}",
            f"{RESIDENT_START}?{urlencode({'organisatie': org.id})}",
        )
        for org in organisations
    ]


# --- pages ------------------------------------------------------------------------------------


def _failure(request: Request, status: int, message: tuple[str, str]) -> Response:
    from glazenstad.web.portal.routes import render

    title, text = message
    return render(request, "error.html", status_code=status, title=title, text=text, status=status)


def _moving_on(request: Request, target: str, *, title: str, text: str, link: str) -> Response:
    """A page that goes to `target` by itself (meta refresh), with a link for when it does not."""
    from glazenstad.web.portal.routes import templates

    return templates.TemplateResponse(
        request,
        "oidc_continue.html",
        {"request": request, "target": target, "title": title, "text": text, "link": link},
    )


def _start(
    request: Request, rp: RelyingParty, *, kind: str, back: str, organisation_id: str | None
) -> Response:
    logins = logins_of(request)
    assert logins is not None
    try:
        auth = rp.authorization_request()
    except OidcError as exc:
        log.warning("%s sign-in unavailable: %s", kind, exc.reason)
        return _failure(request, 503, UNAVAILABLE)
    browser = request.cookies.get(PENDING_COOKIE) or ""
    if not 30 <= len(browser) <= 100:
        browser = secrets.token_urlsafe(32)
    logins.pending.add(
        auth.state,
        Pending(
            kind=kind,
            browser=browser,
            nonce=auth.nonce,
            code_verifier=auth.code_verifier,
            back=back,
            organisation_id=organisation_id,
            expires=logins.pending.clock() + PENDING_SECONDS,
        ),
    )
    response = RedirectResponse(auth.url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        browser,
        max_age=PENDING_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _complete(
    request: Request,
    rp: RelyingParty,
    *,
    kind: str,
    code: str | None,
    state: str | None,
    error: str | None,
) -> tuple[Pending, SignIn, float] | Response:
    """The pending login and the checked sign-in with its remaining seconds, or a failure page."""
    logins = logins_of(request)
    assert logins is not None
    pending = logins.pending.take(state) if state else None
    browser = request.cookies.get(PENDING_COOKIE) or ""
    if (
        pending is None
        or pending.kind != kind
        or not browser
        or not secrets.compare_digest(browser, pending.browser)
    ):
        log.warning("%s sign-in refused: state does not match a login started here", kind)
        return _failure(request, 400, FAILED)
    if error or not code:
        log.info("%s sign-in not completed at the provider: %s", kind, (error or "no code")[:80])
        return _failure(request, 400, FAILED)
    try:
        signed = rp.sign_in(code, pending.code_verifier, pending.nonce)
    except OidcError as exc:
        log.warning("%s sign-in refused: %s", kind, exc.reason)
        return _failure(request, 400, FAILED)
    remaining = signed.expires_at - logins.clock()
    if remaining <= 0:
        log.warning("%s sign-in refused: the ID token expires before a session can start", kind)
        return _failure(request, 400, FAILED)
    return pending, signed, remaining


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name; dots reach into objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text_claim(claims: dict[str, Any], path: str | None) -> str | None:
    value = claim(claims, path) if path else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def staff_user(
    claims: dict[str, Any], rules: StaffClaimRules, directory: staff.StaffDirectory
) -> staff.StaffUser | None:
    """The member of staff these claims describe, or None when they map to no role."""
    values = claim(claims, rules.role_claim)
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, list):
        values = []
    roles = sorted(
        {
            role
            for value in values
            if isinstance(value, str)
            for role in rules.role_map.get(value, ())
        }
    )
    organisation = rules.organisation or _text_claim(claims, rules.organisation_claim)
    if not roles or not organisation:
        return None
    user_id = _text_claim(claims, rules.id_claim) or str(claims["sub"])
    known = directory.user(user_id)
    return staff.StaffUser(
        id=user_id,
        name=_text_claim(claims, "name") or user_id,
        organisation_id=organisation,
        roles=tuple(roles),
        department=_text_claim(claims, rules.department_claim) or UNKNOWN_DEPARTMENT,
        owns=known.owns if known and known.organisation_id == organisation else (),
        permissions=frozenset(p for role in roles for p in directory.roles.get(role, ())),
    )


@router.get(STAFF_START)
def staff_start(request: Request, terug: str | None = None) -> Response:
    from glazenstad.web.portal.stafflogin import safe_return_path

    logins = logins_of(request)
    if logins is None or logins.staff is None:
        raise HTTPException(status_code=404)
    return _start(
        request, logins.staff, kind="staff", back=safe_return_path(terug), organisation_id=None
    )


@router.get(STAFF_CALLBACK, response_class=HTMLResponse)
def staff_callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    logins = logins_of(request)
    if logins is None or logins.staff is None or logins.staff_rules is None:
        raise HTTPException(status_code=404)
    outcome = _complete(request, logins.staff, kind="staff", code=code, state=state, error=error)
    if isinstance(outcome, Response):
        return outcome
    pending, signed, remaining = outcome
    user = staff_user(signed.claims, logins.staff_rules, staff.directory_of(request))
    if user is None:
        log.warning("staff sign-in refused: the claims map to no role or organisation")
        return _failure(request, 403, NO_ROLE)
    sessions = staff.staff_sessions(request)
    sessions.end(request.cookies.get(staff.STAFF_SESSION_COOKIE))  # never continue an old one
    session_id = sessions.start(user.id, user=user, lifetime=remaining, id_token=signed.id_token)
    log.info("staff sign-in of %s (%s)", user.id, ", ".join(user.roles))
    response = _moving_on(
        request,
        pending.back,
        title="U bent ingelogd",
        text=f"Welkom, {user.name}. We sturen u door.",
        link="Verder",
    )
    devlogin.strict_cookie(
        request,
        response,
        staff.STAFF_SESSION_COOKIE,
        session_id,
        max_age=int(min(remaining, staff.STAFF_SESSION_SECONDS)),
    )
    return response


@router.get(RESIDENT_START)
def resident_start(request: Request, organisatie: str | None = None) -> Response:
    from glazenstad.web.portal.routes import snapshot_of

    logins = logins_of(request)
    if logins is None or logins.resident is None:
        raise HTTPException(status_code=404)
    organisation = logins.resident_organisation
    if organisation is None:
        if not organisatie or snapshot_of(request).organisation(organisatie) is None:
            raise HTTPException(status_code=404)
        organisation = organisatie
    return _start(
        request,
        logins.resident,
        kind="resident",
        back=devlogin.OVERVIEW_URL,
        organisation_id=organisation,
    )


@router.get(RESIDENT_CALLBACK, response_class=HTMLResponse)
def resident_callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    logins = logins_of(request)
    if logins is None or logins.resident is None:
        raise HTTPException(status_code=404)
    outcome = _complete(
        request, logins.resident, kind="resident", code=code, state=state, error=error
    )
    if isinstance(outcome, Response):
        return outcome
    pending, signed, remaining = outcome
    value = signed.claims.get(logins.resident_bsn_claim)
    bsn = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not devlogin.valid_bsn(bsn) or pending.organisation_id is None:
        log.warning(
            "resident sign-in refused: claim '%s' holds no valid BSN", logins.resident_bsn_claim
        )
        return _failure(request, 400, NO_BSN)
    store = devlogin.sessions(request)
    store.end(request.cookies.get(devlogin.SESSION_COOKIE))  # never continue an old one
    session_id = store.start(pending.organisation_id, bsn, lifetime=remaining, single_sign_on=True)
    response = _moving_on(
        request,
        devlogin.OVERVIEW_URL,
        title="U bent ingelogd",
        text="U bent ingelogd met DigiD. We sturen u door naar uw verwerkingen.",
        link="Naar mijn verwerkingen",
    )
    devlogin.strict_cookie(
        request,
        response,
        devlogin.SESSION_COOKIE,
        session_id,
        max_age=int(min(remaining, store.lifetime)),
    )
    return response


# --- logout at the provider ---------------------------------------------------------------------


def _provider_logout(
    request: Request, rp: RelyingParty, back: str, id_token_hint: str | None, kind: str
) -> Response | None:
    logins = logins_of(request)
    assert logins is not None
    try:
        url = rp.logout_url(logins.public_url + back, id_token_hint=id_token_hint)
    except OidcError as exc:
        log.warning("%s logout at the provider skipped: %s", kind, exc.reason)
        return None
    if url is None:
        return None
    return _moving_on(
        request,
        url,
        title="U bent uitgelogd",
        text="U bent uitgelogd bij Glazen Stad. We loggen u nu ook uit bij de inlogdienst.",
        link="Ook uitloggen bij de inlogdienst",
    )


def staff_provider_logout(request: Request, id_token: str) -> Response | None:
    """After the local logout of a single sign-on session: the page that ends the provider's
    session too (None when the provider has no end-session endpoint or cannot be reached)."""
    logins = logins_of(request)
    if logins is None or logins.staff is None:
        return None
    return _provider_logout(request, logins.staff, "/", id_token, "staff")


def broker_logout(request: Request) -> Response | None:
    """As `staff_provider_logout`, for residents; without the ID token as hint, because a
    resident's ID token carries the BSN and the hint travels in an address."""
    logins = logins_of(request)
    if logins is None or logins.resident is None:
        return None
    return _provider_logout(request, logins.resident, devlogin.OVERVIEW_URL, None, "resident")
