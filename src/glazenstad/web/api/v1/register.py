"""Register API: organisations, processing activities, algorithms, sensors, data, findings, exports.

Lists are paginated and filtered in memory over the cached register snapshot (see
`glazenstad.register.store`); an entry's history and its version "as of" a moment come from the
append-only version table.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, Field

from glazenstad.register.exports import (
    ALGORITMEREGISTER_V1_SCHEMA,
    algorithm_record,
    art30_csv,
    sensor_record,
)
from glazenstad.register.model import (
    KIND_ACTIVITY,
    KIND_ALGORITHM,
    KIND_DATA_CATEGORY,
    KIND_DATASET,
    KIND_SENSOR,
    Algorithm,
    DataCategory,
    Dataset,
    Organisation,
    ProcessingActivity,
    Sensor,
    register_json_schema,
)
from glazenstad.register.quality import CHECKS, check_organisation
from glazenstad.register.store import OrganisationRegister, StoredEntry
from glazenstad.rules.language import policy_json_schema
from glazenstad.web.api.v1.common import (
    ApiModel,
    OrgId,
    PageParams,
    entry_path,
    page_model,
    paginate,
    problem_responses,
)
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter()

ERRORS = problem_responses(400, 404, 500)


class EntryMeta(ApiModel):
    """Where an entry sits in the register's history."""

    organisation_id: str = Field(description="The organisation that keeps this entry.")
    uri: str = Field(description="Stable URI, e.g. as dpl.core.processing_activity_id.")
    version: int = Field(description="Version number, from 1.")
    recorded_at: datetime = Field(description="When this version entered the register (UTC).")
    content_hash: str = Field(description="SHA-256 of the version's canonical content.")


class OrganisationResource(Organisation, EntryMeta):
    """An organisation (controller) in the register."""


class ProcessingActivityResource(ProcessingActivity, EntryMeta):
    """A processing activity with its AVG art. 30 fields and what the register links to it."""

    special_categories: list[str] = Field(description="Ids of special data categories it uses.")
    uses_bsn: bool = Field(description="Whether it processes the citizen service number.")
    algorithms: list[str] = Field(description="Ids of algorithms that serve this activity.")
    sensors: list[str] = Field(description="Ids of sensors that feed this activity.")


class AlgorithmResource(Algorithm, EntryMeta):
    """An algorithm with the Algoritmeregister v1.0 fields."""


class SensorResource(Sensor, EntryMeta):
    """A sensor in public space."""


class DataCategoryResource(DataCategory, EntryMeta):
    """A category of (personal) data."""


class DatasetResource(Dataset, EntryMeta):
    """A dataset or source system."""


class VersionInfo(ApiModel):
    version: int
    recorded_at: datetime
    content_hash: str
    removed: bool = Field(description="True when this version took the entry out of the register.")


class ActivitySummary(ApiModel):
    id: str
    uri: str
    name: str
    description: str
    theme: str | None
    status: str
    confidentiality: str
    avg_ground: str
    departments: list[str]
    special_categories: bool
    uses_bsn: bool


class QualityCheckInfo(ApiModel):
    code: str
    severity: Literal["fout", "waarschuwing", "info"]
    entry_kind: str
    title: str
    explanation: str


class QualityFinding(ApiModel):
    code: str
    severity: Literal["fout", "waarschuwing", "info"]
    title: str
    explanation: str
    entry_kind: str
    entry_id: str
    entry_name: str
    detail: str


OrganisationPage = page_model("OrganisationPage", OrganisationResource)
ActivityPage = page_model("ProcessingActivityPage", ActivitySummary)
AlgorithmPage = page_model("AlgorithmPage", AlgorithmResource)
SensorPage = page_model("SensorPage", SensorResource)
DataCategoryPage = page_model("DataCategoryPage", DataCategoryResource)
DatasetPage = page_model("DatasetPage", DatasetResource)
FindingPage = page_model("QualityFindingPage", QualityFinding)


def _meta(stored: StoredEntry) -> dict[str, Any]:
    return {
        "organisation_id": stored.organisation_id,
        "uri": stored.uri,
        "version": stored.version,
        "recorded_at": stored.recorded_at,
        "content_hash": stored.content_hash,
    }


def _org(state: AppState, organisation_id: str) -> OrganisationRegister:
    reg = state.register.snapshot().organisation(organisation_id)
    if reg is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    return reg


def _activity_resource(
    reg: OrganisationRegister | None, stored: StoredEntry
) -> ProcessingActivityResource:
    activity = stored.entry
    assert isinstance(activity, ProcessingActivity)
    special = [c.id for c in reg.special_categories(activity)] if reg else []
    return ProcessingActivityResource.model_validate(
        {
            **activity.model_dump(),
            **_meta(stored),
            "special_categories": special,
            "uses_bsn": reg.uses_bsn(activity) if reg else False,
            "algorithms": [a.id for a in reg.algorithms_for_activity(activity.id)] if reg else [],
            "sensors": [s.id for s in reg.sensors_for_activity(activity.id)] if reg else [],
        }
    )


def _plain_resource(resource: type[EntryMeta]) -> Callable[[Any, StoredEntry], EntryMeta]:
    def build(_reg: OrganisationRegister | None, stored: StoredEntry) -> EntryMeta:
        return resource.model_validate({**stored.entry.model_dump(), **_meta(stored)})

    return build


@router.get(
    "/organisations",
    response_model=OrganisationPage,
    operation_id="listOrganisations",
    summary="Organisations in this installation",
    tags=["Register"],
    responses=problem_responses(400, 500),
)
def list_organisations(
    request: Request,
    pages: Annotated[PageParams, Depends()],
    state: AppState = Depends(get_state),
) -> Any:
    items = [
        OrganisationResource.model_validate({**reg.org.model_dump(), **_meta(reg.organisation)})
        for reg in state.register.snapshot().ordered()
    ]
    return paginate(request, items, pages)


@router.get(
    "/organisations/{organisationId}",
    response_model=OrganisationResource,
    operation_id="getOrganisation",
    summary="One organisation",
    tags=["Register"],
    responses=ERRORS,
)
def get_organisation(organisation_id: OrgId, state: AppState = Depends(get_state)) -> Any:
    reg = _org(state, organisation_id)
    return OrganisationResource.model_validate({**reg.org.model_dump(), **_meta(reg.organisation)})


def _matches(text: str | None, query: str) -> bool:
    return text is not None and query in text.casefold()


@router.get(
    "/organisations/{organisationId}/processing-activities",
    response_model=ActivityPage,
    operation_id="listProcessingActivities",
    summary="The register of processing activities, searchable and filtered",
    tags=["Register"],
    responses=ERRORS,
)
def list_activities(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    q: Annotated[
        str | None, Query(max_length=200, description="Search in name, description and purposes.")
    ] = None,
    theme: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[Literal["concept", "actief", "beeindigd"] | None, Query()] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    data_category: Annotated[str | None, Query(alias="dataCategory", max_length=80)] = None,
    avg_ground: Annotated[
        Literal["a", "b", "c", "d", "e", "f"] | None, Query(alias="avgGround")
    ] = None,
    confidentiality: Annotated[Literal["normaal", "vertrouwelijk"] | None, Query()] = None,
    special_categories: Annotated[bool | None, Query(alias="specialCategories")] = None,
    state: AppState = Depends(get_state),
) -> Any:
    reg = _org(state, organisation_id)
    query = q.casefold().strip() if q else None
    results = []
    for stored in reg.entries(KIND_ACTIVITY):
        a = stored.entry
        assert isinstance(a, ProcessingActivity)
        special = bool(reg.special_categories(a))
        if query and not (
            _matches(a.name, query)
            or _matches(a.description, query)
            or any(_matches(p, query) for p in a.purposes)
        ):
            continue
        if theme and (a.theme or "").casefold() != theme.casefold():
            continue
        if status and a.status != status:
            continue
        if department and department.casefold() not in {d.casefold() for d in a.departments}:
            continue
        if data_category and data_category not in a.data_categories:
            continue
        if avg_ground and a.legal_basis.avg_ground != avg_ground:
            continue
        if confidentiality and a.confidentiality != confidentiality:
            continue
        if special_categories is not None and special != special_categories:
            continue
        results.append(
            ActivitySummary(
                id=a.id,
                uri=stored.uri,
                name=a.name,
                description=a.description,
                theme=a.theme,
                status=a.status,
                confidentiality=a.confidentiality,
                avg_ground=a.legal_basis.avg_ground,
                departments=list(a.departments),
                special_categories=special,
                uses_bsn=reg.uses_bsn(a),
            )
        )
    return paginate(request, results, pages)


def _simple_list(kind: str) -> Callable[..., Any]:
    build = _plain_resource(RESOURCES[kind][0])

    def handler(
        request: Request,
        organisation_id: OrgId,
        pages: Annotated[PageParams, Depends()],
        state: AppState = Depends(get_state),
    ) -> Any:
        reg = _org(state, organisation_id)
        return paginate(request, [build(reg, s) for s in reg.entries(kind)], pages)

    return handler


def _detail(kind: str, param: str) -> Callable[..., Any]:
    resource, label = RESOURCES[kind]
    build = _activity_resource if kind == KIND_ACTIVITY else _plain_resource(resource)

    def handler(
        organisation_id: OrgId,
        entry_id: Annotated[str, entry_path(param)],
        as_of: Annotated[
            AwareDatetime | None,
            Query(
                alias="asOf",
                description="Give the version in force at this moment (ISO 8601 with timezone).",
            ),
        ] = None,
        state: AppState = Depends(get_state),
    ) -> Any:
        reg = _org(state, organisation_id)
        if as_of is None:
            stored = reg.get(kind, entry_id)
            if stored is None:
                raise ProblemError(404, f"{label} '{entry_id}' staat niet in het register.")
            return build(reg, stored)
        found = state.register.as_of(organisation_id, kind, entry_id, as_of)
        if found is None:
            raise ProblemError(
                404, f"{label} '{entry_id}' stond op {as_of.isoformat()} nog niet in het register."
            )
        if found.removed:
            raise ProblemError(
                404,
                f"{label} '{entry_id}' was op {as_of.isoformat()} uit het register gehaald "
                f"(versie {found.version}, {found.recorded_at.isoformat()}).",
            )
        return build(reg, found)

    return handler


def _versions(kind: str, param: str) -> Callable[..., Any]:
    _resource, label = RESOURCES[kind]

    def handler(
        organisation_id: OrgId,
        entry_id: Annotated[str, entry_path(param)],
        state: AppState = Depends(get_state),
    ) -> Any:
        _org(state, organisation_id)
        versions = state.register.versions(organisation_id, kind, entry_id)
        if not versions:
            raise ProblemError(404, f"{label} '{entry_id}' staat niet in het register.")
        return [
            VersionInfo(
                version=v.version,
                recorded_at=v.recorded_at,
                content_hash=v.content_hash,
                removed=v.removed,
            )
            for v in versions
        ]

    return handler


RESOURCES: dict[str, tuple[type[EntryMeta], str]] = {
    KIND_ACTIVITY: (ProcessingActivityResource, "Verwerkingsactiviteit"),
    KIND_ALGORITHM: (AlgorithmResource, "Algoritme"),
    KIND_SENSOR: (SensorResource, "Sensor"),
    KIND_DATA_CATEGORY: (DataCategoryResource, "Gegevenscategorie"),
    KIND_DATASET: (DatasetResource, "Dataset"),
}

# (kind, path segment, path parameter, operation id stem, page model)
_ROUTES: list[tuple[str, str, str, str, type[ApiModel] | None]] = [
    (KIND_ACTIVITY, "processing-activities", "activityId", "ProcessingActivity", None),
    (KIND_ALGORITHM, "algorithms", "algorithmId", "Algorithm", AlgorithmPage),
    (KIND_SENSOR, "sensors", "sensorId", "Sensor", SensorPage),
    (KIND_DATA_CATEGORY, "data-categories", "dataCategoryId", "DataCategory", DataCategoryPage),
    (KIND_DATASET, "datasets", "datasetId", "Dataset", DatasetPage),
]

for _kind, _segment, _param, _stem, _page in _ROUTES:
    _base = f"/organisations/{{organisationId}}/{_segment}"
    _resource = RESOURCES[_kind][0]
    if _page is not None:
        router.add_api_route(
            _base,
            _simple_list(_kind),
            methods=["GET"],
            response_model=_page,
            operation_id=f"list{_stem}s",
            summary=f"{_stem} entries of an organisation",
            tags=["Register"],
            responses=ERRORS,
        )
    router.add_api_route(
        f"{_base}/{{{_param}}}",
        _detail(_kind, _param),
        methods=["GET"],
        response_model=_resource,
        operation_id=f"get{_stem}",
        summary=f"One {_stem} entry, current or as of a moment",
        tags=["Register"],
        responses=ERRORS,
    )
    router.add_api_route(
        f"{_base}/{{{_param}}}/versions",
        _versions(_kind, _param),
        methods=["GET"],
        response_model=list[VersionInfo],
        operation_id=f"list{_stem}Versions",
        summary=f"Version history of one {_stem} entry",
        tags=["Register"],
        responses=ERRORS,
    )


@router.get(
    "/quality-checks",
    response_model=list[QualityCheckInfo],
    operation_id="listQualityChecks",
    summary="The quality checks the register is measured against",
    tags=["Quality"],
    responses=problem_responses(500),
)
def list_quality_checks() -> Any:
    return [
        QualityCheckInfo(
            code=c.code,
            severity=c.severity,
            entry_kind=c.kind,
            title=c.title,
            explanation=c.explanation,
        )
        for c in CHECKS.values()
    ]


@router.get(
    "/organisations/{organisationId}/quality-findings",
    response_model=FindingPage,
    operation_id="listQualityFindings",
    summary="Quality findings on an organisation's current register",
    tags=["Quality"],
    responses=ERRORS,
)
def list_quality_findings(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    severity: Annotated[Literal["fout", "waarschuwing", "info"] | None, Query()] = None,
    code: Annotated[str | None, Query(pattern=r"^[A-Z]{2}\d{3}$")] = None,
    state: AppState = Depends(get_state),
) -> Any:
    reg = _org(state, organisation_id)
    findings = [
        QualityFinding(
            code=f.code,
            severity=f.check.severity,
            title=f.check.title,
            explanation=f.check.explanation,
            entry_kind=f.check.kind,
            entry_id=f.entry_id,
            entry_name=f.entry_name,
            detail=f.detail,
        )
        for f in check_organisation(reg)
        if (severity is None or f.check.severity == severity) and (code is None or f.code == code)
    ]
    return paginate(request, findings, pages)


JSON_OBJECT_LIST: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Records in the standard's own field names (see its JSON Schema).",
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}


@router.get(
    "/organisations/{organisationId}/exports/algoritmeregister",
    operation_id="exportAlgoritmeregister",
    summary="Every algorithm as an Algoritmeregister publication standard v1.0 record",
    tags=["Exports"],
    responses={**JSON_OBJECT_LIST, **ERRORS},
)
def export_algoritmeregister(
    organisation_id: OrgId, state: AppState = Depends(get_state)
) -> JSONResponse:
    reg = _org(state, organisation_id)
    public_url = state.settings.effective_public_url
    return JSONResponse([algorithm_record(reg, a, public_url) for a in reg.algorithms()])


@router.get(
    "/organisations/{organisationId}/exports/art30.csv",
    operation_id="exportArt30Register",
    summary="The register of processing activities (AVG art. 30) as CSV",
    tags=["Exports"],
    responses={
        200: {
            "description": "CSV, one row per activity.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
def export_art30(organisation_id: OrgId, state: AppState = Depends(get_state)) -> Response:
    reg = _org(state, organisation_id)
    return Response(
        art30_csv(reg),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="verwerkingsregister-{organisation_id}.csv"'
            )
        },
    )


@router.get(
    "/organisations/{organisationId}/exports/sensors",
    operation_id="exportSensorRegister",
    summary="The sensor register as JSON",
    tags=["Exports"],
    responses={**JSON_OBJECT_LIST, **ERRORS},
)
def export_sensors(organisation_id: OrgId, state: AppState = Depends(get_state)) -> JSONResponse:
    reg = _org(state, organisation_id)
    return JSONResponse([sensor_record(reg, s) for s in reg.sensors()])


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "register": register_json_schema,
    "policy": policy_json_schema,
    "algoritmeregister-v1": lambda: ALGORITMEREGISTER_V1_SCHEMA,
}


@router.get(
    "/schemas/{schemaName}",
    operation_id="getSchema",
    summary="Published JSON Schemas: register YAML, policy YAML, Algoritmeregister export",
    tags=["Schemas"],
    responses={
        200: {
            "description": "A JSON Schema (draft 2020-12).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **ERRORS,
    },
)
def get_schema(
    schema_name: Annotated[
        Literal["register", "policy", "algoritmeregister-v1"], Path(alias="schemaName")
    ],
) -> JSONResponse:
    return JSONResponse(SCHEMAS[schema_name]())
