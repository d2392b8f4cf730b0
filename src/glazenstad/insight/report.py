"""The council report ("verantwoording gegevensverwerking"): every figure of one period, gathered.

A council report is read by people who cannot query the database, so every number in it must
be one they can trust and trace: each section says where its figures come from, every day is a
Dutch calendar day, and the report names the moment it was made (figures of a period that is
not over yet still grow). Nothing is computed here that another module already computes: the
decision and logbook figures come from `insight.figures`, compliance from `insight.compliance`,
signals from `insight.signals`, breaches and break-the-glass reviews from `insight.incidents`,
and register and policy changes from `insight.report_changes`. This module asks each of them
for the period (and, for the trends, for the period before), and writes the short summary the
report opens with.

No personal data goes into a report: decisions and log records are counted, never listed;
signals are counted per rule and per outcome, and only the owners' responses are quoted (never
what the person who filed it wrote, nor who it was), and a response that holds a personal
identifier is left out.

Rendering (HTML with charts, PDF) is the web layer's job; this module imports no web code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from sqlalchemy import Engine

from glazenstad import __version__
from glazenstad.db.base import utcnow
from glazenstad.insight import figures as fig
from glazenstad.insight.compliance.checks import CHECKS, WEIGHTING_VERSION, ComplianceCheck
from glazenstad.insight.compliance.history import Snapshot, score_history
from glazenstad.insight.compliance.model import ComplianceReport
from glazenstad.insight.compliance.registerview import register_as_of
from glazenstad.insight.compliance.run import OrganisationNotFound, run_checks
from glazenstad.insight.compliance.wording import int_nl, number_nl
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents.reviews import BreakGlassSummary, unreviewed_break_glass
from glazenstad.insight.report_changes import (
    PolicyActivation,
    RegisterChange,
    policy_activations,
    register_changes,
)
from glazenstad.insight.report_period import ReportPeriod
from glazenstad.insight.signals import workflow
from glazenstad.insight.signals.content import personal_data_problem
from glazenstad.insight.signals.figures import (
    SignalCounts,
    closed_signals,
    open_signal_count,
    signal_counts,
)
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.effective import purpose_binding_rules
from glazenstad.rules.store import PolicyStore

ZONE_TEXT: Final = "Nederlandse tijd (Europe/Amsterdam)"
MAX_RESPONSES_PER_RULE: Final = 3
MAX_RESPONSE_CHARS: Final = 600

STEPS: Final = (
    "Besluiten",
    "Logboek en bewaartermijnen",
    "Naleving",
    "Signalen",
    "Datalekken",
    "Register en spelregels",
)
"""The steps `build_report` reports progress for, in order (for a progress display)."""

SOURCES: Final[dict[str, str]] = {
    "decisions": (
        "Het beslissingenlog van Glazen Stad. Elke keer dat een medewerker, een applicatie of "
        "een systeem persoonsgegevens wil gebruiken, beslissen de spelregels of dat mag. Elk "
        "besluit wordt op dat moment vastgelegd, ook als het geweigerd is. Geteld per dag in "
        "Nederlandse tijd, op het moment van het besluit."
    ),
    "break_glass": (
        "Het beslissingenlog (besluiten met noodtoegang) en de beoordelingen die daarna in "
        "Glazen Stad zijn vastgelegd, zoals die er nu staan."
    ),
    "logbook": (
        "Het logboek dataverwerkingen van Glazen Stad (volgens de standaard Logboek "
        "Dataverwerkingen). Elke verwerking van persoonsgegevens staat erin, met het doel uit "
        "het register. Geteld op het moment dat de verwerking begon."
    ),
    "retention": (
        "De verwijderbewijzen van het logboek: bij elke opruimronde legt Glazen Stad vast "
        "hoeveel regels zijn verwijderd en hoe lang na het einde van de bewaartermijn."
    ),
    "compliance": (
        "De controles van Glazen Stad op wat er echt gebeurde: logboek, bewaartermijnen, "
        "register, noodtoegang en datalekken. Het verloop komt uit de metingen die in de "
        "periode zijn bewaard."
    ),
    "signals": (
        "De signalen die medewerkers in Glazen Stad indienden, en de antwoorden van de "
        "eigenaren van de regels. Het verslag noemt geen namen en geen teksten van de "
        "indieners, alleen aantallen en de antwoorden."
    ),
    "breaches": (
        "Het overzicht van datalekken in Glazen Stad: wanneer het lek is ontdekt, en of en "
        "wanneer het is gemeld bij de Autoriteit Persoonsgegevens (binnen 72 uur na ontdekking)."
    ),
    "register": (
        "Het register van verwerkingen, algoritmes en sensoren in Glazen Stad. Van elke "
        "verwerking, elk algoritme en elke sensor wordt elke versie bewaard, met het moment "
        "waarop die is vastgelegd. Vergeleken is het register aan het begin en aan het einde "
        "van de periode."
    ),
    "policy": (
        "De versies van de spelregels in Glazen Stad, met wanneer en door wie ze zijn vastgesteld."
    ),
}
"""Where each section's figures come from, in plain Dutch (printed under the section)."""


class UnknownOrganisation(LookupError):
    """The organisation is not in the register."""


# --- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionSection:
    figures: fig.DecisionFigures
    previous: fig.Tally
    break_glass: BreakGlassSummary


@dataclass(frozen=True)
class LogSection:
    figures: fig.LogFigures
    previous_total: int
    retention: fig.RetentionFigures


@dataclass(frozen=True)
class ComplianceSection:
    report: ComplianceReport | None
    """The checks at the end of the period (or now, when the period is not over); None when the
    organisation was not in the register yet at that moment."""
    measured_at: datetime
    history: tuple[Snapshot, ...]
    """Stored measurements within the period, oldest first."""
    before: Snapshot | None
    """The last stored measurement before the period (for the trend)."""
    checks: tuple[ComplianceCheck, ...]
    weighting_version: str

    @property
    def score(self) -> float | None:
        return self.report.overall_score if self.report else None

    @property
    def previous_score(self) -> float | None:
        return self.before.overall_score if self.before else None


@dataclass(frozen=True)
class HandledSignals:
    """Signals of one rule closed within the period with one outcome, and the owners' answers."""

    rule_title: str
    owner: str
    state: str
    count: int
    responses: tuple[str, ...]

    @property
    def outcome(self) -> str:
        return workflow.LABELS.get(self.state, self.state)


@dataclass(frozen=True)
class SignalSection:
    filed: SignalCounts
    """Filed within the period, by the state they are in now."""
    previous_total: int
    handled: tuple[HandledSignals, ...]
    """Closed within the period (whenever filed), per rule and outcome."""
    open_now: int
    """Signals of the organisation that are still open at the moment of the report."""
    responses_left_out: int
    """Responses not quoted because they hold a personal identifier."""

    @property
    def handled_total(self) -> int:
        return sum(h.count for h in self.handled)

    def handled_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(workflow.FINAL_STATES, 0)
        for h in self.handled:
            counts[h.state] = counts.get(h.state, 0) + h.count
        return counts


@dataclass(frozen=True)
class BreachRow:
    title: str
    discovered_at: datetime
    estimated_subjects: int | None
    status: str
    authority: str
    """What happened with the notification to the Autoriteit Persoonsgegevens, in words."""
    in_time: bool | None
    """Settled within 72 hours (None: not settled and the deadline has not passed)."""
    residents: str
    activities: tuple[str, ...]


BREACH_STATUS_LABELS: Final[dict[str, str]] = {
    br.OPEN: "Open",
    br.NOTIFIED: "Gemeld",
    br.NOT_NOTIFIABLE: "Niet meldplichtig",
    br.CLOSED: "Afgesloten",
}


@dataclass(frozen=True)
class BreachSection:
    rows: tuple[BreachRow, ...]
    counts: br.BreachCounts
    previous_total: int

    @property
    def late(self) -> int:
        return sum(1 for r in self.rows if r.in_time is False)


@dataclass(frozen=True)
class ReportData:
    organisation_id: str
    organisation_name: str
    period: ReportPeriod
    previous: ReportPeriod
    generated_at: datetime
    software_version: str
    activity_names: dict[str, str]
    """Register activity id → name (the register at the end of the period, else the current)."""
    decisions: DecisionSection
    logs: LogSection
    compliance: ComplianceSection
    signals: SignalSection
    breaches: BreachSection
    register_changes: tuple[RegisterChange, ...]
    policy_changes: tuple[PolicyActivation, ...]
    rule_titles: dict[str, str] = field(default_factory=dict)
    """Rule id → title (the newest version of the rules that has it, and purpose binding)."""
    summary: tuple[str, ...] = field(default=())
    sources: dict[str, str] = field(default_factory=lambda: dict(SOURCES))

    @property
    def complete(self) -> bool:
        """Whether the period was over when the report was made."""
        return self.period.complete_at(self.generated_at)

    def activity_name(self, key: str) -> str:
        if not key:
            return "Niet in het register"
        return self.activity_names.get(key, key)

    def rule_title(self, rule_id: str) -> str:
        return self.rule_titles.get(rule_id, rule_id)


# --- gathering --------------------------------------------------------------------------------


def build_report(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    period: ReportPeriod,
    *,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReportData:
    """Gather the report of `organisation_id` over `period`, as known at `now`.

    `progress` is called with the name of each step (see `STEPS`) before it starts.
    """
    moment = now or utcnow()
    current = register_store.snapshot().organisation(organisation_id)
    if current is None:
        raise UnknownOrganisation(f"organisation '{organisation_id}' is not in the register")
    measured_at = min(period.end, moment)
    register = register_as_of(engine, register_store, organisation_id, measured_at) or current
    activities = fig.ActivityIndex.of(register)
    names = {**_names(current), **_names(register)}
    previous = period.previous()
    figures_period = period.figures_period

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step(STEPS[0])
    groups = fig.decision_groups(engine, organisation_id, figures_period)
    decisions = DecisionSection(
        figures=fig.decision_figures(groups, figures_period, activities),
        previous=fig.decision_totals(engine, organisation_id, previous.figures_period),
        break_glass=unreviewed_break_glass(
            engine, organisation_id, period.start, period.end, examples=0
        ),
    )

    step(STEPS[1])
    logs = LogSection(
        figures=fig.log_figures(
            fig.log_groups(engine, organisation_id, figures_period), figures_period, activities
        ),
        previous_total=sum(
            fig.log_totals(engine, organisation_id, previous.figures_period).values()
        ),
        retention=fig.retention_figures(engine, organisation_id, figures_period, activities),
    )

    step(STEPS[2])
    compliance = _compliance(engine, register_store, organisation_id, period, measured_at)

    step(STEPS[3])
    signals = _signals(engine, organisation_id, period, previous)

    step(STEPS[4])
    breaches = _breaches(engine, organisation_id, period, previous, moment, names)

    step(STEPS[5])
    changes = tuple(register_changes(engine, organisation_id, period.start, period.end))
    policies = tuple(policy_activations(engine, organisation_id, period.start, period.end))

    data = ReportData(
        organisation_id=organisation_id,
        organisation_name=register.org.name,
        period=period,
        previous=previous,
        generated_at=moment,
        software_version=__version__,
        activity_names=names,
        decisions=decisions,
        logs=logs,
        compliance=compliance,
        signals=signals,
        breaches=breaches,
        register_changes=changes,
        policy_changes=policies,
        rule_titles=rule_titles(engine, organisation_id, register),
    )
    return replace(data, summary=tuple(summary(data)))


def rule_titles(
    engine: Engine, organisation_id: str, register: OrganisationRegister
) -> dict[str, str]:
    """Every rule id the organisation's policy versions have used, with its newest title, and
    the purpose-binding rules the register implies ("Doelbinding: ...")."""
    titles: dict[str, str] = {}
    versions = PolicyStore(engine).versions(organisation_id)
    for version in versions:  # oldest first, so the newest title wins
        for rule in purpose_binding_rules(version.policy, register):
            titles[rule.id] = rule.title
        for explicit in version.policy.rules:
            titles[explicit.id] = explicit.title
    return titles


def _names(register: OrganisationRegister) -> dict[str, str]:
    return {s.entry_id: s.entry.name for s in register.entries(KIND_ACTIVITY)}


def _compliance(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    period: ReportPeriod,
    measured_at: datetime,
) -> ComplianceSection:
    try:
        report: ComplianceReport | None = run_checks(
            engine, register_store, organisation_id, measured_at
        )
    except OrganisationNotFound:
        report = None
    history = score_history(engine, organisation_id, since=period.start, until=period.end)
    before = score_history(engine, organisation_id, until=period.start, limit=1)
    return ComplianceSection(
        report=report,
        measured_at=measured_at,
        history=tuple(history),
        before=before[-1] if before else None,
        checks=tuple(sorted(CHECKS.values(), key=lambda c: c.code)),
        weighting_version=WEIGHTING_VERSION,
    )


def _signals(
    engine: Engine, organisation_id: str, period: ReportPeriod, previous: ReportPeriod
) -> SignalSection:
    filed = signal_counts(engine, organisation_id, period.start, period.end)
    earlier = signal_counts(engine, organisation_id, previous.start, previous.end)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    responses: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    left_out = 0
    for row in closed_signals(engine, organisation_id, period.start, period.end):
        key = (row.rule_title, row.owner, row.state)
        counts[key] += 1
        if row.response is None or not row.response.strip():
            continue
        text = quotable(row.response)
        if text is None:
            left_out += 1
            continue
        if text not in responses[key] and len(responses[key]) < MAX_RESPONSES_PER_RULE:
            responses[key].append(text)
    order = {state: n for n, state in enumerate(workflow.FINAL_STATES)}
    handled = sorted(
        (
            HandledSignals(title, owner, state, count, tuple(responses[(title, owner, state)]))
            for (title, owner, state), count in counts.items()
        ),
        key=lambda h: (-h.count, h.rule_title.casefold(), order.get(h.state, 9)),
    )
    return SignalSection(
        filed=filed,
        previous_total=earlier.total,
        handled=tuple(handled),
        open_now=open_signal_count(engine, organisation_id),
        responses_left_out=left_out,
    )


def quotable(response: str) -> str | None:
    """An owner's answer as the report may quote it: None when it holds a personal identifier
    (answers are checked when written, but older ones or imports may not have been), and cut
    at MAX_RESPONSE_CHARS."""
    text = " ".join(response.split())
    if personal_data_problem(text) is not None:
        return None
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[: MAX_RESPONSE_CHARS - 1].rstrip() + "…"
    return text


def _breaches(
    engine: Engine,
    organisation_id: str,
    period: ReportPeriod,
    previous: ReportPeriod,
    now: datetime,
    names: dict[str, str],
) -> BreachSection:
    found = [
        b
        for b in br.list_breaches(engine, organisation_id)
        if period.start <= b.discovered_at < period.end
    ]
    found.sort(key=lambda b: (b.discovered_at, b.id))
    counts = br.breach_counts(
        engine, organisation_id, now=now, since=period.start, until=period.end
    )
    earlier = br.breach_counts(
        engine, organisation_id, now=now, since=previous.start, until=previous.end
    )
    return BreachSection(
        rows=tuple(_breach_row(b, now, names) for b in found),
        counts=counts,
        previous_total=earlier.total,
    )


def _breach_row(breach: br.Breach, now: datetime, names: dict[str, str]) -> BreachRow:
    settled = breach.authority_settled_at
    in_time: bool | None
    if settled is not None:
        in_time = settled <= breach.deadline
    elif now > breach.deadline:
        in_time = False
    else:
        in_time = None
    if breach.authority_notify and breach.authority_notified_at is not None:
        authority = "Gemeld" + (" binnen 72 uur" if in_time else ", na meer dan 72 uur")
    elif breach.authority_notify is False and breach.status != br.OPEN:
        authority = "Niet gemeld: niet nodig" + (
            "" if in_time else " (besloten na meer dan 72 uur)"
        )
    elif in_time is False:
        authority = "Nog niet gemeld; de termijn van 72 uur is voorbij"
    else:
        authority = "Nog niet gemeld; de termijn van 72 uur loopt nog"
    if breach.residents_notify is None:
        residents = "Nog niet besloten"
    elif breach.residents_notify:
        residents = "Ja" if breach.residents_notified_at else "Ja, nog niet gedaan"
    else:
        residents = "Nee"
    return BreachRow(
        title=breach.title,
        discovered_at=breach.discovered_at,
        estimated_subjects=breach.estimated_subjects,
        status=BREACH_STATUS_LABELS.get(breach.status, breach.status),
        authority=authority,
        in_time=in_time,
        residents=residents,
        activities=tuple(names.get(a, a) for a in breach.activities),
    )


# --- the summary ------------------------------------------------------------------------------


def _times(count: int) -> str:
    return f"{int_nl(count)} keer"


def counted(count: int, one: str, many: str) -> str:
    """ "1 datalek", "3 datalekken"."""
    return f"{int_nl(count)} {one if count == 1 else many}"


def _trend(current: float, previous: float, what: str) -> str:
    """ "Dat is meer dan in de periode ervoor (1.234)." in plain words."""
    if previous == current:
        return "Dat is evenveel als in de periode ervoor."
    word = "meer" if current > previous else "minder"
    return f"Dat is {word} dan in de periode ervoor ({number_nl(previous)} {what})."


def summary(data: ReportData) -> list[str]:
    """ "In het kort": a handful of sentences a council member reads first (B1 Dutch)."""
    lines: list[str] = []
    total = data.decisions.figures.total
    if total.total:
        lines.append(
            f"Medewerkers en systemen vroegen {_times(total.total)} of zij persoonsgegevens "
            f"mochten gebruiken. {_times(total.permit)} mocht het, {_times(total.deny)} niet "
            f"({fig.share_text(total.deny, total.total)} geweigerd). "
            + _trend(total.total, data.decisions.previous.total, "vragen")
        )
    else:
        lines.append(
            "In deze periode zijn geen besluiten over het gebruik van gegevens vastgelegd."
        )
    glass = data.decisions.break_glass
    if glass.total:
        lines.append(
            f"In een noodsituatie is {_times(glass.total)} een regel opzij gezet (noodtoegang). "
            f"{int_nl(glass.reviewed)} daarvan zijn achteraf beoordeeld; "
            f"{int_nl(glass.unreviewed)} wachten nog op een beoordeling."
        )
    logs = data.logs.figures.total
    lines.append(
        f"In het logboek staan {int_nl(logs)} verwerkingen van persoonsgegevens. "
        + _trend(logs, data.logs.previous_total, "verwerkingen")
    )
    compliance = data.compliance
    if compliance.report is not None:
        score = number_nl(compliance.report.overall_score)
        failed = len(compliance.report.failed)
        text = f"De nalevingsscore is {score} van de 100. " + (
            f"{failed} van de {len(compliance.report.measured)} controles gaan niet goed."
            if failed
            else "Alle gemeten controles gaan goed."
        )
        if compliance.before is not None:
            before = number_nl(compliance.before.overall_score)
            text += f" Bij de laatste meting voor deze periode was de score {before}."
        lines.append(text)
    signals = data.signals
    if signals.filed.total or signals.handled_total:
        handled = signals.handled_by_state()
        lines.append(
            f"Medewerkers dienden {counted(signals.filed.total, 'signaal', 'signalen')} in over "
            "een regel die hun werk blokkeert. "
            f"{counted(signals.handled_total, 'signaal is', 'signalen zijn')} afgehandeld; "
            f"bij {int_nl(handled.get(workflow.RULE_CHANGED, 0))} daarvan is de regel aangepast."
        )
    else:
        lines.append("Er zijn geen signalen over regels ingediend of afgehandeld.")
    breaches = data.breaches
    if breaches.rows:
        late = breaches.late
        lines.append(
            f"Er {'is' if len(breaches.rows) == 1 else 'zijn'} {int_nl(len(breaches.rows))} "
            f"{'datalek' if len(breaches.rows) == 1 else 'datalekken'} ontdekt. "
            + (
                f"Bij {int_nl(late)} is niet binnen 72 uur over de melding besloten."
                if late
                else "Over elke melding is binnen 72 uur besloten (of de termijn loopt nog)."
            )
        )
    else:
        lines.append("Er is geen datalek ontdekt.")
    changes = data.register_changes
    if changes or data.policy_changes:
        added = sum(1 for c in changes if c.change == "added")
        changed = sum(1 for c in changes if c.change == "changed")
        ended = sum(1 for c in changes if c.change in ("ended", "removed"))
        versions = len(data.policy_changes)
        lines.append(
            f"In het register: {counted(added, 'nieuw onderdeel', 'nieuwe onderdelen')}, "
            f"{counted(changed, 'gewijzigd onderdeel', 'gewijzigde onderdelen')} en "
            f"{counted(ended, 'onderdeel', 'onderdelen')} gestopt. Er "
            f"{'is' if versions == 1 else 'zijn'} "
            f"{counted(versions, 'nieuwe versie', 'nieuwe versies')} van de spelregels "
            "vastgesteld."
        )
    else:
        lines.append("Het register en de spelregels zijn niet veranderd.")
    return lines
