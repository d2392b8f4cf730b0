"""The impact page: what a new version of the rules would have done with a past period.

For staff with `policy:impact`, about their own organisation. They choose a stored version
(drafts first) and a period; the page replays the period's recorded decisions against it
(`glazenstad.insight.impact`) and shows what would change, per activity, rule and department,
with real, explained examples. The form is a GET: replaying changes nothing, and a result can be
sent to a colleague as a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from glazenstad.insight.impact import (
    KIND_LABELS,
    Counts,
    ImpactError,
    ImpactExample,
    ImpactReport,
    OutcomeSummary,
    local_day_start,
    run_impact_replay,
)
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.explain import ACTION_WORDS
from glazenstad.rules.store import PolicyVersion
from glazenstad.web import staff
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal import views
from glazenstad.web.portal.stafflogin import HOME_PATH as STAFF_HOME
from glazenstad.web.state import AppState

router = APIRouter(include_in_schema=False)
IMPACT_PATH: Final = "/medewerkers/gevolgen"
DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 366
EXAMPLES: Final = 3
MAX_TEXT: Final = 100
STATUS_NL: Final = {"draft": "concept", "active": "geldt nu", "retired": "vervallen"}
COUNT_HEADERS: Final = ("Besluiten", "Was ja, wordt nee", "Was nee, wordt ja", "Andere regel")


@dataclass(frozen=True)
class ImpactQuery:
    """The query string: `versie` (a version hash) and `van` / `tot` (dates, both included)."""

    version: str = ""
    van: str = ""
    tot: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ImpactQuery:
        def clip(name: str) -> str:
            return (params.get(name) or "").strip()[:MAX_TEXT]

        return cls(clip("versie"), clip("van"), clip("tot"))


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class ExampleView:
    title: str
    rows: list[views.Row]


@dataclass(frozen=True)
class ResultView:
    summary: str
    figures: list[views.Row]
    tables: list[tuple[str, str, views.Table, str]]
    """(section id, heading, table, what to say when the table is empty)."""
    examples: list[ExampleView]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImpactPage:
    organisation: str
    versions: list[Option]
    van: str
    tot: str
    error: str | None
    result: ResultView | None


def _version_label(version: PolicyVersion) -> str:
    status = STATUS_NL.get(version.status, version.status)
    return (
        f"{version.title} ({status}, versie {version.content_hash[:12]}, "
        f"{fmt.date_nl(version.created_at.astimezone(TIMEZONE))})"
    )


def version_options(versions: list[PolicyVersion], selected: str) -> list[Option]:
    """Drafts first (newest first), then the active version, then retired ones."""
    order = {"draft": 0, "active": 1, "retired": 2}
    ranked = sorted(versions, key=lambda v: (order.get(v.status, 3), -v.id))
    if not selected and ranked:
        selected = ranked[0].content_hash
    return [
        Option(
            v.content_hash,
            _version_label(v),
            bool(selected) and v.content_hash.startswith(selected),
        )
        for v in ranked
    ]


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def period(query: ImpactQuery, today: date) -> tuple[date, date, str | None]:
    """The chosen days (both included), or the last 30 days and what was wrong."""
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    if not query.van and not query.tot:
        return (*default, None)
    first, last = _date(query.van), _date(query.tot)
    if first is None or last is None:
        return (*default, "Vul twee datums in: van en tot en met.")
    if last < first:
        return (*default, "De eerste datum ligt na de tweede. Draai ze om.")
    if (last - first).days + 1 > MAX_DAYS:
        return (*default, f"Kies een periode van hoogstens {MAX_DAYS} dagen.")
    return first, last, None


def number(value: int) -> str:
    """1.234.567, as Dutch readers write it."""
    return f"{value:,}".replace(",", ".")


def _counts(counts: Counts) -> tuple[str, ...]:
    return (
        number(counts.requests),
        number(counts.permit_to_deny),
        number(counts.deny_to_permit),
        number(counts.other_changes),
    )


def _effect(summary: OutcomeSummary) -> str:
    answer = "Ja, toegestaan" if summary.effect == "permit" else "Nee, geweigerd"
    rules = [f"'{r.title}'" for r in summary.rules]
    if rules:
        return f"{answer}, door spelregel {fmt.join_nl(rules)}"
    reasons = {
        "no_permit": "geen spelregel staat het toe",
        "unknown_purpose": "het doel staat niet in het register",
        "inactive_purpose": "de verwerking is niet actief",
        "unknown_data_category": "de gegevens staan niet in het register",
        "unknown_action": "de handeling is onbekend",
        "no_policy": "er golden geen spelregels",
    }
    reason = reasons.get(summary.reason)
    return f"{answer}: {reason}" if reason else answer


def _example(example: ImpactExample, register: OrganisationRegister | None) -> ExampleView:
    category = register.data_category(example.data_category) if register else None
    data = category.name if category else example.data_category
    doing = ACTION_WORDS.get(example.action, example.action)
    when = f"{fmt.date_nl(example.moment)} om {example.moment.hour}.{example.moment.minute:02d} uur"
    activity: views.Value = example.activity_name
    if register is not None and register.activity(example.activity_id) is not None:
        activity = views.Link(
            example.activity_name,
            f"/organisaties/{register.org.id}/verwerkingen/{example.activity_id}",
        )
    same = example.identical - 1
    return ExampleView(
        title=f"{KIND_LABELS[example.kind]}: {data} {doing}",
        rows=[
            views.Row("Wanneer", when),
            views.Row("Wie", f"{example.role}, afdeling {example.department}"),
            views.Row("Wat", f"{data} {doing}"),
            views.Row("Voor de verwerking", activity),
            views.Row("Kanaal", example.channel or "onbekend"),
            views.Row("Met schriftelijke motivering", fmt.yes_no(example.justified)),
            views.Row("Besluit toen", _effect(example.recorded)),
            views.Row("Besluit met deze versie", _effect(example.replayed)),
            views.Row("Uitleg", example.explanation),
            views.Row(
                "Net zulke verzoeken",
                f"nog {number(same)} in deze periode" if same else "geen andere in deze periode",
            ),
            views.Row("Besluitnummer", example.decision_id),
        ],
    )


def result_view(report: ImpactReport, register: OrganisationRegister | None) -> ResultView:
    t = report.totals
    changed = t.changed
    if not t.requests:
        summary = "In deze periode zijn geen besluiten vastgelegd. Kies een andere periode."
    elif not changed:
        summary = f"Met deze versie was geen van de {number(t.requests)} besluiten anders geweest."
    else:
        verb = "was" if changed == 1 else "waren"
        summary = (
            f"Met deze versie {verb} {number(changed)} van de {number(t.requests)} besluiten "
            "anders geweest."
        )
    figures = [
        views.Row("Besluiten opnieuw genomen", number(t.requests)),
        views.Row(KIND_LABELS["permit_to_deny"], number(t.permit_to_deny)),
        views.Row(KIND_LABELS["deny_to_permit"], number(t.deny_to_permit)),
        views.Row(KIND_LABELS["other_change"], number(t.other_changes)),
        views.Row("Niet veranderd", number(t.requests - changed)),
    ]
    agg = report.aggregate

    def activity_name(activity_id: str, name: str) -> views.Value:
        if register is not None and register.activity(activity_id) is not None:
            return views.Link(name, f"/organisaties/{register.org.id}/verwerkingen/{activity_id}")
        return name

    activities = views.Table(
        "Besluiten per verwerking die anders uitvallen",
        ("Verwerking", *COUNT_HEADERS),
        [
            (activity_name(a.activity_id, a.name), *_counts(a.counts))
            for a in agg.activities
            if a.counts.changed
        ],
    )
    rules = views.Table(
        "Besluiten per spelregel die anders uitvallen",
        ("Spelregel", *COUNT_HEADERS[1:]),
        [
            (
                r.title if r.in_version else f"{r.title} (niet meer in deze versie)",
                *_counts(r.counts)[1:],
            )
            for r in agg.rules
        ],
    )
    departments = views.Table(
        "Besluiten per afdeling die anders uitvallen",
        ("Afdeling", *COUNT_HEADERS),
        [(d.department, *_counts(d.counts)) for d in agg.departments if d.counts.changed],
    )
    notes = []
    if report.skipped:
        one = report.skipped == 1
        notes.append(
            f"{number(report.skipped)} {'besluit kon' if one else 'besluiten konden'} niet "
            f"worden gelezen en {'telt' if one else 'tellen'} daarom niet mee."
        )
    none = "Geen enkel besluit valt anders uit."
    return ResultView(
        summary=summary,
        figures=figures,
        tables=[
            ("per-verwerking", "Per verwerking", activities, none),
            ("per-spelregel", "Per spelregel", rules, none),
            ("per-afdeling", "Per afdeling", departments, none),
        ],
        examples=[_example(e, register) for e in report.examples],
        notes=notes,
    )


def build_page(
    state: AppState,
    user: staff.StaffUser,
    register: OrganisationRegister | None,
    query: ImpactQuery,
    today: date,
) -> ImpactPage:
    organisation = user.organisation_id
    versions = state.rules.policies.versions(organisation)
    options = version_options(versions, query.version)
    first, last, error = period(query, today)
    result = None
    if query.version and error is None:
        chosen = next((o for o in options if o.selected), None)
        if chosen is None:
            error = "Deze versie van de spelregels bestaat niet. Kies een versie uit de lijst."
        else:
            try:
                report = run_impact_replay(
                    state.engine,
                    state.rules,
                    organisation,
                    chosen.value,
                    local_day_start(first),
                    local_day_start(last + timedelta(days=1)),
                    examples=EXAMPLES,
                )
            except ImpactError:
                error = "Deze versie kan niet worden doorgerekend: het register ontbreekt."
            else:
                result = result_view(report, register)
    return ImpactPage(
        organisation=register.org.name if register else organisation,
        versions=options,
        van=first.isoformat(),
        tot=last.isoformat(),
        error=error,
        result=result,
    )


@router.get(IMPACT_PATH, response_class=HTMLResponse)
def impact(
    request: Request, user: staff.StaffUser = Depends(staff.portal_staff(staff.POLICY_IMPACT))
) -> HTMLResponse:
    from glazenstad.web.portal.routes import app_state, render, snapshot_of

    register = snapshot_of(request).organisation(user.organisation_id)
    query = ImpactQuery.from_query(request.query_params)
    today = datetime.now(TIMEZONE).date()
    page = build_page(app_state(request), user, register, query, today)
    return render(
        request,
        "impact.html",
        section="staff",
        page=page,
        user=user,
        path=IMPACT_PATH,
        crumbs=[
            views.Crumb("Home", "/"),
            views.Crumb("Medewerkers", STAFF_HOME),
            views.Crumb("Gevolgen van een nieuwe versie"),
        ],
    )
