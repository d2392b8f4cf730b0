"""One command line for operators and developers: serve, demo, migrate, register work."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Engine

from glazenstad import __version__
from glazenstad.cli import audit as audit_commands
from glazenstad.cli import backup as backup_commands
from glazenstad.cli import compliance as compliance_commands
from glazenstad.cli import execution_stream as execution_stream_commands
from glazenstad.cli import incidents as incident_commands
from glazenstad.cli import peers as peer_commands
from glazenstad.cli import scale as scale_commands
from glazenstad.cli import signals as signal_commands
from glazenstad.cli import status as status_commands
from glazenstad.cli.common import console, errors, open_engine
from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import (
    RegisterApprovalError,
    RegisterValidationError,
    load_register,
    parse_register,
)
from glazenstad.rules.announce import POLICY_ACTIVATED, REGISTER_APPROVED
from glazenstad.rules.loader import PolicyValidationError
from glazenstad.settings import get_settings

if TYPE_CHECKING:
    from glazenstad.logbook.retention import RetentionReport
    from glazenstad.register.store import RegisterSnapshot
    from glazenstad.rules.loader import PolicyTree

app = typer.Typer(
    help="Glazen Stad: a municipality's data policy, executed and made public.",
    no_args_is_help=True,
)
register_app = typer.Typer(
    help="The register of processing activities, algorithms, sensors.", no_args_is_help=True
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
rules_app = typer.Typer(
    help="Data-use rules: check, test, load and activate policies.", no_args_is_help=True
)
app.add_typer(register_app, name="register")
app.add_typer(rules_app, name="rules")
logbook_app = typer.Typer(
    help="The logbook of processing (Logboek Dataverwerkingen).", no_args_is_help=True
)
app.add_typer(logbook_app, name="logbook")
app.add_typer(db_app, name="db")
pipeline_app = typer.Typer(
    help="Execution pipelines that consume MQTT streams (needs GLAZENSTAD_MQTT_URL).",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")
simulate_app = typer.Typer(
    help="Drive realistic load through the real paths (broker, or in process without one).",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")
parking_app = typer.Typer(
    help="Parking enforcement: cases to judge, retention of scans.", no_args_is_help=True
)
app.add_typer(parking_app, name="parking")
app.add_typer(compliance_commands.app, name="compliance")
app.add_typer(incident_commands.breaches_app, name="breaches")
app.add_typer(incident_commands.break_glass_app, name="break-glass")
app.add_typer(signal_commands.app, name="signals")
app.add_typer(peer_commands.app, name="peers")
app.command("audit")(audit_commands.audit)
logbook_app.command("writer")(scale_commands.writer)
pipeline_app.command("bridge")(execution_stream_commands.bridge)
app.add_typer(backup_commands.app, name="backup")
app.command("status")(status_commands.status)


DEMO_DIR = Path(__file__).resolve().parents[3] / "demo"
DEFAULT_DEMO_REGISTER = DEMO_DIR / "register"
DEFAULT_DEMO_POLICIES = DEMO_DIR / "policies"
DEFAULT_DEMO_GATEWAY = DEMO_DIR / "gateway" / "voorbeeldstad.yaml"
DEMO_AUTHOR = "informatiemanager"
"""Proposes the demo register and saves the demo policies (a staff id in demo/staff.yaml)."""
DEMO_APPROVER = "fg"
"""Approves and activates them: the four-eyes rule at work in the demo."""


def _engine() -> Engine:
    return open_engine()


def _report_problems(exc: RegisterValidationError | PolicyValidationError) -> None:
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
    loaded_by: Annotated[
        str,
        typer.Option("--by", "--loaded-by", help="Who proposes the change (kept with the load)."),
    ],
    note: Annotated[str | None, typer.Option(help="Why (kept with the proposal).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and count, write nothing.")] = False,
) -> None:
    """Validate register YAML and propose new versions of what changed (all or nothing).

    The load is in force only after someone else approves it: `glazenstad register approve`.
    """
    try:
        result = load_register(
            _engine(), directory, loaded_by=loaded_by, note=note, dry_run=dry_run
        )
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    except RegisterApprovalError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    counts = (
        f"{', '.join(result.organisations)}: {result.added} new, {result.changed} changed, "
        f"{result.removed} removed, {result.unchanged} unchanged."
    )
    if dry_run:
        console.print(f"Would load {counts}", markup=False, highlight=False)
    elif result.load_id is None:
        console.print(f"Nothing to load; {counts}", markup=False, highlight=False)
    else:
        console.print(f"Proposed load {result.load_id}, {counts}", markup=False, highlight=False)
        console.print(
            "Not in force until a second person approves it (four-eyes rule): "
            f"glazenstad register approve {result.load_id} --by <someone else> --note <why>",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@register_app.command("approve")
def register_approve(
    load_id: Annotated[int, typer.Argument(help="The load to approve (see `register loads`).")],
    by: Annotated[str, typer.Option(help="Who approves: not the person who proposed it.")],
    note: Annotated[str, typer.Option(help="Why it may come into force.")],
    trace_id: Annotated[
        str | None,
        typer.Option(help="W3C trace id of a logbook processing this approval answers to."),
    ] = None,
) -> None:
    """Approve a proposed register load: from now on it is the register in force."""
    from glazenstad.audit.trail import AuditInputError
    from glazenstad.register.approval import approve_load

    if not note.strip():
        errors.print("--note: say why the change may come into force")
        raise typer.Exit(2)
    try:
        approved = approve_load(_engine(), load_id, by=by, note=note, trace_id=trace_id)
    except AuditInputError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except RegisterApprovalError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    _announce(REGISTER_APPROVED, approved.organisations)
    console.print(
        f"Load {approved.id} ({', '.join(approved.organisations)}) approved by "
        f"{approved.approved_by}; it is the register in force now.",
        markup=False,
        highlight=False,
    )


@register_app.command("loads")
def register_loads(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List register loads: who proposed each, and who approved it (or that it still waits)."""
    from glazenstad.register.store import RegisterStore

    loads = RegisterStore(_engine()).loads(limit)
    if as_json:
        rows = [
            {
                "id": load.id,
                "proposedAt": load.loaded_at.isoformat(),
                "proposedBy": load.loaded_by,
                "organisations": list(load.organisations),
                "added": load.added,
                "changed": load.changed,
                "removed": load.removed,
                "status": load.status,
                "staleBecause": load.stale_because,
                "approvedAt": load.approved_at.isoformat() if load.approved_at else None,
                "approvedBy": load.approved_by,
                "note": load.approval_note,
            }
            for load in loads
        ]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    labels = {"proposed": "wacht op goedkeuring", "approved": "goedgekeurd", "stale": "verouderd"}
    table = Table(
        "Load", "Voorgesteld", "Door", "Organisaties", "Wijzigingen", "Status", "Goedgekeurd door"
    )
    for load in loads:
        approval = (
            f"{load.approved_by} ({load.approved_at:%Y-%m-%d %H:%M}): {load.approval_note or ''}"
            if load.approved_at is not None
            else ""
        )
        table.add_row(
            str(load.id),
            load.loaded_at.isoformat(timespec="seconds"),
            load.loaded_by,
            ", ".join(load.organisations),
            f"+{load.added} ~{load.changed} -{load.removed}",
            labels[load.status]
            + (f" (na load {load.stale_because})" if load.stale_because else ""),
            approval,
        )
    console.print(table)


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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (use the number of CPU cores for "
            "heavy log ingest).",
        ),
    ] = 1,
) -> None:
    """Serve the portal and the API."""
    import uvicorn

    from glazenstad.web.app import create_app

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if workers == 1:
        application = create_app(settings)
        _print_urls(settings.effective_public_url)
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
        return
    # Each worker process builds its own application from the environment's settings; the
    # database is migrated once here first, so the workers do not race to migrate it.
    _engine().dispose()
    _print_urls(settings.effective_public_url)
    uvicorn.run(
        "glazenstad.web.app:create_worker_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )


@app.command()
def gateway(
    config: Annotated[
        Path | None, typer.Option(help="Gateway configuration file (default: the demo's).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes sharing the port.")] = 1,
) -> None:
    """Serve the gateway in front of the source APIs: decide, enforce, log every access."""
    import os

    import uvicorn

    from glazenstad.execution.gateway import GatewayConfigError, load_gateway_config

    settings = get_settings()
    path = config or settings.gateway_config or DEFAULT_DEMO_GATEWAY
    try:
        checked = load_gateway_config(path)
    except GatewayConfigError as exc:
        errors.print(f"[bold red]{len(exc.problems)} problem(s) in the gateway configuration:[/]")
        for problem in exc.problems:
            errors.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if settings.mode == "production" and checked.has_demo_clients:
        errors.print("The gateway configuration has demo clients; production mode refuses them.")
        raise typer.Exit(2)
    # The worker processes build the gateway from the environment, like `serve`'s workers.
    os.environ["GLAZENSTAD_GATEWAY_CONFIG"] = str(path.resolve())
    _engine().dispose()
    listen_host = host or settings.host
    listen_port = port or settings.gateway_port
    console.print(f"Gateway for {checked.organisation}: http://{listen_host}:{listen_port}/")
    uvicorn.run(
        "glazenstad.execution.gateway.app:create_worker_gateway",
        factory=True,
        workers=workers,
        host=listen_host,
        port=listen_port,
        log_level="warning",
        access_log=False,  # request paths name data subjects
    )


@app.command()
def sources(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 2026,
    persons: Annotated[int, typer.Option(min=1, help="How many residents to make up.")] = 5000,
) -> None:
    """Serve Voorbeeldstad's demo source systems (synthetic data), for the gateway to front."""
    from glazenstad.sources.app import serve_sources

    console.print(f"Demo sources: http://{host}:{port}/ (synthetic data, seed {seed})")
    serve_sources(host=host, port=port, seed=seed, persons=persons)


@app.command()
def demo(
    register: Annotated[
        Path, typer.Option(help="Demo register directory.")
    ] = DEFAULT_DEMO_REGISTER,
    policies: Annotated[
        Path | None, typer.Option(help="Demo policy directory (activated as loaded).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load only.")] = False,
    execution: Annotated[
        bool,
        typer.Option(help="Also run the demo sources (port 8100) and the gateway in front."),
    ] = True,
) -> None:
    """Create the database, load the demo municipality Voorbeeldstad, and serve it."""
    settings = get_settings()
    if settings.mode == "production":
        errors.print("The demo does not run in production mode.")
        raise typer.Exit(2)
    console.print(f"Database: {_safe_url(settings.effective_database_url)}")
    try:
        result = load_register(
            _engine(),
            register,
            loaded_by=DEMO_AUTHOR,
            approved_by=DEMO_APPROVER,
            note="Demo: register of Gemeente Voorbeeldstad",
        )
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    who = (
        f"; proposed by {DEMO_AUTHOR}, approved by {DEMO_APPROVER} (four-eyes rule)"
        if result.approved
        else ""
    )
    console.print(
        f"Register loaded ({', '.join(result.organisations)}): {result.added} new, "
        f"{result.changed} changed, {result.removed} removed, {result.unchanged} unchanged{who}.",
        markup=False,
        highlight=False,
    )
    policy_dir = policies or (DEFAULT_DEMO_POLICIES if register == DEFAULT_DEMO_REGISTER else None)
    if policy_dir is not None:
        rules_load(policy_dir, by=DEMO_AUTHOR)
        _activate_drafts(policy_dir, by=DEMO_APPROVER, note="Demo: vastgesteld door de FG")
    if no_serve:
        return
    children = _start_execution(settings.gateway_port, settings.mqtt_url) if execution else []
    if execution:
        from glazenstad.execution.live import start_demo_simulation

        simulation = start_demo_simulation(
            _engine(), settings.pseudonymizer(), mqtt_url=settings.mqtt_url
        )
    try:
        serve(host=host, port=port)
    finally:
        if execution:
            simulation.set()
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=20)


def _start_execution(gateway_port: int, mqtt_url: str | None) -> list[subprocess.Popen[bytes]]:
    """The demo sources, the gateway and (with a broker) the pipelines as child processes of
    `demo`, stopped with it."""
    command = [sys.executable, "-c", "from glazenstad.cli import app; app()"]
    children = [
        subprocess.Popen([*command, "sources", "--port", "8100"]),
        subprocess.Popen([*command, "gateway", "--port", str(gateway_port)]),
    ]
    if mqtt_url:
        children.append(subprocess.Popen([*command, "pipeline", "sensors"]))
        children.append(subprocess.Popen([*command, "pipeline", "parking"]))
    console.print(
        "Demo sources on http://127.0.0.1:8100/, gateway on "
        f"http://127.0.0.1:{gateway_port}/ (docs/gateway.md)"
    )
    return children


def _register_snapshot(register: Path | None) -> RegisterSnapshot:
    """The register to check policies against: from files (in memory) or from the database."""
    from glazenstad.register.store import RegisterStore

    if register is None:
        return RegisterStore(_engine()).snapshot()
    engine = make_engine("sqlite://")
    migrate(engine)
    try:
        # A scratch database that lives for this one check: nothing is put in force anywhere.
        load_register(
            engine, register, loaded_by="rules check (files)", approved_by="rules check (scratch)"
        )
    except RegisterValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    return RegisterStore(engine).snapshot()


def _policy_tree(directory: Path, snapshot: RegisterSnapshot) -> PolicyTree:
    from glazenstad.rules.loader import PolicyValidationError, check_references, parse_policies

    try:
        tree = parse_policies(directory)
    except PolicyValidationError as exc:
        _report_problems(exc)
        raise typer.Exit(1) from None
    problems = check_references(tree, snapshot)
    if problems:
        _report_problems(PolicyValidationError(problems))
        raise typer.Exit(1)
    return tree


RegisterOption = Annotated[
    Path | None,
    typer.Option(help="Check against this register directory instead of the database."),
]


@rules_app.command("check")
def rules_check(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")],
    register: RegisterOption = None,
) -> None:
    """Validate policies and scenarios, including every register id they name."""
    tree = _policy_tree(directory, _register_snapshot(register))
    rules = sum(len(p.policy.rules) for p in tree.policies)
    scenarios = sum(len(s.scenarios.scenarios) for s in tree.scenario_sets)
    console.print(
        f"Valid: {len(tree.policies)} policy(ies), {rules} rule(s), {scenarios} scenario(s)."
    )


@rules_app.command("test")
def rules_test(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")],
    register: RegisterOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every scenario.")] = False,
) -> None:
    """Run the scenarios next to each policy; print failures with the explanation."""
    from glazenstad.rules.compiler import compile_policy
    from glazenstad.rules.effective import policy_context
    from glazenstad.rules.scenarios import run_scenarios

    snapshot = _register_snapshot(register)
    tree = _policy_tree(directory, snapshot)
    compiled = {}
    for loaded in tree.policies:
        reg = snapshot.organisation(loaded.policy.organisation)
        assert reg is not None
        compiled[loaded.policy.id] = compile_policy(policy_context(loaded.policy, reg))
    passed = failed = 0
    for scenarios in tree.scenario_sets:
        for result in run_scenarios(scenarios, compiled[scenarios.scenarios.policy]):
            where = f"{result.file}:{result.line}"
            if result.passed:
                passed += 1
                if verbose:
                    console.print(f"[green]ok[/]   {where} {result.scenario.name}")
                continue
            failed += 1
            console.print(f"[red]FAIL[/] {where} {result.scenario.name}", highlight=False)
            for failure in result.failures:
                console.print(f"       {failure}", markup=False, highlight=False)
            console.print(
                f"       uitleg: {result.decision.explanation()}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    console.print(f"{passed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@rules_app.command("load")
def rules_load(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")],
    by: Annotated[str, typer.Option(help="Who loads (the author of new versions).")],
    activate: Annotated[
        bool,
        typer.Option(help="Activate what was loaded, if someone else authored it (needs --note)."),
    ] = False,
    note: Annotated[str | None, typer.Option(help="Why (required with --activate).")] = None,
) -> None:
    """Store each policy as a draft version (if new); optionally activate it.

    Four-eyes rule: `--activate` only activates versions someone other than `--by` saved; a
    version `--by` authored waits for `glazenstad rules activate ... --by <someone else>`.
    """
    from glazenstad.audit.four_eyes import same_person
    from glazenstad.rules.store import PolicyStore, four_eyes_message

    if not by.strip():
        errors.print("--by: name who loads the policies (they become the author)")
        raise typer.Exit(2)
    if activate and not (note and note.strip()):
        errors.print("--note: say why the policy comes into force (required with --activate)")
        raise typer.Exit(2)
    engine = _engine()
    tree = _policy_tree(directory, _register_snapshot(None))
    store = PolicyStore(engine)
    refused = False
    activated: list[str] = []
    for loaded in tree.policies:
        version, created = store.save(loaded.policy, by=by, source=loaded.file)
        state = "new draft" if created else f"unchanged ({version.status})"
        console.print(
            f"{loaded.policy.organisation}/{loaded.policy.id} {version.content_hash[:12]}: {state}"
        )
        if not activate or version.status != "draft":
            continue
        if same_person(version.created_by, by):
            errors.print(
                "  not activated: " + four_eyes_message(version.organisation_id, version, by),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            refused = True
            continue
        store.activate(version.organisation_id, version.content_hash, by=by, note=note)
        activated.append(version.organisation_id)
        console.print("  activated")
    if activated:
        _announce(POLICY_ACTIVATED, activated)
    if refused:
        raise typer.Exit(1)


def _announce(change: str, organisations: Iterable[str]) -> None:
    """Tell running serve nodes (over NATS, when configured) to apply the change now."""
    from glazenstad.rules.announce import announce

    if get_settings().nats_url and not announce(get_settings(), change, organisations):
        errors.print(
            "Could not announce the change on NATS; serve nodes apply it within "
            f"{get_settings().rules_refresh_seconds:g} s.",
            markup=False,
            highlight=False,
        )


def _activate_drafts(directory: Path, *, by: str, note: str) -> None:
    """Activate the stored draft of each policy in `directory` (the demo's second person)."""
    from glazenstad.rules.loader import parse_policies
    from glazenstad.rules.store import PolicyStore, policy_hash

    store = PolicyStore(_engine())
    for loaded in parse_policies(directory).policies:
        organisation = loaded.policy.organisation
        version = store.get(organisation, policy_hash(loaded.policy))
        if version is not None and version.status == "draft":
            store.activate(organisation, version.content_hash, by=by, note=note)
            console.print(
                f"{organisation}/{loaded.policy.id} {version.content_hash[:12]}: "
                f"activated by {by} (four-eyes rule)",
                markup=False,
                highlight=False,
            )


@rules_app.command("activate")
def rules_activate(
    organisation: Annotated[str, typer.Argument(help="Organisation id.")],
    version: Annotated[str, typer.Argument(help="Version hash (or its first 8+ characters).")],
    by: Annotated[str, typer.Option(help="Who activates: not the version's author.")],
    note: Annotated[str, typer.Option(help="Why it comes into force.")],
    trace_id: Annotated[
        str | None,
        typer.Option(help="W3C trace id of a logbook processing this activation answers to."),
    ] = None,
) -> None:
    """Make a stored version the organisation's active policy (four-eyes rule)."""
    from glazenstad.audit.trail import AuditInputError
    from glazenstad.rules.store import PolicyLifecycleError, PolicyStore

    if not note.strip():
        errors.print("--note: say why the policy comes into force")
        raise typer.Exit(2)
    try:
        activated = PolicyStore(_engine()).activate(
            organisation, version, by=by, note=note, trace_id=trace_id
        )
    except AuditInputError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except PolicyLifecycleError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    _announce(POLICY_ACTIVATED, [organisation])
    console.print(f"Active for {organisation}: {activated.content_hash[:12]} ({activated.title})")


@rules_app.command("versions")
def rules_versions(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
) -> None:
    """List policy versions with their lifecycle."""
    from glazenstad.rules.store import PolicyStore

    table = Table("Organisatie", "Beleid", "Versie", "Status", "Sinds", "Door")
    for version in PolicyStore(_engine()).versions(organisation):
        last = version.events[-1]
        table.add_row(
            version.organisation_id,
            version.policy_id,
            version.content_hash[:12],
            version.status,
            last.at.isoformat(timespec="seconds"),
            last.by,
        )
    console.print(table)


@rules_app.command("schema")
def rules_schema(
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Print the JSON Schema of policy YAML documents."""
    from glazenstad.rules.language import policy_json_schema

    text = json.dumps(policy_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@rules_app.command("impact")
def rules_impact(
    draft: Annotated[str, typer.Option(help="Version hash to replay (or its first 8+ chars).")],
    since: Annotated[str, typer.Option(help="Start: a date (local day) or ISO 8601 moment.")],
    until: Annotated[
        str | None, typer.Option(help="End: a date (that day included) or moment; default now.")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Organisation (needed only if the hash is ambiguous).")
    ] = None,
    examples: Annotated[int, typer.Option(min=0, max=20, help="Examples per kind of change.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Replay the recorded decision requests of a period against a policy version (draft)."""
    from glazenstad.cli.impact import ProgressBar, find_organisation, print_report
    from glazenstad.db.base import utcnow
    from glazenstad.insight.impact import ImpactError, parse_bound, report_json, run_impact_replay
    from glazenstad.register.store import RegisterStore
    from glazenstad.rules.service import RulesService
    from glazenstad.rules.store import PolicyStore

    try:
        start = parse_bound(since, end=False)
        end = parse_bound(until, end=True) if until else None
    except ValueError as exc:
        errors.print(f"--since/--until: {exc}")
        raise typer.Exit(2) from None
    engine = _engine()
    policies = PolicyStore(engine)
    try:
        org = organisation or find_organisation(policies, draft)
        service = RulesService(RegisterStore(engine), policies)
        with ProgressBar(console, quiet=as_json) as bar:
            report = run_impact_replay(
                engine, service, org, draft, start, end or utcnow(), examples=examples, progress=bar
            )
    except ImpactError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
    else:
        print_report(console, report)


@app.command()
def report(
    period: Annotated[
        str | None, typer.Option(help="2026-Q3 (quarter), 2026 (year) or 2026-09 (month).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD), instead of --period.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day, included (YYYY-MM-DD); with --since.")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Organisation id (default: the only one in the register).")
    ] = None,
    output: Annotated[
        Path, typer.Option(help="Folder for the HTML and PDF files.", file_okay=False)
    ] = Path("."),
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print the PDF.")] = True,
    chromium: Annotated[
        str | None, typer.Option(help="Browser that prints the PDF (default: chromium on PATH).")
    ] = None,
) -> None:
    """The council report ("verantwoording gegevensverwerking") of a period, as HTML and PDF."""
    from datetime import date

    from rich.progress import Progress

    from glazenstad.insight.report import STEPS, UnknownOrganisation
    from glazenstad.insight.report_pdf import PdfError, html_to_pdf
    from glazenstad.insight.report_period import PeriodError, between, parse_period
    from glazenstad.register.store import RegisterStore
    from glazenstad.web.portal.report_html import file_name, make_report, render_report

    try:
        if (period is None) == (since is None):
            raise PeriodError("give either --period or --since (with --until)", "")
        if period is not None:
            if until is not None:
                raise PeriodError("--until goes with --since, not with --period", "")
            chosen = parse_period(period)
        else:
            last = date.fromisoformat(until) if until else date.today()
            chosen = between(date.fromisoformat(since or ""), last)
    except (PeriodError, ValueError) as exc:
        errors.print(f"Period: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    engine = _engine()
    store = RegisterStore(engine)
    known = sorted(store.snapshot().organisations)
    org = organisation or (known[0] if len(known) == 1 else None)
    if org is None or org not in known:
        listed = ", ".join(known) or "none; load a register first"
        errors.print(f"Choose an organisation with --organisation ({listed}).")
        raise typer.Exit(2)
    output.mkdir(parents=True, exist_ok=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("Report", total=len(STEPS) + (2 if pdf else 1))

        def progress(step: str) -> None:
            bar.update(task, description=step, completed=STEPS.index(step))

        try:
            data = make_report(engine, store, org, chosen, progress=progress)
        except (PeriodError, UnknownOrganisation) as exc:
            errors.print(f"Period: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        bar.update(task, description="HTML", completed=len(STEPS))
        html = render_report(data)
        html_path = output / file_name(data, "html")
        html_path.write_text(html, encoding="utf-8")
        pdf_path = output / file_name(data, "pdf")
        failure: PdfError | None = None
        if pdf:
            bar.update(task, description="PDF (Chromium)", completed=len(STEPS) + 1)
            try:
                pdf_path.write_bytes(html_to_pdf(html, chromium=chromium))
            except PdfError as exc:
                failure = exc
        bar.update(task, completed=len(STEPS) + (2 if pdf else 1))
    console.print(f"[bold]{data.organisation_name}[/], {data.period.title} ({data.period.span})")
    for line in data.summary:
        console.print(f"  • {line}", markup=False, highlight=False)
    console.print(f"HTML: {html_path}")
    if failure is not None:
        errors.print(f"PDF not written: {failure}", markup=False, highlight=False)
        raise typer.Exit(1)
    if pdf:
        console.print(f"PDF:  {pdf_path}")


@logbook_app.command("verify")
def logbook_verify(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
) -> None:
    """Check every hash chain of the logbook; name the first broken record (exit 1)."""
    from glazenstad.logbook.verify import verify

    result = verify(_engine(), organisation)
    for chain in result.chains:
        state = "intact" if chain.ok else "BROKEN"
        pruned = f", {chain.pruned} deleted by retention with receipts" if chain.pruned else ""
        console.print(
            f"{chain.organisation_id}/{chain.chain_partition}: {chain.records} record(s)"
            f"{pruned}, {state}"
        )
    if not result.ok:
        for broken in result.breaks:
            errors.print(f"First broken record: {broken}", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"All {len(result.chains)} chain(s) verify: {result.records} record(s).")


@logbook_app.command("retention")
def logbook_retention(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be deleted; delete nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            help="Take this ISO 8601 moment as now (what-if, testing). A moment after the clock "
            "needs --dry-run in production mode."
        ),
    ] = None,
    every: Annotated[
        float | None, typer.Option(help="Run again every this many seconds (until stopped).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Records deleted per transaction.")] = 10_000,
) -> None:
    """Delete log records whose retention has passed, with deletion receipts; report lateness."""
    import time
    from datetime import UTC, datetime

    from glazenstad.db.base import utcnow
    from glazenstad.logbook.retention import apply_retention

    moment: datetime | None = None
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            errors.print(f"--now: '{now}' is not an ISO 8601 moment such as 2027-01-31T12:00Z")
            raise typer.Exit(2) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > utcnow() and not dry_run and get_settings().mode == "production":
            errors.print("--now: a moment in the future deletes early; use it with --dry-run.")
            raise typer.Exit(2)
    if batch_size < 1:
        errors.print("--batch-size: must be at least 1")
        raise typer.Exit(2)
    engine = _engine()
    while True:
        report = apply_retention(
            engine,
            organisation_id=organisation,
            now=moment,
            dry_run=dry_run,
            batch_size=batch_size,
        )
        _print_retention(report)
        if every is None:
            return
        time.sleep(every)


@logbook_app.command("partitions")
def logbook_partitions(
    ensure: Annotated[
        bool,
        typer.Option(
            "--ensure", help="First create the partitions of this month and the months ahead."
        ),
    ] = False,
    ahead: Annotated[
        int, typer.Option(min=0, max=120, help="Months ahead of this one to create.")
    ] = 3,
) -> None:
    """List the monthly partitions of the logbook and the decision log (PostgreSQL)."""
    from glazenstad.logbook.partitions import ensure_partitions, list_partitions, ms_to_utc
    from glazenstad.rules.partitions import DECISION_LOG

    engine = _engine()
    if engine.dialect.name != "postgresql":
        console.print("The logbook is partitioned on PostgreSQL only; SQLite has one table.")
        return
    if ensure:
        created = ensure_partitions(engine, ahead=ahead, strict=True)
        decisions = ensure_partitions(engine, ahead=ahead, strict=True, table=DECISION_LOG)
        for names in (created, decisions):
            if names:
                console.print(f"Created: {', '.join(names)}")
        if not created and not decisions:
            console.print("Every partition was there already.")
    found = list_partitions(engine)
    if not found:
        errors.print("log_record is not partitioned here: run `glazenstad db migrate` first.")
        raise typer.Exit(1)
    for rows, partitioned in (
        ("Records", found),
        ("Decisions", list_partitions(engine, table=DECISION_LOG)),
    ):
        table = Table("Partition", "From (UTC)", "Until (UTC)", rows)
        for partition in partitioned:
            if partition.lower_ms is None or partition.upper_ms is None:
                table.add_row(partition.name, "(any other time)", "", str(partition.rows))
            else:
                table.add_row(
                    partition.name,
                    ms_to_utc(partition.lower_ms).strftime("%Y-%m-%d"),
                    ms_to_utc(partition.upper_ms).strftime("%Y-%m-%d"),
                    str(partition.rows),
                )
        console.print(table)


def _demo_cases(seed: int) -> list[Any]:
    """The demo consultant's cases in the demo sources generated from `seed`."""
    from glazenstad.execution.casework import CONSULTANT_TOKEN, demo_cases
    from glazenstad.execution.gateway import load_gateway_config
    from glazenstad.sources import generate

    client = load_gateway_config(DEFAULT_DEMO_GATEWAY).client(CONSULTANT_TOKEN)
    if client is None:
        errors.print("The demo gateway configuration has no Wmo consultant.")
        raise typer.Exit(1)
    return demo_cases(generate(seed), client.case_assignments)


GatewayOption = Annotated[
    str | None, typer.Option(help="Gateway base URL (default: this machine's gateway port).")
]


@app.command()
def casework(
    gateway_url: GatewayOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the demo sources.")] = 2026,
) -> None:
    """A Wmo consultant works a case through the gateway: permits, denials, break-the-glass."""
    import httpx

    from glazenstad.execution.casework import run_scenario

    base = gateway_url or f"http://127.0.0.1:{get_settings().gateway_port}"
    case = _demo_cases(seed)[0]
    console.print(f"Casus {case.dossier} via de gateway op {base}\n")
    try:
        for number, step in enumerate(run_scenario(base, case), start=1):
            mark = "[green]✔ toegestaan[/]" if step.permitted else f"[red]✘ {step.status}[/]"
            console.print(f"[bold]{number}. {step.title}[/]  {mark}")
            if step.withheld:
                console.print(f"   weggelaten: {', '.join(step.withheld)}")
            if step.pseudonymised:
                console.print(f"   gepseudonimiseerd: {', '.join(step.pseudonymised)}")
            if step.explanation:
                console.print(f"   {step.explanation}", highlight=False)
            if step.rules:
                console.print(f"   spelregel: {', '.join(step.rules)}")
            signal = step.signal_link(get_settings().effective_public_url)
            if signal:
                console.print(
                    f"   blokkeert dit uw werk? signaal indienen: {signal}",
                    highlight=False,
                    soft_wrap=True,
                )
            console.print(f"   beslissing: {step.decision_id}\n")
    except httpx.HTTPError as exc:
        errors.print(f"The gateway at {base} does not answer ({type(exc).__name__}).")
        raise typer.Exit(1) from None


@simulate_app.command("casework")
def simulate_casework(
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second.")] = 5.0,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds to run.")] = 60.0,
    gateway_url: GatewayOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the demo sources.")] = 2026,
) -> None:
    """Caseworkers' requests through the real gateway, at a steady rate."""
    from rich.progress import Progress

    from glazenstad.execution.casework import CaseworkLoad

    base = gateway_url or f"http://127.0.0.1:{get_settings().gateway_port}"
    load = CaseworkLoad(base, _demo_cases(seed), seed=seed)
    with Progress(console=console) as bar:
        task = bar.add_task(f"Casework → {base}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = load.run(rate, duration, progress)
    counts = ", ".join(f"{status}: {n:,}" for status, n in sorted(result.by_status.items()))
    console.print(f"{result.requests:,} requests in {result.seconds:.1f} s ({counts}).")


TopicRootOption = Annotated[str, typer.Option(help="First topic level.")]
ClientIdHelp = "MQTT client id: keep it fixed, the broker keeps the session by it."
FromJetStreamOption = Annotated[
    bool,
    typer.Option(
        "--from-jetstream",
        help="Consume from the JetStream stream `pipeline bridge` fills, not from MQTT "
        "(needs GLAZENSTAD_NATS_URL and GLAZENSTAD_NATS_EXECUTION_KEYS).",
    ),
]
FetchOption = Annotated[
    int, typer.Option(min=1, max=10_000, help="With --from-jetstream: messages per batch.")
]


def _pipeline_stop(name: str, topic_root: str) -> tuple[str, Any]:
    """The broker URL and a stop event set on Ctrl-C or SIGTERM, for a pipeline command."""
    import signal
    import threading

    settings = get_settings()
    if not settings.mqtt_url:
        errors.print("Set GLAZENSTAD_MQTT_URL (e.g. mqtt://127.0.0.1:1883) to run a pipeline.")
        raise typer.Exit(2)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    console.print(f"{name} on {settings.mqtt_url} (topics {topic_root}/…); Ctrl-C stops.")
    return settings.mqtt_url, stop


def _run_pipeline(
    name: str,
    client_id: str,
    topic_root: str,
    run: Callable[..., Any],
    counts: Callable[[Any], str],
) -> Any:
    """Run a broker pipeline until Ctrl-C or SIGTERM, printing what it received and `counts` of
    its totals every five seconds; the totals when it stops.

    `run(url, engine, **options)` starts the pipeline; it is called only once the broker URL is
    known, so a missing URL is reported before anything else is opened.
    """
    url, stop = _pipeline_stop(name, topic_root)

    def progress(stats: Any, totals: Any) -> None:
        received = f"received {stats.received:,}  acknowledged {stats.acknowledged:,}"
        console.print(f"  {received}  {counts(totals)}", highlight=False)

    return run(
        url,
        _engine(),
        stop=stop,
        client_id=client_id,
        topic_root=topic_root,
        progress=progress,
        progress_every=5.0,
    )


@pipeline_app.command("sensors")
def pipeline_sensors(
    client_id: Annotated[str, typer.Option(help=ClientIdHelp)] = "glazenstad-sensor-pipeline",
    topic_root: TopicRootOption = "glazenstad",
    from_jetstream: FromJetStreamOption = False,
    fetch: FetchOption = 200,
) -> None:
    """Consume sensor measurements from the broker into the database until Ctrl-C."""
    from glazenstad.execution.sensors import run_sensor_pipeline

    def counts(t: Any) -> str:
        return f"accepted {t.accepted:,}  rejected {t.rejected:,}"

    if from_jetstream:
        totals = execution_stream_commands.run_from_stream(
            "Sensor pipeline", "sensors", topic_root, fetch, counts
        )
    else:
        totals = _run_pipeline(
            "Sensor pipeline", client_id, topic_root, run_sensor_pipeline, counts
        )
    console.print(f"Stopped: {totals.accepted:,} accepted, {totals.rejected:,} rejected.")


@simulate_app.command("sensors")
def simulate_sensors_command(
    rate: Annotated[float, typer.Option(min=0.1, help="Messages per second.")] = 10.0,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds to run.")] = 60.0,
    unregistered: Annotated[
        int, typer.Option(min=0, help="Messages from an unregistered sensor (a finding).")
    ] = 0,
    history_days: Annotated[
        float, typer.Option(min=0, help="Spread measurement times over this many past days.")
    ] = 0,
    topic_root: TopicRootOption = "glazenstad",
) -> None:
    """Simulate the registered sensors: to the broker if GLAZENSTAD_MQTT_URL is set, else in
    process through the same pipeline code."""
    from datetime import timedelta

    from rich.progress import Progress

    from glazenstad.execution.sensors import SensorPipeline
    from glazenstad.execution.simulate_sensors import simulate_sensors
    from glazenstad.register.store import RegisterStore

    settings = get_settings()
    engine = _engine()
    register = RegisterStore(engine)
    pipeline = None if settings.mqtt_url else SensorPipeline(engine, register)
    where = settings.mqtt_url or "the pipeline in process"
    with Progress(console=console) as bar:
        task = bar.add_task(f"Sensors → {where}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = simulate_sensors(
            register.snapshot(),
            rate=rate,
            duration=duration,
            mqtt_url=settings.mqtt_url,
            pipeline=pipeline,
            unregistered=unregistered,
            topic_root=topic_root,
            history=timedelta(days=history_days) if history_days else None,
            progress=progress,
        )
    console.print(
        f"Sent {result.published:,} messages from {result.sensors} sensors "
        f"({result.unregistered} from an unregistered sensor)."
    )


@pipeline_app.command("parking")
def pipeline_parking(
    client_id: Annotated[str, typer.Option(help=ClientIdHelp)] = "glazenstad-parking-pipeline",
    topic_root: TopicRootOption = "glazenstad",
    from_jetstream: FromJetStreamOption = False,
    fetch: FetchOption = 200,
) -> None:
    """Consume scan-car scans from the broker until Ctrl-C: pseudonymise, check, decide, log."""
    from glazenstad.execution.parking.pipeline import run_parking_pipeline

    def counts(t: Any) -> str:
        return f"paid {t.paid:,}  unpaid {t.unpaid:,}  denied {t.denied:,}"

    if from_jetstream:
        totals = execution_stream_commands.run_from_stream(
            "Scan pipeline", "scans", topic_root, fetch, counts
        )
    else:
        totals = _run_pipeline(
            "Scan pipeline",
            client_id,
            topic_root,
            lambda url, engine, **options: run_parking_pipeline(
                url, engine, get_settings().pseudonymizer(), **options
            ),
            counts,
        )
    console.print(f"Stopped: {totals.stored:,} scans stored.")


@simulate_app.command("parking")
def simulate_parking_command(
    rate: Annotated[float, typer.Option(min=0.1, help="Scans per second.")] = 10.0,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds to run.")] = 60.0,
    start: Annotated[
        str | None,
        typer.Option(help="Time of the first scan (ISO 8601 with offset; default now)."),
    ] = None,
    unpaid_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share without a right.")
    ] = 0.25,
    topic_root: TopicRootOption = "glazenstad",
) -> None:
    """Scan cars: to the broker if GLAZENSTAD_MQTT_URL is set, else in process through the
    same pipeline code."""
    from datetime import datetime

    from rich.progress import Progress

    from glazenstad.execution.mqtt import MqttPublisher
    from glazenstad.execution.parking.pipeline import ScanPipeline, in_process_checker
    from glazenstad.execution.parking.simulate import SimulationProgress, simulate_parking
    from glazenstad.execution.sensors import InProcessFeed

    settings = get_settings()
    try:
        first = datetime.fromisoformat(start) if start else None
    except ValueError:
        errors.print(f"--start: not an ISO 8601 time: {start!r}")
        raise typer.Exit(2) from None
    if first is not None and first.tzinfo is None:
        errors.print("--start: give a time zone offset, e.g. 2026-11-30T10:00:00+01:00")
        raise typer.Exit(2)
    where = settings.mqtt_url or "the pipeline in process"
    with Progress(console=console) as bar:
        task = bar.add_task(f"Scans → {where}", total=None)

        def progress(state: SimulationProgress) -> None:
            bar.update(task, completed=state.sent, total=state.total)

        options: dict[str, Any] = {
            "rate": rate,
            "duration": duration,
            "start": first,
            "unpaid_share": unpaid_share,
            "topic_root": topic_root,
            "progress": progress,
        }
        if settings.mqtt_url:
            with MqttPublisher(settings.mqtt_url) as publisher:
                sent = simulate_parking(publisher, **options)
        else:
            pipeline = ScanPipeline(_engine(), settings.pseudonymizer(), in_process_checker())
            feed = InProcessFeed(pipeline.handle, batch_size=100)
            sent = simulate_parking(feed, **options)
            feed.flush()
    console.print(f"Sent {sent:,} scans.")


@parking_app.command("retention")
def parking_retention() -> None:
    """Delete paid scans and dismissed cases whose retention has passed (never archived)."""
    from glazenstad.db.base import utcnow
    from glazenstad.execution.parking.retention import delete_expired
    from glazenstad.logbook.store import LogStore
    from glazenstad.register.store import RegisterStore

    engine = _engine()
    logbook = LogStore(engine, RegisterStore(engine), get_settings().pseudonymizer())
    result = delete_expired(engine, now=utcnow(), logbook=logbook)
    console.print(
        f"Deleted {result.scans_deleted:,} scans and {result.cases_deleted:,} cases "
        f"(at most {result.lateness.total_seconds():,.0f} s past their term); "
        f"{result.overdue_left:,} overdue left."
    )


def _scan_pipeline() -> Any:
    from glazenstad.execution.parking.pipeline import ScanPipeline, in_process_checker

    return ScanPipeline(_engine(), get_settings().pseudonymizer(), in_process_checker())


@parking_app.command("cases")
def parking_cases(
    organisation: Annotated[str, typer.Option(help="Organisation id.")] = "voorbeeldstad",
    state: Annotated[str, typer.Option(help="open, confirmed or dismissed.")] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
) -> None:
    """The enforcer's work list: cases (no plates: photo reference and zone)."""
    from glazenstad.execution.parking.cases import list_cases

    if state not in ("open", "confirmed", "dismissed"):
        errors.print("--state: one of open, confirmed, dismissed")
        raise typer.Exit(2)
    cases = list_cases(_scan_pipeline(), organisation, state, limit)  # type: ignore[arg-type]
    for case in cases:
        # One line per case, the id whole: it is what `parking confirm|dismiss` takes.
        console.print(
            f"{case.case_id}  {case.zone}  {case.scanned_at.isoformat(timespec='minutes')}  "
            f"{case.photo_ref or '-'}  {case.state}  {case.reason or ''}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"{len(cases)} case(s) {state}.")


@parking_app.command("confirm")
def parking_confirm(case_id: Annotated[str, typer.Argument(help="Case id.")]) -> None:
    """Confirm a case: no exception applies (a decision and a log record)."""
    from glazenstad.execution.parking.cases import CaseDenied, CaseError, confirm_case

    try:
        case = confirm_case(_scan_pipeline(), case_id)
    except (CaseError, CaseDenied) as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"{case.case_id}: {case.state}")


@parking_app.command("dismiss")
def parking_dismiss(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    reason: Annotated[str, typer.Option(help="laden-lossen, stilstaand-verkeer, ...")],
) -> None:
    """Dismiss a case with a reason (loading, standing traffic, ...)."""
    from glazenstad.execution.parking.cases import (
        CaseDenied,
        CaseError,
        dismiss_case,
    )

    try:
        case = dismiss_case(_scan_pipeline(), case_id, reason)
    except (CaseError, CaseDenied) as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"{case.case_id}: {case.state} ({case.reason})")


def _print_retention(report: RetentionReport) -> None:
    from glazenstad.logbook.retention import DELETED, DUE, KEPT_REASONS

    verb = "would delete" if report.dry_run else "deleted"
    console.print(
        f"Retention at {report.now.isoformat(timespec='seconds')}"
        f"{' (dry run, nothing deleted)' if report.dry_run else ''}: "
        f"{report.examined} record(s) examined, {report.due} {verb}, "
        f"{sum(report.kept.values())} kept, {len(report.receipts)} receipt(s).",
        highlight=False,
        soft_wrap=True,
    )
    if report.per_activity:
        table = Table("Verwerkingsactiviteit", verb, *KEPT_REASONS)
        for uri, counts in sorted(report.per_activity.items()):
            table.add_row(
                uri, str(counts[DELETED] + counts[DUE]), *(str(counts[r]) for r in KEPT_REASONS)
            )
        console.print(table)
    for reason, count in sorted(report.kept.items()):
        console.print(f"Kept ({reason}): {count}", highlight=False, soft_wrap=True)
    if report.dropped_partitions:
        console.print(
            f"{report.dropped} of the deleted record(s) went with {len(report.dropped_partitions)}"
            f" dropped partition(s): {', '.join(report.dropped_partitions)}",
            highlight=False,
            soft_wrap=True,
        )
    if report.unknown_outcome:
        console.print(
            f"{report.unknown_outcome} record(s) named a retention outcome their activity does "
            "not have; the longest rule applied.",
            highlight=False,
            soft_wrap=True,
        )
    for receipt in report.receipts:
        spans = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in receipt.ranges)
        number = f"receipt {receipt.receipt_number}" if receipt.receipt_number else "receipt"
        console.print(
            f"{receipt.organisation_id}/{receipt.chain_partition} {number}: "
            f"{receipt.deleted} record(s), sequences {spans}",
            highlight=False,
            soft_wrap=True,
        )
    if report.lateness is not None:
        console.print(f"Lateness after expiry: {report.lateness}", highlight=False, soft_wrap=True)
    else:
        console.print("Lateness after expiry: nothing was due.", highlight=False)


def _print_urls(base: str) -> None:
    console.print(f"Portal:  {base}/")
    console.print(f"API:     {base}/api/v1/organisations")
    console.print(f"OpenAPI: {base}/api/v1/openapi.json")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """The `glazenstad` command: `app`, with configuration mistakes told plainly.

    A wrong setting (production without keys of its own, a demo file with public tokens, a
    malformed staff or clients file) is the operator's to fix, so it gets a clear message and
    exit code 2, not a stack trace.
    """
    from pydantic import ValidationError

    from glazenstad.web.staff import StaffDirectoryError
    from glazenstad.web.systems import SystemClientsError

    try:
        app()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        errors.print(f"Configuration error: {reasons}", highlight=False, markup=False)
        sys.exit(2)
    except (StaffDirectoryError, SystemClientsError) as exc:
        errors.print(f"Configuration error: {exc}", highlight=False, markup=False)
        sys.exit(2)
