"""Every route with every role, against the reviewed access matrix (tests/trust/access_matrix.yaml).

The matrix says who may use a route; this test finds out what the application does. It walks
every operation of the OpenAPI document and every other route of the application (portal pages,
OTLP) with each role of the demo installation and checks that exactly the roles the matrix names
get through. A route missing from the matrix, or a matrix line for a route that no longer
exists, fails: access is decided in review, not by whatever the code happens to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from ruamel.yaml import YAML

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.openapi import openapi_document
from glazenstad.web.portal.devlogin import CSRF_COOKIE, CSRF_FIELD
from tests.conftest import DEMO_REGISTER, demo_system_token, login_staff, staff_token
from tests.portal.conftest import activate_policies, demo_policies

MATRIX = Path(__file__).with_name("access_matrix.yaml")
ORG = "voorbeeldstad"
RESIDENT_BSN = "999993653"
STAFF_ROLES = {
    "fg": "fg",
    "informatiemanager": "informatiemanager",
    "beleidsadviseur": "beleidsadviseur-sociaal-domein",
    "teamleider": "teamleider-sociaal-domein",
    "uitvoering": "wmo-consulent",
    "other-staff": "duinwijk-fg",
}
SYSTEM_ROLES = {
    "system-all": "voorbeeldstad",
    "system-writer": "voorbeeldstad-zaaksysteem",
    "system-reader": "voorbeeldstad-logboek-lezer",
    "other-system": "duinwijk",
}
ROLES = ["anonymous", "resident", *STAFF_ROLES, *SYSTEM_ROLES]
OTHER_ORGANISATION = {"other-staff", "other-system"}
ACTIVITY = "parkeerhandhaving-scanauto"
QUERIES = {"POST /logboek/processing-activities": f"?organisationId={ORG}"}
"""Required query parameters, so that a refusal is about access, not a missing parameter."""


@dataclass(frozen=True)
class Matrix:
    api: dict[str, frozenset[str]]
    portal: dict[str, frozenset[str]]


def read_matrix() -> Matrix:
    document = YAML(typ="safe").load(MATRIX.read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = document["groups"]

    def roles(value: str | list[str]) -> frozenset[str]:
        if value == "everyone":
            return frozenset(ROLES)
        names = groups[value] if isinstance(value, str) else value
        unknown = set(names) - set(ROLES)
        assert not unknown, f"{MATRIX.name}: unknown roles {sorted(unknown)}"
        return frozenset(names)

    return Matrix(
        api={route: roles(v) for route, v in document["api"].items()},
        portal={route: roles(v) for route, v in document["portal"].items()},
    )


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route
        elif hasattr(route, "original_router"):  # an included router, resolved lazily
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def other_routes(app: Any) -> set[str]:
    """Routes outside the OpenAPI document: portal pages and OTLP, as 'METHOD /path'."""
    found = set()
    for prefix, route in _routes(app.routes):
        path = prefix + route.path
        if path.startswith("/api/"):
            continue
        found |= {f"{method} {path}" for method in route.methods if method != "HEAD"}
    return found


@dataclass
class World:
    app: Any
    clients: dict[str, TestClient]
    values: dict[str, str]
    bodies: dict[str, Any]


def _decision_body(organisation: str = ORG) -> dict[str, Any]:
    return {
        "actor": {"role": "handhaver", "department": "Parkeren", "organisation": organisation},
        "action": "read",
        "resource": {"dataCategory": "kenteken"},
        "purpose": ACTIVITY,
    }


def _log_record() -> dict[str, Any]:
    return {
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
        "name": "Kenteken controleren",
        "start_time": "2026-11-01T10:00:00Z",
        "end_time": "2026-11-01T10:00:01Z",
        "status": "STATUS_CODE_OK",
        "resource": {"service.name": "matrix"},
        "attributes": {
            "dpl.core.processing_activity_id": (
                f"https://register.voorbeeldstad.example/processing-activities/{ACTIVITY}"
            )
        },
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("matrix")
    url = f"sqlite:///{data / 'matrix.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data, rate_limit_login="100000/minute"))
    engine = make_engine(url)
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    engine.dispose()
    activate_policies(url, demo_policies())
    clients: dict[str, TestClient] = {}
    with TestClient(app) as anonymous:
        clients["anonymous"] = anonymous
        resident = TestClient(app)
        page = resident.get("/inloggen")
        token = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
        assert token, "the resident login form has no form token"
        logged_in = resident.post(
            "/inloggen",
            data={"bsn": RESIDENT_BSN, "organisatie": ORG, CSRF_FIELD: token.group(1)},
            follow_redirects=False,
        )
        assert logged_in.status_code == 303, logged_in.text
        clients["resident"] = resident
        for role, user in STAFF_ROLES.items():
            client = TestClient(app, headers=staff_token(user))
            login_staff(client, user)
            clients[role] = client
        for role, client_id in SYSTEM_ROLES.items():
            clients[role] = TestClient(app, headers=demo_system_token(client_id))
        values = _path_values(clients["system-all"], clients["fg"])
        bodies = {
            "POST /decisions": _decision_body(),
            "POST /decisions/batch": {"requests": [_decision_body()]},
            "POST /logboek/records": {"organisationId": ORG, "records": [_log_record()]},
            "POST /logboek/processing-activities": {
                "dpl.core.processing_activity_id": _log_record()["attributes"][
                    "dpl.core.processing_activity_id"
                ]
            },
        }
        yield World(app, clients, values, bodies)


def _first_id(client: TestClient, path: str) -> str:
    response = client.get(f"/api/v1/organisations/{ORG}/{path}")
    assert response.status_code == 200, (path, response.text)
    return str(response.json()["results"][0]["id"])


def _path_values(system: TestClient, fg: TestClient) -> dict[str, str]:
    """Real identifiers of Voorbeeldstad, so that a refusal is about access, not existence."""
    decision = system.post("/api/v1/decisions", json=_decision_body())
    assert decision.status_code == 200, decision.text
    policies = system.get(f"/api/v1/organisations/{ORG}/policies").json()
    breach = fg.post(
        f"/api/v1/organisations/{ORG}/data-breaches",
        json={
            "title": "Verkeerd verstuurde brief",
            "description": "Een brief ging naar een verkeerd adres.",
            "discoveredAt": "2026-11-01T09:00:00+01:00",
        },
    )
    assert breach.status_code == 201, breach.text
    sensor = _first_id(system, "sensors")
    return {
        "organisationId": ORG,
        "org_id": ORG,
        "activityId": ACTIVITY,
        "activity_id": ACTIVITY,
        "algorithmId": _first_id(system, "algorithms"),
        "algorithm_id": _first_id(system, "algorithms"),
        "sensorId": sensor,
        "sensor_id": sensor,
        "dataCategoryId": _first_id(system, "data-categories"),
        "datasetId": _first_id(system, "datasets"),
        "policyVersion": policies[0]["version"],
        "schemaName": "register",
        "decisionId": decision.json()["receipt"]["decisionId"],
        "decision_id": decision.json()["receipt"]["decisionId"],
        "breachId": str(breach.json()["id"]),
        "breach_id:int": str(breach.json()["id"]),
        "signalId": "1",
        "signal_id:int": "1",
        "period": "2026-Q3",
        "periode": "2026-Q3",
    }


def _url(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no example value for path parameter {{{name}}}"
        return values[name]

    return re.sub(r"\{([^}]+)\}", value, template)


def _call(world: World, role: str, method: str, url: str, body: Any, form: bool) -> Response:
    client = world.clients[role]
    if form:
        token = client.cookies.get(CSRF_COOKIE) or "none"
        return client.request(method, url, data={CSRF_FIELD: token}, follow_redirects=False)
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, url, json=body or {}, follow_redirects=False)
    return client.request(method, url, follow_redirects=False)


SIGNED_OUT_VIEWS = {"GET /mijn-verwerkingen": 'method="post" action="/uitloggen"'}
"""Pages that answer 200 to everyone but show their content only when signed in: without the
sign-out form they show the invitation to log in, which counts as a refusal."""


def _refused(response: Response, role: str, about_an_organisation: bool, route: str = "") -> bool:
    if route in SIGNED_OUT_VIEWS and response.status_code == 200:
        return SIGNED_OUT_VIEWS[route] not in response.text
    if response.status_code in (401, 403):
        return True
    if response.status_code in (302, 303) and "inloggen" in response.headers.get("location", ""):
        return True
    return response.status_code == 404 and role in OTHER_ORGANISATION and about_an_organisation


def _order(route: str) -> tuple[int, str]:
    """Logging in and out last, so that no role loses its session half-way."""
    method, path = route.split(" ", 1)
    return (("inloggen" in path and method == "POST") + 2 * ("uitloggen" in path), route)


def test_matrix_names_every_route_and_nothing_else(world: World) -> None:
    matrix = read_matrix()
    document = openapi_document(world.app)
    api = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert sorted(api - set(matrix.api)) == [], "API routes missing from the access matrix"
    assert sorted(set(matrix.api) - api) == [], "matrix lines for API routes that do not exist"
    other = other_routes(world.app)
    assert sorted(other - set(matrix.portal)) == [], "routes missing from the access matrix"
    assert sorted(set(matrix.portal) - other) == [], "matrix lines for routes that do not exist"


def test_every_api_route_with_every_role(world: World) -> None:
    matrix = read_matrix()
    wrong = []
    for route in sorted(matrix.api, key=_order):
        method, template = route.split(" ", 1)
        url = "/api/v1" + _url(template, world.values) + QUERIES.get(route, "")
        about_organisation = "{organisationId}" in template or "{decisionId}" in template
        for role in ROLES:
            response = _call(world, role, method, url, world.bodies.get(route), form=False)
            refused = _refused(response, role, about_organisation)
            if refused == (role in matrix.api[route]):
                wrong.append(f"{route} as {role}: {response.status_code} {response.text[:120]}")
    assert wrong == [], "\n".join(wrong)


def test_every_portal_route_with_every_role(world: World) -> None:
    matrix = read_matrix()
    wrong = []
    for route in sorted(matrix.portal, key=_order):
        method, template = route.split(" ", 1)
        if template == "/v1/traces":
            continue  # OTLP: tests/trust/test_system_auth.py walks it with every kind of token
        url = _url(template, world.values)
        about_organisation = any(p in template for p in ("{breach_id", "{signal_id", "{decision"))
        for role in ROLES:
            response = _call(world, role, method, url, None, form=method == "POST")
            refused = _refused(response, role, about_organisation, route)
            if refused == (role in matrix.portal[route]):
                wrong.append(f"{route} as {role}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)


def test_every_form_refuses_a_post_without_its_token(world: World) -> None:
    """Cross-site request protection: a POST that does not repeat the browser's form token is
    refused, whoever is logged in (here the role that may use the most forms)."""
    matrix = read_matrix()
    posts = [r for r in matrix.portal if r.startswith("POST ") and r != "POST /v1/traces"]
    assert posts
    login_staff(world.clients["fg"], "fg")  # the walk above ended with logging out
    unprotected = []
    for route in sorted(posts, key=_order):
        url = _url(route.split(" ", 1)[1], world.values)
        for token in (None, "not-the-cookie"):
            data = {CSRF_FIELD: token} if token else {}
            response = world.clients["fg"].post(url, data=data, follow_redirects=False)
            if response.status_code != 403:
                unprotected.append(f"{route} with token {token!r}: {response.status_code}")
    assert unprotected == [], "\n".join(unprotected)
