"""Which systems may call the API's system routes, and with which scopes.

Applications, the gateway, scan-car pipelines and sensors ask for decisions, write log records
and read the logbook. Each is a *system client* with an organisation and the scopes it needs,
nothing more (least privilege): an application that only logs cannot read the logbook, and a
client of one municipality can do nothing for another.

A client proves who it is with a bearer token, in one of two ways:

- an OAuth2 access token from the municipality's authorisation server (client credentials),
  checked by a validator that `install_token_validator` sets; its `scope` claim grants scopes;
- a static token whose SHA-256 hash is in a system clients file (`GLAZENSTAD_SYSTEM_CLIENTS`;
  the demo file in demo and development mode, refused in production because its tokens are
  published). The file can be versioned without giving access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from glazenstad.register.yamlsource import (
    Problem,
    ProblemsError,
    StrictFileModel,
    read_single_model,
)
from glazenstad.web.oidc.errors import OidcError
from glazenstad.web.oidc.tokens import AccessTokenValidator, client_id_of, granted_scopes
from glazenstad.web.problems import ProblemError
from glazenstad.web.staff import SLUG, token_hash

DECISIONS_REQUEST = "decisions:request"
"""Ask the engine for decisions (`POST /decisions`, `/decisions/batch`)."""
LOGBOOK_WRITE = "logbook:write"
"""Write log records (`POST /logboek/records`, OTLP `POST /v1/traces`)."""
LOGBOOK_READ = "logbook:read"
"""Read the logbook through the LDV read extension (`POST /logboek/processing-activities`)."""

SCOPES: dict[str, str] = {
    DECISIONS_REQUEST: "Besluiten vragen aan de beslismachine",
    LOGBOOK_WRITE: "Logregels schrijven in het logboek",
    LOGBOOK_READ: "Het logboek lezen (leesextensie)",
}
"""Every scope, with what it allows in plain Dutch."""

DEMO_TOKEN_PREFIX = "demo-system-"
DEMO_CLIENTS = Path(__file__).resolve().parents[3] / "demo" / "systems.yaml"


@dataclass(frozen=True)
class SystemClient:
    """A calling system as the application sees it: identity, organisation, scopes."""

    id: str
    organisation_id: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


class SystemClientsError(ProblemsError):
    """The system clients file is wrong; `problems` says where."""


class ClientEntry(StrictFileModel):
    id: str = Field(pattern=SLUG, description="Shown in audit trails and logs, never the token.")
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(pattern=SLUG)
    scopes: list[str] = Field(min_length=1)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 (hex) of its token.")


class ClientsFile(StrictFileModel):
    kind: str = Field(pattern=r"^systems$")
    demo: bool = Field(default=False, description="Public demo tokens; production refuses it.")
    clients: list[ClientEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class SystemClients:
    """The static-token clients of an installation, by token hash."""

    by_token_hash: dict[str, SystemClient]
    demo: bool
    source: str

    def by_token(self, token: str) -> SystemClient | None:
        return self.by_token_hash.get(token_hash(token))


def no_clients() -> SystemClients:
    return SystemClients(by_token_hash={}, demo=False, source="")


def load_system_clients(path: Path) -> SystemClients:
    """Read and check a system clients file; raises SystemClientsError naming every problem."""
    file, problems = read_single_model(path, ClientsFile)
    if file is None:
        raise SystemClientsError(problems)
    problems = _problems(file, path.name)
    if problems:
        raise SystemClientsError(problems)
    clients = {
        entry.token_sha256: SystemClient(entry.id, entry.organisation, frozenset(entry.scopes))
        for entry in file.clients
    }
    return SystemClients(by_token_hash=clients, demo=file.demo, source=str(path))


def _problems(file: ClientsFile, relative: str) -> list[Problem]:
    problems: list[Problem] = []
    ids: set[str] = set()
    hashes: set[str] = set()
    for index, entry in enumerate(file.clients):
        if entry.id in ids:
            problems.append(Problem(relative, None, f"clients[{index}].id", "id used twice"))
        ids.add(entry.id)
        if entry.token_sha256 in hashes:
            problems.append(
                Problem(relative, None, f"clients[{index}].token_sha256", "token used twice")
            )
        hashes.add(entry.token_sha256)
        for s_index, scope in enumerate(entry.scopes):
            if scope not in SCOPES:
                problems.append(
                    Problem(
                        relative,
                        None,
                        f"clients[{index}].scopes[{s_index}]",
                        f"unknown scope '{scope}' (known: {', '.join(SCOPES)})",
                    )
                )
    return problems


def clients_for(mode: str, configured: Path | None) -> SystemClients:
    """The static-token clients in force: the configured file, or the demo one outside production.

    Production refuses a file marked `demo: true`: its tokens are published.
    """
    if configured is None:
        return no_clients() if mode == "production" else load_system_clients(DEMO_CLIENTS)
    clients = load_system_clients(configured)
    if mode == "production" and clients.demo:
        raise SystemClientsError(
            [
                Problem(
                    str(configured),
                    None,
                    "demo",
                    "a demo system clients file (public tokens) is refused in production mode",
                )
            ]
        )
    return clients


# --- request dependencies ---------------------------------------------------------------------

TokenValidator = Callable[[str], SystemClient]
"""Turns an OAuth2 access token into a client; raises TokenRefused saying why it cannot."""


class TokenRefused(Exception):
    """An access token that is not valid here; `reason` says why, without the token itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def oauth_clients(
    validator: AccessTokenValidator, organisation: str | None, organisation_claim: str
) -> TokenValidator:
    """Systems with OAuth2 client-credentials tokens from the municipality's authorisation server.

    The organisation is the token's `organisation_claim`, else the installation's one
    `organisation`; scopes this platform does not know are ignored, so that a token carrying
    scopes for other services grants nothing extra here.
    """

    def client(token: str) -> SystemClient:
        try:
            claims = validator.validate(token)
            client_id = client_id_of(claims)
        except OidcError as exc:
            raise TokenRefused(exc.reason) from None
        found = claims.get(organisation_claim, organisation)
        if not isinstance(found, str) or not found:
            raise TokenRefused(f"the access token names no organisation ({organisation_claim})")
        return SystemClient(client_id, found, granted_scopes(claims) & SCOPES.keys())

    return client


SYSTEM_TOKEN = HTTPBearer(
    auto_error=False,
    scheme_name="systemToken",
    description="A system's OAuth2 access token (client credentials) or static token.",
)
"""Declares the scheme in the OpenAPI document of every system route; the check is ours."""


def install_token_validator(app_state: object, validator: TokenValidator | None) -> None:
    """Accept OAuth2 access tokens checked by `validator` besides the static tokens."""
    app_state.system_token_validator = validator  # type: ignore[attr-defined]


def system_client(request: Request, token: str) -> SystemClient:
    """The client a bearer token belongs to: a static token first, else an OAuth2 token."""
    clients: SystemClients = request.app.state.system_clients
    found = clients.by_token(token)
    if found is not None:
        return found
    validator: TokenValidator | None = getattr(request.app.state, "system_token_validator", None)
    if validator is None:
        raise TokenRefused("unknown token")
    return validator(token)


def authorise(request: Request, token: str | None, scope: str) -> SystemClient:
    """The calling system, holding `scope`; 401 without a valid token, 403 without the scope."""
    try:
        if not token:
            raise TokenRefused("no token")
        client = system_client(request, token)
    except TokenRefused as exc:
        # RFC 6750: an error code only when a token was presented.
        error = 'error="invalid_token", ' if token else ""
        raise ProblemError(
            401,
            "Deze vraag vraagt een geldig token van een systeem (Authorization: Bearer "
            f"<token>): {exc.reason}.",
            headers={"WWW-Authenticate": f'Bearer realm="glazenstad", {error}scope="{scope}"'},
        ) from None
    if not client.may(scope):
        raise ProblemError(
            403,
            f"Systeem '{client.id}' heeft de scope '{scope}' ({SCOPES[scope]}) niet.",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return client


def api_system(scope: str) -> Callable[..., SystemClient]:
    """A dependency for system routes: the calling system, holding `scope`.

    Which organisation the call is about is the route's to check, with `require_organisation`.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(SYSTEM_TOKEN),
    ) -> SystemClient:
        return authorise(request, credentials.credentials if credentials else None, scope)

    return dependency


def bearer_token(request: Request) -> str | None:
    """The bearer token of a request outside FastAPI's dependencies (e.g. OTLP), if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_organisation(client: SystemClient, organisation_id: str) -> None:
    """Refuse (403) a call about another organisation than the client's own."""
    if organisation_id != client.organisation_id:
        raise ProblemError(
            403,
            f"Systeem '{client.id}' hoort bij '{client.organisation_id}' en mag niets doen "
            f"voor '{organisation_id}'.",
        )
