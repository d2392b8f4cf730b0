"""The council report as one self-contained HTML document: text, SVG charts and their tables.

One document serves three readers: the browser (the staff portal shows it), the file a clerk
mails to the council, and the PDF (Chromium prints this same HTML, see
`glazenstad.insight.report_pdf`). So it needs nothing from outside itself: the stylesheet is
inlined in a `<style>` element, the charts are inline SVG from `web.portal.charts`, and there
are no scripts and no images to fetch. When the portal serves it, it sends its own
Content-Security-Policy that allows exactly that one stylesheet by its hash (`csp_header`) and
nothing else, which is stricter than the portal's own policy.

Every chart is followed by a table with exactly the numbers it was drawn from (printed, not
folded away, because a folded `<details>` does not print).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import Engine

from glazenstad.db.base import utcnow
from glazenstad.insight import figures as fig
from glazenstad.insight.compliance.model import STATUS_LABELS
from glazenstad.insight.report import ReportData, build_report
from glazenstad.insight.report_changes import KIND_LABELS, REPORTED_KINDS
from glazenstad.insight.report_period import ReportPeriod, check_started
from glazenstad.insight.signals import workflow
from glazenstad.register.store import RegisterStore
from glazenstad.rules.outcome import DENY_RULE
from glazenstad.web.portal import charts
from glazenstad.web.portal import format as fmt
from glazenstad.web.portal.charts import Chart, Series, number_nl
from glazenstad.web.portal.views import Table, Value

WEB_DIR: Final = Path(__file__).resolve().parent.parent
CSS_PATH: Final = WEB_DIR / "static" / "report.css"
TOP: Final = 10
"""Charts of activities, rules and reasons show the largest ten; the table below lists all."""
SHORT_MONTHS: Final = (
    "jan",
    "feb",
    "mrt",
    "apr",
    "mei",
    "jun",
    "jul",
    "aug",
    "sep",
    "okt",
    "nov",
    "dec",
)


@cache
def report_css() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


def csp_header(css: str | None = None) -> str:
    """The Content-Security-Policy for the served document: only its own inline stylesheet."""
    digest = hashlib.sha256((css if css is not None else report_css()).encode("utf-8")).digest()
    source = "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
    return (
        f"default-src 'none'; style-src {source}; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(date_nl=fmt.date_nl, datetime_nl=fmt.datetime_nl, number=number_nl)
    env.globals.update(numeric_columns=numeric_columns)
    return env


_NUMBER = re.compile(r"^[+−-]?\d[\d.]*(,\d+)?%?$|^–$|^gelijk$")


def numeric_columns(table: Table) -> set[int]:
    """Columns (after the first) whose every cell is a number: right-aligned, so digits line up."""
    found = set()
    for index in range(1, len(table.headers)):
        cells = [row[index] for row in table.rows if index < len(row)]
        if (
            cells
            and all(isinstance(c, str) and _NUMBER.match(c) for c in cells)
            and any(isinstance(c, str) and any(ch.isdigit() for ch in c) for c in cells)
        ):
            found.add(index)
    return found


# --- view model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A chart with its table, or a table on its own."""

    table: Table
    chart: Chart | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReportSection:
    id: str
    title: str
    intro: list[str]
    blocks: list[Block]
    source: str
    subsections: list[ReportSection] = field(default_factory=list)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pct(part: int, whole: int) -> str:
    return fig.share_text(part, whole)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(fig.MUNICIPAL_ZONE)


def _short(day: date) -> str:
    return f"{day.day} {SHORT_MONTHS[day.month - 1]}"


def bucket_labels(period: fig.Period) -> tuple[list[str], list[str]]:
    """(table labels, axis labels) of the period's days or weeks."""
    long, short = [], []
    for bucket in period.buckets():
        last = bucket.end - timedelta(days=1)
        if bucket.days == 1:
            long.append(fmt.date_nl(bucket.first))
        else:
            long.append(f"{_short(bucket.first)} t/m {_short(last)} {last.year}")
        short.append(_short(bucket.first))
    return long, short


def _difference(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return "–"
    change = current - previous
    if change == 0:
        return "gelijk"
    return ("+" if change > 0 else "−") + number_nl(abs(round(change, 1)))


def key_figures(data: ReportData) -> Table:
    d, prev = data.decisions.figures.total, data.decisions.previous
    comp = data.compliance
    rows: list[tuple[float | None, float | None, str]] = [
        (d.total, prev.total, "Besluiten over het gebruik van gegevens"),
        (d.deny, prev.deny, "Daarvan geweigerd"),
        (d.break_glass, prev.break_glass, "Noodtoegang gebruikt"),
        (data.logs.figures.total, data.logs.previous_total, "Verwerkingen in het logboek"),
        (comp.score, comp.previous_score, "Nalevingsscore (van 100)"),
        (data.signals.filed.total, data.signals.previous_total, "Signalen ingediend"),
        (len(data.breaches.rows), data.breaches.previous_total, "Datalekken ontdekt"),
    ]
    return Table(
        caption=f"Belangrijkste cijfers: {data.period.title} en de periode ervoor",
        headers=("Cijfer", _cap(data.period.title), _cap(data.previous.title), "Verschil"),
        rows=[
            (
                label,
                "–" if current is None else number_nl(round(current, 1)),
                "–" if previous is None else number_nl(round(previous, 1)),
                _difference(current, previous),
            )
            for current, previous, label in rows
        ],
    )


def _denial_label(data: ReportData, denial: fig.Denial) -> str:
    """A deny rule by its title ("Dossiers alleen in kantoortijd"); any other reason in words,
    with the rule it concerns when there is one."""
    if denial.rule is None:
        return denial.title
    if denial.reason == DENY_RULE:
        return data.rule_title(denial.rule)
    return f"{denial.title}: {data.rule_title(denial.rule)}"


def _decisions(data: ReportData) -> ReportSection:
    figures = data.decisions.figures
    period = figures.period
    long, short = bucket_labels(period)
    unit = "Dag" if period.granularity == "day" else "Week"
    over_time = charts.stacked_bar_chart(
        long,
        [
            Series("Toegestaan", [t.permit - t.break_glass for t in figures.by_bucket]),
            Series("Noodtoegang", [t.break_glass for t in figures.by_bucket]),
            Series("Geweigerd", [t.deny for t in figures.by_bucket]),
        ],
        chart_id="grafiek-besluiten",
        title=f"Besluiten per {unit.lower()}: toegestaan, noodtoegang en geweigerd",
        category_header=unit,
        category_labels=short,
    )
    by_activity = sorted(figures.by_activity.items(), key=lambda i: (-i[1].total, i[0]))
    activity_chart = charts.bar_chart(
        [data.activity_name(k) for k, _ in by_activity[:TOP]],
        [t.total for _, t in by_activity[:TOP]],
        chart_id="grafiek-besluiten-verwerking",
        title=f"Verwerkingen met de meeste besluiten (hoogste {TOP})",
        label_header="Verwerking",
        value_header="Besluiten",
    )
    activity_table = Table(
        caption="Besluiten per verwerking (alle verwerkingen)",
        headers=("Verwerking", "Besluiten", "Toegestaan", "Geweigerd", "Deel geweigerd"),
        rows=[
            (
                data.activity_name(k),
                number_nl(t.total),
                number_nl(t.permit),
                number_nl(t.deny),
                _pct(t.deny, t.total),
            )
            for k, t in by_activity
        ],
    )
    denials = figures.denials
    denial_labels = [_denial_label(data, d) for d in denials[:TOP]]
    denial_chart = charts.bar_chart(
        denial_labels,
        [d.count for d in denials[:TOP]],
        chart_id="grafiek-weigeringen",
        title=f"Meest voorkomende redenen van weigering (hoogste {TOP})",
        label_header="Regel of reden",
        value_header="Weigeringen",
    )
    total = figures.total
    intro = [
        f"Er zijn {number_nl(total.total)} besluiten genomen: {number_nl(total.permit)} keer "
        f"toegestaan en {number_nl(total.deny)} keer geweigerd ({_pct(total.deny, total.total)})."
        if total.total
        else "In deze periode zijn geen besluiten genomen.",
        "Een weigering betekent niet dat er iets mis ging: de spelregels houden dan tegen wat "
        "niet mag. Veel weigeringen bij één regel kunnen wel betekenen dat de regel het werk "
        "in de weg zit; daarvoor zijn de signalen (verderop).",
    ]
    glass = data.decisions.break_glass
    glass_table = Table(
        caption="Noodtoegang en de beoordeling achteraf",
        headers=("Wat", "Aantal"),
        rows=[
            ("Besluiten met noodtoegang", number_nl(glass.total)),
            ("Beoordeeld: terecht", number_nl(glass.justified)),
            ("Beoordeeld: niet terecht", number_nl(glass.unjustified)),
            ("Nog niet beoordeeld", number_nl(glass.unreviewed)),
        ],
    )
    break_glass = ReportSection(
        id="noodtoegang",
        title="Noodtoegang",
        intro=[
            "Soms mag een medewerker in een noodsituatie een regel opzij zetten, met een "
            "schriftelijke reden. Elk van die besluiten wordt achteraf beoordeeld.",
            f"In deze periode gebeurde dat {number_nl(glass.total)} keer; "
            f"{number_nl(glass.reviewed)} keer is het al beoordeeld.",
        ],
        blocks=[Block(glass_table)],
        source=data.sources["break_glass"],
    )
    return ReportSection(
        id="besluiten",
        title="Besluiten over het gebruik van gegevens",
        intro=intro,
        blocks=[
            Block(over_time.table, over_time),
            Block(activity_table, activity_chart),
            Block(denial_chart.table, denial_chart),
        ],
        source=data.sources["decisions"],
        subsections=[break_glass],
    )


def _logs(data: ReportData) -> ReportSection:
    logs = data.logs.figures
    period = data.decisions.figures.period
    long, short = bucket_labels(period)
    unit = "Dag" if period.granularity == "day" else "Week"
    over_time = charts.stacked_bar_chart(
        long,
        [Series("Verwerkingen", logs.by_bucket)],
        chart_id="grafiek-logboek",
        title=f"Verwerkingen in het logboek per {unit.lower()}",
        category_header=unit,
        category_labels=short,
    )
    by_activity = fig.top(logs.by_activity, len(logs.by_activity))
    activity_chart = charts.bar_chart(
        [data.activity_name(k) for k, _ in by_activity[:TOP]],
        [n for _, n in by_activity[:TOP]],
        chart_id="grafiek-logboek-verwerking",
        title=f"Verwerkingen in het logboek per doel (hoogste {TOP})",
        label_header="Verwerking",
        value_header="Verwerkingen",
    )
    all_activities = Table(
        caption="Verwerkingen in het logboek per doel (alle verwerkingen)",
        headers=("Verwerking", "Verwerkingen", "Deel van alle verwerkingen"),
        rows=[(data.activity_name(k), number_nl(n), _pct(n, logs.total)) for k, n in by_activity],
    )
    # One series: its "Totaal" column would only repeat it.
    single = Table(
        over_time.table.caption,
        over_time.table.headers[:2],
        [row[:2] for row in over_time.table.rows],
    )
    blocks = [Block(single, over_time), Block(all_activities, activity_chart)]
    unregistered = logs.by_activity.get(fig.NOT_REGISTERED, 0)
    intro = [
        f"In het logboek staan {number_nl(logs.total)} verwerkingen van persoonsgegevens in "
        "deze periode. Bij elke verwerking staat voor welk doel (welke verwerking uit het "
        "register) het gebeurde.",
    ]
    if unregistered:
        intro.append(
            f"Bij {number_nl(unregistered)} verwerkingen staat een doel dat niet in het register "
            "staat. Dat hoort niet: zie ook de controles bij Naleving."
        )
    retention = data.logs.retention
    runs = sorted(retention.runs, key=lambda r: r.ran_at)
    late = retention.lateness_max_ms
    retention_table = Table(
        caption="Opruimrondes van het logboek",
        headers=("Opruimronde", "Regels verwijderd", "Hoogstens te laat"),
        rows=[
            (
                fmt.datetime_nl(run.ran_at),
                number_nl(run.removed),
                _duration(run.lateness_max_ms),
            )
            for run in runs
        ],
    )
    retention_section = ReportSection(
        id="bewaartermijnen",
        title="Bewaartermijnen",
        intro=[
            "Gegevens mogen niet langer bewaard worden dan de bewaartermijn in het register. "
            "Glazen Stad ruimt het logboek daarom regelmatig op.",
            f"In deze periode zijn {number_nl(retention.removed)} regels verwijderd in "
            f"{number_nl(len(runs))} opruimrondes."
            + (
                f" De grootste vertraging na het einde van een termijn was {_duration(late)}."
                if late
                else ""
            ),
        ],
        blocks=[Block(retention_table)] if runs else [],
        source=data.sources["retention"],
    )
    return ReportSection(
        id="logboek",
        title="Verwerkingen in het logboek",
        intro=intro,
        blocks=blocks,
        source=data.sources["logbook"],
        subsections=[retention_section],
    )


def _duration(ms: int | None) -> str:
    if ms is None:
        return "–"
    hours = ms / 3_600_000
    if hours < 1:
        return f"{max(round(ms / 60_000), 0)} minuten"
    if hours < 48:
        return f"{number_nl(round(hours, 1))} uur"
    return f"{number_nl(round(hours / 24, 1))} dagen"


def _compliance(data: ReportData) -> ReportSection:
    comp = data.compliance
    blocks: list[Block] = []
    intro: list[str] = []
    if comp.report is None:
        intro.append(
            "De naleving kon niet worden gemeten: de organisatie stond op "
            f"{fmt.datetime_nl(comp.measured_at)} nog niet in het register."
        )
    else:
        report = comp.report
        intro.append(
            f"De nalevingsscore is {number_nl(round(report.overall_score, 1))} van de 100, "
            f"gemeten op {fmt.datetime_nl(comp.measured_at)}."
        )
        intro.append(
            "De score is geen zelfbeoordeling: Glazen Stad kijkt naar wat er echt gebeurde. "
            "Elke verwerking begint met 100 punten. Voor elke controle die niet goed gaat, gaan "
            "er punten af. De score van de gemeente is het gemiddelde van de verwerkingen, min "
            "de punten voor controles over de gemeente als geheel."
        )
        failed_first = sorted(report.checks, key=lambda r: (r.status != "fail", r.check.code))
        blocks.append(
            Block(
                Table(
                    caption="Uitkomst van elke controle",
                    headers=("Controle", "Uitkomst", "Gevonden", "Toelichting"),
                    rows=[
                        (
                            f"{r.check.code} {r.check.title}",
                            STATUS_LABELS.get(r.status, r.status),
                            number_nl(r.count),
                            r.summary,
                        )
                        for r in failed_first
                    ],
                )
            )
        )
        lowest = sorted(report.activities, key=lambda a: (a.score, a.name.casefold()))
        if lowest:
            blocks.append(
                Block(
                    Table(
                        caption="Score per verwerking (laagste eerst)",
                        headers=("Verwerking", "Score", "Controles niet goed"),
                        rows=[
                            (
                                a.name,
                                number_nl(round(a.score, 1)),
                                ", ".join(a.failed) or "–",
                            )
                            for a in lowest
                        ],
                    )
                )
            )
    history = comp.history
    if history:
        by_day: dict[date, float] = {}
        for snapshot in history:
            by_day[_local(snapshot.measured_at).date()] = snapshot.overall_score
        days = sorted(by_day)
        trend = charts.line_chart(
            [fmt.date_nl(d) for d in days],
            [Series("Nalevingsscore", [round(by_day[d], 1) for d in days])],
            chart_id="grafiek-naleving",
            title="Verloop van de nalevingsscore (laatste meting van elke dag)",
            category_header="Dag",
            category_labels=[_short(d) for d in days],
        )
        blocks.append(Block(trend.table, trend))
        first, last = history[0], history[-1]
        intro.append(
            f"In deze periode is de naleving {len(history)} keer gemeten en bewaard. De score "
            f"ging van {number_nl(round(first.overall_score, 1))} naar "
            f"{number_nl(round(last.overall_score, 1))}."
        )
    else:
        intro.append(
            "In deze periode is geen meting van de naleving bewaard, dus er is geen verloop."
        )
    if comp.before is not None:
        intro.append(
            "De laatste bewaarde meting voor deze periode gaf "
            f"{number_nl(round(comp.before.overall_score, 1))}."
        )
    weights = Table(
        caption=f"Hoe zwaar elke controle weegt (weging versie {comp.weighting_version})",
        headers=("Controle", "Over", "Punten eraf"),
        rows=[
            (
                f"{c.code} {c.title}",
                "een verwerking" if c.scope == "activity" else "de gemeente",
                number_nl(c.weight),
            )
            for c in comp.checks
        ],
    )
    blocks.append(Block(weights))
    return ReportSection(
        id="naleving",
        title="Naleving",
        intro=intro,
        blocks=blocks,
        source=data.sources["compliance"],
    )


def _signals(data: ReportData) -> ReportSection:
    sig = data.signals
    states = workflow.STATES
    state_chart = charts.bar_chart(
        [workflow.LABELS[s] for s in states],
        [sig.filed.by_state.get(s, 0) for s in states],
        chart_id="grafiek-signalen",
        title="Signalen uit deze periode, naar hoe ze er nu voor staan",
        label_header="Stand",
        value_header="Signalen",
    )
    per_rule = Table(
        caption="Signalen per regel",
        headers=("Regel", "Eigenaar", "Signalen", "Nog open", "Afgehandeld"),
        rows=[
            (
                r.rule_title,
                r.owner,
                number_nl(r.total),
                number_nl(r.open),
                number_nl(r.total - r.open),
            )
            for r in sig.filed.by_rule
        ],
    )
    handled = Table(
        caption="Wat er met de afgehandelde signalen is gedaan",
        headers=("Regel", "Uitkomst", "Signalen", "Antwoord van de eigenaar van de regel"),
        rows=[
            (
                h.rule_title,
                h.outcome,
                number_nl(h.count),
                list(h.responses) if h.responses else "–",
            )
            for h in sig.handled
        ],
    )
    by_state = sig.handled_by_state()
    intro = [
        "Loopt een medewerker vast op een regel, dan kan de medewerker een signaal geven: "
        "deze regel blokkeert mijn werk, omdat … De eigenaar van de regel bekijkt het signaal "
        "en past de regel aan, legt uit waarom de regel blijft, of wijst het signaal af.",
        f"In deze periode kwamen {number_nl(sig.filed.total)} signalen binnen. "
        f"{number_nl(sig.handled_total)} signalen zijn in deze periode afgehandeld: "
        f"{number_nl(by_state.get(workflow.RULE_CHANGED, 0))} keer is de regel aangepast, "
        f"{number_nl(by_state.get(workflow.EXPLAINED, 0))} keer uitgelegd en "
        f"{number_nl(by_state.get(workflow.REJECTED, 0))} keer afgewezen. Nu staan er nog "
        f"{number_nl(sig.open_now)} signalen open.",
    ]
    if sig.responses_left_out:
        intro.append(
            f"{number_nl(sig.responses_left_out)} antwoorden staan hier niet, omdat er mogelijk "
            "persoonsgegevens in staan."
        )
    blocks = [Block(state_chart.table, state_chart)]
    if sig.filed.by_rule:
        blocks.append(Block(per_rule))
    if sig.handled:
        blocks.append(Block(handled))
    return ReportSection(
        id="signalen",
        title="Signalen uit de uitvoering",
        intro=intro,
        blocks=blocks,
        source=data.sources["signals"],
    )


def _breaches(data: ReportData) -> ReportSection:
    rows = data.breaches.rows
    table = Table(
        caption="Datalekken die in deze periode zijn ontdekt",
        headers=(
            "Datalek",
            "Ontdekt",
            "Geschat aantal betrokkenen",
            "Melding bij de Autoriteit Persoonsgegevens",
            "Betrokkenen ingelicht",
            "Stand",
        ),
        rows=[
            (
                r.title,
                fmt.datetime_nl(r.discovered_at),
                "onbekend" if r.estimated_subjects is None else number_nl(r.estimated_subjects),
                r.authority,
                r.residents,
                r.status,
            )
            for r in rows
        ],
    )
    intro = [
        "Een datalek is een inbreuk op de beveiliging van persoonsgegevens. De gemeente moet "
        "een datalek binnen 72 uur na ontdekking melden bij de Autoriteit Persoonsgegevens, "
        "tenzij het geen risico geeft voor de mensen om wie het gaat.",
    ]
    if rows:
        late = data.breaches.late
        intro.append(
            f"In deze periode {'is' if len(rows) == 1 else 'zijn'} {number_nl(len(rows))} "
            f"{'datalek' if len(rows) == 1 else 'datalekken'} ontdekt. "
            + (
                f"Bij {number_nl(late)} is niet binnen 72 uur over de melding besloten."
                if late
                else "Over elke melding is op tijd besloten, of de termijn loopt nog."
            )
        )
    else:
        intro.append("In deze periode is geen datalek ontdekt.")
    return ReportSection(
        id="datalekken",
        title="Datalekken",
        intro=intro,
        blocks=[Block(table)] if rows else [],
        source=data.sources["breaches"],
    )


def _register(data: ReportData) -> ReportSection:
    blocks: list[Block] = []
    for kind in REPORTED_KINDS:
        changes = [c for c in data.register_changes if c.kind == kind]
        if not changes:
            continue
        blocks.append(
            Block(
                Table(
                    caption=f"{KIND_LABELS[kind]}: wat is er veranderd",
                    headers=("Naam", "Verandering", "Wanneer", "Wat veranderde"),
                    rows=[
                        (
                            c.name,
                            c.label,
                            fmt.date_nl(_local(c.changed_at)),
                            ", ".join(c.fields) if c.fields else "–",
                        )
                        for c in changes
                    ],
                )
            )
        )
    count = len(data.register_changes)
    intro = [
        "Het register zegt welke persoonsgegevens de gemeente gebruikt, waarvoor, en op grond "
        "van welke wet. Ook de algoritmes en de sensoren in de openbare ruimte staan erin.",
        f"In deze periode {'is' if count == 1 else 'zijn'} {number_nl(count)} "
        f"{'onderdeel' if count == 1 else 'onderdelen'} van het register veranderd."
        if count
        else "In deze periode is het register niet veranderd.",
    ]
    policy_rows: list[tuple[Value, ...]] = []
    for a in data.policy_changes:
        what: list[str] = []
        if a.rules_added:
            what.append("nieuw: " + ", ".join(a.rules_added))
        if a.rules_changed:
            what.append("gewijzigd: " + ", ".join(a.rules_changed))
        if a.rules_removed:
            what.append("vervallen: " + ", ".join(a.rules_removed))
        policy_rows.append(
            (
                a.title,
                fmt.datetime_nl(a.activated_at),
                a.note or "–",
                "; ".join(what) if what else ("eerste versie" if a.replaced is None else "–"),
                a.content_hash[:12],
            )
        )
    policies = ReportSection(
        id="spelregels",
        title="Spelregels",
        intro=[
            "De spelregels zeggen wie welke gegevens mag gebruiken, voor welk doel. Een nieuwe "
            "versie geldt vanaf het moment dat die is vastgesteld.",
            f"In deze periode {'is' if len(policy_rows) == 1 else 'zijn'} "
            f"{number_nl(len(policy_rows))} "
            f"{'versie' if len(policy_rows) == 1 else 'versies'} vastgesteld."
            if policy_rows
            else "In deze periode zijn de spelregels niet veranderd.",
        ],
        blocks=[
            Block(
                Table(
                    caption="Vastgestelde versies van de spelregels",
                    headers=("Spelregels", "Vastgesteld", "Toelichting", "Regels", "Versie"),
                    rows=policy_rows,
                )
            )
        ]
        if policy_rows
        else [],
        source=data.sources["policy"],
    )
    return ReportSection(
        id="register",
        title="Veranderingen in het register",
        intro=intro,
        blocks=blocks,
        source=data.sources["register"],
        subsections=[policies],
    )


def sections(data: ReportData) -> list[ReportSection]:
    return [
        _decisions(data),
        _logs(data),
        _compliance(data),
        _signals(data),
        _breaches(data),
        _register(data),
    ]


def document_title(data: ReportData) -> str:
    return f"Verantwoording gegevensverwerking {data.organisation_name}, {data.period.title}"


def context(data: ReportData) -> dict[str, Any]:
    return {
        "data": data,
        "title": document_title(data),
        "period_title": _cap(data.period.title),
        "generated": fmt.datetime_nl(data.generated_at),
        "key_figures": key_figures(data),
        "sections": sections(data),
    }


def render_report(data: ReportData) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    template = _environment().get_template("report.html")
    return template.render(css=Markup(report_css()), **context(data))


# --- making a report for the web layer and the command line -----------------------------------


def file_name(data: ReportData, extension: str) -> str:
    """verantwoording-voorbeeldstad-2026-Q3.pdf"""
    return f"verantwoording-{data.organisation_id}-{data.period.key}.{extension}"


def make_report(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    period: ReportPeriod,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReportData:
    """The report's data, refusing a period that has not begun (PeriodError)."""
    moment = now or utcnow()
    check_started(period, moment)
    return build_report(
        engine, register_store, organisation_id, period, now=moment, progress=progress
    )
