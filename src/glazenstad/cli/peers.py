"""`glazenstad peers ...`: publish the organisation's figures among peers or not, and see where
it stands (docs/peers.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from glazenstad.cli.common import console, fail, open_engine

app = typer.Typer(
    help="Figures among peers: publish them or not, and see where the organisation stands.",
    no_args_is_help=True,
)


@app.command("show")
def peers_show(
    organisation: Annotated[str, typer.Option(help="Organisation id.")] = "voorbeeldstad",
) -> None:
    """The organisation's figures, and its standing if it publishes them."""
    from datetime import UTC, datetime

    from glazenstad.insight.peers.comparison import compare
    from glazenstad.insight.peers.figures import METRICS
    from glazenstad.register.store import RegisterStore
    from glazenstad.web.portal.peers import figure_nl

    engine = open_engine()
    found = compare(engine, RegisterStore(engine).snapshot(), organisation, datetime.now(UTC))
    if found is None:
        fail(f"--organisation: '{organisation}' is not in the register", 2)
    table = Table(title=f"{found.own.organisation_name}: figures among peers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    if found.published:
        for column in ("rank", "median", "best", "worst"):
            table.add_column(column, justify="right")
        for s in found.standings:
            table.add_row(
                s.metric.label,
                figure_nl(s.value, s.metric),
                f"{s.rank} of {s.peers}" if s.rank else "-",
                figure_nl(s.median, s.metric),
                figure_nl(s.best, s.metric),
                figure_nl(s.worst, s.metric),
            )
    else:
        for metric in METRICS:
            table.add_row(metric.label, figure_nl(found.own.values[metric.key], metric))
    console.print(table)
    if not found.published:
        console.print(
            f"Not published: {found.peers} organisation(s) publish; publish to see the standing "
            "(`glazenstad peers publish`)."
        )


def _set_peer_publication(organisation: str, published: bool, by: str, note: str | None) -> None:
    from glazenstad.insight.peers.publication import MAX_NOTE, set_published
    from glazenstad.register.store import RegisterStore

    engine = open_engine()
    if RegisterStore(engine).snapshot().organisation(organisation) is None:
        fail(f"--organisation: '{organisation}' is not in the register", 2)
    if note is not None and len(note) > MAX_NOTE:
        fail(f"--note: at most {MAX_NOTE} characters", 2)
    event = set_published(engine, organisation, published, by=by, note=note)
    state = "publishes" if event.published else "does not publish"
    since = f"{event.at:%Y-%m-%d %H:%M} UTC"
    console.print(f"{organisation} {state} its figures among peers (since {since}, by {event.by}).")


@app.command("publish")
def peers_publish(
    organisation: Annotated[str, typer.Option(help="Organisation id.")],
    by: Annotated[str, typer.Option(help="Who chooses (for the history).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Publish the organisation's figures among peers (and see its standing)."""
    _set_peer_publication(organisation, True, by, note)


@app.command("withdraw")
def peers_withdraw(
    organisation: Annotated[str, typer.Option(help="Organisation id.")],
    by: Annotated[str, typer.Option(help="Who chooses (for the history).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Stop publishing the organisation's figures among peers."""
    _set_peer_publication(organisation, False, by, note)
