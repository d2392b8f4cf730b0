"""NA010 and NA011: break-the-glass decisions without a review, and breaches not notified in time.

Both read what `glazenstad.insight.incidents` keeps: reviews of break-the-glass decisions (the
decision log flags them, `break_glass_review` holds the verdicts) and data breaches with their
72-hour deadline. The counts per activity of unreviewed decisions come from one GROUP BY over
the decision log's partial break-the-glass index; the overall figures and the examples come from
the incidents module itself, so the dashboard, the review page and this check count alike.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, func, select

from glazenstad.insight.compliance import links
from glazenstad.insight.compliance.checks import (
    BREACH_NOT_NOTIFIED,
    BREAK_GLASS_UNREVIEWED,
    REVIEW_PERIOD,
)
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Example, Figure
from glazenstad.insight.compliance.registerview import activity_id_of_purpose
from glazenstad.insight.compliance.wording import count_nl, hours, int_nl, moment_nl, number_nl
from glazenstad.insight.incidents.breaches import list_breaches, overdue_breaches
from glazenstad.insight.incidents.reviews import unreviewed_break_glass
from glazenstad.insight.incidents.tables import break_glass_review
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.tables import decision_log


def _unreviewed_per_purpose(
    engine: Engine, organisation_id: str, until: datetime
) -> dict[str, tuple[int, datetime | None]]:
    d, r = decision_log, break_glass_review
    query = (
        select(d.c.purpose, func.count(), func.min(d.c.decided_at))
        .select_from(d.outerjoin(r, r.c.decision_id == d.c.decision_id))
        .where(
            d.c.organisation_id == organisation_id,
            d.c.break_glass.is_(True),
            d.c.decided_at < until,
            r.c.id.is_(None),
        )
        .group_by(d.c.purpose)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result: dict[str, tuple[int, datetime | None]] = {}
    for purpose, count, oldest in rows:
        # SQLite hands an aggregate of a timestamp back as text; the count is what matters.
        result[str(purpose)] = (int(count), oldest if isinstance(oldest, datetime) else None)
    return result


def break_glass_check(engine: Engine, register: OrganisationRegister, now: datetime) -> CheckResult:
    org_id = register.organisation.organisation_id
    due = now - REVIEW_PERIOD
    per_purpose = _unreviewed_per_purpose(engine, org_id, due)
    summary = unreviewed_break_glass(engine, org_id, None, due, examples=5)
    waiting = unreviewed_break_glass(engine, org_id, due, now, examples=0)
    known = {a.id: a for a in register.activities()}
    counts: dict[str, int] = defaultdict(int)
    for purpose, (count, _oldest) in per_purpose.items():
        activity_id = activity_id_of_purpose(purpose, register.org.register_uri, known)
        counts[activity_id or purpose] += count  # an unknown purpose under its own name
    examples_by_activity: dict[str, list[Example]] = defaultdict(list)
    for decision in summary.examples:
        activity_id = activity_id_of_purpose(decision.purpose, register.org.register_uri, known)
        examples_by_activity[activity_id or decision.purpose].append(
            Example(
                "decision",
                decision.decision_id,
                decision.decided_at,
                f"{decision.role} ({decision.department}): {decision.action} "
                f"{decision.data_category}",
            )
        )
    items = []
    for activity_id, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        activity = known.get(activity_id)
        item_links = tuple(
            links.decision(e.reference) for e in examples_by_activity.get(activity_id, [])[:3]
        )
        if activity is not None:
            item_links = (links.activity(org_id, activity_id, activity.name), *item_links)
        items.append(
            EvidenceItem(
                subject=activity_id,
                label=activity.name if activity else f"{activity_id} (niet in het register)",
                count=count,
                detail=f"{count_nl(count, 'besluit', 'besluiten')} met noodtoegang, langer dan "
                "een week zonder beoordeling.",
                activity_id=activity_id if activity is not None else None,
                links=item_links,
                examples=tuple(examples_by_activity.get(activity_id, [])),
            )
        )
    total = sum(counts.values())
    oldest = summary.oldest_unreviewed
    return CheckResult(
        BREAK_GLASS_UNREVIEWED,
        "fail" if total else "pass",
        total,
        f"{count_nl(total, 'besluit', 'besluiten')} met noodtoegang "
        f"{'is' if total == 1 else 'zijn'} na een week nog niet beoordeeld."
        if total
        else "Elke noodtoegang van meer dan een week geleden is beoordeeld.",
        (
            Figure("unreviewed", "Niet beoordeeld na een week", total),
            Figure("waiting", "Nog binnen de week voor beoordeling", waiting.unreviewed),
            Figure("reviewed", "Beoordeeld", summary.reviewed + waiting.reviewed),
            Figure(
                "unjustified",
                "Beoordeeld als niet terecht",
                summary.unjustified + waiting.unjustified,
            ),
            Figure(
                "oldestUnreviewedAt",
                "Oudste niet beoordeelde noodtoegang",
                oldest.isoformat() if isinstance(oldest, datetime) else None,
            ),
        ),
        tuple(items),
        (links.break_glass_reviews(),),
    )


def breach_check(engine: Engine, organisation_id: str, now: datetime) -> CheckResult:
    overdue = [b for b in overdue_breaches(engine, organisation_id, now) if b.registered_at <= now]
    settled_late = [
        b
        for b in list_breaches(engine, organisation_id)
        if b.settled_late and (b.authority_settled_at or now) <= now
    ]
    items = tuple(
        EvidenceItem(
            subject=str(b.id),
            label=b.title,
            count=1,
            detail=f"Ontdekt op {moment_nl(b.discovered_at)}; de termijn "
            f"verliep {number_nl(hours(now - b.deadline))} uur geleden."
            + (f" Verwerkingen: {', '.join(b.activities)}." if b.activities else "")
            + (
                f" Geschat aantal betrokkenen: {int_nl(b.estimated_subjects)}."
                if b.estimated_subjects is not None
                else ""
            ),
            links=(links.breaches(),),
            examples=(Example("breach", str(b.id), b.discovered_at, b.title),),
        )
        for b in overdue
    )
    return CheckResult(
        BREACH_NOT_NOTIFIED,
        "fail" if overdue else "pass",
        len(overdue),
        f"{count_nl(len(overdue), 'datalek', 'datalekken')} {'is' if len(overdue) == 1 else 'zijn'}"
        " na 72 uur nog niet gemeld en er is niet besloten dat melden niet nodig is."
        if overdue
        else "Er zijn geen datalekken waarvan de meldtermijn van 72 uur is verlopen.",
        (
            Figure("overdue", "Datalekken over de meldtermijn", len(overdue)),
            Figure("settledLate", "Datalekken die te laat zijn afgehandeld", len(settled_late)),
        ),
        items,
        (links.breaches(),),
    )
