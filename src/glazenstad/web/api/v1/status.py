"""Operational status: is the database there, and how far behind is the read replica.

Operators (and their monitoring) need the replica's lag to decide whether residents see current
data; residents' answers only carry a notice when the lag passes the threshold (docs/replica.md).
The route is public, like a health check: it says whether things work and how far behind the
replica is, never which hosts they run on nor why a connection failed (`glazenstad status` on
the server, and the server log, say that).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlalchemy import text

from glazenstad.db.replica import ReadRouter, ReplicaLag
from glazenstad.web.api.v1.common import API_VERSION, ApiModel, problem_responses
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Status"])


class DatabaseStatus(ApiModel):
    backend: Literal["postgresql", "sqlite"] = Field(description="The primary database's kind.")
    reachable: bool = Field(description="The primary answered (it takes every write).")


class ReplicaStatus(ApiModel):
    reachable: bool = Field(description="The read replica answered.")
    is_replica: bool = Field(
        description="The read database is a streaming replica in recovery (false: the read URL "
        "names a database that is not a replica, a configuration mistake)."
    )
    lag_bytes: int | None = Field(
        description="WAL written on the primary that the replica has not replayed yet, in bytes."
    )
    lag_seconds: float | None = Field(
        description="How old the replica's data may be: 0 when it has replayed everything, "
        "otherwise the age of the newest transaction it has replayed. Null when unknown."
    )
    replay_paused: bool | None = Field(description="Replay is paused on the replica.")
    resident_reads_from: Literal["replica", "primary"] = Field(
        description="Where residents' reads go now: the primary while the replica is away."
    )
    lag_notice_seconds: float = Field(
        description="Residents are told how old their data may be above this lag."
    )


class StatusOut(ApiModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the read replica is configured but away, not a replica, or "
        "behind by more than the notice threshold (residents' reads still work)."
    )
    version: str = Field(description="Version of the API.")
    database: DatabaseStatus
    read_replica: ReplicaStatus | None = Field(
        description="The read replica (GLAZENSTAD_DATABASE_READ_URL); null when none is set."
    )


def _replica_status(reads: ReadRouter, lag: ReplicaLag, notice_s: float) -> ReplicaStatus:
    return ReplicaStatus(
        reachable=lag.reachable,
        is_replica=lag.is_replica,
        lag_bytes=lag.lag_bytes,
        lag_seconds=None if lag.lag_seconds is None else round(lag.lag_seconds, 3),
        replay_paused=lag.replay_paused,
        resident_reads_from="replica" if reads.on_replica and lag.reachable else "primary",
        lag_notice_seconds=notice_s,
    )


def _measure(state: AppState) -> StatusOut:
    with state.engine.connect() as conn:  # unreachable: the storage handler answers 503
        conn.execute(text("SELECT 1"))
    backend = state.engine.dialect.name
    replica: ReplicaStatus | None = None
    degraded = False
    lag = state.reads.lag(fresh=True)
    if lag is not None:
        notice_s = state.settings.database_read_lag_notice_s
        replica = _replica_status(state.reads, lag, notice_s)
        degraded = not lag.is_replica or lag.lag_seconds is None or lag.lag_seconds > notice_s
    return StatusOut(
        status="degraded" if degraded else "ok",
        version=API_VERSION,
        database=DatabaseStatus(
            backend="postgresql" if backend == "postgresql" else "sqlite", reachable=True
        ),
        read_replica=replica,
    )


@router.get(
    "/status",
    response_model=StatusOut,
    operation_id="getStatus",
    summary="Status of the database and the read replica's lag",
    responses=problem_responses(500, 503),
)
async def get_status(state: AppState = Depends(get_state)) -> StatusOut:
    """Measured afresh on every call: monitoring should see the lag of now."""
    return await run_in_threadpool(_measure, state)
