"""`glazenstad audit`: read the audit trail of register and policy changes."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from glazenstad.cli.common import console, fail, open_engine


def audit(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only from this moment (ISO 8601, e.g. 2026-11-01 or with a time)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Who changed the register or the rules, what, when and why (newest first)."""
    from glazenstad.audit.trail import ACTIONS, read_events

    moment = _moment(since) if since is not None else None
    events = read_events(open_engine(), organisation_id=organisation, since=moment, limit=limit)
    if as_json:
        rows = [
            {
                "id": e.id,
                "organisation": e.organisation_id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "reason": e.reason,
                "traceId": e.trace_id,
            }
            for e in events
        ]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table("Wanneer (UTC)", "Organisatie", "Wie", "Wat", "Onderwerp", "Waarom", "Trace")
    for e in events:
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            e.organisation_id,
            e.actor,
            f"{e.action} ({ACTIONS.get(e.action, '')})",
            e.subject[:12] if len(e.subject) == 64 else e.subject,
            e.reason or "",
            e.trace_id or "",
        )
    console.print(table)
    console.print(f"{len(events)} event(s).")


def _moment(text: str) -> datetime:
    """`--since` as an aware moment; a date or a time without zone is read as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since: '{text}' is not an ISO 8601 date or moment", 2)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
