"""Reviews of break-the-glass decisions: was setting the rule aside justified?

A deny rule marked `break_glass` may be set aside in an emergency when the member of staff
gives a written justification (see glazenstad.rules.language). The decision is then a permit
flagged `break_glass` in the decision log, and someone else — a team leader, the privacy
officer — judges afterwards whether the emergency was real. This module lists those decisions
per organisation, records the verdict (justified or unjustified, with a note; a note is
required for "unjustified", because that verdict needs follow-up) and gives the compliance
check and the dashboard their figures.

At most one review per decision, and it is final: the database refuses a second one (unique
decision id) and refuses to change or delete one (migration 0009).

Nobody reviews their own emergency. The decision request names the actor by role and
department, not by person (a decision log is no staff register). So a reviewer is refused when
the request names them (an `id` in the actor, should a caller send one), and also when they hold
the actor's role in the actor's department: then they could have been the one, and the review
must come from outside that function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from glazenstad.db.base import utcnow
from glazenstad.insight.incidents.tables import break_glass_review
from glazenstad.rules.tables import decision_log

JUSTIFIED: Final = "justified"
UNJUSTIFIED: Final = "unjustified"
VERDICTS: Final = (JUSTIFIED, UNJUSTIFIED)
MAX_NOTE: Final = 5000


class ReviewError(ValueError):
    """A review cannot be recorded as asked: `message` in plain Dutch, `field` the input at fault.

    `str()` gives both, for the API and the command line.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ReviewNotFound(LookupError):
    """No break-the-glass decision with this id in this organisation."""


class AlreadyReviewed(RuntimeError):
    """The decision has its (final) review already."""


class SelfReview(PermissionError):
    """The reviewer is, or could have been, the actor who broke the glass."""


@dataclass(frozen=True)
class Reviewer:
    id: str
    name: str
    organisation_id: str
    roles: tuple[str, ...]
    department: str


@dataclass(frozen=True)
class Review:
    decision_id: str
    reviewer_id: str
    reviewer_name: str
    verdict: str
    note: str | None
    reviewed_at: datetime


@dataclass(frozen=True)
class BreakGlassDecision:
    """A decision taken under break-the-glass, with what the reviewer needs to judge it.

    The data subject is not shown: the request holds only a pseudonym, and a reviewer judges
    the emergency, not the person (`about_person` says whether there was one).
    """

    decision_id: str
    decided_at: datetime
    organisation_id: str
    purpose: str
    action: str
    data_category: str
    role: str
    department: str
    rules: tuple[str, ...]
    justification: str | None
    channel: str | None
    dataset: str | None
    case_id: str | None
    about_person: bool
    actor_id: str | None
    review: Review | None

    @property
    def reviewed(self) -> bool:
        return self.review is not None


def _columns() -> list[Any]:
    d, r = decision_log, break_glass_review
    return [
        d.c.decision_id,
        d.c.decided_at,
        d.c.organisation_id,
        d.c.purpose,
        d.c.action,
        d.c.data_category,
        d.c.role,
        d.c.department,
        d.c.rules,
        d.c.request,
        r.c.reviewer_id,
        r.c.reviewer_name,
        r.c.verdict,
        r.c.note,
        r.c.reviewed_at,
    ]


def _decision(row: Any) -> BreakGlassDecision:
    request: Mapping[str, Any] = row.request if isinstance(row.request, Mapping) else {}
    context = request.get("context") or {}
    resource = request.get("resource") or {}
    actor = request.get("actor") or {}
    review = (
        Review(
            decision_id=row.decision_id,
            reviewer_id=row.reviewer_id,
            reviewer_name=row.reviewer_name,
            verdict=row.verdict,
            note=row.note,
            reviewed_at=row.reviewed_at,
        )
        if row.reviewer_id is not None
        else None
    )
    return BreakGlassDecision(
        decision_id=row.decision_id,
        decided_at=row.decided_at,
        organisation_id=row.organisation_id,
        purpose=row.purpose,
        action=row.action,
        data_category=row.data_category,
        role=row.role,
        department=row.department,
        rules=tuple(row.rules or ()),
        justification=context.get("justification"),
        channel=context.get("channel"),
        dataset=resource.get("dataset"),
        case_id=resource.get("caseId"),
        about_person=resource.get("subject") is not None,
        actor_id=actor.get("id"),
        review=review,
    )


def _where(
    organisation_id: str, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    # `break_glass IS true` exactly as the partial index ix_decision_log_break_glass states it,
    # so SQLite's planner recognises that the index covers the query.
    d = decision_log
    conditions = [d.c.organisation_id == organisation_id, d.c.break_glass.is_(True)]
    if since is not None:
        conditions.append(d.c.decided_at >= since)
    if until is not None:
        conditions.append(d.c.decided_at < until)
    return conditions


def _joined() -> Any:
    d, r = decision_log, break_glass_review
    return d.outerjoin(r, r.c.decision_id == d.c.decision_id)


def _reviewed_condition(reviewed: bool | None) -> list[ColumnElement[bool]]:
    if reviewed is None:
        return []
    r = break_glass_review
    return [r.c.id.is_not(None) if reviewed else r.c.id.is_(None)]


def list_break_glass(
    engine: Engine,
    organisation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    reviewed: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[BreakGlassDecision], int]:
    """Break-the-glass decisions in [since, until), newest first, and how many match in all.

    `reviewed`: False for those still waiting for a review, True for the reviewed ones.
    """
    conditions = _where(organisation_id, since, until) + _reviewed_condition(reviewed)
    d = decision_log
    query = (
        select(*_columns())
        .select_from(_joined())
        .where(*conditions)
        .order_by(d.c.decided_at.desc(), d.c.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    count = select(func.count()).select_from(_joined()).where(*conditions)
    with engine.connect() as conn:
        items = [_decision(row) for row in conn.execute(query)]
        total = int(conn.execute(count).scalar_one())
    return items, total


def get_break_glass(
    engine: Engine, organisation_id: str, decision_id: str
) -> BreakGlassDecision | None:
    """The decision when it exists in this organisation and was taken under break-the-glass."""
    query = (
        select(*_columns())
        .select_from(_joined())
        .where(*_where(organisation_id, None, None), decision_log.c.decision_id == decision_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _decision(row) if row is not None else None


def self_review_reason(reviewer: Reviewer, decision: BreakGlassDecision) -> str | None:
    """Why this reviewer may not judge this decision, or None when they may."""
    if decision.actor_id is not None and decision.actor_id == reviewer.id:
        return "U nam dit besluit zelf. Iemand anders moet het beoordelen."
    if decision.role in reviewer.roles and decision.department == reviewer.department:
        return (
            f"U werkt als {decision.role} bij {decision.department}: de rol en afdeling die de "
            "noodtoegang gebruikte. Iemand buiten die functie moet het besluit beoordelen."
        )
    return None


def record_review(
    engine: Engine,
    organisation_id: str,
    decision_id: str,
    *,
    reviewer: Reviewer,
    verdict: str,
    note: str | None,
    now: datetime | None = None,
) -> Review:
    """Record the final review of one break-the-glass decision.

    Raises ReviewNotFound (no such break-the-glass decision in the organisation), SelfReview,
    ReviewError (bad verdict, missing note) or AlreadyReviewed.
    """
    now = now or utcnow()
    if verdict not in VERDICTS:
        raise ReviewError("verdict", "Kies terecht (justified) of niet terecht (unjustified).")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        raise ReviewError("note", f"Gebruik hoogstens {MAX_NOTE} tekens (nu {len(text)}).")
    if verdict == UNJUSTIFIED and text is None:
        raise ReviewError(
            "note",
            "Schrijf op waarom de noodtoegang niet terecht was, en wat er nu moet gebeuren.",
        )
    if reviewer.organisation_id != organisation_id:
        raise ReviewNotFound(_not_found(decision_id, organisation_id))
    decision = get_break_glass(engine, organisation_id, decision_id)
    if decision is None:
        raise ReviewNotFound(_not_found(decision_id, organisation_id))
    reason = self_review_reason(reviewer, decision)
    if reason is not None:
        raise SelfReview(reason)
    if decision.review is not None:
        raise AlreadyReviewed(_already(decision.review))
    row = {
        "organisation_id": organisation_id,
        "decision_id": decision_id,
        "reviewer_id": reviewer.id,
        "reviewer_name": reviewer.name,
        "verdict": verdict,
        "note": text,
        "reviewed_at": now,
    }
    try:
        with engine.begin() as conn:
            conn.execute(insert(break_glass_review).values(**row))
    except IntegrityError:
        # Someone else reviewed it between our read and our write: theirs stands.
        stored = get_break_glass(engine, organisation_id, decision_id)
        existing = stored.review if stored is not None else None
        raise AlreadyReviewed(
            _already(existing) if existing else f"Besluit {decision_id} is al beoordeeld."
        ) from None
    return Review(decision_id, reviewer.id, reviewer.name, verdict, text, now)


def _not_found(decision_id: str, organisation_id: str) -> str:
    return f"Er is geen besluit {decision_id} met noodtoegang bij {organisation_id}."


def _already(review: Review) -> str:
    verdict = "terecht" if review.verdict == JUSTIFIED else "niet terecht"
    return (
        f"Besluit {review.decision_id} is al beoordeeld door {review.reviewer_name} op "
        f"{review.reviewed_at:%Y-%m-%d %H:%M} UTC ({verdict}). Een beoordeling is definitief."
    )


@dataclass(frozen=True)
class BreakGlassSummary:
    """Break-the-glass in a period: for the compliance check and the dashboard."""

    organisation_id: str
    since: datetime | None
    until: datetime | None
    total: int
    reviewed: int
    justified: int
    unjustified: int
    unreviewed: int
    oldest_unreviewed: datetime | None
    # The oldest unreviewed decisions first: the ones waiting longest.
    examples: tuple[BreakGlassDecision, ...]


def unreviewed_break_glass(
    engine: Engine,
    organisation_id: str,
    since: datetime | None,
    until: datetime | None,
    *,
    examples: int = 5,
) -> BreakGlassSummary:
    """How many break-the-glass decisions of [since, until) wait for a review, with examples."""
    d, r = decision_log, break_glass_review
    conditions = _where(organisation_id, since, until)
    counts = (
        select(
            func.count().label("total"),
            func.count(r.c.id).label("reviewed"),
            func.count(r.c.id).filter(r.c.verdict == JUSTIFIED).label("justified"),
            func.count(r.c.id).filter(r.c.verdict == UNJUSTIFIED).label("unjustified"),
            func.min(d.c.decided_at).filter(r.c.id.is_(None)).label("oldest"),
        )
        .select_from(_joined())
        .where(*conditions)
    )
    waiting = (
        select(*_columns())
        .select_from(_joined())
        .where(*conditions, r.c.id.is_(None))
        .order_by(d.c.decided_at, d.c.id)
        .limit(examples)
    )
    with engine.connect() as conn:
        row = conn.execute(counts).one()
        found = [_decision(x) for x in conn.execute(waiting)] if examples > 0 else []
    total, reviewed = int(row.total), int(row.reviewed)
    return BreakGlassSummary(
        organisation_id=organisation_id,
        since=since,
        until=until,
        total=total,
        reviewed=reviewed,
        justified=int(row.justified),
        unjustified=int(row.unjustified),
        unreviewed=total - reviewed,
        oldest_unreviewed=row.oldest,
        examples=tuple(found),
    )
