"""JSON and problem+json answers shared by the demo sources, and the BSN lookup endpoint.

The sources deliberately do not use `glazenstad.web`: they stand in for other organisations'
systems and must not depend on the platform they are put behind. Problem answers follow the
same RFC 9457 shape as the platform's own (`invalidParams` with name, type and reason), and
never repeat the identifier that was asked for: a BSN or plate in an error text ends up in
the logs of every proxy on the way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glazenstad.sources.identifiers import bsn_problem

JSON: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"

TITLES: Final = {
    400: "Ongeldige aanvraag",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    413: "Aanvraag te groot",
    500: "Interne fout",
}

_encoder = msgspec.json.Encoder()
encode = _encoder.encode

Endpoint = Callable[[Request], Awaitable[Response]]


class InvalidParam(msgspec.Struct, frozen=True):
    """One invalid input field: where (`path.burgerservicenummer`), what kind, and why."""

    name: str
    type: str
    reason: str


class _Problem(msgspec.Struct, rename="camel", omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    invalid_params: list[InvalidParam] | None = None


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON)


def problem(status: int, detail: str, invalid: list[InvalidParam] | None = None) -> Response:
    """An RFC 9457 answer; `detail` says what was not found or wrong, never the identifier."""
    body = _Problem(
        type="about:blank",
        title=TITLES.get(status, "Fout"),
        status=status,
        detail=detail,
        invalid_params=invalid,
    )
    return Response(encode(body), status_code=status, media_type=PROBLEM_JSON)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Routing errors (unknown path, wrong method) as problem+json, without echoing the path."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = {
        404: "Deze bron kent dit pad niet.",
        405: "Deze methode is op dit pad niet toegestaan.",
    }.get(status, "De bron kon de aanvraag niet verwerken.")
    response = problem(status, detail)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


def bsn_endpoint(index: Mapping[str, Any], wrap: str | None, not_found: str) -> Endpoint:
    """A GET endpoint answering `index[burgerservicenummer]` as JSON.

    `wrap` names the list field when the answer is a collection about one person:
    `{"burgerservicenummer": ..., wrap: [...]}`. A well-formed BSN the source does not hold
    answers 404 with `not_found`; a malformed one 400. Encoded answers are kept, so repeated
    lookups of one person (the gateway benchmark does little else) cost a dictionary lookup.
    """
    cache: dict[str, bytes] = {}

    async def endpoint(request: Request) -> Response:
        bsn: str = request.path_params["burgerservicenummer"]
        body = cache.get(bsn)
        if body is None:
            found = index.get(bsn)
            if found is None:
                reason = bsn_problem(bsn)
                if reason is not None:
                    invalid = InvalidParam("path.burgerservicenummer", "bsn", reason)
                    return problem(400, "Het burgerservicenummer is ongeldig.", [invalid])
                return problem(404, not_found)
            body = encode({"burgerservicenummer": bsn, wrap: found} if wrap else found)
            cache[bsn] = body
        return Response(body, media_type=JSON)

    return endpoint
