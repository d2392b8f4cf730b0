"""The compliance checks: stable codes, what each one measures, and how much it weighs.

These are not questions a municipality answers about itself; each check looks at what actually
happened (log records, decisions, retention runs, pipeline findings, breaches) and at the
register in force at that moment. The catalogue is data, so the portal, the API, the CLI and the
documentation all explain the same thing and the weights can be read in one place.

Weighting (deliberately simple, so anyone can recompute a score by hand):
- every check has a weight in points;
- a check is about one activity (`scope` "activity") or about the organisation as a whole
  ("organisation");
- an activity's score is 100 minus the weights of the activity checks it fails (never below 0);
- the overall score is the average activity score minus the weights of the organisation checks
  that fail (never below 0);
- a check that could not be measured (its data source is not there) counts as neither.
A failed check counts once however many records it found: the evidence says how big it is, the
score says what needs attention. `WEIGHTING_VERSION` goes up whenever weights or checks change,
and every stored snapshot carries it, so a jump in the history can be told apart from a change
in the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

Scope = Literal["activity", "organisation"]
Severity = Literal["fout", "waarschuwing"]

WEIGHTING_VERSION: Final = "1"

# Thresholds. Retention runs once a day in a normal set-up, so a record may be up to a day past
# its term before that is a finding; twice that is the most a run may be late or missing.
RETENTION_TOLERANCE: Final = timedelta(hours=24)
RETENTION_RUN_MAX_GAP: Final = timedelta(hours=48)
RETENTION_MAX_LATENESS: Final = timedelta(hours=48)
# Findings and retention runs older than this no longer say anything about current practice.
OBSERVATION_WINDOW: Final = timedelta(days=30)
# An activity registered less than this long ago may not have been logged yet.
NEW_ACTIVITY_GRACE: Final = timedelta(days=30)
# A break-the-glass decision is to be reviewed within this period (a working week).
REVIEW_PERIOD: Final = timedelta(days=7)


@dataclass(frozen=True)
class ComplianceCheck:
    code: str
    key: str
    scope: Scope
    severity: Severity
    weight: int
    title: str
    explanation: str
    title_en: str


CHECKS: dict[str, ComplianceCheck] = {}


def _check(
    code: str,
    key: str,
    scope: Scope,
    severity: Severity,
    weight: int,
    title: str,
    explanation: str,
    title_en: str,
) -> ComplianceCheck:
    check = ComplianceCheck(code, key, scope, severity, weight, title, explanation, title_en)
    CHECKS[code] = check
    return check


UNREGISTERED_ACTIVITY = _check(
    "NA001",
    "unregistered-activity",
    "organisation",
    "fout",
    20,
    "Verwerking zonder geregistreerd doel",
    "Er zijn gegevens verwerkt onder een verwerking die op dat moment niet in het "
    "verwerkingsregister stond. Dan weet niemand met welk doel en op welke grondslag dat "
    "gebeurde. Zet de verwerking in het register, of stop met deze verwerking.",
    "log records whose processing activity was not in the register",
)
INACTIVE_ACTIVITY = _check(
    "NA002",
    "inactive-activity",
    "activity",
    "fout",
    15,
    "Verwerking terwijl die niet actief was",
    "Er zijn gegevens verwerkt onder een verwerking die toen in het register nog een concept "
    "was of al beëindigd was. Een verwerking mag alleen gebeuren als die actief is.",
    "processing under an activity that was not active at the time",
)
RETENTION_OVERDUE = _check(
    "NA003",
    "retention-overdue",
    "activity",
    "fout",
    15,
    "Logregels te lang bewaard",
    "Deze logregels hadden volgens de bewaartermijn in het register al weg moeten zijn, en "
    "dat is meer dan een dag geleden. Gegevens die te lang bewaard worden, zijn in strijd met "
    "de AVG.",
    "log records kept past their retention period",
)
RETENTION_RUN_LATE = _check(
    "NA004",
    "retention-run-late",
    "organisation",
    "waarschuwing",
    10,
    "Opruimen van het logboek loopt achter",
    "Het logboek wordt regelmatig opgeruimd: logregels waarvan de bewaartermijn voorbij is, "
    "worden dan verwijderd. Dat is te lang niet gebeurd, of het gebeurde veel later dan de "
    "bewaartermijn.",
    "logbook retention runs missing or late",
)
PIPELINE_DELETION_LATE = _check(
    "NA005",
    "pipeline-deletion-late",
    "activity",
    "waarschuwing",
    10,
    "Gegevens te laat verwijderd in de uitvoering",
    "Een systeem in de uitvoering (zoals de scanauto) heeft gegevens verwijderd, maar veel "
    "later dan de bewaartermijn. Zo'n systeem schrijft bij elke opruimronde in het logboek "
    "hoe laat het was.",
    "execution pipelines deleted data late",
)
SPECIAL_WITHOUT_DPIA = _check(
    "NA006",
    "special-categories-without-dpia",
    "activity",
    "fout",
    25,
    "Bijzondere persoonsgegevens verwerkt zonder DPIA",
    "Onder deze verwerking zijn echt gegevens verwerkt, terwijl de verwerking bijzondere of "
    "strafrechtelijke persoonsgegevens gebruikt en er op dat moment geen uitgevoerde DPIA "
    "was. Een DPIA moet klaar zijn voordat de verwerking begint (AVG artikel 35).",
    "special categories processed without a completed DPIA",
)
ALGORITHM_NOT_PUBLISHABLE = _check(
    "NA007",
    "algorithm-not-publishable",
    "organisation",
    "waarschuwing",
    10,
    "Algoritme in gebruik, maar niet klaar voor publicatie",
    "Dit algoritme is in gebruik, maar de beschrijving in het register is niet compleet "
    "genoeg voor het Algoritmeregister. Inwoners kunnen dan niet lezen wat het algoritme doet.",
    "algorithms in use without a publication-ready register record",
)
UNREGISTERED_SENSOR = _check(
    "NA008",
    "unregistered-sensor",
    "organisation",
    "fout",
    10,
    "Sensor stuurt gegevens zonder registratie",
    "Een sensor in de openbare ruimte stuurt gegevens, maar staat niet (meer) in het "
    "sensorregister. Inwoners kunnen dan niet zien wat er wordt gemeten en waarom.",
    "sensors sending data without registration",
)
ACTIVITY_WITHOUT_LOGS = _check(
    "NA009",
    "activity-without-log-records",
    "activity",
    "waarschuwing",
    5,
    "Actieve verwerking zonder logregels",
    "Deze verwerking staat als actief in het register, maar er is nooit iets van gelogd. "
    "Misschien gebeurt de verwerking niet meer (zet haar dan op beëindigd), of wordt zij niet "
    "gelogd (sluit het systeem dan aan op het logboek).",
    "active activities without any log records",
)
BREAK_GLASS_UNREVIEWED = _check(
    "NA010",
    "break-glass-unreviewed",
    "activity",
    "fout",
    15,
    "Noodtoegang niet achteraf beoordeeld",
    "Een medewerker kreeg toegang door in een noodsituatie een regel te doorbreken. Elke "
    "doorbraak moet binnen een week achteraf worden beoordeeld. Dat is hier niet gebeurd.",
    "break-the-glass permits without a completed review",
)
BREACH_NOT_NOTIFIED = _check(
    "NA011",
    "breach-notification-overdue",
    "organisation",
    "fout",
    25,
    "Datalek niet op tijd gemeld",
    "Een datalek moet binnen 72 uur na ontdekking worden gemeld bij de Autoriteit "
    "Persoonsgegevens, of er moet binnen die tijd besloten zijn dat melden niet nodig is. "
    "Bij dit datalek is die termijn voorbij.",
    "data breaches past their 72-hour notification deadline",
)


def check(code: str) -> ComplianceCheck:
    return CHECKS[code]
