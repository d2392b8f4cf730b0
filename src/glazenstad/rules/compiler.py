"""Compile a policy into generated Python decision functions, one per decision node.

Every (purpose, action, data category) that any rule is about gets a node. For each node the
compiler writes the source of one small function in which every condition of every deny and
permit rule is an inlined Python expression (`a.role in C3 and a.department in C4`), evaluates
them into two bitmasks, and returns a shared, cached outcome for that combination. Deciding is
then one dict lookup and one call: no YAML, no model objects, no interpretation per request.
Nodes with the same rules share one function.

The reference evaluator (`rules.reference`) states the same semantics plainly; tests check that
both agree on thousands of random requests.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glazenstad.rules import clock
from glazenstad.rules import outcome as oc
from glazenstad.rules.effective import EffectiveRule, PolicyContext
from glazenstad.rules.language import (
    ACTIONS,
    WEEKDAYS,
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
from glazenstad.rules.request import DecisionRequest

NodeFunction = Callable[[DecisionRequest, float], oc.Outcome]

NO_PERMIT = oc.deny(oc.NO_PERMIT)
UNKNOWN_PURPOSE = oc.deny(oc.UNKNOWN_PURPOSE)
INACTIVE_PURPOSE = oc.deny(oc.INACTIVE_PURPOSE)
UNKNOWN_ACTION = oc.deny(oc.UNKNOWN_ACTION)
UNKNOWN_DATA_CATEGORY = oc.deny(oc.UNKNOWN_DATA_CATEGORY)

# Request attributes as expressions over `r` (request), `a` (r.actor) and `AID` (activity id).
_ATTRIBUTE_EXPR = {
    "actor.role": "a.role",
    "actor.department": "a.department",
    "actor.organisation": "a.organisation",
    "action": "r.action",
    "purpose": "AID",
    "resource.data_category": "r.resource.data_category",
    "resource.dataset": "r.resource.dataset",
    "resource.linked_dataset": "r.resource.linked_dataset",
    "context.channel": "r.context.channel",
}


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class _Source:
    """Collects constants for one generated function and names them C0, C1, ..."""

    def __init__(self, windows: TimeWindows) -> None:
        self.constants: dict[str, Any] = {}
        self.windows = windows
        self.uses_time = False

    def const(self, value: Any) -> str:
        name = f"C{len(self.constants)}"
        self.constants[name] = value
        return name

    def condition(self, condition: Condition) -> str:
        if isinstance(condition, RoleIn):
            return f"(a.role in {self.const(frozenset(condition.role))})"
        if isinstance(condition, DepartmentIn):
            return f"(a.department in {self.const(frozenset(condition.department))})"
        if isinstance(condition, ChannelIn):
            return f"(r.context.channel in {self.const(frozenset(condition.channel))})"
        if isinstance(condition, AssignedToCase):
            assigned = (
                "(r.resource.case_id is not None and r.resource.case_id in a.case_assignments)"
            )
            return assigned if condition.assigned_to_case else f"(not {assigned})"
        if isinstance(condition, ConsentRecorded):
            consent = "(AID in r.context.consent)"
            return consent if condition.consent_recorded else f"(not {consent})"
        if isinstance(condition, InTime):
            self.uses_time = True
            days = frozenset(WEEKDAYS.index(d) for d in condition.time.days)
            start, end = _minutes(condition.time.start), _minutes(condition.time.end)
            return f"(tw & {self.windows.bit(days, start, end)})"
        if isinstance(condition, Compare):
            subject = _ATTRIBUTE_EXPR[condition.attribute]
            if condition.equals is not None:
                return f"({subject} == {self.const(condition.equals)})"
            if condition.not_equals is not None:
                return f"({subject} != {self.const(condition.not_equals)})"
            if condition.in_ is not None:
                return f"({subject} in {self.const(frozenset(condition.in_))})"
            assert condition.not_in is not None
            return f"({subject} not in {self.const(frozenset(condition.not_in))})"
        if isinstance(condition, Not):
            return f"(not {self.condition(condition.not_)})"
        if isinstance(condition, AnyOf):
            return "(" + " or ".join(self.condition(c) for c in condition.any) + ")"
        assert isinstance(condition, AllOf)
        return "(" + " and ".join(self.condition(c) for c in condition.all) + ")"

    def rule(self, rule: EffectiveRule) -> str:
        """The rule's applicability as one expression (the index already matched its target)."""
        parts: list[str] = []
        if rule.datasets is not None:
            datasets = self.const(rule.datasets)
            parts.append(
                f"(r.resource.dataset in {datasets} or r.resource.linked_dataset in {datasets})"
            )
        if rule.link is not None:
            first, second = self.const(rule.link[0]), self.const(rule.link[1])
            parts.append(
                "(r.resource.dataset is not None and r.resource.linked_dataset is not None and "
                f"((r.resource.dataset in {first} and r.resource.linked_dataset in {second}) or "
                f"(r.resource.dataset in {second} and r.resource.linked_dataset in {first})))"
            )
        parts.extend(self.condition(c) for c in rule.conditions)
        return " and ".join(parts) if parts else "True"


def _mask(expressions: list[str]) -> str:
    if not expressions:
        return "0"
    return " | ".join(f"({1 << i} if {e} else 0)" for i, e in enumerate(expressions))


class TimeWindows:
    """The policy's time windows, and which of them hold in each stretch of time.

    Each window gets a bit. Time is cut into steps (a quarter of an hour, or a minute when a
    window starts or ends off the quarter) in which no window can start or end, and the bits
    that hold in a step are computed once, from local time, and cached. A time condition in a
    node function is then `tw & bit`.
    """

    def __init__(self, windows: list[tuple[frozenset[int], int, int]]) -> None:
        self.windows: list[tuple[frozenset[int], int, int]] = []
        aligned = all(start % 15 == 0 and end % 15 == 0 for _, start, end in windows)
        self.step = 900.0 if aligned else 60.0
        self.cache: dict[float, int] = {}
        for window in windows:
            self.bit(*window)

    def bit(self, days: frozenset[int], start: int, end: int) -> int:
        window = (days, start, end)
        if window not in self.windows:
            self.windows.append(window)
        return 1 << self.windows.index(window)

    def fill(self, step: float) -> int:
        weekday, minute = clock.local_weekday_minute(step * self.step)
        bits = 0
        for number, (days, start, end) in enumerate(self.windows):
            if weekday in days and start <= minute < end:
                bits |= 1 << number
        if len(self.cache) > 200_000:  # years of quarters: a replay of old decisions
            self.cache.clear()
        self.cache[step] = bits
        return bits


def _policy_windows(rules: list[EffectiveRule]) -> list[tuple[frozenset[int], int, int]]:
    found: list[tuple[frozenset[int], int, int]] = []

    def walk(condition: Condition) -> None:
        if isinstance(condition, InTime):
            days = frozenset(WEEKDAYS.index(d) for d in condition.time.days)
            found.append((days, _minutes(condition.time.start), _minutes(condition.time.end)))
        elif isinstance(condition, Not):
            walk(condition.not_)
        elif isinstance(condition, AnyOf | AllOf):
            for inner in condition.any if isinstance(condition, AnyOf) else condition.all:
                walk(inner)

    for rule in rules:
        for condition in rule.conditions:
            walk(condition)
    return found


@dataclass
class _Signature:
    activity: str
    denies: tuple[int, ...]
    permits: tuple[int, ...]


class CompiledPolicy:
    """A policy version ready to decide: the index of node functions and what they share."""

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self.rules: list[EffectiveRule] = list(context.rules)
        self.status = {key: activity.status for key, activity in context.activities.items()}
        self.categories = frozenset(c.id for c in context.register.data_categories())
        self.index: dict[tuple[str, str, str], NodeFunction] = {}
        self.explanations: dict[tuple[object, ...], str] = {}
        """Explanations by what they depend on; requests repeat, the reference walk is slow."""
        self.source: dict[tuple[str, tuple[int, ...], tuple[int, ...]], str] = {}
        self.windows = TimeWindows(_policy_windows(self.rules))
        self._build()

    @property
    def content_hash(self) -> str:
        return self.context.content_hash

    @property
    def organisation(self) -> str:
        return self.context.policy.organisation

    def _build(self) -> None:
        active = [a for a in self.context.register.activities() if a.status == "actief"]
        uris = {a.id: key for key, a in self.context.activities.items() if key != a.id}
        members: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
        for number, rule in enumerate(self.rules):
            purposes = [a.id for a in active if rule.purposes is None or a.id in rule.purposes]
            actions = [x for x in ACTIONS if rule.actions is None or x in rule.actions]
            categories = (
                self.categories
                if rule.data_categories is None
                else self.categories & rule.data_categories
            )
            for purpose in purposes:
                for action in actions:
                    for category in categories:
                        denies, permits = members.setdefault((purpose, action, category), ([], []))
                        (denies if rule.effect == "deny" else permits).append(number)
        functions: dict[tuple[str, tuple[int, ...], tuple[int, ...]], NodeFunction] = {}
        for (purpose, action, category), (denies, permits) in members.items():
            signature = (purpose, tuple(denies), tuple(permits))
            function = functions.get(signature)
            if function is None:
                function = self._node_function(*signature)
                functions[signature] = function
            self.index[(purpose, action, category)] = function
            if purpose in uris:
                self.index[(uris[purpose], action, category)] = function

    def _node_function(
        self, activity: str, denies: tuple[int, ...], permits: tuple[int, ...]
    ) -> NodeFunction:
        src = _Source(self.windows)
        deny_expr = _mask([src.rule(self.rules[i]) for i in denies])
        permit_expr = _mask([src.rule(self.rules[i]) for i in permits])
        not_glass = sum(1 << i for i, n in enumerate(denies) if not self.rules[n].break_glass)
        deny_cache: dict[int, oc.Outcome] = {}
        permit_cache: dict[tuple[int, int], oc.Outcome] = {}

        def deny_slow(mask: int) -> oc.Outcome:
            rules = tuple(self.rules[n] for i, n in enumerate(denies) if mask >> i & 1)
            deny_cache[mask] = found = oc.deny(oc.DENY_RULE, rules)
            return found

        def permit_slow(mask: int, aside: int) -> oc.Outcome:
            found = oc.permit(
                tuple(self.rules[n] for i, n in enumerate(permits) if mask >> i & 1),
                tuple(self.rules[n] for i, n in enumerate(denies) if aside >> i & 1),
            )
            permit_cache[(mask, aside)] = found
            return found

        lines = ["def node(r, t):", "    a = r.actor"]
        if src.uses_time:
            # Which of the policy's time windows hold now: one lookup per request.
            lines += [
                "    tw = WINDOWS.get(t // WINDOW_STEP)",
                "    if tw is None:",
                "        tw = WINDOWS_AT(t // WINDOW_STEP)",
            ]
        if denies:
            lines += [
                f"    dm = {deny_expr}",
                f"    if dm and (not r.context.justification or dm & {not_glass}):",
                "        o = DENY.get(dm)",
                "        return o if o is not None else DENY_SLOW(dm)",
            ]
        else:
            lines.append("    dm = 0")
        lines += [
            f"    pm = {permit_expr}",
            "    if not pm:",
            "        return NO_PERMIT",
            "    o = PERMIT.get((pm, dm))",
            "    return o if o is not None else PERMIT_SLOW(pm, dm)",
        ]
        source = "\n".join(lines)
        namespace: dict[str, Any] = {
            **src.constants,
            "AID": activity,
            "WINDOWS": self.windows.cache,
            "WINDOWS_AT": self.windows.fill,
            "WINDOW_STEP": self.windows.step,
            "DENY": deny_cache,
            "DENY_SLOW": deny_slow,
            "PERMIT": permit_cache,
            "PERMIT_SLOW": permit_slow,
            "NO_PERMIT": NO_PERMIT,
        }
        exec(compile(source, f"<policy node {activity}>", "exec"), namespace)
        self.source[(activity, denies, permits)] = source
        node: NodeFunction = namespace["node"]
        return node


_COMPILED: OrderedDict[str, CompiledPolicy] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
COMPILED_KEPT = 256
"""Compiled policies kept for reuse (least recently used dropped first): a few versions of
each organisation's policy on a platform shared by a few hundred organisations."""


def compile_policy(context: PolicyContext) -> CompiledPolicy:
    """The compiled policy of `context`, reused when the same policy against the same register
    was compiled before in this process.

    Compiling generates and compiles Python for every decision node (a fifth of a second for
    the demo policy), and a serve node recompiles every active policy whenever any of them or
    the register changes: activating one organisation's policy would otherwise recompile all
    the others too. A compiled policy holds nothing but what its context determines (and
    caches derived from it), so sharing one is safe.
    """
    key = f"{context.content_hash}:{_register_fingerprint(context)}"
    with _COMPILED_LOCK:
        found = _COMPILED.get(key)
        if found is not None:
            _COMPILED.move_to_end(key)
            return found
    compiled = CompiledPolicy(context)
    with _COMPILED_LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > COMPILED_KEPT:
            _COMPILED.popitem(last=False)
    return compiled


def _register_fingerprint(context: PolicyContext) -> str:
    """Every entry of the organisation's register, by content (the context hash covers only
    what decisions depend on; a compiled policy also carries the register it was made with)."""
    register = context.register
    parts = sorted(
        (stored.uri, stored.content_hash)
        for entries in register.by_kind.values()
        for stored in entries.values()
    )
    parts.append((register.organisation.uri, register.organisation.content_hash))
    digest = hashlib.sha256(repr(parts).encode("utf-8"))
    return digest.hexdigest()
