"""Who a member of staff is, what they may do, and how the API and portal find out.

Staff and their permissions come from a staff directory: a YAML file the operator keeps next to
the register (`GLAZENSTAD_STAFF_DIRECTORY`; the demo directory in demo and development mode).
Permissions are granted to roles in the file, so "what may a privacy officer do" is one
reviewable line, not a property of each person. API callers present a token whose SHA-256 hash
is in the file (the file can be versioned without giving access); in the portal, staff start a
session with single sign-on at the municipality's identity provider (see
`glazenstad.web.portal.oidclogin`), or with the development login in demo and development mode.

Every staff route names the one permission it needs, through `api_staff(...)` or
`portal_staff(...)`. A member of staff only ever sees their own organisation: a route about
another organisation answers 404, as if it did not exist.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, ValidationError
from starlette.exceptions import HTTPException

from glazenstad.register.yamlsource import (
    Problem,
    ProblemsError,
    StrictFileModel,
    plain,
    read_documents,
    validation_problems,
)
from glazenstad.web.problems import ProblemError

# --- permissions ------------------------------------------------------------------------------

INSIGHT_READ = "insight:read"
"""Read the policy dashboard, compliance checks and impact results of one's organisation."""
POLICY_IMPACT = "policy:impact"
"""Replay recorded decisions against a draft policy version."""
SIGNALS_FILE = "signals:file"
"""File a signal about a rule that denied one's own work."""
SIGNALS_TRIAGE = "signals:triage"
"""Triage signals about rules whose owner is in the user's `owns`."""
SIGNALS_TRIAGE_ALL = "signals:triage-all"
"""Triage every signal of the organisation."""
INCIDENTS_MANAGE = "incidents:manage"
"""Register data breaches and record the notification decisions."""
BREAK_GLASS_REVIEW = "break-glass:review"
"""Review decisions taken under break-the-glass."""
REPORTS = "reports:create"
"""Produce the council report."""
PEERS_PUBLISH = "peers:publish"
"""Choose whether the organisation publishes its figures among peers."""

PERMISSIONS: dict[str, str] = {
    INSIGHT_READ: "Dashboard, naleving en gevolgen van regels bekijken",
    POLICY_IMPACT: "Gevolgen van een conceptversie van de spelregels doorrekenen",
    SIGNALS_FILE: "Een signaal uit de uitvoering indienen",
    SIGNALS_TRIAGE: "Signalen over de eigen regels behandelen",
    SIGNALS_TRIAGE_ALL: "Alle signalen behandelen",
    INCIDENTS_MANAGE: "Datalekken registreren en melden",
    BREAK_GLASS_REVIEW: "Doorbraken van regels (noodtoegang) beoordelen",
    REPORTS: "De verantwoording aan de gemeenteraad maken",
    PEERS_PUBLISH: "Kiezen of de gemeente haar cijfers deelt met andere gemeenten",
}
"""Every permission, with what it allows in plain Dutch (shown on the staff start page)."""

DEMO_TOKEN_PREFIX = "demo-staff-"
DEMO_DIRECTORY = Path(__file__).resolve().parents[3] / "demo" / "staff.yaml"


@dataclass(frozen=True)
class StaffUser:
    """A member of staff as the application sees them: identity, organisation, permissions."""

    id: str
    name: str
    organisation_id: str
    roles: tuple[str, ...]
    department: str
    owns: tuple[str, ...]
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return permission in self.permissions


# --- the directory file -----------------------------------------------------------------------

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class StaffDirectoryError(ProblemsError):
    """The staff directory file is wrong; `problems` says where."""


class StaffEntry(StrictFileModel):
    id: str = Field(pattern=SLUG, description="Shown in audit trails, never the token.")
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(pattern=SLUG)
    roles: list[str] = Field(min_length=1)
    department: str = Field(min_length=1, max_length=200)
    owns: list[str] = Field(
        default_factory=list,
        description="Owners this person answers for, as the register and rules name them.",
    )
    token_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="sha256 (hex) of an API token."
    )


class StaffFile(StrictFileModel):
    kind: str = Field(pattern=r"^staff$")
    demo: bool = Field(default=False, description="Public demo tokens; production refuses it.")
    roles: dict[str, list[str]] = Field(description="Role → the permissions it grants.")
    users: list[StaffEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class StaffDirectory:
    """The staff of an installation, by id and by token hash."""

    users: dict[str, StaffUser]
    by_token_hash: dict[str, StaffUser]
    demo: bool
    source: str
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    """Role -> the permissions it grants (single sign-on maps provider roles onto these)."""

    def user(self, user_id: str) -> StaffUser | None:
        return self.users.get(user_id)

    def by_token(self, token: str) -> StaffUser | None:
        return self.by_token_hash.get(token_hash(token))

    def of_organisation(self, organisation_id: str) -> list[StaffUser]:
        return [u for u in self.users.values() if u.organisation_id == organisation_id]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def empty_directory() -> StaffDirectory:
    return StaffDirectory(users={}, by_token_hash={}, demo=False, source="")


def load_staff_directory(path: Path) -> StaffDirectory:
    """Read and check a staff directory; raises StaffDirectoryError naming every problem."""
    relative = path.name
    if not path.is_file():
        raise StaffDirectoryError([Problem(str(path), None, None, "no such file")])
    documents, problems = read_documents(path, relative)
    if problems:
        raise StaffDirectoryError(problems)
    if len(documents) != 1:
        found = len(documents)
        raise StaffDirectoryError(
            [Problem(relative, None, None, f"expected one YAML document, found {found}")]
        )
    node, line = documents[0]
    try:
        file = StaffFile.model_validate(plain(node))
    except ValidationError as exc:
        raise StaffDirectoryError(
            list(validation_problems(exc, StaffFile, node, relative, line, None))
        ) from None
    problems = _problems(file, relative)
    if problems:
        raise StaffDirectoryError(problems)
    users: dict[str, StaffUser] = {}
    by_hash: dict[str, StaffUser] = {}
    for entry in file.users:
        granted = frozenset(p for role in entry.roles for p in file.roles[role])
        user = StaffUser(
            id=entry.id,
            name=entry.name,
            organisation_id=entry.organisation,
            roles=tuple(entry.roles),
            department=entry.department,
            owns=tuple(entry.owns),
            permissions=granted,
        )
        users[user.id] = user
        if entry.token_sha256:
            by_hash[entry.token_sha256] = user
    roles = {role: frozenset(granted) for role, granted in file.roles.items()}
    return StaffDirectory(
        users=users, by_token_hash=by_hash, demo=file.demo, source=str(path), roles=roles
    )


def _problems(file: StaffFile, relative: str) -> list[Problem]:
    problems: list[Problem] = []
    for role, granted in file.roles.items():
        for index, permission in enumerate(granted):
            if permission not in PERMISSIONS:
                known = ", ".join(PERMISSIONS)
                problems.append(
                    Problem(
                        relative,
                        None,
                        f"roles.{role}[{index}]",
                        f"unknown permission '{permission}' (known: {known})",
                    )
                )
    ids: set[str] = set()
    hashes: set[str] = set()
    for index, entry in enumerate(file.users):
        if entry.id in ids:
            problems.append(Problem(relative, None, f"users[{index}].id", "id used twice"))
        ids.add(entry.id)
        for r_index, role in enumerate(entry.roles):
            if role not in file.roles:
                problems.append(
                    Problem(
                        relative,
                        None,
                        f"users[{index}].roles[{r_index}]",
                        f"role '{role}' is not defined under roles",
                    )
                )
        if entry.token_sha256:
            if entry.token_sha256 in hashes:
                problems.append(
                    Problem(relative, None, f"users[{index}].token_sha256", "token used twice")
                )
            hashes.add(entry.token_sha256)
    return problems


# --- sessions (portal) ------------------------------------------------------------------------

STAFF_SESSION_COOKIE = "gs_medewerker"
STAFF_SESSION_SECONDS = 8 * 60 * 60  # a working day
MAX_STAFF_SESSIONS = 10_000


@dataclass(frozen=True)
class StaffSession:
    """One portal session. A session from single sign-on carries the user made from the
    provider's claims (who need not be in the directory) and the ID token, for logout."""

    user_id: str
    expires: float
    user: StaffUser | None = None
    id_token: str | None = field(default=None, repr=False)


class StaffSessions:
    """Portal sessions of staff in server memory: random id → session, until it expires."""

    def __init__(
        self, lifetime: float = STAFF_SESSION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._sessions: dict[str, StaffSession] = {}
        self._lock = threading.Lock()

    def start(
        self,
        user_id: str,
        *,
        user: StaffUser | None = None,
        lifetime: float | None = None,
        id_token: str | None = None,
    ) -> str:
        """A new session; `lifetime` can only shorten the standard one (an ID token's expiry)."""
        session_id = secrets.token_urlsafe(32)
        seconds = self.lifetime if lifetime is None else min(self.lifetime, lifetime)
        with self._lock:
            now = self.clock()
            for key in [k for k, s in self._sessions.items() if s.expires <= now]:
                del self._sessions[key]
            if len(self._sessions) >= MAX_STAFF_SESSIONS:  # bounded memory: drop the oldest
                oldest = min(self._sessions, key=lambda k: self._sessions[k].expires)
                del self._sessions[oldest]
            self._sessions[session_id] = StaffSession(user_id, now + seconds, user, id_token)
        return session_id

    def session(self, session_id: str | None) -> StaffSession | None:
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if found.expires <= self.clock():
                del self._sessions[session_id]
                return None
            return found

    def get(self, session_id: str | None) -> str | None:
        found = self.session(session_id)
        return found.user_id if found else None

    def end(self, session_id: str | None) -> StaffSession | None:
        """End a session; returns it, so logout can also end it at the identity provider."""
        if not session_id:
            return None
        with self._lock:
            return self._sessions.pop(session_id, None)


# --- request dependencies ---------------------------------------------------------------------

LOGIN_PATH = "/medewerkers/inloggen"


def directory_of(request: Request) -> StaffDirectory:
    directory: StaffDirectory = request.app.state.staff_directory
    return directory


def staff_sessions(request: Request) -> StaffSessions:
    store: StaffSessions = request.app.state.staff_sessions
    return store


def session_user(request: Request) -> StaffUser | None:
    """The member of staff logged in to the portal in this browser, if any."""
    found = staff_sessions(request).session(request.cookies.get(STAFF_SESSION_COOKIE))
    if found is None:
        return None
    return found.user or directory_of(request).user(found.user_id)


def bearer_user(request: Request) -> StaffUser | None:
    """The member of staff whose token the request carries, if any (no permission check)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return directory_of(request).by_token(token.strip())


STAFF_TOKEN = HTTPBearer(
    auto_error=False,
    scheme_name="staffToken",
    description="A staff member's API token; the staff directory holds its SHA-256 hash.",
)
"""Declares the scheme in the OpenAPI document of every staff route; the check is ours."""


def api_staff(*permissions: str) -> Callable[..., StaffUser]:
    """A dependency for API routes: the calling member of staff, holding one of `permissions`.

    401 without a known token (with `WWW-Authenticate`, so clients know what to send), 403 when
    the permission is lacking. A route with an `organisationId` path parameter of another
    organisation answers 404: staff of one municipality cannot even learn what exists elsewhere.
    """
    _known(permissions)

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(STAFF_TOKEN),
    ) -> StaffUser:
        user = directory_of(request).by_token(credentials.credentials) if credentials else None
        if user is None:
            raise ProblemError(
                401,
                "Deze vraag vraagt een geldig token van een medewerker "
                "(Authorization: Bearer <token>).",
                headers={"WWW-Authenticate": 'Bearer realm="glazenstad"'},
            )
        _check(request, user, permissions)
        return user

    return dependency


def portal_staff(*permissions: str) -> Callable[[Request], StaffUser]:
    """A dependency for staff pages: the logged-in member of staff, holding one of `permissions`.

    Without a session the browser goes to the login page, and back here afterwards.
    """
    _known(permissions)

    def dependency(request: Request) -> StaffUser:
        user = session_user(request)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                status_code=303,
                headers={"Location": f"{LOGIN_PATH}?terug={quote(target, safe='/')}"},
            )
        _check(request, user, permissions)
        return user

    return dependency


def _known(permissions: tuple[str, ...]) -> None:
    if not permissions:
        raise ValueError("name at least one permission")
    for permission in permissions:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")


def _check(request: Request, user: StaffUser, permissions: tuple[str, ...]) -> None:
    organisation = request.path_params.get("organisationId") or request.path_params.get(
        "organisation_id"
    )
    if organisation is not None and organisation != user.organisation_id:
        raise ProblemError(404, f"Er is geen resource op {request.url.path}.")
    if not any(user.can(p) for p in permissions):
        needed = " of ".join(f"'{p}' ({PERMISSIONS[p]})" for p in permissions)
        raise ProblemError(403, f"Hiervoor is het recht {needed} nodig.")


def directory_for(mode: str, configured: Path | None) -> StaffDirectory:
    """The staff directory in force: the configured file, or the demo one outside production.

    Production refuses a directory marked `demo: true`: its tokens are published.
    """
    if configured is None:
        return empty_directory() if mode == "production" else load_staff_directory(DEMO_DIRECTORY)
    directory = load_staff_directory(configured)
    if mode == "production" and directory.demo:
        raise StaffDirectoryError(
            [
                Problem(
                    str(configured),
                    None,
                    "demo",
                    "a demo staff directory (public tokens) is refused in production mode",
                )
            ]
        )
    return directory
