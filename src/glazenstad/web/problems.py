"""Errors as RFC 9457 problem details (application/problem+json), per the NL API Design Rules.

Bad input is a 400 with one `invalidParams` item per field, naming where it was (query, path,
body) so a developer can fix the request without reading our code.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("glazenstad.web")

TITLES = {
    400: "Ongeldige aanvraag",
    401: "Niet geauthenticeerd",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    406: "Niet acceptabel",
    409: "Conflict",
    413: "Aanvraag te groot",
    422: "Niet verwerkbaar",
    429: "Te veel aanvragen",
    500: "Interne fout",
    503: "Dienst niet beschikbaar",
}


class InvalidParam(BaseModel):
    """One invalid input field."""

    model_config = ConfigDict(title="InvalidParam")
    name: str = Field(description="Where: e.g. query.pageSize or body.actor.role.")
    type: str = Field(description="Error type.")
    reason: str = Field(description="What is wrong, in plain language.")


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    model_config = ConfigDict(title="Problem")
    type: str = Field(default="about:blank", description="URI of the problem type.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong in this case.")
    instance: str | None = Field(default=None, description="The request path.")
    invalid_params: list[InvalidParam] | None = Field(
        default=None, alias="invalidParams", description="Per-field problems (400 only)."
    )


class ProblemError(HTTPException):
    """Raise to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str,
        invalid_params: list[InvalidParam] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.invalid_params = invalid_params


def problem_response(
    request: Request,
    status: int,
    detail: str,
    invalid_params: list[InvalidParam] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Fout"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if invalid_params:
        body["invalidParams"] = [p.model_dump() for p in invalid_params]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Names pydantic appends to a location for the branches of a union (`time: datetime | None`):
# they are not fields, and a client should read `body.context.time`, once.
_UNION_BRANCHES = {"none", "str", "int", "float", "bool", "datetime", "date", "list", "dict"}


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and (p in _UNION_BRANCHES or "[" in p))]
    if not parts:
        return "body"
    head, rest = parts[0], parts[1:]
    path = head
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params: list[InvalidParam] = []
    seen: set[str] = set()
    for error in exc.errors():
        name = _location(tuple(error["loc"]))
        if name not in seen:  # the first branch of a union says what was expected
            seen.add(name)
            params.append(
                InvalidParam(name=name, type=str(error["type"]), reason=str(error["msg"]))
            )
    names = ", ".join(p.name for p in params)
    return problem_response(request, 400, f"De aanvraag bevat ongeldige invoer: {names}.", params)


async def http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    invalid = getattr(exc, "invalid_params", None)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Fout")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"Er is geen resource op {request.url.path}."
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405 and detail == "Method Not Allowed":
        from glazenstad.web.openapi import documented_methods  # the document imports us

        detail = f"De methode {request.method} is niet toegestaan op {request.url.path}."
        allowed = documented_methods(request.app, request.url.path)
        if allowed:
            detail = detail[:-1] + f"; gebruik {' of '.join(allowed)}."
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem_response(request, exc.status_code, detail, invalid, headers)


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Never echo the exception: it may contain personal data or secrets. The operator's log
    # gets where it happened (type and stack frames), without the exception's message.
    frames = traceback.extract_tb(exc.__traceback__)
    where = " < ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames[-8:]))
    _log.error(
        "unhandled %s on %s %s at %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        where,
    )
    return problem_response(request, 500, "Er ging iets mis aan onze kant. Probeer het later.")
