"""The impact replay in a terminal: a progress bar while rows stream, tables when done.

Kept apart from `impact` so the domain code has no terminal in it; `glazenstad rules impact`
uses these.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glazenstad.insight.impact import KIND_LABELS, Counts, ImpactError, ImpactReport
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.store import PolicyStore


def find_organisation(policies: PolicyStore, version: str) -> str:
    """The organisation of the one stored version `version` names (hash or prefix)."""
    found = {
        v.organisation_id
        for v in policies.versions()
        if v.content_hash == version or (len(version) >= 8 and v.content_hash.startswith(version))
    }
    if not found:
        raise ImpactError(f"no stored policy version {version}")
    if len(found) > 1:
        raise ImpactError(
            f"version {version} is stored for {', '.join(sorted(found))}; choose with "
            "--organisation"
        )
    return found.pop()


class ProgressBar:
    """A `ReplayProgress` shown as a rich progress bar (nothing when `quiet`)."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = Progress(
            TextColumn("Beslissingen opnieuw beoordelen"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )
        self.task = self.bar.add_task("replay", total=None)

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bar.__exit__(kind, value, traceback)

    def total(self, rows: int) -> None:
        self.bar.update(self.task, total=rows)

    def advance(self, rows: int) -> None:
        self.bar.advance(self.task, rows)


def _counts_row(counts: Counts) -> list[str]:
    return [
        f"{counts.requests:,}",
        f"{counts.permit_to_deny:,}",
        f"{counts.deny_to_permit:,}",
        f"{counts.other_changes:,}",
    ]


COUNT_HEADERS = ("Verzoeken", "Ja → nee", "Nee → ja", "Anders")


def print_report(console: Console, report: ImpactReport, *, limit: int = 25) -> None:
    """Summary, tables per activity, rule and department (changed first), and examples."""
    t = report.totals
    console.print(
        f"[bold]Impact van versie {report.version[:12]}[/] ({report.status}): {report.title}",
        highlight=False,
    )
    console.print(
        f"Periode {report.since.astimezone(TIMEZONE):%Y-%m-%d %H:%M} tot "
        f"{report.until.astimezone(TIMEZONE):%Y-%m-%d %H:%M} (Nederlandse tijd) · "
        f"{t.requests:,} vastgelegde verzoeken, {report.groups:,} verschillend voor deze versie"
        + (f" · {report.skipped:,} onleesbaar overgeslagen" if report.skipped else ""),
        highlight=False,
    )
    console.print(
        f"Ja → nee: [bold]{t.permit_to_deny:,}[/] · Nee → ja: [bold]{t.deny_to_permit:,}[/] · "
        f"zelfde antwoord, andere regel: {t.other_changes:,} · "
        f"ongewijzigd: {t.requests - t.changed:,}"
    )
    tm = report.timings
    console.print(
        f"[dim]{tm.total_seconds:.2f} s: lezen {tm.fetch_seconds:.2f} s, ontdubbelen "
        f"{tm.dedupe_seconds:.2f} s, beoordelen {tm.evaluate_seconds:.2f} s, voorbeelden "
        f"{tm.examples_seconds:.2f} s[/]"
    )
    agg = report.aggregate
    activities = Table("Verwerking", *COUNT_HEADERS, title="Per verwerking")
    for activity in [a for a in agg.activities if a.counts.changed][:limit]:
        activities.add_row(activity.name, *_counts_row(activity.counts))
    rules = Table("Spelregel", "Titel", *COUNT_HEADERS[1:], title="Per spelregel")
    for rule in agg.rules[:limit]:
        name = rule.rule_id if rule.in_version else f"{rule.rule_id} (niet in deze versie)"
        rules.add_row(name, rule.title, *_counts_row(rule.counts)[1:])
    departments = Table("Afdeling", *COUNT_HEADERS, title="Per afdeling")
    for department in [d for d in agg.departments if d.counts.changed][:limit]:
        departments.add_row(department.department, *_counts_row(department.counts))
    if not t.changed:
        console.print("Deze versie had op geen enkel verzoek in deze periode anders beslist.")
        return
    for table in (activities, rules, departments):
        console.print(table)
    for example in report.examples:
        console.print(
            f"\n[bold]{KIND_LABELS[example.kind]}[/] · {example.moment:%Y-%m-%d %H:%M} · "
            f"{example.role} ({example.department}) · {example.action} "
            f"{example.data_category} · {example.activity_name} · kanaal "
            f"{example.channel or 'onbekend'} · {example.identical:,} gelijke verzoeken · "
            f"beslissing {example.decision_id}",
            highlight=False,
        )
        before = ", ".join(r.id for r in example.recorded.rules) or example.recorded.reason
        console.print(f"  vastgelegd: {example.recorded.effect} ({before})", highlight=False)
        console.print(f"  deze versie: {example.explanation}", highlight=False, soft_wrap=True)
