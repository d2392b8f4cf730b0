"""The gateway's configuration: who may call it (clients) and what it fronts (routes).

A YAML file written by the operator, validated like the register: every mistake names file,
line and field. The register says which dataset holds which data categories and where its API
lives; the gateway file adds what only a deployment knows: client tokens and the actors they
stand for, and per source endpoint which data category it serves, where its data subject is and
which response fields hold which other categories. Tokens are stored as SHA-256 hashes, so the
file can be reviewed and versioned without giving access.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from glazenstad.register.yamlsource import (
    Problem,
    ProblemsError,
    StrictFileModel,
    plain,
    read_documents,
    validation_problems,
)

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
PATH_PARAMETER = re.compile(r"\{([a-zA-Z][a-zA-Z0-9_]*)\}")
# Tokens of the demo configuration: public, so production mode refuses any client using them.
DEMO_TOKEN_PREFIX = "demo-"


class GatewayConfigError(ProblemsError):
    """The configuration file is wrong; `problems` says where."""


class Client(StrictFileModel):
    """An application or user that calls the gateway, and the actor it is in decisions."""

    id: str = Field(pattern=SLUG, description="Shown in logs and audit, never the token.")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the token (hex).")
    role: str = Field(pattern=SLUG)
    department: str = Field(min_length=1, max_length=200)
    channel: str | None = Field(default=None, pattern=SLUG, description="e.g. intern.")
    case_assignments: list[str] = Field(default_factory=list)
    demo: bool = Field(default=False, description="A public demo token; production refuses it.")


class SubjectSource(StrictFileModel):
    """Where a request's data subject is: a path parameter, or a field of the response objects."""

    param: str | None = Field(default=None, description="Path parameter holding the identifier.")
    field: str | None = Field(default=None, description="Response field holding identifiers.")
    type: str = Field(min_length=1, max_length=50, description="e.g. BSN or kenteken.")
    category: str | None = Field(
        default=None,
        pattern=SLUG,
        description="Data category of the identifier (e.g. bsn): its fields are pseudonymised "
        "keyed like the log, so one person has one pseudonym in answers and logbook.",
    )


class Route(StrictFileModel):
    """One endpoint of a source API as the gateway serves it."""

    dataset: str = Field(pattern=SLUG, description="Register dataset id; its API is the upstream.")
    path: str = Field(pattern=r"^/[^\s?#]*$", description="Path below /<dataset> on the gateway.")
    upstream_path: str | None = Field(
        default=None,
        pattern=r"^/[^\s?#]*$",
        description="Path at the source when it differs from `path` (same parameters); lets "
        "one source endpoint be offered twice, e.g. once for reading and once for sharing.",
    )
    methods: list[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]] = Field(
        default_factory=lambda: ["GET"]  # type: ignore[arg-type]
    )
    action: Literal["read", "write", "share", "link", "delete"] | None = Field(
        default=None, description="Default: read for GET and HEAD, write for the others."
    )
    data_category: str = Field(pattern=SLUG, description="What the endpoint serves.")
    subject: SubjectSource | None = None
    fields: dict[str, str] = Field(
        default_factory=dict, description="Response field → data category, for fields of others."
    )
    name: str | None = Field(default=None, max_length=200, description="Action name in the log.")

    def action_for(self, method: str) -> str:
        if self.action is not None:
            return self.action
        return "read" if method in ("GET", "HEAD") else "write"


class GatewayFile(StrictFileModel):
    kind: Literal["gateway"]
    organisation: str = Field(pattern=SLUG)
    upstreams: dict[str, str] = Field(
        default_factory=dict,
        description="Dataset id → base URL, instead of the register's api_url (e.g. local demo).",
    )
    clients: list[Client] = Field(default_factory=list)
    routes: list[Route] = Field(min_length=1)


@dataclass(frozen=True)
class CompiledRoute:
    """A route with its path as a regular expression, ready to match requests."""

    route: Route
    prefix: str
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method not in self.route.methods:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found is not None else None


@dataclass(frozen=True)
class GatewayConfig:
    organisation: str
    upstreams: dict[str, str]
    clients_by_hash: dict[str, Client]
    routes: list[CompiledRoute]
    source: str

    def client(self, token: str) -> Client | None:
        return self.clients_by_hash.get(token_hash(token))

    def route(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        """The route for `/<dataset>/<path>`, and the path parameters it captured."""
        for compiled in self.routes:
            if path.startswith(compiled.prefix):
                params = compiled.match(method, path[len(compiled.prefix) :])
                if params is not None:
                    return compiled, params
        return None

    @property
    def has_demo_clients(self) -> bool:
        return any(c.demo for c in self.clients_by_hash.values())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _compile(route: Route) -> CompiledRoute:
    parts: list[str] = []
    last = 0
    for found in PATH_PARAMETER.finditer(route.path):
        parts.append(re.escape(route.path[last : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        last = found.end()
    parts.append(re.escape(route.path[last:]))
    return CompiledRoute(route, f"/{route.dataset}", re.compile("".join(parts)))


def _route_problems(file: GatewayFile, relative: str) -> list[Problem]:
    """Cross-field checks pydantic cannot express per field."""
    problems: list[Problem] = []
    for index, route in enumerate(file.routes):
        where = f"routes[{index}]"
        params = set(PATH_PARAMETER.findall(route.path))
        if route.upstream_path is not None:
            unknown = set(PATH_PARAMETER.findall(route.upstream_path)) - params
            if unknown:
                problems.append(
                    Problem(
                        relative,
                        None,
                        f"{where}.upstream_path",
                        f"parameters {sorted(unknown)} are not in path '{route.path}'",
                    )
                )
        subject = route.subject
        if subject is not None:
            if (subject.param is None) == (subject.field is None):
                problems.append(
                    Problem(relative, None, f"{where}.subject", "give exactly one of param, field")
                )
            elif subject.param is not None and subject.param not in params:
                problems.append(
                    Problem(
                        relative,
                        None,
                        f"{where}.subject.param",
                        f"'{subject.param}' is not a parameter of path '{route.path}'",
                    )
                )
    hashes: set[str] = set()
    for index, client in enumerate(file.clients):
        if client.token_sha256 in hashes:
            problems.append(
                Problem(relative, None, f"clients[{index}].token_sha256", "token used twice")
            )
        hashes.add(client.token_sha256)
    return problems


def load_gateway_config(path: Path) -> GatewayConfig:
    """Read and check a gateway file; raises GatewayConfigError naming every problem."""
    relative = path.name
    if not path.is_file():
        raise GatewayConfigError([Problem(str(path), None, None, "no such file")])
    documents, problems = read_documents(path, relative)
    if problems:
        raise GatewayConfigError(problems)
    if len(documents) != 1:
        raise GatewayConfigError(
            [Problem(relative, None, None, f"expected one YAML document, found {len(documents)}")]
        )
    node, line = documents[0]
    try:
        file = GatewayFile.model_validate(plain(node))
    except ValidationError as exc:
        raise GatewayConfigError(
            list(validation_problems(exc, GatewayFile, node, relative, line, None))
        ) from None
    problems = _route_problems(file, relative)
    if problems:
        raise GatewayConfigError(problems)
    return GatewayConfig(
        organisation=file.organisation,
        upstreams={k: v.rstrip("/") for k, v in file.upstreams.items()},
        clients_by_hash={c.token_sha256: c for c in file.clients},
        # Longer paths first, so /personen/{bsn}/partners wins over /personen/{bsn}.
        routes=sorted((_compile(r) for r in file.routes), key=lambda c: -len(c.route.path)),
        source=str(path),
    )
