"""Open sensor data: the latest values per sensor, series by hour or day, and pipeline findings.

Only sensors in the current register whose data is open (no personal data) have measurements
here; the sensor pipeline stores nothing else. Days are the municipality's calendar days
(Europe/Amsterdam), so a day bucket starts at local midnight and carries its offset.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, Field

from glazenstad.execution.findings import list_findings
from glazenstad.execution.sensors import (
    FINDING_TITLES,
    MUNICIPAL_ZONE,
    SENSOR_FINDINGS,
    SensorReadings,
    bucket_bounds,
    measure_info,
    takes_open_data,
)
from glazenstad.register.model import KIND_SENSOR, Sensor
from glazenstad.register.store import OrganisationRegister
from glazenstad.web.api.v1.common import (
    ApiModel,
    OrgId,
    PageParams,
    entry_path,
    page_model,
    paginate,
    problem_responses,
)
from glazenstad.web.problems import InvalidParam, ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Sensordata"])
ERRORS = problem_responses(400, 404, 500)
MEASURE_PATTERN = r"^[a-z0-9][a-z0-9_]{0,79}$"
# Widest window per aggregation: a month of hours, a year and a bit of days.
MAX_SPAN = {"hour": timedelta(days=31), "day": timedelta(days=400)}
DEFAULT_SPAN = {"hour": timedelta(hours=48), "day": timedelta(days=31)}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class LatestMeasurement(ApiModel):
    measure: str = Field(description="Measure id as registered, e.g. pm25.")
    label: str = Field(description="Dutch name of the measure.")
    unit: str = Field(description="Unit, e.g. µg/m³ (empty when unknown).")
    value: float | None = Field(description="The most recent value; null before the first.")
    measured_at: datetime | None = Field(description="When that value was measured (UTC).")


class SensorLatest(ApiModel):
    """A registered sensor with open data: where it is and what it measured last."""

    sensor_id: str
    name: str
    theme: str
    latitude: float = Field(description="WGS 84.")
    longitude: float = Field(description="WGS 84.")
    mobile: bool = Field(description="A mobile sensor: the position is where it is based.")
    valid_until: date | None = Field(description="Last day of the registration.")
    latest: list[LatestMeasurement]


class MeasurementBucket(ApiModel):
    start: datetime = Field(description="Start of the hour (UTC) or day (local midnight).")
    end: datetime = Field(description="End of the bucket (exclusive).")
    count: int = Field(description="Measurements in the bucket.")
    average: float
    minimum: float
    maximum: float


class MeasurementSeriesItem(ApiModel):
    measure: str
    label: str
    unit: str
    buckets: list[MeasurementBucket] = Field(description="Oldest first; empty buckets left out.")


class MeasurementSeries(ApiModel):
    """Measurements of one sensor, aggregated by hour or by day."""

    organisation_id: str
    sensor_id: str
    aggregation: Literal["hour", "day"]
    from_: datetime = Field(alias="from", description="Start of the window (inclusive).")
    to: datetime = Field(description="End of the window (exclusive).")
    time_zone: str = Field(description="The zone days are counted in.")
    series: list[MeasurementSeriesItem]


class ExecutionFinding(ApiModel):
    """Something the sensor pipeline refused and reports to policy, counted per subject."""

    kind: str = Field(description="e.g. unregistered-sensor.")
    title: str = Field(description="What the kind means, e.g. 'unregistered sensor sends data'.")
    subject: str = Field(description="What it is about, e.g. the sensor id in the topic.")
    detail: str = Field(description="The most recent reason.")
    first_seen: datetime
    last_seen: datetime
    count: int = Field(description="Messages refused for this reason.")


LatestPage = page_model("SensorLatestPage", SensorLatest)
FindingPage = page_model("ExecutionFindingPage", ExecutionFinding)


def _org(state: AppState, organisation_id: str) -> OrganisationRegister:
    reg = state.register.snapshot().organisation(organisation_id)
    if reg is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    return reg


def _open_sensor(reg: OrganisationRegister, sensor_id: str) -> Sensor:
    stored = reg.get(KIND_SENSOR, sensor_id)
    if stored is None or not isinstance(stored.entry, Sensor):
        raise ProblemError(404, f"Sensor '{sensor_id}' staat niet in het register.")
    if not takes_open_data(stored.entry):
        raise ProblemError(
            404,
            f"Sensor '{sensor_id}' heeft geen open meetgegevens "
            "(hij legt persoonsgegevens vast of meet niets).",
        )
    return stored.entry


def _bad(name: str, reason: str) -> ProblemError:
    return ProblemError(
        400,
        f"De aanvraag bevat ongeldige invoer: {name}.",
        [InvalidParam(name=name, type="value_error", reason=reason)],
    )


@router.get(
    "/organisations/{organisationId}/latest-measurements",
    response_model=LatestPage,
    operation_id="listLatestMeasurements",
    summary="Sensors with open data: location and the latest value of each measure",
    responses=ERRORS,
)
def list_latest_measurements(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    state: AppState = Depends(get_state),
) -> Any:
    reg = _org(state, organisation_id)
    sensors = [s for s in reg.sensors() if takes_open_data(s)]
    page = paginate(request, sensors, pages)
    readings = SensorReadings(state.engine)
    results = []
    for sensor in page["results"]:
        latest = readings.latest(organisation_id, sensor.id, sensor.measures)
        results.append(
            SensorLatest(
                sensor_id=sensor.id,
                name=sensor.name,
                theme=sensor.theme,
                latitude=sensor.latitude,
                longitude=sensor.longitude,
                mobile=sensor.mobile,
                valid_until=sensor.valid_until,
                latest=[
                    LatestMeasurement(
                        measure=m,
                        label=measure_info(m).label,
                        unit=measure_info(m).unit,
                        value=latest[m].value if m in latest else None,
                        measured_at=latest[m].measured_at if m in latest else None,
                    )
                    for m in sensor.measures
                ],
            )
        )
    page["results"] = results
    return page


@router.get(
    "/organisations/{organisationId}/sensors/{sensorId}/measurements",
    response_model=MeasurementSeries,
    operation_id="listSensorMeasurements",
    summary="Measurements of one sensor, aggregated by hour or by day",
    responses=ERRORS,
)
def list_sensor_measurements(
    organisation_id: OrgId,
    sensor_id: Annotated[str, entry_path("sensorId")],
    aggregation: Annotated[
        Literal["hour", "day"],
        Query(description="hour: per UTC hour (at most 31 days); day: per day in Amsterdam."),
    ] = "hour",
    measure: Annotated[
        str | None,
        Query(pattern=MEASURE_PATTERN, description="Only this measure, e.g. pm25."),
    ] = None,
    start: Annotated[
        AwareDatetime | None,
        Query(
            alias="from",
            description="Start (ISO 8601 with time zone); default 48 hours or 31 days before to.",
        ),
    ] = None,
    end: Annotated[
        AwareDatetime | None,
        Query(alias="to", description="End, exclusive (ISO 8601 with time zone); default now."),
    ] = None,
    state: AppState = Depends(get_state),
) -> Any:
    reg = _org(state, organisation_id)
    sensor = _open_sensor(reg, sensor_id)
    if measure is not None and measure not in sensor.measures:
        raise _bad(
            "query.measure",
            f"'{measure}' is not a measure of this sensor "
            f"(registered: {', '.join(sensor.measures)})",
        )
    for name, moment in (("query.from", start), ("query.to", end)):
        if moment is not None and not EARLIEST <= moment < LATEST:
            raise _bad(name, "must lie between 2000-01-01 and 2100-01-01")
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN[aggregation]
    if start >= end:
        raise _bad("query.from", "must be before 'to'")
    if end - start > MAX_SPAN[aggregation]:
        raise _bad(
            "query.from",
            f"the window may span at most {MAX_SPAN[aggregation].days} days "
            f"for aggregation '{aggregation}'",
        )
    first, last = bucket_bounds(start, end, aggregation)
    measures = [measure] if measure else list(sensor.measures)
    buckets = SensorReadings(state.engine).aggregate(
        organisation_id,
        sensor_id,
        start=first,
        end=last,
        aggregation=aggregation,
        measures=measures,
    )
    return MeasurementSeries(
        organisation_id=organisation_id,
        sensor_id=sensor_id,
        aggregation=aggregation,
        from_=first,
        to=last,
        time_zone=str(MUNICIPAL_ZONE),
        series=[
            MeasurementSeriesItem(
                measure=m,
                label=measure_info(m).label,
                unit=measure_info(m).unit,
                buckets=[
                    MeasurementBucket(
                        start=b.start,
                        end=b.end,
                        count=b.count,
                        average=b.average,
                        minimum=b.minimum,
                        maximum=b.maximum,
                    )
                    for b in buckets.get(m, [])
                ],
            )
            for m in measures
        ],
    )


@router.get(
    "/organisations/{organisationId}/execution-findings",
    response_model=FindingPage,
    operation_id="listExecutionFindings",
    summary="What the sensor pipeline refused, e.g. unregistered sensors that send data",
    responses=ERRORS,
)
def list_execution_findings(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    kind: Annotated[
        Literal[
            "unregistered-sensor",
            "inactive-sensor",
            "unregistered-measure",
            "personal-data-sensor",
            "invalid-message",
        ]
        | None,
        Query(description="Only findings of this kind."),
    ] = None,
    state: AppState = Depends(get_state),
) -> Any:
    _org(state, organisation_id)
    kinds = [kind] if kind else list(SENSOR_FINDINGS)
    findings = [
        ExecutionFinding(
            kind=f.kind,
            title=FINDING_TITLES[f.kind][0],
            subject=f.subject,
            detail=f.detail,
            first_seen=f.first_seen,
            last_seen=f.last_seen,
            count=f.count,
        )
        for f in list_findings(state.engine, organisation_id, kinds=kinds)
    ]
    return paginate(request, findings, pages)
