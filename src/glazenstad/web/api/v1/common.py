"""Pieces every v1 router shares: pagination, response headers, documented error responses,
and the problems every router answers the same way (bad input, an unknown organisation)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic.alias_generators import to_camel

from glazenstad.register.store import OrganisationRegister
from glazenstad.web.problems import PROBLEM_JSON, InvalidParam, Problem, ProblemError
from glazenstad.web.state import AppState

API_VERSION = "1.0.0"
API_PREFIX = "/api/v1"

T = TypeVar("T")


def _moment_as_text(value: object) -> object:
    """Refuse a number where a moment belongs; pydantic would read it as Unix time."""
    if isinstance(value, int | float):
        raise ValueError("write the moment as ISO 8601 text with a time zone")
    return value


BodyMoment = Annotated[AwareDatetime, BeforeValidator(_moment_as_text)]
"""A moment in a request body: ISO 8601 text with a time zone, never a bare number."""
SLUG = r"^[a-z0-9][a-z0-9-]{0,79}$"

OrgId = Annotated[
    str,
    Path(
        alias="organisationId",
        description="Organisation id, e.g. voorbeeldstad.",
        examples=["voorbeeldstad"],
        pattern=SLUG,
    ),
]


def entry_path(name: str) -> Any:
    """A register id as path parameter `name` (e.g. activityId)."""
    return Path(alias=name, pattern=SLUG)


class ApiModel(BaseModel):
    """Base of API-only models: lowerCamelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, frozen=True)


class Pagination(ApiModel):
    page: int = Field(description="This page, from 1.")
    page_size: int = Field(description="Results per page.")
    total_results: int = Field(description="Results over all pages.")
    total_pages: int = Field(description="Number of pages.")


class PageLinks(ApiModel):
    self: str
    first: str
    last: str
    prev: str | None = None
    next: str | None = None


class PageParams:
    """The `page` and `pageSize` query parameters, shared by every list."""

    def __init__(
        self,
        page: int = Query(default=1, ge=1, le=100_000, description="Page number, from 1."),
        page_size: int = Query(
            default=20, ge=1, le=100, alias="pageSize", description="Results per page (1–100)."
        ),
    ) -> None:
        self.page = page
        self.page_size = page_size


def page_model(name: str, item: type[BaseModel]) -> type[ApiModel]:
    """A concrete page class per item type, so the OpenAPI has readable schema names."""
    return create_model(
        name,
        __base__=ApiModel,
        results=(list[item], Field(description="The results on this page.")),  # type: ignore[valid-type]
        pagination=(Pagination, ...),
        links=(PageLinks, ...),
    )


def paginate(request: Request, items: Sequence[T], params: PageParams) -> dict[str, Any]:
    start = (params.page - 1) * params.page_size
    return page_of(request, list(items[start : start + params.page_size]), len(items), params)


def page_of(request: Request, results: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    """A page whose results were already cut out (e.g. by LIMIT/OFFSET in the database);
    `total` counts the results over all pages."""
    pages = max(1, math.ceil(total / params.page_size))
    url = request.url

    def link(page: int) -> str:
        return str(url.include_query_params(page=page, pageSize=params.page_size))

    return {
        "results": results,
        "pagination": {
            "page": params.page,
            "page_size": params.page_size,
            "total_results": total,
            "total_pages": pages,
        },
        "links": {
            "self": link(params.page),
            "first": link(1),
            "last": link(pages),
            "prev": link(params.page - 1) if params.page > 1 else None,
            "next": link(params.page + 1) if params.page < pages else None,
        },
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of problem+json answers for the given status codes."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": {
                400: "Invalid input; `invalidParams` names each field.",
                401: "No valid token (Authorization: Bearer <token>).",
                403: "The caller lacks the permission or scope, or the organisation is not theirs.",
                404: "The resource does not exist.",
                406: "The requested representation is not available.",
                413: "Too large: the body or a batch is over its limit; send less at a time.",
                500: "Internal error.",
                503: "The database is unavailable for a moment; retry after `Retry-After`.",
                507: "The storage is full; nothing of this request was stored.",
            }.get(status, "Error."),
        }
        for status in statuses
    }


def described_problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """A documented problem+json answer whose meaning is particular to the route (e.g. a 409)."""
    return {status: {**problem_responses(status)[status], "description": description}}


# Routes that need a staff token: bad input, no token, no permission, not found.
STAFF_ERRORS = problem_responses(400, 401, 403, 404, 500)
# Routes that need a system token: bad input, no token, no scope or another organisation.
SYSTEM_ERRORS = problem_responses(400, 401, 403, 413, 500, 503, 507)

# Moments asked for are kept to this range: outside it no record exists, and date arithmetic
# near the calendar's ends would fail.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2100, 1, 1, tzinfo=UTC)


def invalid_input(name: str, reason: str, detail: str | None = None) -> ProblemError:
    """A 400 whose `invalidParams` names the one field at fault (e.g. query.from). The detail
    defaults to the wording of the answers to validation errors."""
    return ProblemError(
        400,
        detail or f"De aanvraag bevat ongeldige invoer: {name}.",
        [InvalidParam(name=name, type="value_error", reason=reason)],
    )


def moment_in_range(name: str, value: datetime | None) -> datetime | None:
    """The moment itself, or a 400 for field `name` when it lies outside the range we answer."""
    if value is not None and not EARLIEST_MOMENT <= value < LATEST_MOMENT:
        raise invalid_input(name, "must lie between 2000-01-01 and 2100-01-01")
    return value


def unknown_organisation(organisation_id: str) -> ProblemError:
    return ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")


def registered_organisation(state: AppState, organisation_id: str) -> OrganisationRegister:
    """The organisation's current register, or the 404 every route with {organisationId} gives."""
    register = state.register.snapshot().organisation(organisation_id)
    if register is None:
        raise unknown_organisation(organisation_id)
    return register


def created(resource: BaseModel, location: str) -> JSONResponse:
    """A 201 with the new resource (camelCase) and where it lives from now on."""
    return JSONResponse(
        resource.model_dump(mode="json", by_alias=True),
        status_code=201,
        headers={"Location": location},
    )
