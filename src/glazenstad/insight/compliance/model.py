"""What a run of the compliance checks produces: per check its status and evidence, and scores.

Evidence is what a privacy officer needs to act without another query: counts, figures with a
plain-Dutch label, the activities or other things concerned, a few examples and links to the
pages that show more. Examples name log records (trace and span id), decisions (decision id) or
breaches, never a data subject: no pseudonym, BSN or licence plate is ever part of a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from glazenstad.insight.compliance.checks import ComplianceCheck

Status = Literal["pass", "fail", "not-measured"]
ExampleKind = Literal["log-record", "decision", "breach", "retention-run", "finding"]

STATUS_LABELS: dict[str, str] = {
    "pass": "Voldaan",
    "fail": "Niet voldaan",
    "not-measured": "Niet gemeten",
}


@dataclass(frozen=True)
class EvidenceLink:
    text: str
    href: str
    """A path on this installation (portal page or API), or a full URL elsewhere."""


@dataclass(frozen=True)
class Figure:
    """A named number: `key` for machines (camelCase), `label` for people (Dutch)."""

    key: str
    label: str
    value: int | float | str | None


@dataclass(frozen=True)
class Example:
    """One concrete occurrence behind a finding; `reference` identifies it in its own store."""

    kind: ExampleKind
    reference: str
    moment: datetime | None
    text: str


@dataclass(frozen=True)
class EvidenceItem:
    """One thing a check found: an activity, an unregistered URI, an algorithm, a sensor, ..."""

    subject: str
    label: str
    count: int
    detail: str
    activity_id: str | None = None
    links: tuple[EvidenceLink, ...] = ()
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    check: ComplianceCheck
    status: Status
    count: int
    """How many records, decisions or things the check found (0 when it passes)."""
    summary: str
    """The result in one Dutch sentence."""
    figures: tuple[Figure, ...] = ()
    items: tuple[EvidenceItem, ...] = ()
    links: tuple[EvidenceLink, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def failed_activities(self) -> set[str]:
        """The activities this check fails for (activity checks only)."""
        if not self.failed or self.check.scope != "activity":
            return set()
        return {i.activity_id for i in self.items if i.activity_id is not None and i.count > 0}


@dataclass(frozen=True)
class ActivityScore:
    activity_id: str
    name: str
    status: str
    """The activity's status in the register at the measured moment (or "onbekend")."""
    score: float
    failed: tuple[str, ...]
    """Codes of the activity checks it fails."""


@dataclass(frozen=True)
class ComplianceReport:
    organisation_id: str
    organisation_name: str
    measured_at: datetime
    weighting_version: str
    checks: tuple[CheckResult, ...]
    activities: tuple[ActivityScore, ...]
    overall_score: float
    activity_average: float
    """The average activity score, before the organisation checks are subtracted."""
    organisation_deduction: int
    """The weights of the organisation checks that fail."""
    elapsed_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per check family, for finding what is slow on a big logbook."""

    def result(self, code: str) -> CheckResult:
        return next(r for r in self.checks if r.check.code == code)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.checks if r.failed]

    @property
    def measured(self) -> list[CheckResult]:
        return [r for r in self.checks if r.status != "not-measured"]
