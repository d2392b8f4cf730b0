"""`glazenstad status`: is the database there, and how far behind is the read replica.

The same measurement as `GET /api/v1/status`, made from the server itself, so it may name the
hosts and say why a connection failed. The exit code suits monitoring: 0 when all is well, 1
when the primary is unreachable or the read replica is away, not a replica, or further behind
than `GLAZENSTAD_DATABASE_READ_LAG_NOTICE_S`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from glazenstad.cli.common import console
from glazenstad.settings import get_settings


def _host(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The primary database's reachability and the read replica's lag (bytes and seconds)."""
    from glazenstad.db.engine import make_engine
    from glazenstad.db.replica import make_read_engine, measure_lag

    settings = get_settings()
    primary = make_engine(settings.effective_database_url)
    report: dict[str, Any] = {"database": {"url": _host(settings.effective_database_url)}}
    ok = True
    try:
        with primary.connect() as conn:
            conn.execute(text("SELECT 1"))
        report["database"]["reachable"] = True
    except DBAPIError as exc:
        report["database"].update(reachable=False, error=str(exc.orig or exc).strip()[:300])
        ok = False
    replica_url = settings.database_read_url
    if replica_url:
        replica = make_read_engine(replica_url)
        try:
            lag = measure_lag(primary, replica)
        finally:
            replica.dispose()
        notice = settings.database_read_lag_notice_s
        report["readReplica"] = {
            "url": _host(replica_url),
            "reachable": lag.reachable,
            "isReplica": lag.is_replica,
            "lagBytes": lag.lag_bytes,
            "lagSeconds": None if lag.lag_seconds is None else round(lag.lag_seconds, 3),
            "replayPaused": lag.replay_paused,
            "lagNoticeSeconds": notice,
            "error": lag.error,
        }
        if not lag.is_replica or lag.lag_seconds is None or lag.lag_seconds > notice:
            ok = False
    else:
        report["readReplica"] = None
    primary.dispose()
    report["status"] = "ok" if ok else "degraded"
    if as_json:
        console.print_json(json.dumps(report))
    else:
        _print(report)
    if not ok:
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    database = report["database"]
    line = "reachable" if database["reachable"] else f"UNREACHABLE ({database.get('error')})"
    console.print(f"Database:     {database['url']}: {line}", highlight=False, soft_wrap=True)
    replica = report["readReplica"]
    if replica is None:
        console.print("Read replica: none (every read goes to the database)", highlight=False)
    elif not replica["reachable"]:
        console.print(
            f"Read replica: {replica['url']}: UNREACHABLE ({replica['error']}); resident reads "
            "go to the database",
            highlight=False,
            soft_wrap=True,
        )
    elif not replica["isReplica"]:
        console.print(
            f"Read replica: {replica['url']}: NOT A REPLICA (not in recovery)",
            highlight=False,
            soft_wrap=True,
        )
    else:
        seconds = replica["lagSeconds"]
        bytes_ = replica["lagBytes"]
        age = "unknown" if seconds is None else f"{seconds:.3f} s"
        behind = "unknown" if bytes_ is None else f"{bytes_:,} bytes"
        paused = ", replay PAUSED" if replica["replayPaused"] else ""
        console.print(
            f"Read replica: {replica['url']}: lag {age}, {behind}{paused} "
            f"(residents are told above {replica['lagNoticeSeconds']:g} s)",
            highlight=False,
            soft_wrap=True,
        )
        if replica["error"]:
            console.print(f"  {replica['error']}", highlight=False, soft_wrap=True)
    console.print(f"Status:       {report['status']}", highlight=False)
