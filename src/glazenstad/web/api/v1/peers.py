"""Peer figures: what organisations on a shared installation publish, and where one stands.

The list of published figures is open data. The comparison and the choice to publish are for
staff of the organisation itself; only an organisation that publishes sees its standing.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field, StrictBool

from glazenstad.insight.peers.comparison import compare, published_figures
from glazenstad.insight.peers.figures import METRICS, PeerFigures
from glazenstad.insight.peers.publication import (
    MAX_NOTE,
    latest_event,
    publication_history,
    set_published,
)
from glazenstad.web import staff
from glazenstad.web.api.v1.common import ApiModel, OrgId, problem_responses
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Vergelijking"])
STAFF_ERRORS = problem_responses(400, 401, 403, 404, 500)


class MetricOut(ApiModel):
    key: str = Field(description="Key of the figure in `values`.")
    label: str
    explanation: str
    unit: str = Field(description="'%' or 'punten'.")
    higher_is_better: bool


class PeerFiguresOut(ApiModel):
    organisation_id: str
    organisation_name: str
    values: dict[str, float | None] = Field(
        description="Figure key → value; null where nothing was measured yet."
    )
    compliance_measured_at: datetime | None = Field(
        description="When the compliance score was measured."
    )
    breaches_last_year: int = Field(description="Data breaches discovered in the last 365 days.")
    signals_total: int = Field(description="Signals from execution filed, ever.")


class PeerFigureList(ApiModel):
    """The figures of every organisation on this installation that chose to publish them."""

    metrics: list[MetricOut]
    organisations: list[PeerFiguresOut]


class StandingOut(ApiModel):
    key: str
    value: float | None
    peers: int = Field(description="Publishing organisations with a value, this one included.")
    median: float | None
    best: float | None
    worst: float | None
    rank: int | None = Field(description="1 is best; equal values share a rank.")


class PeerComparison(ApiModel):
    """An organisation's own figures, and its standing when it publishes."""

    published: bool
    peers: int = Field(description="Organisations that publish, this one included if it does.")
    metrics: list[MetricOut]
    own: PeerFiguresOut
    standings: list[StandingOut] = Field(
        description="Empty unless this organisation publishes: whoever compares, is compared."
    )


class PublicationEventOut(ApiModel):
    published: bool
    at: datetime
    by: str = Field(description="Id of the member of staff who chose.")
    note: str | None


class Publication(ApiModel):
    published: bool
    history: list[PublicationEventOut] = Field(description="Every choice, oldest first.")


class PublicationIn(ApiModel):
    published: StrictBool = Field(
        description="true: publish the figures among peers; false: stop (`0` is not `false`)."
    )
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="Why.")


def _metrics() -> list[MetricOut]:
    return [
        MetricOut(
            key=m.key,
            label=m.label,
            explanation=m.explanation,
            unit=m.unit,
            higher_is_better=m.higher_is_better,
        )
        for m in METRICS
    ]


def _figures(f: PeerFigures) -> PeerFiguresOut:
    return PeerFiguresOut(
        organisation_id=f.organisation_id,
        organisation_name=f.organisation_name,
        values=f.values,
        compliance_measured_at=f.compliance_measured_at,
        breaches_last_year=f.breaches_last_year,
        signals_total=f.signals_total,
    )


@router.get(
    "/peer-figures",
    response_model=PeerFigureList,
    operation_id="listPeerFigures",
    summary="Figures of the organisations that publish them among peers",
    responses=problem_responses(500),
)
def list_peer_figures(state: AppState = Depends(get_state)) -> Any:
    figures = published_figures(state.engine, state.register.snapshot(), datetime.now(UTC))
    return PeerFigureList(metrics=_metrics(), organisations=[_figures(f) for f in figures])


@router.get(
    "/organisations/{organisationId}/peer-comparison",
    response_model=PeerComparison,
    operation_id="getPeerComparison",
    summary="The organisation's figures and its standing among publishing peers",
    responses=STAFF_ERRORS,
)
def get_peer_comparison(
    organisation_id: OrgId,
    user: staff.StaffUser = Depends(staff.api_staff(staff.INSIGHT_READ)),
    state: AppState = Depends(get_state),
) -> Any:
    found = compare(state.engine, state.register.snapshot(), organisation_id, datetime.now(UTC))
    if found is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    return PeerComparison(
        published=found.published,
        peers=found.peers,
        metrics=_metrics(),
        own=_figures(found.own),
        standings=[
            StandingOut(
                key=s.metric.key,
                value=s.value,
                peers=s.peers,
                median=s.median,
                best=s.best,
                worst=s.worst,
                rank=s.rank,
            )
            for s in found.standings
        ],
    )


def _publication(state: AppState, organisation_id: str) -> Publication:
    history = publication_history(state.engine, organisation_id)
    return Publication(
        published=bool(history and history[-1].published),
        history=[
            PublicationEventOut(published=e.published, at=e.at, by=e.by, note=e.note)
            for e in history
        ],
    )


@router.get(
    "/organisations/{organisationId}/peer-publication",
    response_model=Publication,
    operation_id="getPeerPublication",
    summary="Whether the organisation publishes its figures among peers, and since when",
    responses=STAFF_ERRORS,
)
def get_peer_publication(
    organisation_id: OrgId,
    user: staff.StaffUser = Depends(staff.api_staff(staff.INSIGHT_READ)),
    state: AppState = Depends(get_state),
) -> Any:
    return _publication(state, organisation_id)


@router.put(
    "/organisations/{organisationId}/peer-publication",
    response_model=Publication,
    operation_id="setPeerPublication",
    summary="Choose whether the organisation publishes its figures among peers",
    responses=STAFF_ERRORS,
)
def set_peer_publication(
    organisation_id: OrgId,
    body: PublicationIn,
    user: staff.StaffUser = Depends(staff.api_staff(staff.PEERS_PUBLISH)),
    state: AppState = Depends(get_state),
) -> Any:
    if state.register.snapshot().organisation(organisation_id) is None:
        raise ProblemError(404, f"Organisatie '{organisation_id}' staat niet in het register.")
    current = latest_event(state.engine, organisation_id)
    if current is None or current.published != body.published:
        set_published(state.engine, organisation_id, body.published, by=user.id, note=body.note)
    return _publication(state, organisation_id)
