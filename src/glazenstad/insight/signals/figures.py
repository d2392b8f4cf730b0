"""Signals counted: per rule and per state for staff, and aggregate numbers for the public.

Counts never carry a signal's text, its response or who filed it. `signal_counts` is what the
policy dashboard and the council report show per rule ("which rules do people run into?");
`public_signal_figures` is what anyone may see: how many signals there were and what became of
them, for the organisation as a whole.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from glazenstad.insight.signals import workflow
from glazenstad.insight.signals.tables import signal


def _zero_states() -> dict[str, int]:
    return dict.fromkeys(workflow.STATES, 0)


@dataclass(frozen=True)
class RuleSignalCount:
    """Signals about one rule (rule_id None: denials that came from no rule)."""

    rule_id: str | None
    rule_title: str
    owner: str
    total: int
    by_state: dict[str, int] = field(default_factory=_zero_states)

    @property
    def open(self) -> int:
        return sum(self.by_state[s] for s in workflow.OPEN_STATES)


@dataclass(frozen=True)
class SignalCounts:
    """Signals filed in [since, until), per state (as they stand now) and per rule."""

    organisation_id: str
    since: datetime
    until: datetime
    total: int
    by_state: dict[str, int]
    by_rule: tuple[RuleSignalCount, ...]
    """Most signals first; the title and owner are those of the newest signal of the rule."""


def signal_counts(
    engine: Engine, organisation_id: str, since: datetime, until: datetime
) -> SignalCounts:
    """Signals of an organisation filed from `since` up to (not including) `until`."""
    query = (
        select(
            signal.c.rule_id,
            signal.c.rule_title,
            signal.c.owner,
            signal.c.state,
            func.count().label("n"),
            func.max(signal.c.filed_at).label("newest"),
        )
        .where(
            signal.c.organisation_id == organisation_id,
            signal.c.filed_at >= since,
            signal.c.filed_at < until,
        )
        .group_by(signal.c.rule_id, signal.c.rule_title, signal.c.owner, signal.c.state)
    )
    states: dict[str | None, dict[str, int]] = defaultdict(_zero_states)
    named: dict[str | None, tuple[datetime, str, str]] = {}
    totals = _zero_states()
    with engine.connect() as conn:
        for row in conn.execute(query):
            states[row.rule_id][row.state] = states[row.rule_id].get(row.state, 0) + row.n
            totals[row.state] = totals.get(row.state, 0) + row.n
            seen = named.get(row.rule_id)
            if seen is None or row.newest > seen[0]:
                named[row.rule_id] = (row.newest, row.rule_title, row.owner)
    by_rule = [
        RuleSignalCount(
            rule_id=rule_id,
            rule_title=named[rule_id][1],
            owner=named[rule_id][2],
            total=sum(counts.values()),
            by_state=counts,
        )
        for rule_id, counts in states.items()
    ]
    by_rule.sort(key=lambda r: (-r.total, r.rule_id or ""))
    return SignalCounts(
        organisation_id=organisation_id,
        since=since,
        until=until,
        total=sum(totals.values()),
        by_state=totals,
        by_rule=tuple(by_rule),
    )


@dataclass(frozen=True)
class PublicSignalFigures:
    """Aggregate numbers about an organisation's signals; no text, no rules, no people."""

    organisation_id: str
    total: int
    open: int
    handled: int
    by_state: dict[str, int]
    rules_with_signals: int
    """How many different rules signals were filed about."""
    median_days_to_handle: float | None
    """Median days from filing to the answer that closed it (None: nothing closed yet)."""
    first_filed_at: datetime | None
    last_filed_at: datetime | None


def public_signal_figures(engine: Engine, organisation_id: str) -> PublicSignalFigures:
    """All signals of the organisation, ever, as aggregate numbers only."""
    by_state = _zero_states()
    mine = signal.c.organisation_id == organisation_id
    with engine.connect() as conn:
        for state, count in conn.execute(
            select(signal.c.state, func.count()).where(mine).group_by(signal.c.state)
        ):
            by_state[state] = by_state.get(state, 0) + count
        rules = conn.execute(
            select(func.count(func.distinct(func.coalesce(signal.c.rule_id, "")))).where(mine)
        ).scalar_one()
        first, last = conn.execute(
            select(func.min(signal.c.filed_at), func.max(signal.c.filed_at)).where(mine)
        ).one()
        closed = [
            (row.changed_at - row.filed_at)
            for row in conn.execute(
                select(signal.c.filed_at, signal.c.changed_at).where(
                    mine, signal.c.state.in_(workflow.FINAL_STATES)
                )
            )
        ]
    median = round(statistics.median(d / timedelta(days=1) for d in closed), 1) if closed else None
    return PublicSignalFigures(
        organisation_id=organisation_id,
        total=sum(by_state.values()),
        open=sum(by_state[s] for s in workflow.OPEN_STATES),
        handled=sum(by_state[s] for s in workflow.FINAL_STATES),
        by_state=by_state,
        rules_with_signals=int(rules),
        median_days_to_handle=median,
        first_filed_at=first,
        last_filed_at=last,
    )


@dataclass(frozen=True)
class ClosedSignal:
    """A signal answered for good: the rule, its owner, the outcome and the owner's answer."""

    rule_title: str
    owner: str
    state: str
    response: str | None


def closed_signals(
    engine: Engine, organisation_id: str, since: datetime, until: datetime
) -> list[ClosedSignal]:
    """Signals that reached a final state in [since, until), oldest first (for the council
    report's "what was done with them"; the filer is not part of it)."""
    query = (
        select(signal.c.rule_title, signal.c.owner, signal.c.state, signal.c.response)
        .where(
            signal.c.organisation_id == organisation_id,
            signal.c.state.in_(workflow.FINAL_STATES),
            signal.c.changed_at >= since,
            signal.c.changed_at < until,
        )
        .order_by(signal.c.changed_at, signal.c.id)
    )
    with engine.connect() as conn:
        return [ClosedSignal(*row) for row in conn.execute(query)]


def open_signal_count(engine: Engine, organisation_id: str) -> int:
    """Signals still waiting for a final answer, now."""
    query = select(func.count()).where(
        signal.c.organisation_id == organisation_id, signal.c.state.in_(workflow.OPEN_STATES)
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
