"""The published OpenAPI document, shaped to the NL API Design Rules.

FastAPI generates the document from the routers; this module makes it conform: the server URL
carries the major version (`/api/v1`) so paths are relative to it, every 2xx answer documents the
`API-Version` header, and validation errors are documented as 400 problem+json instead of
FastAPI's 422.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from glazenstad import __version__
from glazenstad.web.api.v1.common import API_PREFIX, API_VERSION
from glazenstad.web.problems import PROBLEM_JSON

API_VERSION_HEADER = {
    "description": "The full version of the API that answered (semantic versioning).",
    "schema": {"type": "string", "example": API_VERSION},
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title="Glazen Stad API",
        version=API_VERSION,
        summary="Register, rules and logbook of a municipality's data processing.",
        description=(
            "Open API of Glazen Stad: the register of processing activities (AVG art. 30), "
            "algorithms (Algoritmeregister v1.0) and sensors of each organisation, their "
            f"history and quality, and exports. Software version {__version__}."
        ),
        routes=app.routes,
        contact={
            "name": "Glazen Stad",
            "url": "https://glazenstad.nl",
            "email": "info@glazenstad.nl",
        },
        license_info={"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        servers=[{"url": API_PREFIX, "description": "This installation"}],
    )
    paths: dict[str, Any] = {}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(API_PREFIX + "/"):
            continue
        relative = path[len(API_PREFIX) :] or "/"
        for operation in operations.values():
            _conform(operation)
        paths[relative] = operations
    document["paths"] = paths
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _collapse_nullable(document)
    return document


def _collapse_nullable(node: Any) -> None:
    """Write `anyOf: [{type: X, ...}, {type: null}]` as `type: [X, null]`.

    Both mean the same in OpenAPI 3.1, but linters (and many code generators) only look for
    `format` at the top of a property, so a nullable date would otherwise read as format-less.
    """
    if isinstance(node, dict):
        options = node.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            other = next(o for o in options if o != {"type": "null"})
            if isinstance(other.get("type"), str) and "$ref" not in other:
                del node["anyOf"]
                node.update({**other, "type": [other["type"], "null"]})
        for value in node.values():
            _collapse_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _collapse_nullable(value)


def _conform(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if "400" not in responses:
        responses["400"] = {
            "description": "Invalid input; `invalidParams` names each field.",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    for status, response in responses.items():
        if status.startswith(("2", "3")):
            response.setdefault("headers", {})["API-Version"] = API_VERSION_HEADER
        elif status.startswith(("4", "5")):
            content = response.get("content", {})
            content.pop("application/json", None)
            content.setdefault(PROBLEM_JSON, {"schema": {"$ref": "#/components/schemas/Problem"}})
            response["content"] = content


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The document, built once per application (routes do not change after start-up)."""
    if not hasattr(app.state, "openapi_document"):
        app.state.openapi_document = build_openapi(app)
    document: dict[str, Any] = app.state.openapi_document
    return document


_METHODS = ("get", "put", "post", "patch", "delete")


def documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for an API path, for `Allow` on a 405.

    Read from the document rather than the router, so `Allow` says exactly what clients were
    told (a path served by separate GET and PUT routes gets both). Where several templates
    match, the most literal wins, as in routing: `/decisions/batch` is not `/decisions/{id}`.
    """
    if not hasattr(app.state, "openapi_path_patterns"):
        patterns = []
        for template, item in openapi_document(app).get("paths", {}).items():
            regex = re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(API_PREFIX + template))
            literal = sum(1 for part in template.split("/") if part and "{" not in part)
            methods = sorted(m.upper() for m in item if m in _METHODS)
            patterns.append((re.compile(f"^{regex}$"), literal, methods))
        app.state.openapi_path_patterns = patterns
    matches = [
        (literal, m)
        for pattern, literal, m in app.state.openapi_path_patterns
        if pattern.match(path)
    ]
    if not matches:
        return []
    best = max(literal for literal, _ in matches)
    return sorted({method for literal, methods in matches if literal == best for method in methods})
