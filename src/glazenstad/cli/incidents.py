"""`glazenstad breaches ...` and `glazenstad break-glass ...` on the command line.

Changes name the member of staff who makes them (`--by`, an id from the staff directory): the
history of a breach and a review say who, and the same permissions apply as in the portal and
the API (incidents:manage for breaches, break-the-glass:review for reviews). Moments are typed
in Dutch time unless they carry an offset (`2026-10-24 10:00`, `2026-10-24T08:00Z`). The work is
imported when a command runs, so `glazenstad --help` stays quick.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from glazenstad.cli.common import console, fail, open_engine, organisation_of, staff_member

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from glazenstad.insight.incidents.breaches import Breach

breaches_app = typer.Typer(
    help="Data breaches (datalekken): register, decide on notifying the AP and residents, size.",
    no_args_is_help=True,
)
break_glass_app = typer.Typer(
    help="Decisions taken under break-the-glass (noodtoegang): list and review them.",
    no_args_is_help=True,
)

OrganisationOption = Annotated[
    str | None,
    typer.Option(help="Organisation id (may be left out when the register has only one)."),
]
ByOption = Annotated[
    str, typer.Option("--by", help="Your id in the staff directory (e.g. fg); kept in the history.")
]


def _moment(value: str | None, option: str) -> datetime | None:
    from glazenstad.insight.incidents.timing import MomentError, parse_moment

    if value is None:
        return None
    try:
        return parse_moment(value, field=option)
    except MomentError as exc:
        fail(str(exc), 2)


def _yes_no(value: str, option: str) -> bool:
    answer = value.strip().lower()
    if answer in ("yes", "ja", "y", "j"):
        return True
    if answer in ("no", "nee", "n"):
        return False
    fail(f"{option}: antwoord ja of nee (yes or no), niet '{value}'.", 2)


def _print_breach(breach: Breach) -> None:
    from glazenstad.db.base import utcnow
    from glazenstad.insight.incidents import wording as w

    now = utcnow()
    lines = [
        f"Datalek {breach.id}: {breach.title}",
        f"Status: {w.STATUS_LABELS[breach.status]} (revisie {breach.revision})",
        f"Ontdekt: {w.moment_nl(breach.discovered_at)}",
        f"Uiterste meldmoment AP: {w.moment_nl(breach.deadline)}",
        f"Termijn: {w.deadline_text(breach, now)}",
        f"Verwerkingen: {', '.join(breach.activities) or 'nog niet bekend'}",
        f"Soorten gegevens: {', '.join(breach.data_categories) or 'nog niet bekend'}",
        "Geschat aantal betrokkenen: "
        + (str(breach.estimated_subjects) if breach.estimated_subjects is not None else "onbekend"),
    ]
    if breach.authority_notify is not None:
        lines.append(
            f"AP: {'melden' if breach.authority_notify else 'niet melden'} — "
            f"{breach.authority_reason}"
        )
    if breach.authority_notified_at is not None:
        lines.append(
            f"Gemeld bij de AP: {w.moment_nl(breach.authority_notified_at)}"
            + (f", kenmerk {breach.authority_reference}" if breach.authority_reference else "")
        )
    if breach.residents_notify is not None:
        lines.append(
            f"Betrokkenen: {'informeren' if breach.residents_notify else 'niet informeren'} — "
            f"{breach.residents_reason}"
        )
    if breach.residents_notified_at is not None:
        lines.append(f"Betrokkenen geïnformeerd: {w.moment_nl(breach.residents_notified_at)}")
    for line in lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _open_organisation(organisation: str | None) -> tuple[Engine, str]:
    """The database and the organisation a command reads (the only one when not named)."""
    from glazenstad.register.store import RegisterStore

    engine = open_engine()
    return engine, organisation_of(RegisterStore(engine), organisation)


def _open_breach(breach_id: int, organisation: str | None) -> tuple[Engine, str, Breach]:
    """The database, the organisation and its breach `breach_id`; stops when there is none."""
    from glazenstad.insight.incidents.breaches import get_breach

    engine, org = _open_organisation(organisation)
    breach = get_breach(engine, org, breach_id)
    if breach is None:
        fail(f"Er is geen datalek {breach_id} bij {org}.")
    return engine, org, breach


def _breach_errors() -> tuple[type[Exception], ...]:
    from glazenstad.insight.incidents.breaches import BreachConflict, BreachError, BreachNotFound

    return (BreachError, BreachNotFound, BreachConflict)


@breaches_app.command("list")
def breaches_list(
    organisation: OrganisationOption = None,
    status: Annotated[
        str | None, typer.Option(help="Only open, notified, not-notifiable or closed.")
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only breaches past their 72-hour deadline.")
    ] = False,
) -> None:
    """The organisation's breaches, newest first, with the deadline in words."""
    from glazenstad.db.base import utcnow
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.insight.incidents import wording as w

    engine, org = _open_organisation(organisation)
    now = utcnow()
    try:
        found = (
            br.overdue_breaches(engine, org, now)
            if overdue
            else br.list_breaches(engine, org, status=status)
        )
    except br.BreachError as exc:
        fail(f"--{exc}", 2)
    if not found:
        console.print(f"Geen datalekken voor {org}.", highlight=False)
        return
    for breach in found:
        # One line per breach, the number first: it is what the other commands take.
        console.print(
            f"{breach.id}  {w.moment_nl(breach.discovered_at, weekday=False)}  "
            f"{w.STATUS_LABELS[breach.status]}  {breach.title}\n"
            f"    {w.deadline_text(breach, now)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print(f"{len(found)} datalek(ken).", highlight=False)


@breaches_app.command("show")
def breaches_show(
    breach_id: Annotated[int, typer.Argument(min=1, max=2**62, help="Breach number.")],
    organisation: OrganisationOption = None,
    history: Annotated[bool, typer.Option(help="Also print every change.")] = True,
) -> None:
    """One breach with its decisions and history."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.insight.incidents import wording as w

    engine, org, breach = _open_breach(breach_id, organisation)
    _print_breach(breach)
    if history:
        console.print("Geschiedenis:", highlight=False)
        for event in br.breach_history(engine, org, breach_id):
            changed = ", ".join(w.FIELD_LABELS.get(k, k) for k in event.changes)
            console.print(
                f"  {w.moment_nl(event.at, weekday=False)}  {event.by_name}: "
                f"{w.ACTION_LABELS.get(event.action, event.action)}"
                + (f" ({changed})" if changed else "")
                + (f" — {event.note}" if event.note else ""),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


@breaches_app.command("register")
def breaches_register(
    by: ByOption,
    title: Annotated[str, typer.Option(help="Short description (at most 200 characters).")],
    description: Annotated[str, typer.Option(help="What happened (no personal identifiers).")],
    discovered: Annotated[
        str, typer.Option(help="When it was discovered: the 72 hours count from here.")
    ],
    occurred_from: Annotated[str | None, typer.Option(help="When it started, if known.")] = None,
    occurred_until: Annotated[str | None, typer.Option(help="When it ended, if known.")] = None,
    activity: Annotated[
        list[str] | None,
        typer.Option(help="Affected processing activity (register id); repeat for more."),
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Data category (register id); repeat for more.")
    ] = None,
    estimated: Annotated[
        int | None, typer.Option(min=0, help="Estimated number of data subjects.")
    ] = None,
) -> None:
    """Register a data breach (datalek); prints its number and deadline."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.register.store import RegisterStore
    from glazenstad.web.staff import INCIDENTS_MANAGE

    user = staff_member(by, INCIDENTS_MANAGE)
    engine = open_engine()
    discovered_at = _moment(discovered, "--discovered")
    assert discovered_at is not None
    facts = br.BreachFacts(
        title=title,
        description=description,
        discovered_at=discovered_at,
        occurred_from=_moment(occurred_from, "--occurred-from"),
        occurred_until=_moment(occurred_until, "--occurred-until"),
        activities=tuple(activity or ()),
        data_categories=tuple(category or ()),
        estimated_subjects=estimated,
    )
    try:
        breach = br.register_breach(
            engine, RegisterStore(engine), user.organisation_id, facts, br.Who(user.id, user.name)
        )
    except _breach_errors() as exc:
        fail(_cli_field(exc), 2)
    _print_breach(breach)


def _cli_field(exc: Exception, **options: str) -> str:
    """The error with the API's field name replaced by the CLI option a user typed."""
    names = {
        "title": "--title",
        "description": "--description",
        "reason": "--reason",
        "reference": "--reference",
        "note": "--note",
        "discoveredAt": "--discovered",
        "occurredFrom": "--occurred-from",
        "occurredUntil": "--occurred-until",
        "activities": "--activity",
        "dataCategories": "--category",
        "estimatedSubjects": "--estimated",
        "notifiedAt": "--notified-at",
    } | options
    text = str(exc)
    for api, option in names.items():
        if text.startswith(api):
            return option + text[len(api) :]
    return text


@breaches_app.command("decide")
def breaches_decide(
    breach_id: Annotated[int, typer.Argument(min=1, max=2**62, help="Breach number.")],
    about: Annotated[
        str,
        typer.Argument(
            help="ap (notify the Autoriteit Persoonsgegevens, art. 33) or residents "
            "(tell the people concerned, art. 34)."
        ),
    ],
    by: ByOption,
    notify: Annotated[str, typer.Option(help="yes or no (ja / nee).")],
    reason: Annotated[str, typer.Option(help="Why (required for yes and for no).")],
    notified_at: Annotated[
        str | None, typer.Option(help="When the notification was made, if it was.")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="The AP's reference of the notification (ap only).")
    ] = None,
) -> None:
    """Record a notification decision: to the AP or to the residents, yes or no, with reason."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.web.staff import INCIDENTS_MANAGE

    user = staff_member(by, INCIDENTS_MANAGE)
    who = br.Who(user.id, user.name)
    answer = _yes_no(notify, "--notify")
    moment = _moment(notified_at, "--notified-at")
    engine = open_engine()
    target = about.strip().lower()
    try:
        if target in ("ap", "autoriteit"):
            breach = br.decide_authority(
                engine,
                user.organisation_id,
                breach_id,
                notify=answer,
                reason=reason,
                by=who,
                notified_at=moment,
                reference=reference,
            )
        elif target in ("residents", "betrokkenen"):
            if reference is not None:
                fail("--reference: alleen bij een melding aan de AP.", 2)
            breach = br.decide_residents(
                engine,
                user.organisation_id,
                breach_id,
                notify=answer,
                reason=reason,
                by=who,
                notified_at=moment,
            )
        else:
            fail(f"ABOUT: 'ap' of 'residents' (betrokkenen), niet '{about}'.", 2)
    except _breach_errors() as exc:
        fail(_cli_field(exc))
    _print_breach(breach)


@breaches_app.command("notified")
def breaches_notified(
    breach_id: Annotated[int, typer.Argument(min=1, max=2**62, help="Breach number.")],
    by: ByOption,
    at: Annotated[str, typer.Option(help="When the AP was notified.")],
    reference: Annotated[str | None, typer.Option(help="The AP's reference.")] = None,
) -> None:
    """Record that the AP was notified (after a decision to notify)."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.web.staff import INCIDENTS_MANAGE

    user = staff_member(by, INCIDENTS_MANAGE)
    moment = _moment(at, "--at")
    assert moment is not None
    try:
        breach = br.record_authority_notification(
            open_engine(),
            user.organisation_id,
            breach_id,
            notified_at=moment,
            reference=reference,
            by=br.Who(user.id, user.name),
        )
    except _breach_errors() as exc:
        fail(_cli_field(exc, notifiedAt="--at"))
    _print_breach(breach)


@breaches_app.command("close")
def breaches_close(
    breach_id: Annotated[int, typer.Argument(min=1, max=2**62, help="Breach number.")],
    by: ByOption,
    note: Annotated[str | None, typer.Option(help="What was done; kept in the history.")] = None,
) -> None:
    """Close a breach whose notification decisions are taken and carried out."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.web.staff import INCIDENTS_MANAGE

    user = staff_member(by, INCIDENTS_MANAGE)
    try:
        breach = br.close_breach(
            open_engine(), user.organisation_id, breach_id, by=br.Who(user.id, user.name), note=note
        )
    except _breach_errors() as exc:
        fail(_cli_field(exc))
    _print_breach(breach)


@breaches_app.command("size")
def breaches_size(
    breach_id: Annotated[int, typer.Argument(min=1, max=2**62, help="Breach number.")],
    organisation: OrganisationOption = None,
    activity: Annotated[
        list[str] | None,
        typer.Option(help="Processing activity (default: the breach's); repeat for more."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Start (default: when the breach started).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End, exclusive (default: when it ended, or discovery).")
    ] = None,
) -> None:
    """Count the distinct data subjects the logbook shows for the breach's activities and period."""
    from glazenstad.insight.incidents import breaches as br
    from glazenstad.insight.incidents import sizing
    from glazenstad.insight.incidents import wording as w

    engine, org, breach = _open_breach(breach_id, organisation)
    window = br.sizing_window(breach, _moment(since, "--from"), _moment(until, "--until"))
    if window is None:
        fail("--from: het begin van het datalek is niet bekend; geef --from (en --until).", 2)
    try:
        result = sizing.affected_data_subjects(
            engine, org, list(activity or breach.activities), window[0], window[1]
        )
    except sizing.SizingError as exc:
        fail(f"--{exc}", 2)
    console.print(
        f"Logboek van {w.moment_nl(result.since, weekday=False)} tot "
        f"{w.moment_nl(result.until, weekday=False)}:",
        highlight=False,
    )
    table = Table("Verwerking", "Betrokkenen", "Logregels", "Per soort nummer")
    for size in result.activities:
        kinds = ", ".join(f"{k}: {v}" for k, v in size.by_id_type.items()) or "-"
        table.add_row(size.activity_id, str(size.data_subjects), str(size.records), kinds)
    table.add_row("Samen (iedereen één keer)", str(result.data_subjects), str(result.records), "")
    console.print(table)
    if result.several_keys:
        console.print(
            "Let op: in deze periode is de sleutel voor pseudoniemen gewisseld. Iemand die voor "
            "en na de wissel voorkomt, telt twee keer: het echte aantal kan lager zijn.",
            highlight=False,
        )


@break_glass_app.command("list")
def break_glass_list(
    organisation: OrganisationOption = None,
    since: Annotated[str | None, typer.Option("--from", help="From this moment.")] = None,
    until: Annotated[str | None, typer.Option(help="Until this moment (exclusive).")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also the reviewed ones (default: waiting only).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
) -> None:
    """Break-the-glass decisions waiting for a review (noodtoegang), newest first."""
    from glazenstad.insight.incidents import reviews as rv
    from glazenstad.insight.incidents import wording as w

    engine, org = _open_organisation(organisation)
    items, total = rv.list_break_glass(
        engine,
        org,
        since=_moment(since, "--from"),
        until=_moment(until, "--until"),
        reviewed=None if all_ else False,
        limit=limit,
    )
    for item in items:
        verdict = w.VERDICT_LABELS[item.review.verdict] if item.review else "niet beoordeeld"
        console.print(
            f"{item.decision_id}  {w.moment_nl(item.decided_at, weekday=False)}  {item.role} "
            f"({item.department})  {item.action} {item.data_category} voor {item.purpose}  "
            f"[{verdict}]\n    Reden: {item.justification or '(geen)'}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    what = "besluit(en) met noodtoegang" + ("" if all_ else " wachten op beoordeling")
    console.print(f"{total} {what}; {len(items)} getoond.", highlight=False)


@break_glass_app.command("review")
def break_glass_review_command(
    decision_id: Annotated[str, typer.Argument(help="Decision id (32 hex characters).")],
    by: ByOption,
    verdict: Annotated[str, typer.Option(help="justified or unjustified (terecht / onterecht).")],
    note: Annotated[
        str | None, typer.Option(help="Why; required when the verdict is unjustified.")
    ] = None,
) -> None:
    """Record the final review of a break-the-glass decision."""
    from glazenstad.insight.incidents import reviews as rv
    from glazenstad.web.staff import BREAK_GLASS_REVIEW

    user = staff_member(by, BREAK_GLASS_REVIEW)
    verdicts = {
        "terecht": rv.JUSTIFIED,
        "onterecht": rv.UNJUSTIFIED,
        "niet-terecht": rv.UNJUSTIFIED,
    }
    chosen = verdicts.get(verdict.strip().lower(), verdict.strip().lower())
    reviewer = rv.Reviewer(user.id, user.name, user.organisation_id, user.roles, user.department)
    try:
        review = rv.record_review(
            open_engine(),
            user.organisation_id,
            decision_id,
            reviewer=reviewer,
            verdict=chosen,
            note=note,
        )
    except rv.ReviewError as exc:
        fail(f"--{exc}", 2)
    except (rv.ReviewNotFound, rv.AlreadyReviewed, rv.SelfReview) as exc:
        fail(str(exc))
    console.print(
        f"{review.decision_id}: {review.verdict} (beoordeeld door {review.reviewer_name})",
        highlight=False,
    )
