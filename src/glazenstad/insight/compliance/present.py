"""A compliance report as a document (JSON, camelCase as the API answers) and as a console table.

The API, the CLI's `--json` and the console output share this one shape, so a script that reads
`glazenstad compliance check --json` can read the API as well. `evidence=False` leaves out
everything that names a record, decision, breach or sensor (items, examples, links): what is
left may be published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from glazenstad.insight.compliance.checks import CHECKS, WEIGHTING_VERSION
from glazenstad.insight.compliance.history import Snapshot
from glazenstad.insight.compliance.model import (
    STATUS_LABELS,
    CheckResult,
    ComplianceReport,
    EvidenceLink,
)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _link(link: EvidenceLink) -> dict[str, str]:
    return {"text": link.text, "href": link.href}


def check_document(result: CheckResult, *, evidence: bool = True) -> dict[str, Any]:
    check = result.check
    document: dict[str, Any] = {
        "code": check.code,
        "key": check.key,
        "title": check.title,
        "titleEn": check.title_en,
        "explanation": check.explanation,
        "scope": check.scope,
        "severity": check.severity,
        "weight": check.weight,
        "status": result.status,
        "count": result.count,
        "summary": result.summary,
        "figures": [{"key": f.key, "label": f.label, "value": f.value} for f in result.figures],
    }
    if evidence:
        document["items"] = [
            {
                "subject": i.subject,
                "label": i.label,
                "count": i.count,
                "detail": i.detail,
                "activityId": i.activity_id,
                "links": [_link(x) for x in i.links],
                "examples": [
                    {
                        "kind": e.kind,
                        "reference": e.reference,
                        "moment": _when(e.moment),
                        "text": e.text,
                    }
                    for e in i.examples
                ],
            }
            for i in result.items
        ]
        document["links"] = [_link(x) for x in result.links]
    return document


def report_document(report: ComplianceReport) -> dict[str, Any]:
    """Everything: checks with their evidence, scores, and how long the run took."""
    return {
        "organisationId": report.organisation_id,
        "organisationName": report.organisation_name,
        "measuredAt": _when(report.measured_at),
        "weightingVersion": report.weighting_version,
        "overallScore": report.overall_score,
        "activityAverage": report.activity_average,
        "organisationDeduction": report.organisation_deduction,
        "elapsedSeconds": report.elapsed_seconds,
        "checks": [check_document(r) for r in report.checks],
        "activities": [
            {
                "activityId": a.activity_id,
                "name": a.name,
                "status": a.status,
                "score": a.score,
                "failed": list(a.failed),
            }
            for a in report.activities
        ],
    }


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "measuredAt": _when(snapshot.measured_at),
        "storedAt": _when(snapshot.stored_at),
        "weightingVersion": snapshot.weighting_version,
        "overallScore": snapshot.overall_score,
        "activitiesScored": snapshot.activities_scored,
        "checksFailed": snapshot.checks_failed,
        "checksMeasured": snapshot.checks_measured,
        "checks": [{"code": c.code, "status": c.status, "count": c.count} for c in snapshot.checks],
        "activityScores": [
            {"activityId": a, "score": s} for a, s in snapshot.activity_scores.items()
        ],
    }


def weighting_rows() -> list[tuple[str, str, str, str, int]]:
    """(code, title, scope in Dutch, severity, weight) of every check: the weighting table."""
    scopes = {"activity": "per verwerking", "organisation": "hele organisatie"}
    return [
        (c.code, c.title, scopes[c.scope], c.severity, c.weight)
        for c in sorted(CHECKS.values(), key=lambda c: c.code)
    ]


_STYLE = {"pass": "green", "fail": "bold red", "not-measured": "yellow"}


def print_report(console: Console, report: ComplianceReport) -> None:
    """Checks with their evidence, then the scores, for an operator's terminal."""
    console.print(
        f"[bold]Naleving {report.organisation_name}[/] ({report.organisation_id}), gemeten op "
        f"{report.measured_at.isoformat(timespec='seconds')} in {report.elapsed_seconds:.2f} s"
    )
    for result in report.checks:
        check = result.check
        label = STATUS_LABELS[result.status]
        scope = "per verwerking" if check.scope == "activity" else "organisatie"
        console.print(
            f"\n[{_STYLE[result.status]}]{check.code} {label}[/] {check.title} "
            f"(gewicht {check.weight}, {scope})",
            highlight=False,
        )
        console.print(f"  {result.summary}", highlight=False, soft_wrap=True)
        for figure in result.figures:
            if figure.value is not None:
                console.print(f"  - {figure.label}: {figure.value}", highlight=False)
        for item in result.items[:10]:
            console.print(f"  * {item.label}: {item.detail}", highlight=False, soft_wrap=True)
            for example in item.examples[:3]:
                moment = _when(example.moment) or ""
                console.print(
                    f"      {example.kind} {example.reference} {moment} {example.text}",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
            for link in item.links[:2]:
                console.print(f"      {link.href}", highlight=False, markup=False)
        if len(result.items) > 10:
            console.print(f"  … en nog {len(result.items) - 10}", highlight=False)
    table = Table(title="Score per verwerking (100 min de gewichten van wat niet voldoet)")
    for header in ("verwerking", "status", "score", "niet voldaan"):
        table.add_column(header)
    for activity in report.activities:
        table.add_row(
            f"{activity.name} ({activity.activity_id})",
            activity.status,
            f"{activity.score:.1f}",
            ", ".join(activity.failed) or "-",
        )
    console.print()
    console.print(table)
    console.print(
        f"Totaalscore: [bold]{report.overall_score:.1f}[/] = gemiddelde per verwerking "
        f"{report.activity_average:.1f} − organisatiecontroles {report.organisation_deduction} "
        f"(weging versie {WEIGHTING_VERSION})",
        highlight=False,
    )


def print_history(console: Console, organisation_id: str, snapshots: list[Snapshot]) -> None:
    table = Table(title=f"Nalevingsscore {organisation_id} door de tijd")
    for header in ("gemeten op", "score", "niet voldaan", "gemeten controles", "weging"):
        table.add_column(header)
    for snapshot in snapshots:
        table.add_row(
            snapshot.measured_at.isoformat(timespec="seconds"),
            f"{snapshot.overall_score:.1f}",
            ", ".join(c.code for c in snapshot.checks if c.status == "fail") or "-",
            str(snapshot.checks_measured),
            snapshot.weighting_version,
        )
    console.print(table)
