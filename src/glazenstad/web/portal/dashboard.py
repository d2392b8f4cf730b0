"""The policy dashboard: what execution did with the rules, per activity and per rule.

For staff with `insight:read`, about their own organisation only. One period (preset or own
dates) and three optional narrowings (department, activity, rule) select what every section
shows: decisions over time, the permit/deny split, the most frequent reasons for a denial,
break-the-glass use and its reviews, log volume, retention, and signals per rule.

The figures come from `glazenstad.insight.figures`: grouped queries per source. Decision and
log groups of finished days are kept in the application's `DayCache`, so after the first view
only today's rows are read again, and a filter folds the same groups instead of reading
millions of decisions anew; reviews and signals (small) are kept `GROUPS_SECONDS`. Every chart
is drawn by `charts` with its numbers as a table beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import QueryParams

from glazenstad.execution.parking.pipeline import activity_uri as parking_activity_uri
from glazenstad.insight import figures as fig
from glazenstad.insight.signals.figures import RuleSignalCount, signal_counts
from glazenstad.register.store import OrganisationRegister, RegisterSnapshot
from glazenstad.web import staff
from glazenstad.web.api.v1.figures import cached_public_figures, day_cache
from glazenstad.web.portal import charts, views
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal.stafflogin import HOME_PATH as STAFF_HOME
from glazenstad.web.state import AppState

router = APIRouter(include_in_schema=False)
DASHBOARD_PATH: Final = "/medewerkers/dashboard"
BREAK_GLASS_PATH: Final = "/medewerkers/doorbraken"
SIGNALS_PATH: Final = "/medewerkers/signalen"
GROUPS_SECONDS: Final = 60.0
PERIODS: Final[dict[str, tuple[int, str]]] = {
    "7": (7, "De laatste 7 dagen"),
    "30": (30, "De laatste 30 dagen"),
    "90": (90, "De laatste 90 dagen"),
    "365": (365, "Het laatste jaar"),
}
DEFAULT_PERIOD: Final = "30"
TOP_REASONS: Final = 10
TOP_BARS: Final = 10
TOP_LINES: Final = 4
MAX_TEXT: Final = 200
MONTHS_SHORT: Final = (
    "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"
)  # fmt: skip
PERIOD_ERROR: Final = (
    "De eigen periode klopt niet. Vul twee datums in (van en tot en met), de eerste niet na "
    "de tweede, samen hoogstens {days} dagen. U ziet nu de laatste 30 dagen."
)
T = TypeVar("T")


# --- the query -------------------------------------------------------------------------------


def _clip(value: str | None) -> str:
    return (value or "").strip()[:MAX_TEXT]


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class DashboardQuery:
    """The page's query string: `periode` (a preset) or `van` + `tot` (own dates), and the
    optional narrowings `afdeling`, `verwerking` and `regel`. Nothing in it is an error page:
    a wrong own period is said on the page and the default shown instead."""

    periode: str = DEFAULT_PERIOD
    van: str = ""
    tot: str = ""
    afdeling: str = ""
    verwerking: str = ""
    regel: str = ""

    @classmethod
    def from_query(cls, params: QueryParams | Mapping[str, str]) -> DashboardQuery:
        periode = _clip(params.get("periode"))
        return cls(
            periode=periode if periode in PERIODS else DEFAULT_PERIOD,
            van=_clip(params.get("van")),
            tot=_clip(params.get("tot")),
            afdeling=_clip(params.get("afdeling")),
            verwerking=_clip(params.get("verwerking")),
            regel=_clip(params.get("regel")),
        )

    def period(self, today: date) -> tuple[fig.Period, str | None]:
        """The period asked for, and an error text when the own dates could not be used."""
        if self.van or self.tot:
            first, last = _date(self.van), _date(self.tot)
            if first and last and first <= last and (last - first).days < fig.MAX_PERIOD_DAYS:
                return fig.Period(first, last), None
            default = fig.Period.last_days(PERIODS[DEFAULT_PERIOD][0], today)
            return default, PERIOD_ERROR.format(days=fig.MAX_PERIOD_DAYS)
        return fig.Period.last_days(PERIODS[self.periode][0], today), None

    @property
    def selection(self) -> fig.DecisionFilter:
        return fig.DecisionFilter(self.afdeling, self.verwerking, self.regel)

    def url(self, **changes: str) -> str:
        """This page with some parameters changed (an empty value leaves it out)."""
        values = {
            "periode": self.periode,
            "van": self.van,
            "tot": self.tot,
            "afdeling": self.afdeling,
            "verwerking": self.verwerking,
            "regel": self.regel,
        }
        values.update(changes)
        if values["van"] or values["tot"] or values["periode"] == DEFAULT_PERIOD:
            values["periode"] = ""
        query = urlencode({k: v for k, v in values.items() if v})
        return f"{DASHBOARD_PATH}?{query}" if query else DASHBOARD_PATH


# --- labels ----------------------------------------------------------------------------------


def day_short(day: date) -> str:
    return f"{day.day} {MONTHS_SHORT[day.month - 1]}"


def bucket_labels(period: fig.Period) -> tuple[list[str], list[str], str]:
    """Long labels (table), short labels (axis) and the header of the buckets."""
    buckets = period.buckets()
    if period.granularity == "day":
        return [fmt.date_nl(b.first) for b in buckets], [day_short(b.first) for b in buckets], "Dag"
    long = [
        f"Week van {fmt.date_nl(b.first)}"
        + (f" tot en met {fmt.date_nl(b.end - timedelta(days=1))}" if b.days > 1 else "")
        for b in buckets
    ]
    return long, [day_short(b.first) for b in buckets], "Week"


def period_text(period: fig.Period) -> str:
    unit = "per dag" if period.granularity == "day" else "per week"
    return f"{fmt.date_nl(period.first)} tot en met {fmt.date_nl(period.last)} ({unit})"


def lateness_text(ms: int) -> str:
    """A lateness in words: minutes under two hours, hours under two days, else days."""
    minutes = ms / 60_000
    if minutes < 120:
        return fmt.plural(round(minutes), "minuut", "minuten")
    if minutes < 48 * 60:
        return f"{round(minutes / 60)} uur"
    return fmt.plural(round(minutes / 1440), "dag", "dagen")


def _percent(part: int, whole: int) -> str:
    return fig.share_text(part, whole)


# --- the page model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    fields: list[views.FilterField]
    van: str
    tot: str
    active: bool
    error: str | None


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    note: str = ""


@dataclass
class DashboardPage:
    organisation: str
    period: str
    narrowed: list[str]
    filters: Filters
    key_figures: list[KeyFigure]
    decisions_chart: charts.Chart
    reasons_chart: charts.Chart
    activity_table: views.Table
    quiet_activities: int
    rule_table: views.Table
    break_glass: list[KeyFigure]
    break_glass_link: views.Link | None
    log_chart: charts.Chart
    retention_chart: charts.Chart
    retention_runs: views.Table
    parking_runs: views.Table
    signals_link: views.Link | None
    notes: list[str] = field(default_factory=list)


def _options(all_label: str, choices: Sequence[tuple[str, str]], selected: str) -> list[Any]:
    options = [views.Option("", all_label, not selected)]
    options += [views.Option(value, text, value == selected) for value, text in choices]
    if selected and selected not in {value for value, _ in choices}:  # keep what was asked
        options.append(views.Option(selected, selected, True))
    return options


def rule_titles(state: AppState, organisation_id: str) -> dict[str, str]:
    """Titles of the active policy's rules (explicit and those the register implies)."""
    compiled = state.rules.engine().active(organisation_id)
    return {rule.id: rule.title for rule in compiled.rules} if compiled else {}


def _cached(request: Request, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    cache: fig.FigureCache | None = getattr(request.app.state, "dashboard_cache", None)
    if cache is None:
        cache = fig.FigureCache(GROUPS_SECONDS)
        request.app.state.dashboard_cache = cache
    return cache.get(key, compute)


def build_page(
    request: Request,
    state: AppState,
    user: staff.StaffUser,
    register: OrganisationRegister | None,
    query: DashboardQuery,
    today: date,
) -> DashboardPage:
    org = user.organisation_id
    period, period_error = query.period(today)
    engine = state.engine
    key = (org, period.first, period.last)
    activities = fig.ActivityIndex.of(register)
    days = day_cache(request)
    decisions = days.decision_groups(engine, org, period)
    logs = days.log_groups(engine, org, period)
    reviews = _cached(request, ("reviews", *key), lambda: fig.review_groups(engine, org, period))
    signals = _cached(
        request, ("signals", *key), lambda: signal_counts(engine, org, period.start, period.end)
    )
    parking_uri = parking_activity_uri(register) if register is not None else None
    selection = query.selection
    figures = fig.decision_figures(decisions, period, activities, selection)
    log = fig.log_figures(
        logs, period, activities, department=query.afdeling, activity=query.verwerking
    )
    retention = fig.retention_figures(
        engine,
        org,
        period,
        activities,
        department=query.afdeling,
        activity=query.verwerking,
        parking_activity_uri=parking_uri,
    )
    review_total, review_by_activity = fig.review_figures(
        reviews,
        activities,
        department=query.afdeling,
        activity=query.verwerking,
        rule=query.regel,
    )
    titles = rule_titles(state, org)
    for count in signals.by_rule:
        if count.rule_id and count.rule_id not in titles:
            titles[count.rule_id] = count.rule_title
    by_rule_signals = {count.rule_id: count for count in signals.by_rule}

    def rule_name(rule_id: str | None) -> str:
        if rule_id is None:
            return "Geen regel"
        title = titles.get(rule_id)
        return f"{title} ({rule_id})" if title else rule_id

    long, short, header = bucket_labels(period)
    names = {key: activities.name(key) for key in activities.names}
    filters = _filters(query, period_error, figures, activities, names, titles)
    narrowed = _narrowed(query, activities, rule_name)
    total = figures.total
    key_figures = [
        KeyFigure("Besluiten", charts.number_nl(total.total)),
        KeyFigure(
            "Toegestaan",
            charts.number_nl(total.permit),
            f"{_percent(total.permit, total.total)} van de besluiten",
        ),
        KeyFigure(
            "Geweigerd",
            charts.number_nl(total.deny),
            f"{_percent(total.deny, total.total)} van de besluiten",
        ),
        KeyFigure(
            "Noodtoegang (regel doorbroken)",
            charts.number_nl(total.break_glass),
            f"{charts.number_nl(review_total.unreviewed)} wacht op beoordeling",
        ),
        KeyFigure("Logregels in het logboek", charts.number_nl(log.total)),
        KeyFigure("Verwijderd na de bewaartermijn", charts.number_nl(retention.removed)),
    ]
    if not query.afdeling and not query.verwerking:
        signal_total = (
            by_rule_signals[query.regel].total
            if query.regel and query.regel in by_rule_signals
            else (0 if query.regel else signals.total)
        )
        key_figures.append(KeyFigure("Signalen uit de uitvoering", charts.number_nl(signal_total)))

    decisions_chart = charts.stacked_bar_chart(
        long,
        [
            charts.Series(
                "Toegestaan", [b.permit - b.break_glass for b in figures.by_bucket], style=0
            ),
            charts.Series(
                "Toegestaan met noodtoegang", [b.break_glass for b in figures.by_bucket], style=2
            ),
            charts.Series("Geweigerd", [b.deny for b in figures.by_bucket], style=1),
        ],
        chart_id="grafiek-besluiten",
        title=f"Besluiten {'per dag' if period.granularity == 'day' else 'per week'}",
        category_header=header,
        category_labels=short,
    )
    reasons = figures.denials[:TOP_REASONS]
    reasons_chart = charts.bar_chart(
        [f"{d.title}: {rule_name(d.rule)}" if d.rule else d.title for d in reasons],
        [d.count for d in reasons],
        chart_id="grafiek-redenen",
        title="Meest voorkomende redenen om te weigeren",
        label_header="Reden en regel",
        value_header="Weigeringen",
    )
    activity_table, quiet = _activity_table(
        query, figures, log, retention, review_by_activity, activities
    )
    rule_table = _rule_table(query, figures, by_rule_signals, rule_name)
    log_chart = _log_chart(log, activities, long, short, header)
    removed = fig.top(retention.by_activity, TOP_BARS)
    retention_chart = charts.bar_chart(
        [activities.name(key) for key, _ in removed],
        [count for _, count in removed],
        chart_id="grafiek-bewaartermijn",
        title="Logregels verwijderd na de bewaartermijn, per verwerking",
        label_header="Verwerking",
        value_header="Verwijderd",
    )
    break_glass = [
        KeyFigure("Besluiten met noodtoegang", charts.number_nl(review_total.total)),
        KeyFigure(
            "Beoordeeld",
            charts.number_nl(review_total.reviewed),
            f"{charts.number_nl(review_total.justified)} terecht, "
            f"{charts.number_nl(review_total.unjustified)} niet terecht",
        ),
        KeyFigure(
            "Wacht op beoordeling",
            charts.number_nl(review_total.unreviewed),
            (
                f"de oudste is van {fmt.datetime_nl(review_total.oldest_unreviewed)}"
                if review_total.oldest_unreviewed
                else ""
            ),
        ),
    ]
    notes = []
    if query.afdeling:
        notes.append(
            "Besluiten tellen mee als de medewerker bij deze afdeling werkt. Logregels en "
            "bewaartermijnen tellen mee voor de verwerkingen die deze afdeling volgens het "
            "register uitvoert. Signalen worden niet per afdeling geteld."
        )
    if query.regel:
        notes.append(
            "Een spelregel gaat over besluiten. Logregels en bewaartermijnen hebben geen "
            "spelregel: die tellen mee voor de hele periode."
        )
    return DashboardPage(
        organisation=register.org.name if register else org,
        period=period_text(period),
        narrowed=narrowed,
        filters=filters,
        key_figures=key_figures,
        decisions_chart=decisions_chart,
        reasons_chart=reasons_chart,
        activity_table=activity_table,
        quiet_activities=quiet,
        rule_table=rule_table,
        break_glass=break_glass,
        break_glass_link=(
            views.Link("Besluiten met noodtoegang beoordelen", BREAK_GLASS_PATH)
            if user.can(staff.BREAK_GLASS_REVIEW)
            else None
        ),
        log_chart=log_chart,
        retention_chart=retention_chart,
        retention_runs=_retention_runs(retention),
        parking_runs=_parking_runs(retention),
        signals_link=(
            views.Link("Naar de signalen", SIGNALS_PATH)
            if user.can(staff.SIGNALS_FILE)
            or user.can(staff.SIGNALS_TRIAGE)
            or user.can(staff.SIGNALS_TRIAGE_ALL)
            else None
        ),
        notes=notes,
    )


def _filters(
    query: DashboardQuery,
    error: str | None,
    figures: fig.DecisionFigures,
    activities: fig.ActivityIndex,
    names: Mapping[str, str],
    titles: Mapping[str, str],
) -> Filters:
    departments = set(figures.departments)
    for deps in activities.departments.values():
        departments |= deps
    rules = set(titles) | set(figures.by_rule)
    return Filters(
        fields=[
            views.FilterField(
                "periode",
                "Periode",
                [
                    views.Option(key, label, key == query.periode and not (query.van or query.tot))
                    for key, (_days, label) in PERIODS.items()
                ],
            ),
            views.FilterField(
                "afdeling",
                "Afdeling",
                _options(
                    "Alle afdelingen",
                    [(d, d) for d in sorted(departments, key=str.casefold)],
                    query.afdeling,
                ),
            ),
            views.FilterField(
                "verwerking",
                "Verwerking",
                _options(
                    "Alle verwerkingen",
                    sorted(names.items(), key=lambda item: item[1].casefold()),
                    query.verwerking,
                ),
            ),
            views.FilterField(
                "regel",
                "Spelregel",
                _options(
                    "Alle spelregels",
                    sorted(
                        ((r, titles.get(r, r)) for r in rules),
                        key=lambda item: item[1].casefold(),
                    ),
                    query.regel,
                ),
            ),
        ],
        van=query.van,
        tot=query.tot,
        active=bool(query.afdeling or query.verwerking or query.regel or query.van or query.tot),
        error=error,
    )


def _narrowed(
    query: DashboardQuery, activities: fig.ActivityIndex, rule_name: Callable[[str], str]
) -> list[str]:
    parts = []
    if query.afdeling:
        parts.append(f"afdeling {query.afdeling}")
    if query.verwerking:
        parts.append(f"verwerking {activities.name(query.verwerking)}")
    if query.regel:
        parts.append(f"spelregel {rule_name(query.regel)}")
    return parts


def _activity_table(
    query: DashboardQuery,
    figures: fig.DecisionFigures,
    log: fig.LogFigures,
    retention: fig.RetentionFigures,
    reviews: Mapping[str, fig.ReviewTally],
    activities: fig.ActivityIndex,
) -> tuple[views.Table, int]:
    keys = set(figures.by_activity) | set(log.by_activity) | set(retention.by_activity)
    empty = fig.Tally()
    rows: list[tuple[views.Value, ...]] = []

    def order(key: str) -> tuple[int, int, str]:
        tally = figures.by_activity.get(key, empty)
        return (-tally.total, -log.by_activity.get(key, 0), activities.name(key).casefold())

    for key in sorted(keys, key=order):
        tally = figures.by_activity.get(key, empty)
        review = reviews.get(key)
        name = activities.name(key)
        rows.append(
            (
                views.Link(name, query.url(verwerking=key)) if key else name,
                charts.number_nl(tally.total),
                charts.number_nl(tally.permit),
                f"{charts.number_nl(tally.deny)} ({_percent(tally.deny, tally.total)})",
                charts.number_nl(tally.break_glass)
                + (f" ({charts.number_nl(review.unreviewed)} open)" if review else ""),
                charts.number_nl(log.by_activity.get(key, 0)),
                charts.number_nl(retention.by_activity.get(key, 0)),
            )
        )
    scope = (
        {query.verwerking}
        if query.verwerking
        else (activities.of_department(query.afdeling) if query.afdeling else set(activities.names))
    )
    quiet = len({k for k in scope if k in activities.names} - keys)
    return (
        views.Table(
            caption="Besluiten, logregels en verwijderingen per verwerking",
            headers=(
                "Verwerking",
                "Besluiten",
                "Toegestaan",
                "Geweigerd",
                "Noodtoegang",
                "Logregels",
                "Verwijderd",
            ),
            rows=rows,
        ),
        quiet,
    )


def _rule_table(
    query: DashboardQuery,
    figures: fig.DecisionFigures,
    signals: Mapping[str | None, RuleSignalCount],
    rule_name: Callable[[str], str],
) -> views.Table:
    rows: list[tuple[views.Value, ...]] = []
    narrowed = bool(query.afdeling or query.verwerking)
    keys = set(figures.by_rule) | (set() if narrowed else {k for k in signals if k})
    if query.regel:
        keys &= {query.regel}
    empty = fig.Tally()

    def order(key: str) -> tuple[int, int, str]:
        tally = figures.by_rule.get(key, empty)
        return (-tally.deny, -tally.total, key)

    for key in sorted(keys, key=order):
        tally = figures.by_rule.get(key, empty)
        count = signals.get(key)
        rows.append(
            (
                views.Link(rule_name(key), query.url(regel=key)),
                charts.number_nl(tally.total),
                charts.number_nl(tally.permit),
                charts.number_nl(tally.deny),
                charts.number_nl(tally.break_glass),
                (f"{count.total} ({count.open} open)" if count else "0") if not narrowed else "–",
            )
        )
    return views.Table(
        caption="Besluiten per spelregel (waarin de regel de doorslag gaf) en signalen",
        headers=("Spelregel", "Besluiten", "Toegestaan", "Geweigerd", "Noodtoegang", "Signalen"),
        rows=rows,
    )


def _log_chart(
    log: fig.LogFigures,
    activities: fig.ActivityIndex,
    long: list[str],
    short: list[str],
    header: str,
) -> charts.Chart:
    largest = fig.top(log.by_activity, TOP_LINES)
    series = [
        charts.Series(activities.name(key), log.by_activity_bucket[key]) for key, _ in largest
    ]
    rest = [k for k in log.by_activity if k not in {key for key, _ in largest}]
    if rest:
        values = [
            sum(log.by_activity_bucket[k][i] for k in rest) for i in range(len(log.by_bucket))
        ]
        series.append(charts.Series(f"Overige verwerkingen ({len(rest)})", values))
    return charts.line_chart(
        long,
        series,
        chart_id="grafiek-logboek",
        title=f"Logregels {'per dag' if header == 'Dag' else 'per week'}, per verwerking",
        category_header=header,
        category_labels=short,
    )


def _retention_runs(retention: fig.RetentionFigures) -> views.Table:
    return views.Table(
        caption="Bewaartermijnen in het logboek: verwijderingen",
        headers=("Moment", "Verwijderd", "Langste vertraging", "95% verwijderd binnen"),
        rows=[
            (
                fmt.datetime_nl(run.ran_at),
                charts.number_nl(run.removed),
                lateness_text(run.lateness_max_ms),
                lateness_text(run.lateness_p95_ms),
            )
            for run in reversed(retention.runs)
        ],
    )


def _parking_runs(retention: fig.RetentionFigures) -> views.Table:
    return views.Table(
        caption="Bewaartermijnen van de scanauto: verwijderingen",
        headers=("Moment", "Scans verwijderd", "Zaken verwijderd", "Vertraging"),
        rows=[
            (
                fmt.datetime_nl(run.ran_at),
                charts.number_nl(run.scans),
                charts.number_nl(run.cases),
                lateness_text(int(run.lateness_s * 1000)),
            )
            for run in reversed(retention.parking)
        ],
    )


# --- the route -------------------------------------------------------------------------------


@router.get(DASHBOARD_PATH, response_class=HTMLResponse)
def dashboard(
    request: Request, user: staff.StaffUser = Depends(staff.portal_staff(staff.INSIGHT_READ))
) -> HTMLResponse:
    from glazenstad.web.portal.routes import app_state, render, snapshot_of

    state = app_state(request)
    register = snapshot_of(request).organisation(user.organisation_id)
    query = DashboardQuery.from_query(request.query_params)
    today = fig.Period.last_days(1).last
    page = build_page(request, state, user, register, query, today)
    return render(
        request,
        "dashboard.html",
        section="staff",
        page=page,
        query=query,
        user=user,
        path=DASHBOARD_PATH,
        crumbs=[
            views.Crumb("Home", "/"),
            views.Crumb("Medewerkers", STAFF_HOME),
            views.Crumb("Dashboard"),
        ],
    )


# --- public figures on the home page ---------------------------------------------------------

HOME_DAYS: Final = 30
HOME_BARS: Final = 8


@dataclass(frozen=True)
class HomeFigures:
    """One organisation's live figures on the public home page: counts only."""

    org_id: str
    name: str
    key_figures: list[KeyFigure]
    chart: charts.Chart
    api_url: str


def home_figures(request: Request, snapshot: RegisterSnapshot) -> list[HomeFigures]:
    """The last 30 days per organisation, from the short-lived cache the open API shares."""
    period = fig.Period.last_days(HOME_DAYS)
    result = []
    for register in snapshot.ordered():
        org_id = register.organisation.organisation_id
        public = cached_public_figures(request, register, period)
        decisions = public.decisions
        signals = public.signals
        busiest = [p for p in public.processing if p.log_records][:HOME_BARS]
        key_figures = [
            KeyFigure("Handelingen met persoonsgegevens", charts.number_nl(public.log_records)),
            KeyFigure(
                "Vragen of gegevens gebruikt mogen worden",
                charts.number_nl(decisions.total),
                f"{charts.number_nl(decisions.permit)} keer ja, "
                f"{charts.number_nl(decisions.deny)} keer nee",
            ),
            KeyFigure(
                "Signalen van medewerkers over spelregels (sinds het begin)",
                f"{charts.number_nl(signals.handled)} van {charts.number_nl(signals.total)} "
                "afgehandeld",
                (
                    f"gemiddeld (mediaan) {charts.number_nl(signals.median_days_to_handle)} "
                    "dagen tot een antwoord"
                    if signals.median_days_to_handle is not None
                    else ""
                ),
            ),
        ]
        compliance = public.compliance
        key_figures.append(
            KeyFigure(
                "Nalevingsscore (gemeten, niet zelf ingeschat)",
                f"{charts.number_nl(compliance.score)} van 100"
                if compliance
                else "Nog niet gemeten",
                (
                    f"gemeten op {fmt.datetime_nl(compliance.measured_at)}; "
                    f"{compliance.checks_failed} van {compliance.checks_measured} controles "
                    "niet in orde"
                )
                if compliance
                else "",
            )
        )
        result.append(
            HomeFigures(
                org_id=org_id,
                name=register.org.name,
                key_figures=key_figures,
                chart=charts.bar_chart(
                    [p.name for p in busiest],
                    [p.log_records for p in busiest],
                    chart_id=f"cijfers-{org_id}",
                    title=f"Handelingen per verwerking, {register.org.name}",
                    label_header="Verwerking",
                    value_header="Handelingen",
                ),
                api_url=f"{views.api_org_url(org_id)}/figures",
            )
        )
    return result
