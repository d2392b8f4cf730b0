"""`glazenstad compliance ...`: measure compliance, store a snapshot, show the history.

Run `glazenstad compliance check` on a schedule (e.g. nightly, after the retention job): every
run stores a snapshot, and the snapshots are the history the portal, the API and the council
report show. The work is imported when a command runs, so `glazenstad --help` stays quick.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from glazenstad.cli.common import console, errors, open_engine, organisation_of
from glazenstad.settings import get_settings

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Measured compliance: checks on what actually happened, scores and their history.",
    no_args_is_help=True,
)

OrganisationOption = Annotated[
    str | None,
    typer.Option(help="Organisation id (may be left out when the register has only one)."),
]


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.print(f"--at: '{value}' is not an ISO 8601 moment such as 2027-01-31T12:00Z")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("check")
def check(
    organisation: OrganisationOption = None,
    at: Annotated[
        str | None, typer.Option(help="Measure as of this ISO 8601 moment (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Store the figures as a snapshot.")
    ] = True,
    by: Annotated[
        str, typer.Option(help="Who stores the snapshot (shown in the history).")
    ] = "cli",
) -> None:
    """Run every compliance check; print checks, evidence and scores; store a snapshot."""
    from glazenstad.insight.compliance.history import store_snapshot
    from glazenstad.insight.compliance.present import print_report, report_document
    from glazenstad.insight.compliance.run import OrganisationNotFound, run_checks
    from glazenstad.register.store import RegisterStore

    moment = _moment(at)
    engine = open_engine()
    register = RegisterStore(engine)
    org = organisation_of(register, organisation)
    try:
        report = run_checks(
            engine, register, org, moment, public_url=get_settings().effective_public_url
        )
    except OrganisationNotFound as exc:
        errors.print(f"--organisation: {exc}", highlight=False)
        raise typer.Exit(2) from None
    snapshot_id = store_snapshot(engine, report, stored_by=by) if store else None
    if as_json:
        document = report_document(report)
        document["snapshotId"] = snapshot_id
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    print_report(console, report)
    if snapshot_id is not None:
        console.print(f"Opgeslagen als meting {snapshot_id}.", highlight=False)


@app.command("history")
def history(
    organisation: OrganisationOption = None,
    limit: Annotated[int, typer.Option(help="The newest this many snapshots.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON.")] = False,
) -> None:
    """The stored snapshots: overall score and failed checks over time."""
    from glazenstad.insight.compliance.history import score_history
    from glazenstad.insight.compliance.present import print_history, snapshot_document
    from glazenstad.register.store import RegisterStore

    engine = open_engine()
    org = organisation_of(RegisterStore(engine), organisation)
    snapshots = score_history(engine, org, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                {"organisationId": org, "snapshots": [snapshot_document(s) for s in snapshots]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not snapshots:
        console.print(
            f"Nog geen metingen voor {org}; `glazenstad compliance check` maakt er een.",
            highlight=False,
        )
        return
    print_history(console, org, snapshots)
