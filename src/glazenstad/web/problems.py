"""Errors as RFC 9457 problem details (application/problem+json), per the NL API Design Rules.

Bad input is a 400 with one `invalidParams` item per field, naming where it was (query, path,
body) so a developer can fix the request without reading our code.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import traceback
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from glazenstad.rules.decisionlog import DecisionLogUnavailable

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
    507: "Onvoldoende opslagruimte",
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
    if _only_too_many_items(exc.errors()):
        # A batch over its limit is too large, not malformed: 413 tells a client to send less
        # at a time, while `invalidParams` still names the list and its maximum.
        limits = "; ".join(p.reason for p in params)
        return problem_response(
            request, 413, f"Te veel items in één aanvraag ({names}): {limits}.", params
        )
    return problem_response(request, 400, f"De aanvraag bevat ongeldige invoer: {names}.", params)


BATCHES = frozenset({"records", "requests"})
"""Body lists that are batches (log records, decision requests): over their limit is too large."""


def _only_too_many_items(errors: Sequence[Any]) -> bool:
    """Every error is a batch of the body with more items than allowed."""
    return bool(errors) and all(
        e["type"] == "too_long"
        and len(e["loc"]) == 2
        and e["loc"][0] == "body"
        and e["loc"][1] in BATCHES
        for e in errors
    )


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


# --- the database is away or full: retryable answers, never a 500 ----------------------------

# Seconds a client should wait before sending again. A restarting PostgreSQL is back within
# seconds; a full disk needs an operator, so a client should buffer and come back later.
RETRY_AFTER_UNAVAILABLE = 5
RETRY_AFTER_FULL = 60
UNAVAILABLE_DETAIL = (
    "De database is tijdelijk niet bereikbaar. Uw aanvraag is misschien niet opgeslagen: stuur "
    "dezelfde aanvraag opnieuw na het aantal seconden in Retry-After. (The database is "
    "temporarily unavailable. The request may not have been stored: send it again after "
    "Retry-After seconds.)"
)
FULL_DETAIL = (
    "De opslag is vol; er is niets opgeslagen. Stuur de aanvraag later opnieuw. (Storage is "
    "full; nothing was stored. Send the request again later.)"
)
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
# SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN: the file, not the statement.
_SQLITE_TRANSIENT = frozenset({5, 6, 10, 14})

# What a lost, refused, shut-down or full database raises, on the paths that reach a handler:
# through SQLAlchemy (wrapped), or straight from the driver where the logbook writes past it
# (COPY on PostgreSQL, executemany on SQLite), or from the decision log's group commit.
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    pg_errors.OperationalError,
    pg_errors.InterfaceError,
    sqlite3.OperationalError,
    DecisionLogUnavailable,
)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it was raised from or during, innermost last (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        orig = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        current = current.__cause__ or current.__context__ or orig
    return chain


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return bool(code & 0xFF == _SQLITE_FULL)
        return "disk is full" in str(exc)
    if isinstance(exc, pg_errors.DiskFull):
        return True
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached or could not take the write now.

    SQLAlchemy's wrappers are judged by the driver error they carry (next in the chain): a
    wrapped "no such table" is a bug, a 500, not an outage.
    """
    if isinstance(exc, DecisionLogUnavailable | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated
    if isinstance(exc, pg_errors.OperationalError | pg_errors.InterfaceError):
        return True  # connection lost or refused, server shutting down or starting up
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        return code in _SQLITE_TRANSIENT
    return False


def storage_problem(exc: BaseException) -> ProblemError | None:
    """A 507 when storage is full, a 503 when the database is unreachable; None otherwise.

    Every write path commits before it answers 200, so neither answer acknowledges anything and
    the client sends the same request again. A full disk refuses the transaction: nothing of it
    is stored. A connection lost during COMMIT leaves unknown whether the commit happened, so
    a 503 says "may not have been stored"; a re-sent log record is then a duplicate, not a
    second copy (idempotent by trace and span id).
    """
    causes = _causes(exc)
    if any(_is_full(cause) for cause in causes):
        return ProblemError(507, FULL_DETAIL, headers={"Retry-After": str(RETRY_AFTER_FULL)})
    if any(_is_unavailable(cause) for cause in causes):
        return ProblemError(
            503, UNAVAILABLE_DETAIL, headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
        )
    return None


def log_storage_problem(request: Request, exc: BaseException, problem: ProblemError) -> None:
    """One warning line per refused request: the error types, never their messages (a driver
    message can quote a value)."""
    kinds = " < ".join(type(cause).__name__ for cause in _causes(exc))
    _log.warning(
        "%s on %s %s: storage unavailable (%s)",
        problem.status_code,
        request.method,
        request.url.path,
        kinds,
    )
