"""One command line for operators and developers: serve, demo, migrate, register work."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from glazenstad import __version__
from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import RegisterValidationError, load_register, parse_register
from glazenstad.settings import get_settings

app = typer.Typer(
    help="Glazen Stad: a municipality's data policy, executed and made public.",
    no_args_is_help=True,
)
register_app = typer.Typer(
    help="The register of processing activities, algorithms, sensors.", no_args_is_help=True
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(register_app, name="register")
app.add_typer(db_app, name="db")

console = Console()
errors = Console(stderr=True)

DEFAULT_DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "register"


def _engine() -> Engine:
    engine = make_engine(get_settings().effective_database_url)
    migrate(engine)
    return engine


def _report_problems(exc: RegisterValidationError) -> None:
    errors.print(f"[bold red]{len(exc.problems)} problem(s); nothing was loaded:[/]")
    for problem in exc.problems:
        errors.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    migrate(make_engine(settings.effective_database_url))
    console.print(f"Database is up to date: {_safe_url(settings.effective_database_url)}")


@register_app.command("check")
def register_check(directory: Annotated[Path, typer.Argument(help="Register directory.")]) -> None:
    """Validate register YAML without loading it."""
    try:
        parsed = parse_register(directory)
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    console.print(
        f"Valid: {len(parsed.organisations)} organisation(s), {len(parsed.entries)} entries."
    )


@register_app.command("load")
def register_load(
    directory: Annotated[Path, typer.Argument(help="Register directory.")],
    dry_run: Annotated[bool, typer.Option(help="Validate and count, write nothing.")] = False,
    loaded_by: Annotated[str, typer.Option(help="Who loads (kept with the load).")] = "cli",
) -> None:
    """Validate register YAML and store new versions of what changed (all or nothing)."""
    try:
        result = load_register(_engine(), directory, loaded_by=loaded_by, dry_run=dry_run)
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    verb = "Would load" if dry_run else "Loaded"
    console.print(
        f"{verb} {', '.join(result.organisations)}: {result.added} new, {result.changed} changed, "
        f"{result.removed} removed, {result.unchanged} unchanged."
    )


@register_app.command("schema")
def register_schema(
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Print the JSON Schema of register YAML documents."""
    from glazenstad.register.model import register_json_schema

    text = json.dumps(register_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@register_app.command("quality")
def register_quality(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List quality findings on the current register (exit 1 when there are errors)."""
    from glazenstad.register.quality import check_organisation
    from glazenstad.register.store import RegisterStore

    snapshot = RegisterStore(_engine()).snapshot()
    regs = snapshot.ordered()
    if organisation:
        regs = [r for r in regs if r.organisation.organisation_id == organisation]
        if not regs:
            errors.print(f"Unknown organisation '{organisation}'.")
            raise typer.Exit(2)
    findings = [f for reg in regs for f in check_organisation(reg)]
    if as_json:
        rows = [
            {
                "code": f.code,
                "severity": f.check.severity,
                "organisation": f.organisation_id,
                "entry": f.entry_id,
                "title": f.check.title,
                "detail": f.detail,
            }
            for f in findings
        ]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    else:
        table = Table("Code", "Ernst", "Organisatie", "Onderdeel", "Bevinding")
        for f in findings:
            table.add_row(
                f.code,
                f.check.severity,
                f.organisation_id,
                f.entry_id,
                f"{f.check.title}. {f.detail}",
            )
        console.print(table)
        console.print(f"{len(findings)} finding(s).")
    if any(f.check.severity == "fout" for f in findings):
        raise typer.Exit(1)


@register_app.command("export")
def register_export(
    what: Annotated[str, typer.Argument(help="algoritmeregister, art30 or sensors.")],
    organisation: Annotated[str, typer.Option(help="Organisation id.")],
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Export the register: Algoritmeregister v1.0 JSON, art. 30 CSV, or sensor JSON."""
    from glazenstad.register.exports import algorithm_record, art30_csv, sensor_record
    from glazenstad.register.store import RegisterStore

    reg = RegisterStore(_engine()).snapshot().organisation(organisation)
    if reg is None:
        errors.print(f"Unknown organisation '{organisation}'.")
        raise typer.Exit(2)
    public_url = get_settings().effective_public_url
    if what == "algoritmeregister":
        text = (
            json.dumps(
                [algorithm_record(reg, a, public_url) for a in reg.algorithms()],
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    elif what == "art30":
        text = art30_csv(reg)
    elif what == "sensors":
        text = (
            json.dumps([sensor_record(reg, s) for s in reg.sensors()], indent=2, ensure_ascii=False)
            + "\n"
        )
    else:
        errors.print(f"Unknown export '{what}'; choose algoritmeregister, art30 or sensors.")
        raise typer.Exit(2)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the portal and the API."""
    import uvicorn

    from glazenstad.web.app import create_app

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    application = create_app(settings)
    _print_urls(settings.effective_public_url)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")


@app.command()
def demo(
    register: Annotated[
        Path, typer.Option(help="Demo register directory.")
    ] = DEFAULT_DEMO_REGISTER,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load only.")] = False,
) -> None:
    """Create the database, load the demo municipality Voorbeeldstad, and serve it."""
    settings = get_settings()
    if settings.mode == "production":
        errors.print("The demo does not run in production mode.")
        raise typer.Exit(2)
    console.print(f"Database: {_safe_url(settings.effective_database_url)}")
    try:
        result = load_register(_engine(), register, loaded_by="demo")
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    console.print(
        f"Register loaded ({', '.join(result.organisations)}): {result.added} new, "
        f"{result.changed} changed, {result.removed} removed, {result.unchanged} unchanged."
    )
    if not no_serve:
        serve(host=host, port=port)


def _print_urls(base: str) -> None:
    console.print(f"Portal:  {base}/")
    console.print(f"API:     {base}/api/v1/organisations")
    console.print(f"OpenAPI: {base}/api/v1/openapi.json")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
