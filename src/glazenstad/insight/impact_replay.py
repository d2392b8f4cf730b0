"""Replaying recorded decision requests against a compiled policy, deduplicated.

A month of decisions holds a million requests but only some thousands of distinct questions:
the same consultant reads the same kind of data for the same activity all day long. What a
compiled policy can see of a request is small and known (see `compiler`): the actor's role,
department and organisation; action, purpose, data category, dataset, linked dataset and
channel; *whether* the actor is assigned to the case (not which case); *whether* consent is
recorded for the activity (not for what else); *whether* a justification was given (not its
text); and of the moment only which of the policy's time windows hold (local weekday and minute).
The data subject's pseudonym is never looked at.

So each recorded row is reduced to that key, computed with the compiled policy's own time
windows (the very lookup its node functions do), plus the recorded outcome. Rows with the same
key are one group; one real request of each group — the one with the lowest row id — is
evaluated with the compiled policy, and its outcome counts for the whole group. This is sound as
long as the policy language has no condition the key does not cover; `key_is_sound` checks that
for each policy, and without it every row is its own group (slow, never wrong).

`replay_one_by_one` is the plain version: every row decoded and decided on its own. Tests and
the benchmark compare both.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from glazenstad.rules import outcome as oc
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.engine import decide_compiled
from glazenstad.rules.language import (
    AllOf,
    AnyOf,
    AssignedToCase,
    ChannelIn,
    Compare,
    Condition,
    ConsentRecorded,
    DepartmentIn,
    InTime,
    Not,
    RoleIn,
)
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource

Row = tuple[int, str, str, str, str]
"""A recorded decision as read: row id, request JSON, effect, reason, rules JSON."""

Decide = Callable[[CompiledPolicy, DecisionRequest, float], oc.Outcome]

PERMIT_TO_DENY: Final = "permit_to_deny"
DENY_TO_PERMIT: Final = "deny_to_permit"
OTHER_CHANGE: Final = "other_change"
"""The effect stays, but other rules decide or the reason differs (e.g. break-the-glass)."""
UNCHANGED: Final = "unchanged"
CHANGE_KINDS: Final = (PERMIT_TO_DENY, DENY_TO_PERMIT, OTHER_CHANGE)

# Every condition the dedupe key accounts for. A condition type added to the language later is
# not in here, and then `key_is_sound` says no until the key learns about it.
_KEYED_CONDITIONS: Final = (
    RoleIn,
    DepartmentIn,
    ChannelIn,
    AssignedToCase,
    ConsentRecorded,
    InTime,
    Compare,
)
# The request attributes a `Compare` may name that the key holds.
_KEYED_ATTRIBUTES: Final = frozenset(
    {
        "actor.role",
        "actor.department",
        "actor.organisation",
        "action",
        "purpose",
        "resource.data_category",
        "resource.dataset",
        "resource.linked_dataset",
        "context.channel",
    }
)


# `gc=False`: a replay decodes a million of these; they hold no cycles, and keeping them out
# of the cyclic collector's way saves it from walking them over and over.
class _Actor(msgspec.Struct, rename="camel", gc=False):
    role: str
    department: str
    organisation: str
    case_assignments: list[str] = []


class _Resource(msgspec.Struct, rename="camel", gc=False):
    data_category: str
    dataset: str | None = None
    subject: str | None = None
    case_id: str | None = None
    linked_dataset: str | None = None


class _Context(msgspec.Struct, gc=False):
    time: float | None = None
    channel: str | None = None
    consent: list[str] = []
    justification: str | None = None


class _Request(msgspec.Struct, gc=False):
    """A stored canonical request as the typed decoder reads it."""

    actor: _Actor
    action: str
    resource: _Resource
    purpose: str
    context: _Context

    def request(self) -> DecisionRequest:
        actor, resource, context = self.actor, self.resource, self.context
        return DecisionRequest(
            actor=Actor(
                actor.role, actor.department, actor.organisation, frozenset(actor.case_assignments)
            ),
            action=self.action,
            resource=Resource(
                resource.data_category,
                resource.dataset,
                resource.subject,
                resource.case_id,
                resource.linked_dataset,
            ),
            purpose=self.purpose,
            context=Context(
                context.time,
                context.channel,
                frozenset(context.consent),
                context.justification,
            ),
        )


_DECODE: Final = msgspec.json.Decoder(_Request).decode


def _condition_keyed(condition: Condition) -> bool:
    if isinstance(condition, Not):
        return _condition_keyed(condition.not_)
    if isinstance(condition, AnyOf):
        return all(_condition_keyed(c) for c in condition.any)
    if isinstance(condition, AllOf):
        return all(_condition_keyed(c) for c in condition.all)
    if isinstance(condition, Compare):
        return condition.attribute in _KEYED_ATTRIBUTES
    return isinstance(condition, _KEYED_CONDITIONS)


def key_is_sound(policy: CompiledPolicy) -> bool:
    """Whether every condition of `policy` only looks at what the dedupe key keeps."""
    return all(_condition_keyed(c) for rule in policy.rules for c in rule.conditions)


@dataclass(frozen=True)
class Recorded:
    """The outcome as it was recorded in the decision log."""

    effect: str
    reason: str
    rules: tuple[str, ...]


@dataclass
class Group:
    """Recorded requests that the policy cannot tell apart, with the same recorded outcome."""

    count: int
    first_id: int
    """Lowest row id in the group: its request is the one evaluated and shown as example."""
    request: DecisionRequest
    moment: float
    recorded: Recorded


@dataclass
class Collected:
    """What the rows came to before evaluation."""

    groups: list[Group] = field(default_factory=list)
    rows: int = 0
    skipped: list[int] = field(default_factory=list)
    """Row ids whose request could not be read (not valid canonical JSON)."""
    without_moment: list[int] = field(default_factory=list)
    """Row ids whose request has no moment and that were not given one."""


_pause_lock = threading.Lock()
_pause_depth = 0
_pause_restores = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a replay builds and decides its groups.

    A replay allocates millions of short-lived objects and keeps tens of thousands of groups;
    with the collector on, its collections walk those groups again and again (measured: about
    a third of a replay). Nothing a replay makes forms a cycle, and reference counting frees it
    as usual. The collector is back as it was when the last of concurrent replays is done.
    """
    global _pause_depth, _pause_restores
    with _pause_lock:
        if _pause_depth == 0:
            _pause_restores = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _pause_restores:
                gc.enable()


def _request_from_json(text: str) -> DecisionRequest | None:
    try:
        data = json.loads(text)
        return DecisionRequest.from_canonical(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _rules_tuple(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


class Deduplicator:
    """Groups recorded rows by what `policy` can distinguish of them (and their recorded outcome).

    Feed rows chunk by chunk with `add`; `collected()` gives the groups. Memory holds one entry
    per group (the decoded request of its first row), not per row.
    """

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.sound = key_is_sound(policy)
        self._groups: dict[tuple[Any, ...], list[Any]] = {}
        self._rows = 0
        self._skipped: list[int] = []
        self._without_moment: list[int] = []
        # The activity id of a purpose (a purpose may be the activity's URI): consent is
        # recorded per activity id, and that is what the compiled node compares with.
        self._activity = {key: a.id for key, a in policy.context.activities.items()}

    def add(self, rows: Iterable[Row]) -> None:
        """Group a chunk of rows (the hot loop of a replay: a few microseconds per row)."""
        if not self.sound:
            self._add_unkeyed(rows)
            return
        groups = self._groups
        activity = self._activity
        windows = self.policy.windows
        cache, fill, step = windows.cache, windows.fill, windows.step
        decode = _DECODE
        count = 0
        for row_id, text, effect, reason, rules in rows:
            count += 1
            try:
                request = decode(text)
            except msgspec.MsgspecError:
                self._add_slow(row_id, text, effect, reason, rules, None)
                continue
            context = request.context
            moment = context.time
            if moment is None:
                self._without_moment.append(row_id)
                continue
            bucket = moment // step
            bits = cache.get(bucket)
            if bits is None:
                bits = fill(bucket)
            actor, resource, purpose = request.actor, request.resource, request.purpose
            case = resource.case_id
            key = (
                actor.role,
                actor.department,
                actor.organisation,
                request.action,
                purpose,
                resource.data_category,
                resource.dataset,
                resource.linked_dataset,
                context.channel,
                case is not None and case in actor.case_assignments,
                activity.get(purpose, purpose) in context.consent,
                bool(context.justification),
                bits,
                effect,
                reason,
                rules,
            )
            group = groups.get(key)
            if group is None:
                groups[key] = [1, row_id, request, moment]
            else:
                group[0] += 1
                if row_id < group[1]:
                    group[1], group[2], group[3] = row_id, request, moment
        self._rows += count

    def add_with_moment(self, rows: Iterable[tuple[Row, float]]) -> None:
        """Rows whose request has no moment, each with the moment it was decided at."""
        for (row_id, text, effect, reason, rules), moment in rows:
            self._rows += 1
            self._add_slow(row_id, text, effect, reason, rules, moment)

    def _key_of(self, request: DecisionRequest, moment: float) -> tuple[Any, ...]:
        """The same key as the hot loop, from a request built by `DecisionRequest`."""
        windows = self.policy.windows
        bucket = moment // windows.step
        bits = windows.cache.get(bucket)
        if bits is None:
            bits = windows.fill(bucket)
        actor, resource, context = request.actor, request.resource, request.context
        case = resource.case_id
        purpose = request.purpose
        return (
            actor.role,
            actor.department,
            actor.organisation,
            request.action,
            purpose,
            resource.data_category,
            resource.dataset,
            resource.linked_dataset,
            context.channel,
            case is not None and case in actor.case_assignments,
            self._activity.get(purpose, purpose) in context.consent,
            bool(context.justification),
            bits,
        )

    def _add_slow(
        self, row_id: int, text: str, effect: str, reason: str, rules: str, moment: float | None
    ) -> None:
        """A row the typed decoder could not read (or without moment): read it as `json` does."""
        request = _request_from_json(text)
        if request is None:
            self._skipped.append(row_id)
            return
        if moment is None:
            moment = request.context.time
            if moment is None:
                self._without_moment.append(row_id)
                return
        # A separate namespace ("slow") keeps these apart from fast-path keys, whose field
        # values could differ in type (e.g. a list where the typed path expects none).
        key = ("slow", *self._key_of(request, moment), effect, reason, rules)
        self._put(key, row_id, request, moment)

    def _add_unkeyed(self, rows: Iterable[Row]) -> None:
        """Without a sound key every row is its own group (keyed by row id)."""
        for row_id, text, effect, reason, rules in rows:
            self._rows += 1
            request = _request_from_json(text)
            if request is None:
                self._skipped.append(row_id)
                continue
            if request.context.time is None:
                self._without_moment.append(row_id)
                continue
            self._put(("row", row_id, effect, reason, rules), row_id, request, request.context.time)

    def _put(
        self, key: tuple[Any, ...], row_id: int, request: DecisionRequest, moment: float
    ) -> None:
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = [1, row_id, request, moment]
        else:
            group[0] += 1
            if row_id < group[1]:
                group[1], group[2], group[3] = row_id, request, moment

    def take_without_moment(self) -> list[int]:
        """Row ids set aside for lack of a moment; give them one with `add_with_moment`."""
        taken, self._without_moment = self._without_moment, []
        self._rows -= len(taken)
        return taken

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def group_count(self) -> int:
        return len(self._groups)

    def collected(self) -> Collected:
        groups: list[Group] = []
        recorded_as: dict[tuple[str, str, str], Recorded] = {}
        for key, (count, first_id, read, moment) in self._groups.items():
            outcome = key[-3], key[-2], key[-1]
            recorded = recorded_as.get(outcome)
            if recorded is None:
                recorded = recorded_as[outcome] = Recorded(
                    outcome[0], outcome[1], _rules_tuple(outcome[2])
                )
            request = read.request() if isinstance(read, _Request) else read
            groups.append(Group(count, first_id, request, moment, recorded))
        groups.sort(key=lambda g: g.first_id)
        return Collected(groups, self._rows, sorted(self._skipped), sorted(self._without_moment))


def classify(recorded: Recorded, outcome: oc.Outcome) -> str:
    """How the policy's answer differs from the recorded one."""
    if recorded.effect == "permit" and outcome.effect == "deny":
        return PERMIT_TO_DENY
    if recorded.effect == "deny" and outcome.effect == "permit":
        return DENY_TO_PERMIT
    if recorded.reason != outcome.reason or sorted(recorded.rules) != sorted(outcome.rule_ids):
        return OTHER_CHANGE
    return UNCHANGED


def causes(recorded: Recorded, outcome: oc.Outcome, kind: str) -> tuple[str, ...]:
    """The rules a change is counted against.

    permit → deny: the policy's deny rules when one decides; otherwise (no permit applies any
    more) the permit rules that decided before. deny → permit: the deny rules that decided
    before when one did; otherwise the permit rules that now allow it. Other changes: the rules
    that decide now but did not before, and the other way round.
    """
    now = outcome.rule_ids
    if kind == PERMIT_TO_DENY:
        return now if outcome.reason == oc.DENY_RULE else recorded.rules
    if kind == DENY_TO_PERMIT:
        return recorded.rules if recorded.reason == oc.DENY_RULE else now
    if kind == OTHER_CHANGE:
        before = set(recorded.rules)
        after = set(now)
        return tuple(sorted(before ^ after))
    return ()


@dataclass
class Evaluated:
    """One group with the policy's outcome for it."""

    group: Group
    outcome: oc.Outcome
    kind: str
    causes: tuple[str, ...]


def evaluate_groups(
    policy: CompiledPolicy, groups: Iterable[Group], decide: Decide = decide_compiled
) -> Iterator[Evaluated]:
    """Decide one request per group with the compiled policy."""
    for group in groups:
        outcome = decide(policy, group.request, group.moment)
        kind = classify(group.recorded, outcome)
        yield Evaluated(group, outcome, kind, causes(group.recorded, outcome, kind))


def replay_one_by_one(
    policy: CompiledPolicy, rows: Iterable[Row], decide: Decide = decide_compiled
) -> Iterator[Evaluated]:
    """The naive replay: every row read with `json` and decided on its own, nothing shared.

    Each row comes back as a group of one, so the same aggregation applies to both replays.
    Rows without a readable request or moment are left out (as `Deduplicator` sets them
    aside).
    """
    for row_id, text, effect, reason, rules in rows:
        request = _request_from_json(text)
        if request is None or request.context.time is None:
            continue
        moment = request.context.time
        recorded = Recorded(effect, reason, _rules_tuple(rules))
        outcome = decide(policy, request, moment)
        kind = classify(recorded, outcome)
        yield Evaluated(
            Group(1, row_id, request, moment, recorded),
            outcome,
            kind,
            causes(recorded, outcome, kind),
        )
