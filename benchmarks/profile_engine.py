"""Where Engine.decide spends its time, on the workload of `benchmarks.decisions`.

    .venv/bin/python -m benchmarks.profile_engine [--requests N] [--seed S] [--repeats R]

Prints

1. cProfile's top functions for a loop of Engine.decide and for Engine.decide_many;
2. a breakdown in nanoseconds of CPU time per decision, from an empty loop up to the full call,
   with the number of Python bytecode instructions each step executes (a count that does not
   depend on how busy the machine is);
3. prototypes of engine changes, written here against the engine's own objects (compiled
   index, generated node source, Decision) without changing the engine, each checked to give
   the same outcomes as the engine.

Every timing is the CPU time of this process per item, for loops run round-robin `--repeats`
times (so that a busy spell of the machine hits every variant alike); the table shows the fastest
and the median round. The figures back the suggestions in docs/performance.md.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import time as _now
from typing import Any

from benchmarks.decisions import build_floor, build_ours, generate_activities, generate_cases


@dataclass
class Variant:
    label: str
    loop: Callable[[Sequence[Any]], Any]
    items: Sequence[Any]
    note: str = ""
    ns: list[float] = field(default_factory=list)


def interleaved(variants: list[Variant], repeats: int) -> None:
    for _ in range(repeats):
        for v in variants:
            c0 = time.process_time_ns()
            v.loop(v.items)
            v.ns.append((time.process_time_ns() - c0) / len(v.items))


def show(variants: list[Variant]) -> None:
    print(f"  {'':<56} {'best ns':>8} {'median ns':>10} {'best decisions/s':>17}")
    for v in variants:
        best, median = min(v.ns), statistics.median(v.ns)
        print(f"  {v.label:<56} {best:8.0f} {median:10.0f} {1e9 / best:17,.0f}  {v.note}")


def opcodes_per_call(call: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """Python bytecode instructions executed per call (C functions count as their CALL)."""
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        for item in items:
            call(item)
    finally:
        sys.settrace(None)
    return count / len(items)


def run(args: argparse.Namespace) -> int:
    from glazenstad.rules import clock
    from glazenstad.rules import engine as engine_module
    from glazenstad.rules import outcome as oc
    from glazenstad.rules.compiler import _mask, _minutes, _Source
    from glazenstad.rules.engine import Decision, Engine, decide_compiled
    from glazenstad.rules.language import WEEKDAYS, InTime

    miss = engine_module._miss
    rng = random.Random(args.seed)
    activities = generate_activities(rng)
    cases = generate_cases(rng, activities, args.requests)
    with tempfile.TemporaryDirectory(prefix="glazenstad-prof-") as tmp:
        ours = build_ours(Path(tmp), activities, cases)
    engine, compiled, requests = ours.engine, ours.compiled, ours.requests
    floor = build_floor(activities)
    index = compiled.index
    reference = [engine.decide(r).outcome for r in requests]  # also warms the clock cache
    for r in requests:
        floor(r)
    gc.collect()
    gc.freeze()
    print(f"{len(requests):,} requests, {len(index):,} decision nodes; generated source of one:")
    print("    " + next(iter(compiled.source.values())).replace("\n", "\n    "))

    # ---- 1. cProfile -------------------------------------------------------------------------
    for label, statement in (
        ("Engine.decide, one call per request", "for r in requests: decide(r)"),
        ("Engine.decide_many, whole workload", "decide_many(requests)"),
    ):
        profiler = cProfile.Profile()
        profiler.runctx(
            statement,
            {},
            {"requests": requests, "decide": engine.decide, "decide_many": engine.decide_many},
        )
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(6)
        print(f"\n== cProfile: {label} (cProfile's own overhead inflates every call) ==")
        print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))

    # ---- 2. breakdown --------------------------------------------------------------------------
    pairs = [
        (node, r)
        for r in requests
        if (node := index.get((r.purpose, r.action, r.resource.data_category))) is not None
    ]
    outcome0 = reference[0]
    decide, decide_many = engine.decide, engine.decide_many

    def noop(_r: Any) -> None:
        return None

    def loop_empty(items: Sequence[Any]) -> None:
        for r in items:
            noop(r)

    def loop_clock(items: Sequence[Any]) -> None:
        for _ in items:
            _now()

    def loop_key(items: Sequence[Any]) -> None:
        get = index.get
        for r in items:
            get((r.purpose, r.action, r.resource.data_category))

    def loop_node(items: Sequence[Any]) -> None:
        for node, r in items:
            node(r, r.context.time)

    def loop_outcome(items: Sequence[Any]) -> None:
        for r in items:
            decide_compiled(compiled, r, r.context.time)

    def loop_decision_object(items: Sequence[Any]) -> None:
        for r in items:
            Decision(compiled, r, 0.0, 0.0, outcome0)

    def loop_decide(items: Sequence[Any]) -> None:
        for r in items:
            decide(r)

    def loop_floor(items: Sequence[Any]) -> None:
        for r in items:
            floor(r)

    breakdown = [
        Variant("empty loop calling a no-op function", loop_empty, requests),
        Variant("time.time() (Engine.decide reads the clock once)", loop_clock, requests),
        Variant("index key tuple + dict.get", loop_key, requests),
        Variant("node function alone (requests that hit a node)", loop_node, pairs),
        Variant("decide_compiled (key + node, or _miss)", loop_outcome, requests),
        Variant("Decision(...) construction alone", loop_decision_object, requests),
        Variant("Engine.decide (all of it)", loop_decide, requests),
        Variant("Engine.decide_many, per request", decide_many, requests),
        Variant("floor (for comparison)", loop_floor, requests),
    ]
    interleaved(breakdown, args.repeats)
    print(f"\n== Breakdown: CPU ns per decision, {args.repeats} interleaved rounds; "
          f"{len(pairs):,} of {len(requests):,} requests hit a node ==")  # fmt: skip
    show(breakdown)
    sample = requests[:2_000]
    print("\n  Python bytecode instructions per call (first 2,000 requests):")
    for label, call in (
        ("floor", floor),
        ("decide_compiled", lambda r: decide_compiled(compiled, r, r.context.time)),
        ("Engine.decide", decide),
    ):
        print(f"    {label:<20} {opcodes_per_call(call, sample):6.1f}")

    # ---- 3. prototypes -------------------------------------------------------------------------
    no_policy = engine_module.NO_POLICY

    # 3a. Engine.decide with decide_compiled inlined: one Python call less per decision.
    def decide_inlined(request: Any, policy: Any = None) -> Any:
        compiled_for = policy or engine._active.get(request.actor.organisation)
        now = _now()
        moment = request.context.time
        if moment is None:
            moment = now
        if compiled_for is None:
            return Decision(None, request, moment, now, no_policy)
        node = compiled_for.index.get(
            (request.purpose, request.action, request.resource.data_category)
        )
        o = node(request, moment) if node is not None else miss(compiled_for, request)
        return Decision(compiled_for, request, moment, now, o)

    def loop_decide_inlined(items: Sequence[Any]) -> None:
        for r in items:
            decide_inlined(r)

    # 3b. decide_many with the per-request work hoisted: the policy looked up once per run of
    # requests from the same organisation, decide_compiled inlined, bound methods in locals.
    def decide_many_hoisted(items: Sequence[Any]) -> list[Any]:
        now = _now()
        active = engine._active
        out: list[Any] = []
        append = out.append
        org = compiled_for = get = None
        for r in items:
            a = r.actor
            if a.organisation is not org:
                org = a.organisation
                compiled_for = active.get(org)
                get = compiled_for.index.get if compiled_for is not None else None
            moment = r.context.time
            if moment is None:
                moment = now
            if get is None:
                append(Decision(None, r, moment, now, no_policy))
                continue
            node = get((r.purpose, r.action, r.resource.data_category))
            o = node(r, moment) if node is not None else miss(compiled_for, r)  # type: ignore[arg-type]
            append(Decision(compiled_for, r, moment, now, o))
        return out

    # 3c. A batch result that holds the outcomes and makes a Decision when one is read: the hot
    # loop then allocates nothing per request (outcomes are shared and cached per node).
    class LazyDecisions(Sequence[Any]):
        __slots__ = ("_compiled", "_now", "_outcomes", "_requests")

        def __init__(self, compiled: Any, requests: Sequence[Any], outcomes: list[Any],
                     now: float) -> None:  # fmt: skip
            self._compiled, self._requests, self._outcomes, self._now = (
                compiled, requests, outcomes, now)  # fmt: skip

        def __len__(self) -> int:
            return len(self._outcomes)

        def __getitem__(self, i: Any) -> Any:
            r = self._requests[i]
            t = r.context.time
            return Decision(self._compiled, r, self._now if t is None else t, self._now,
                            self._outcomes[i])  # fmt: skip

    def lazy_batch(node_index: dict[Any, Any]) -> Callable[[Sequence[Any]], Any]:
        get = node_index.get

        def decide_many_lazy(items: Sequence[Any]) -> Any:
            # one organisation and every request timed, as in this workload
            now = _now()
            outcomes: list[Any] = []
            append = outcomes.append
            for r in items:
                node = get((r.purpose, r.action, r.resource.data_category))
                append(node(r, r.context.time) if node is not None else miss(compiled, r))
            return LazyDecisions(compiled, items, outcomes, now)

        return decide_many_lazy

    def without_gc(loop: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
        def wrapped(items: Sequence[Any]) -> None:
            gc.disable()
            try:
                loop(items)
            finally:
                gc.enable()

        return wrapped

    # 3d. A prototype node compiler, built on the compiler's own `_Source` (so every condition
    # other than time windows is generated exactly as now) with three changes:
    #   (i) a time window whose start and end are whole quarter hours holds for a whole UTC
    #       quarter hour or not at all (the zone is a whole number of quarter hours from UTC,
    #       which clock.py already relies on), so it is evaluated once per quarter and looked up:
    #       one float division and one dict lookup replace int(), three integer operations,
    #       a lookup, two subscripts and the comparisons;
    #  (ii) a node with one permit rule returns its permit outcome, made at compile time, when no
    #       deny bit is set, instead of building and hashing a (pm, dm) tuple;
    # (iii) the deny branch is entered only when a deny bit is set (as now), the justification
    #       read only then.
    # Semantics are unchanged; `same outcomes` below checks it on every request.
    class QuarterSource(_Source):
        def __init__(self) -> None:
            super().__init__()
            self.uses_quarter = False

        def condition(self, condition: Any) -> str:
            if isinstance(condition, InTime):
                window = condition.time
                start, end = _minutes(window.start), _minutes(window.end)
                if start % 15 == 0 and end % 15 == 0:
                    self.uses_quarter = True
                    days = frozenset(WEEKDAYS.index(d) for d in window.days)
                    table: dict[float, int] = {}

                    def quarter(q: float, table: dict[float, int] = table) -> int:
                        weekday, minute = clock._bucket_start(int(q))
                        table[q] = found = 2 if weekday in days and start <= minute < end else 1
                        return found

                    lookup, miss_name = self.const(table), self.const(quarter)
                    return f"(({lookup}.get(tq) or {miss_name}(tq)) > 1)"
            return super().condition(condition)

    def fast_node(activity: str, denies: tuple[int, ...], permits: tuple[int, ...]) -> Any:
        rules = compiled.rules
        src = QuarterSource()
        deny_expr = _mask([src.rule(rules[i]) for i in denies])
        permit_expr = _mask([src.rule(rules[i]) for i in permits])
        not_glass = sum(1 << i for i, n in enumerate(denies) if not rules[n].break_glass)
        reference_node = index_by_signature[(activity, denies, permits)]
        namespace = dict(reference_node.__globals__)  # DENY/PERMIT caches and slow paths
        lines = ["def node(r, t):", "    a = r.actor"]
        if src.uses_time:
            lines += [
                "    s = int(t)",
                "    st = LOCAL_CACHE.get(s // 900) or LOCAL_BUCKET(s // 900)",
                "    wd = st[0]",
                "    mi = st[1] + (s % 900) // 60",
            ]
        if src.uses_quarter:
            lines.append("    tq = t // 900")
        if denies:
            lines += [
                f"    dm = {deny_expr}",
                "    if dm:",
                f"        if not r.context.justification or dm & {not_glass}:",
                "            o = DENY.get(dm)",
                "            return o if o is not None else DENY_SLOW(dm)",
            ]
        else:
            lines.append("    dm = 0")
        lines += [f"    pm = {permit_expr}", "    if not pm:", "        return NO_PERMIT"]
        if len(permits) == 1:
            lines += ["    if not dm:", "        return ONLY_PERMIT"]
            namespace["ONLY_PERMIT"] = oc.permit((rules[permits[0]],), ())
        lines += [
            "    o = PERMIT.get((pm, dm))",
            "    return o if o is not None else PERMIT_SLOW(pm, dm)",
        ]
        namespace.update(src.constants)
        fast_sources[(activity, denies, permits)] = source = "\n".join(lines)
        exec(compile(source, f"<prototype node {activity}>", "exec"), namespace)
        return namespace["node"]

    fast_sources: dict[tuple[str, tuple[int, ...], tuple[int, ...]], str] = {}
    index_by_signature: dict[tuple[str, tuple[int, ...], tuple[int, ...]], Any] = {}
    for function in {id(f): f for f in index.values()}.values():
        slow = function.__globals__["PERMIT_SLOW"]
        cells = dict(zip(slow.__code__.co_freevars,
                         (c.cell_contents for c in slow.__closure__), strict=True))  # fmt: skip
        index_by_signature[(function.__globals__["AID"], cells["denies"], cells["permits"])] = (
            function
        )
    rebuilt = {sig: fast_node(*sig) for sig in index_by_signature}
    by_function = {id(f): rebuilt[sig] for sig, f in index_by_signature.items()}
    fast_index = {key: by_function[id(f)] for key, f in index.items()}
    first = next(iter(compiled.source))
    print("\n  Prototype node for the signature shown at the top:")
    print("    " + fast_sources[first].replace("\n", "\n    "))

    fast_engine = Engine()
    fast_compiled = copy.copy(compiled)
    fast_compiled.index = fast_index
    fast_engine.add(fast_compiled, active=True)
    decide_fast = fast_engine.decide

    def loop_decide_fast(items: Sequence[Any]) -> None:
        for r in items:
            decide_fast(r)

    def decide_fast_inlined(request: Any) -> Any:
        compiled_for = fast_engine._active.get(request.actor.organisation)
        now = _now()
        moment = request.context.time
        if moment is None:
            moment = now
        if compiled_for is None:
            return Decision(None, request, moment, now, no_policy)
        node = compiled_for.index.get(
            (request.purpose, request.action, request.resource.data_category)
        )
        o = node(request, moment) if node is not None else miss(compiled_for, request)
        return Decision(compiled_for, request, moment, now, o)

    def loop_decide_fast_inlined(items: Sequence[Any]) -> None:
        for r in items:
            decide_fast_inlined(r)

    def outcomes_loop(node_index: dict[Any, Any]) -> Callable[[Sequence[Any]], list[Any]]:
        get = node_index.get

        def loop(items: Sequence[Any]) -> list[Any]:
            out: list[Any] = []
            append = out.append
            for r in items:
                node = get((r.purpose, r.action, r.resource.data_category))
                append(node(r, r.context.time) if node is not None else miss(compiled, r))
            return out

        return loop

    def same(results: Sequence[Any]) -> str:
        got = [getattr(x, "outcome", x) for x in results]
        ok = len(got) == len(reference) and all(
            a is b or (a.effect == b.effect and a.reason == b.reason and a.rules == b.rules)
            for a, b in zip(got, reference, strict=True)
        )
        return "same outcomes" if ok else "DIFFERENT OUTCOMES"

    prototypes = [
        Variant("Engine.decide (now)", loop_decide, requests),
        Variant("Engine.decide, decide_compiled inlined", loop_decide_inlined, requests,
                same([decide_inlined(r) for r in requests])),
        Variant("Engine.decide, prototype nodes", loop_decide_fast, requests,
                same([decide_fast(r) for r in requests])),
        Variant("Engine.decide, prototype nodes + inlined", loop_decide_fast_inlined, requests,
                same([decide_fast_inlined(r) for r in requests])),
        Variant("outcomes only, nodes now", outcomes_loop(index), requests,
                same(outcomes_loop(index)(requests))),
        Variant("outcomes only, prototype nodes", outcomes_loop(fast_index), requests,
                same(outcomes_loop(fast_index)(requests))),
        Variant("Engine.decide_many (now)", decide_many, requests, same(decide_many(requests))),
        Variant("Engine.decide_many (now), cyclic GC off", without_gc(decide_many), requests,
                "GC share of decide_many"),
        Variant("decide_many hoisted + inlined", decide_many_hoisted, requests,
                same(decide_many_hoisted(requests))),
        Variant("decide_many -> outcomes + lazy Decisions", lazy_batch(index), requests,
                same(lazy_batch(index)(requests))),
        Variant("  ... with prototype nodes", lazy_batch(fast_index), requests,
                same(lazy_batch(fast_index)(requests))),
    ]  # fmt: skip
    interleaved(prototypes, args.repeats)
    print(f"\n== Prototypes (not in the engine), CPU ns per decision, {args.repeats} rounds ==")
    show(prototypes)
    print("\n  Python bytecode instructions per call (first 2,000 requests):")
    for label, call in (
        ("Engine.decide (now)", decide),
        ("Engine.decide, inlined", decide_inlined),
        ("Engine.decide, prototype nodes", decide_fast),
        ("Engine.decide, prototype nodes + inlined", decide_fast_inlined),
        ("decide_compiled, nodes now", lambda r: decide_compiled(compiled, r, r.context.time)),
        ("decide_compiled, prototype nodes",
         lambda r: decide_compiled(fast_compiled, r, r.context.time)),
    ):  # fmt: skip
        print(f"    {label:<44} {opcodes_per_call(call, sample):6.1f}")
    gc.unfreeze()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_engine")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--repeats", type=int, default=7)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
