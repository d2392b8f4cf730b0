"""Open data of the scan-car pipeline: parked vehicles seen and the payment rate per zone per hour.

Counts only: the pipeline's aggregates hold no plate, pseudonym, position or car, so this router
has nothing personal to hide. Hours are UTC hours.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from glazenstad.execution.parking.aggregates import hourly_occupancy
from glazenstad.web.api.v1.common import ApiModel, OrgId, problem_responses
from glazenstad.web.problems import InvalidParam, ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Parkeren"])
ERRORS = problem_responses(400, 404, 500)
MAX_SPAN = timedelta(days=31)
DEFAULT_SPAN = timedelta(hours=48)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MOMENT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"
ZONE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,39}$"


class ParkingHour(ApiModel):
    zone: str = Field(description="Paid-parking zone code, e.g. VBS-BINNENSTAD.")
    start: datetime = Field(description="Start of the UTC hour.")
    end: datetime = Field(description="End of the hour (exclusive).")
    scans: int = Field(
        description="Parked vehicles the scan cars saw (a vehicle seen twice counts twice)."
    )
    paid: int = Field(description="Of which with a paid session or a permit.")
    unpaid: int = Field(description="Of which without a parking right (before any exception).")
    payment_rate: float | None = Field(description="paid / scans; null without scans.")


class ParkingOccupancy(ApiModel):
    """Scan-car counts per zone per hour; no personal data."""

    organisation_id: str
    from_: datetime = Field(alias="from", description="Start of the window (inclusive).")
    to: datetime = Field(description="End of the window (exclusive).")
    hours: list[ParkingHour] = Field(
        description="By zone, then hour; hours without scans left out."
    )


def _moment(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            400,
            f"De aanvraag bevat ongeldige invoer: {name}.",
            [InvalidParam(name=name, type="value_error", reason="not an ISO 8601 date-time")],
        ) from None


@router.get(
    "/organisations/{organisationId}/parking-occupancy",
    response_model=ParkingOccupancy,
    operation_id="listParkingOccupancy",
    summary="Parked vehicles seen by scan cars and the payment rate, per zone per hour",
    responses=ERRORS,
)
def list_parking_occupancy(
    organisation_id: OrgId,
    zone: Annotated[
        str | None, Query(pattern=ZONE_PATTERN, description="Only this zone, e.g. VBS-STATION.")
    ] = None,
    start_text: Annotated[
        str | None,
        Query(
            pattern=MOMENT_PATTERN,
            json_schema_extra={"format": "date-time"},
            alias="from",
            description="Start (ISO 8601 with time zone); default 48 hours before to.",
        ),
    ] = None,
    end_text: Annotated[
        str | None,
        Query(
            pattern=MOMENT_PATTERN,
            json_schema_extra={"format": "date-time"},
            alias="to",
            description="End, exclusive (ISO 8601 with time zone); default now. A window longer "
            "than 31 days ends 31 days after from.",
        ),
    ] = None,
    state: AppState = Depends(get_state),
) -> Any:
    if state.register.snapshot().organisation(organisation_id) is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    start, end = _moment("query.from", start_text), _moment("query.to", end_text)
    # Out-of-range windows are narrowed, not refused: the answer's from/to say what was read.
    end = min(max(end or datetime.now(UTC), EARLIEST), LATEST)
    start = min(max(start or end - DEFAULT_SPAN, EARLIEST), end)
    end = min(end, start + MAX_SPAN)
    hours = hourly_occupancy(state.engine, organisation_id, start=start, end=end, zone=zone)
    return ParkingOccupancy(
        organisation_id=organisation_id,
        from_=start,
        to=end,
        hours=[
            ParkingHour(
                zone=h.zone,
                start=h.start,
                end=h.end,
                scans=h.scans,
                paid=h.paid,
                unpaid=h.unpaid,
                payment_rate=h.payment_rate,
            )
            for h in hours
        ],
    )
