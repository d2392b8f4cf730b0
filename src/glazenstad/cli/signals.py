"""`glazenstad signals ...` on the command line: list, show, file, triage, figures.

Every command names the member of staff it acts for (`--by`, an id from the staff directory);
the same permissions and visibility apply as in the portal and the API: a filer sees their own
signals, an owner those about the rules they answer for, triage-all everything. The work is
imported when a command runs, so `glazenstad --help` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from glazenstad.cli.common import console, fail, open_engine, staff_directory

if TYPE_CHECKING:
    from glazenstad.insight.signals import Actor, Signal

app = typer.Typer(
    help="Signals from execution: staff tell a rule's owner that a rule blocks their work.",
    no_args_is_help=True,
)

ByOption = Annotated[
    str, typer.Option("--by", help="Your id in the staff directory (e.g. wmo-consulent).")
]


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _actor(user_id: str) -> tuple[Actor, dict[str, str]]:
    """The staff member as a signal actor, and the names of all staff by id (for history)."""
    from glazenstad.web.api.v1.signals import signal_actor

    directory = staff_directory()
    user = directory.user(user_id)
    if user is None:
        fail(f"--by: '{user_id}' is not in the staff directory", 2)
    actor = signal_actor(user)
    if not actor.works_with_signals:
        fail(f"--by: {user.name} may neither file nor triage signals")
    return actor, {u.id: u.name for u in directory.users.values()}


def _print_signal(signal: Signal, names: dict[str, str]) -> None:
    from glazenstad.insight.signals import workflow
    from glazenstad.web.portal.format import datetime_nl

    label = workflow.LABELS
    _say(f"Signaal {signal.id}: {signal.rule_title}")
    _say(f"Status: {label[signal.state]}")
    _say(f"Spelregel: {signal.rule_id or '(geen regel)'}; eigenaar: {signal.owner}")
    _say(f"Beslissing: {signal.decision_id} (verwerking {signal.purpose})")
    _say(
        f"Ingediend: {datetime_nl(signal.filed_at)} door "
        f"{names.get(signal.filed_by, signal.filed_by)}"
    )
    _say(f"Signaal: {signal.text}")
    if signal.response:
        _say(f"Antwoord: {signal.response}")
    for event in signal.history:
        step = (
            "ingediend"
            if event.from_state is None
            else f"{label[event.from_state]} -> {label[event.to_state]}"
        )
        by = names.get(event.by, event.by)
        _say(f"  {datetime_nl(event.at)}  {by}: {step}")


@app.command("list")
def list_signals(
    by: ByOption,
    state: Annotated[
        str | None, typer.Option(help="new, under_review, rule_changed, explained or rejected.")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Only signals about this rule id.")] = None,
) -> None:
    """The signals you may see, newest first."""
    from glazenstad.insight.signals import SignalStore, workflow
    from glazenstad.web.portal.format import date_nl

    if state is not None and state not in workflow.STATES:
        fail(f"--state: one of {', '.join(workflow.STATES)}", 2)
    actor, names = _actor(by)
    found = SignalStore(open_engine()).search(actor, state=state, rule_id=rule)
    for signal in found:
        # One line per signal with its ids whole: what `show` and `triage` take.
        _say(
            f"{signal.id}  {workflow.LABELS[signal.state]}  {signal.rule_id or '(geen regel)'}  "
            f"{signal.owner}  {date_nl(signal.filed_at)}  "
            f"{names.get(signal.filed_by, signal.filed_by)}"
        )
    _say(f"{len(found)} signal(s).")


@app.command("show")
def show_signal(
    signal_id: Annotated[int, typer.Argument(help="Signal number.")], by: ByOption
) -> None:
    """One signal with its history."""
    from glazenstad.insight.signals import SignalError, SignalStore

    actor, names = _actor(by)
    try:
        signal = SignalStore(open_engine()).get(actor, signal_id)
    except SignalError as exc:
        fail(str(exc))
    _print_signal(signal, names)


@app.command("file")
def file_signal(
    decision_id: Annotated[str, typer.Argument(help="Decision id of the denial (32 hex).")],
    by: ByOption,
    text: Annotated[str, typer.Option(help="Why the rule blocks your work (no personal data).")],
    rule: Annotated[
        str | None, typer.Option(help="The rule, when more than one denied the decision.")
    ] = None,
) -> None:
    """File a signal about a denied decision of your organisation."""
    from glazenstad.insight.signals import SignalError, SignalStore, denied_decision
    from glazenstad.register.store import RegisterStore
    from glazenstad.rules.store import PolicyStore

    actor, names = _actor(by)
    engine = open_engine()
    register = RegisterStore(engine).snapshot().organisation(actor.organisation_id)
    try:
        decision = denied_decision(engine, PolicyStore(engine), register, actor, decision_id)
        signal = SignalStore(engine).file(actor, decision, rule, text)
    except SignalError as exc:
        fail(str(exc))
    _print_signal(signal, names)


@app.command("triage")
def triage_signal(
    signal_id: Annotated[int, typer.Argument(help="Signal number.")],
    by: ByOption,
    state: Annotated[
        str, typer.Option(help="under_review, then rule_changed, explained or rejected.")
    ],
    response: Annotated[
        str | None, typer.Option(help="Your answer to the filer; required to close a signal.")
    ] = None,
) -> None:
    """Take a signal under review, or close it with an answer (the rule's owner)."""
    from glazenstad.insight.signals import SignalError, SignalStore

    actor, names = _actor(by)
    try:
        signal = SignalStore(open_engine()).move(actor, signal_id, state, response)
    except SignalError as exc:
        fail(str(exc))
    _print_signal(signal, names)


@app.command("figures")
def figures(
    organisation: Annotated[str, typer.Option(help="Organisation id.")] = "voorbeeldstad",
) -> None:
    """The public figures: how many signals, and what became of them (numbers only)."""
    from glazenstad.insight.signals import public_signal_figures, workflow

    found = public_signal_figures(open_engine(), organisation)
    _say(
        f"Signalen van {organisation}: {found.total} ({found.open} open, {found.handled} afgerond)"
    )
    for state in workflow.STATES:
        _say(f"  {workflow.LABELS[state]}: {found.by_state[state]}")
    _say(f"Over {found.rules_with_signals} verschillende regel(s).")
    if found.median_days_to_handle is not None:
        _say(f"Mediaan tot een antwoord: {found.median_days_to_handle} dag(en).")
