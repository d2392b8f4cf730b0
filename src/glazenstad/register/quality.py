"""Quality checks on the register: what a privacy officer must fix before the AP asks.

Each check has a stable code, a severity and a plain-Dutch explanation, so findings can be
counted over time, filtered, and read by someone who is not a lawyer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from glazenstad.register.model import (
    KIND_ACTIVITY,
    KIND_ALGORITHM,
    KIND_DATA_CATEGORY,
    KIND_SENSOR,
    Algorithm,
    ProcessingActivity,
    Sensor,
    html_tags,
)
from glazenstad.register.store import OrganisationRegister, RegisterSnapshot

Severity = Literal["fout", "waarschuwing", "info"]
SEVERITY_ORDER: dict[str, int] = {"fout": 0, "waarschuwing": 1, "info": 2}
ALLOWED_HTML = {"div", "br", "p", "ul", "ol", "li"}
RICH_TEXT_FIELDS = (
    "goal",
    "proportionality",
    "human_intervention",
    "risks",
    "lawful_basis",
    "impacttoetsen",
    "source_data",
    "methods_and_models",
    "tags",
)


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    kind: str
    title: str
    explanation: str


@dataclass(frozen=True)
class Finding:
    check: Check
    organisation_id: str
    entry_id: str
    entry_name: str
    detail: str

    @property
    def code(self) -> str:
        return self.check.code


CHECKS: dict[str, Check] = {}


def _check(code: str, severity: Severity, kind: str, title: str, explanation: str) -> Check:
    check = Check(code, severity, kind, title, explanation)
    CHECKS[code] = check
    return check


VA_DPIA_SPECIAL = _check(
    "VA001",
    "fout",
    KIND_ACTIVITY,
    "Bijzondere persoonsgegevens zonder uitgevoerde DPIA",
    "Deze verwerking gebruikt bijzondere of strafrechtelijke persoonsgegevens. Daarvoor is een "
    "gegevensbeschermingseffectbeoordeling (DPIA) nodig voordat de verwerking start.",
)
VA_RETENTION = _check(
    "VA002",
    "fout",
    KIND_ACTIVITY,
    "Bewaartermijn ontbreekt",
    "De AVG (artikel 30) vraagt om vast te leggen hoe lang gegevens worden bewaard. Zonder "
    "bewaartermijn kan de gemeente gegevens niet op tijd verwijderen.",
)
VA_LAW = _check(
    "VA003",
    "waarschuwing",
    KIND_ACTIVITY,
    "Grondslag zonder wetsverwijzing",
    "Bij een wettelijke verplichting of een taak van algemeen belang moet de taak in een wet "
    "staan (AVG artikel 6 lid 3). Noem de wet en het artikel.",
)
VA_DPIA_OPEN = _check(
    "VA004",
    "waarschuwing",
    KIND_ACTIVITY,
    "DPIA nodig maar niet gestart",
    "Er is vastgesteld dat een DPIA nodig is, maar die is nog niet gestart.",
)
VA_SPECIAL_GROUND = _check(
    "VA005",
    "fout",
    KIND_ACTIVITY,
    "Geen uitzonderingsgrond voor bijzondere persoonsgegevens",
    "Bijzondere persoonsgegevens mogen alleen worden verwerkt met een uitzondering uit AVG "
    "artikel 9 lid 2 of de Uitvoeringswet AVG. Die ontbreekt.",
)
VA_PROCESSOR = _check(
    "VA006",
    "waarschuwing",
    KIND_ACTIVITY,
    "Verwerker zonder verwerkersovereenkomst",
    "Een verwerker werkt in opdracht van de gemeente. Daarvoor is een verwerkersovereenkomst "
    "verplicht (AVG artikel 28).",
)
VA_BSN = _check(
    "VA007",
    "waarschuwing",
    KIND_ACTIVITY,
    "BSN zonder wettelijke grondslag",
    "Het burgerservicenummer mag alleen worden gebruikt als een wet dat toestaat (Wet algemene "
    "bepalingen burgerservicenummer, UAVG artikel 46). De grondslag is toestemming of "
    "gerechtvaardigd belang, of er is geen wet genoemd.",
)
VA_ROLES = _check(
    "VA008",
    "waarschuwing",
    KIND_ACTIVITY,
    "Geen rollen of afdelingen",
    "Zonder rollen en afdelingen is niet vast te stellen wie de gegevens mag gebruiken. "
    "Spelregels voor doelbinding kunnen dan niet worden afgeleid.",
)
AL_HUMAN = _check(
    "AL001",
    "waarschuwing",
    KIND_ALGORITHM,
    "Impactvol algoritme zonder beschrijving van menselijke tussenkomst",
    "Bij impactvolle en hoog-risico algoritmes moet staan hoe een mens de uitkomsten controleert "
    "en kan bijstellen.",
)
AL_IMPACT = _check(
    "AL002",
    "waarschuwing",
    KIND_ALGORITHM,
    "Impactvol algoritme zonder impacttoets",
    "Bij impactvolle en hoog-risico algoritmes hoort een impacttoets, zoals een DPIA of IAMA, of "
    "een toelichting waarom die niet nodig is.",
)
AL_END = _check(
    "AL003",
    "waarschuwing",
    KIND_ALGORITHM,
    "Algoritme buiten gebruik zonder einddatum",
    "Vermeld de maand waarin het algoritme buiten gebruik is genomen.",
)
AL_HTML = _check(
    "AL004",
    "fout",
    KIND_ALGORITHM,
    "Niet toegestane opmaak",
    "Het Algoritmeregister staat in tekstvelden alleen de HTML-elementen div, br, p, ul, ol en "
    "li toe.",
)
AL_ACTIVITY = _check(
    "AL005",
    "info",
    KIND_ALGORITHM,
    "Algoritme zonder gekoppelde verwerking",
    "Koppel het algoritme aan de verwerkingen waarvoor het wordt ingezet, zodat zichtbaar is "
    "welke gegevens het gebruikt.",
)
AL_INACTIVE = _check(
    "AL006",
    "waarschuwing",
    KIND_ALGORITHM,
    "Algoritme in gebruik bij een beëindigde verwerking",
    "Het algoritme staat op 'In gebruik', maar een gekoppelde verwerking is beëindigd.",
)
SE_ACTIVITY = _check(
    "SE001",
    "fout",
    KIND_SENSOR,
    "Sensor verwerkt persoonsgegevens maar hoort bij geen verwerking",
    "Een sensor die persoonsgegevens vastlegt moet gekoppeld zijn aan een verwerking in het "
    "verwerkingsregister, met doel en grondslag.",
)
SE_RETENTION = _check(
    "SE002",
    "waarschuwing",
    KIND_SENSOR,
    "Sensor met persoonsgegevens zonder bewaartermijn",
    "Vermeld hoe lang de gegevens van deze sensor worden bewaard.",
)
SE_EXPIRED = _check(
    "SE003",
    "waarschuwing",
    KIND_SENSOR,
    "Sensor voorbij de geldigheidsdatum",
    "De sensor staat nog in het register, maar de geldigheidsdatum is verstreken.",
)
DC_UNUSED = _check(
    "GC001",
    "info",
    KIND_DATA_CATEGORY,
    "Gegevenscategorie wordt nergens gebruikt",
    "Geen enkele verwerking gebruikt deze gegevenscategorie. Is de categorie nog nodig?",
)


def _activity_findings(
    reg: OrganisationRegister, activity: ProcessingActivity
) -> Iterator[tuple[Check, str]]:
    special = reg.special_categories(activity)
    if special and activity.dpia.status != "uitgevoerd":
        names = ", ".join(c.name for c in special)
        yield VA_DPIA_SPECIAL, f"Bijzondere gegevens: {names}; DPIA-status: {activity.dpia.status}."
    if special and not activity.legal_basis.special_category_ground:
        yield VA_SPECIAL_GROUND, ", ".join(c.name for c in special)
    if not activity.retention:
        yield VA_RETENTION, "Geen bewaarregel vastgelegd."
    if activity.legal_basis.avg_ground in ("c", "e") and not activity.legal_basis.laws:
        yield VA_LAW, f"Grondslag: {activity.legal_basis.avg_ground_label}."
    if activity.dpia.status == "nodig":
        yield VA_DPIA_OPEN, "DPIA-status: nodig."
    for processor in activity.processors:
        if not processor.agreement:
            yield VA_PROCESSOR, f"Verwerker: {processor.name}."
    if reg.uses_bsn(activity) and (
        activity.legal_basis.avg_ground in ("a", "f") or not activity.legal_basis.laws
    ):
        yield VA_BSN, f"Grondslag: {activity.legal_basis.avg_ground_label}."
    if activity.status == "actief" and (not activity.roles or not activity.departments):
        yield VA_ROLES, "Rollen of afdelingen ontbreken."


def _algorithm_findings(
    reg: OrganisationRegister, algorithm: Algorithm
) -> Iterator[tuple[Check, str]]:
    impactful = algorithm.publication_category in (
        "Hoog-risico AI-systeem",
        "Impactvolle algoritmes",
    )
    if impactful and not algorithm.human_intervention:
        yield AL_HUMAN, f"Publicatiecategorie: {algorithm.publication_category}."
    if impactful and not algorithm.impacttoetsen_grouping and not algorithm.impacttoetsen:
        yield AL_IMPACT, f"Publicatiecategorie: {algorithm.publication_category}."
    if algorithm.status == "Buiten gebruik" and not algorithm.end_date:
        yield AL_END, "Einddatum ontbreekt."
    for name in RICH_TEXT_FIELDS:
        value = getattr(algorithm, name)
        bad = sorted(html_tags(value) - ALLOWED_HTML) if value else []
        if bad:
            yield AL_HTML, f"Veld {name} gebruikt: {', '.join(bad)}."
    if not algorithm.activities:
        yield AL_ACTIVITY, "Geen verwerkingen gekoppeld."
    if algorithm.status == "In gebruik":
        for activity_id in algorithm.activities:
            activity = reg.activity(activity_id)
            if activity is not None and activity.status == "beeindigd":
                yield AL_INACTIVE, f"Verwerking: {activity.name}."


def _sensor_findings(sensor: Sensor, today: date) -> Iterator[tuple[Check, str]]:
    if sensor.personal_data and not sensor.activities:
        yield SE_ACTIVITY, "Geen verwerking gekoppeld."
    if sensor.personal_data and sensor.retention_months is None:
        yield SE_RETENTION, "Bewaartermijn ontbreekt."
    if sensor.valid_until is not None and sensor.valid_until < today:
        yield SE_EXPIRED, f"Geldig tot {sensor.valid_until.isoformat()}."


def check_organisation(reg: OrganisationRegister, today: date | None = None) -> list[Finding]:
    """All findings for one organisation's current register, most severe first."""
    today = today or date.today()
    org_id = reg.organisation.organisation_id
    findings: list[Finding] = []

    for activity in reg.activities():
        findings += [
            Finding(check, org_id, activity.id, activity.name, detail)
            for check, detail in _activity_findings(reg, activity)
        ]
    for algorithm in reg.algorithms():
        findings += [
            Finding(check, org_id, algorithm.id, algorithm.name, detail)
            for check, detail in _algorithm_findings(reg, algorithm)
        ]
    for sensor in reg.sensors():
        findings += [
            Finding(check, org_id, sensor.id, sensor.name, detail)
            for check, detail in _sensor_findings(sensor, today)
        ]
    used = {c for a in reg.activities() for c in a.data_categories}
    used |= {c for dataset in reg.datasets() for c in dataset.data_categories}
    for stored in reg.entries(KIND_DATA_CATEGORY):
        if stored.entry_id not in used:
            findings.append(Finding(DC_UNUSED, org_id, stored.entry_id, stored.entry.name, ""))
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.check.severity], f.code, f.entry_id))
    return findings


def check_register(snapshot: RegisterSnapshot, today: date | None = None) -> list[Finding]:
    return [f for reg in snapshot.ordered() for f in check_organisation(reg, today)]
