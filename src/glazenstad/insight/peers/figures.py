"""Peer figures: five measured figures per organisation, and where one stands among the others.

Municipalities answer a yearly survey about their digital government by hand. On an installation
shared by several organisations the same questions can be answered from what was measured:
compliance score, register completeness, retention performance, data breaches and signals
handled. Publishing is a choice of each organisation (see `publication`), and only those that
publish see where they stand: whoever compares, is compared.

Every figure is an aggregate the organisation could publish anyway; none says anything about a
person, a rule's content or a log record.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from glazenstad.insight.compliance.history import score_history
from glazenstad.insight.incidents.breaches import breach_counts
from glazenstad.insight.signals.figures import public_signal_figures
from glazenstad.register.quality import check_organisation
from glazenstad.register.store import OrganisationRegister

BREACH_WINDOW = timedelta(days=365)
"""Breaches are counted over the last year, as the yearly survey does."""
RETENTION_CHECKS = ("retention-overdue", "retention-run-late", "pipeline-deletion-late")
"""The compliance checks that together say whether data is removed on time."""


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    explanation: str
    unit: str
    higher_is_better: bool


METRICS: tuple[Metric, ...] = (
    Metric(
        "complianceScore",
        "Nalevingsscore",
        "De score van de laatste nalevingsmeting (0 tot 100): controles op wat er echt gebeurde.",
        "punten",
        True,
    ),
    Metric(
        "registerCompleteness",
        "Volledigheid van het register",
        "Deel van de verwerkingen, algoritmes en sensoren in het register zonder fouten bij de "
        "kwaliteitscontrole.",
        "%",
        True,
    ),
    Metric(
        "retentionOnTime",
        "Bewaartermijnen op tijd",
        "Deel van de gemeten controles op bewaartermijnen dat in orde was bij de laatste "
        "nalevingsmeting (te laat verwijderde gegevens, te laat gedraaide opschoning).",
        "%",
        True,
    ),
    Metric(
        "breachesSettledInTime",
        "Datalekken op tijd afgehandeld",
        "Deel van de datalekken van het afgelopen jaar waarover binnen 72 uur is besloten of "
        "dat binnen 72 uur is gemeld.",
        "%",
        True,
    ),
    Metric(
        "signalsHandled",
        "Signalen afgehandeld",
        "Deel van de signalen uit de uitvoering waarop de eigenaar van de regel heeft geantwoord.",
        "%",
        True,
    ),
)
METRIC_KEYS = tuple(m.key for m in METRICS)


@dataclass(frozen=True)
class PeerFigures:
    """The measured figures of one organisation; None where nothing was measured yet."""

    organisation_id: str
    organisation_name: str
    compliance_measured_at: datetime | None
    breaches_last_year: int
    signals_total: int
    values: dict[str, float | None]
    """Metric key → value (see METRICS)."""


@dataclass(frozen=True)
class Standing:
    """Where one organisation stands on one metric among the organisations that publish."""

    metric: Metric
    value: float | None
    peers: int
    """How many publishing organisations have a value for this metric (including this one)."""
    median: float | None
    best: float | None
    worst: float | None
    rank: int | None
    """1 is best; organisations with the same value share a rank. None without own value."""


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def register_completeness(register: OrganisationRegister) -> float | None:
    """Percent of activities, algorithms and sensors without an error-level quality finding."""
    entries = {
        *(("activity", a.id) for a in register.activities()),
        *(("algorithm", a.id) for a in register.algorithms()),
        *(("sensor", s.id) for s in register.sensors()),
    }
    if not entries:
        return None
    wrong = {
        (kind, f.entry_id)
        for f in check_organisation(register)
        if f.check.severity == "fout"
        for kind in ("activity", "algorithm", "sensor")
        if (kind, f.entry_id) in entries
    }
    return _percent(len(entries) - len(wrong), len(entries))


def peer_figures(engine: Engine, register: OrganisationRegister, now: datetime) -> PeerFigures:
    """The figures of one organisation at `now`, from what is stored (nothing is re-measured)."""
    organisation_id = register.organisation.organisation_id
    # The newest measurement at or before `now` (the history's `until` is exclusive).
    latest = score_history(engine, organisation_id, until=now + timedelta(microseconds=1), limit=1)
    snapshot = latest[0] if latest else None
    retention = (
        [c for c in snapshot.checks if c.code in RETENTION_CHECKS and c.status != "not-measured"]
        if snapshot
        else []
    )
    breaches = breach_counts(engine, organisation_id, now=now, since=now - BREACH_WINDOW)
    late = breaches.overdue + breaches.settled_late
    signals = public_signal_figures(engine, organisation_id)
    values: dict[str, float | None] = {
        "complianceScore": round(snapshot.overall_score, 1) if snapshot else None,
        "registerCompleteness": register_completeness(register),
        "retentionOnTime": _percent(sum(c.status == "pass" for c in retention), len(retention)),
        "breachesSettledInTime": _percent(breaches.total - late, breaches.total),
        "signalsHandled": _percent(signals.handled, signals.total),
    }
    return PeerFigures(
        organisation_id=organisation_id,
        organisation_name=register.org.name,
        compliance_measured_at=snapshot.measured_at if snapshot else None,
        breaches_last_year=breaches.total,
        signals_total=signals.total,
        values=values,
    )


def standings(own: PeerFigures, published: Sequence[PeerFigures]) -> list[Standing]:
    """Own position per metric among `published` (own figures count when among them)."""
    others = [p for p in published if p.organisation_id != own.organisation_id]
    result: list[Standing] = []
    for metric in METRICS:
        value = own.values[metric.key]
        known = [v for p in others if (v := p.values[metric.key]) is not None]
        if value is not None:
            known.append(value)
        if not known:
            result.append(Standing(metric, value, 0, None, None, None, None))
            continue
        ordered = sorted(known, reverse=metric.higher_is_better)
        rank = None if value is None else 1 + sum(1 for v in ordered if _better(v, value, metric))
        result.append(
            Standing(
                metric=metric,
                value=value,
                peers=len(known),
                median=round(statistics.median(known), 1),
                best=ordered[0],
                worst=ordered[-1],
                rank=rank,
            )
        )
    return result


def _better(candidate: float, value: float, metric: Metric) -> bool:
    return candidate > value if metric.higher_is_better else candidate < value
