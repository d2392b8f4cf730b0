"""Decision benchmark: Glazen Stad's compiled engine against Cedar, Casbin and a hand-written floor.

Run from the repository root:

    .venv/bin/python -m benchmarks.decisions            # 100,000 requests, docs/performance.md
    .venv/bin/python -m benchmarks.decisions --smoke    # 2,000 requests, a few seconds

In one process and one run it

1. generates a workload: a synthetic register of 50 processing activities (YAML in a temporary
   directory, loaded with `load_register` into an in-memory SQLite database), a policy with one
   office-hours deny rule and one legal-basis rule per activity, and N requests of which about
   half are valid and half have exactly one field changed (role, department, data category,
   legal basis, time or an unregistered purpose);
2. expresses the same policy in Glazen Stad, Cedar (cedarpy), Casbin (pycasbin) and a plain
   dict/set lookup (the floor);
3. decides every request with every engine and compares: one disagreement, with each other or
   with the answer the generator intended, makes the script exit with status 1;
4. measures single calls in process (throughput in tight loops, every engine timed over
   windows of the same length, interleaved; median and p99 latency with `time.perf_counter_ns`
   around each call), the batch APIs, and the price of an explanation and a receipt, and prints
   the tables with the ratios against the project's targets. cedarpy and pycasbin are timed on
   the first 20,000 requests (their passes are slow); agreement is checked on all of them.

How the policy is written for each engine, and why, is in docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

ORGANISATION = "benchstad"
N_ACTIVITIES = 50
N_ROLES = 30
N_DEPARTMENTS = 10
N_CATEGORIES = 40
GROUNDS = ("a", "b", "c", "d", "e", "f")  # AVG article 6(1) grounds
TIMEZONE = ZoneInfo("Europe/Amsterdam")
OFFICE_START, OFFICE_END = 8 * 60, 18 * 60  # minutes of the local day, Monday to Friday
WINDOW_START = date(2026, 3, 2)  # a Monday; eight weeks, across the switch to summer time
WINDOW_DAYS = 56
MUTATIONS = ("role", "department", "data_category", "legal_basis", "time", "purpose")

TARGETS = {
    "vs_cedar": 30.0,  # ours at least 30x the decisions/s of cedarpy
    "vs_casbin": 100.0,  # ours at least 100x the decisions/s of PyCasbin
    "floor_over_ours": 10.0,  # the floor at most 10x faster than ours
    "batch": 1_000_000.0,  # Engine.decide_many at least a million decisions/s
}


def basis_label(ground: str) -> str:
    """How a request states the legal basis it relies on: AVG art. 6(1) sub <ground>."""
    return f"avg-6-1-{ground}"


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    id: str
    roles: tuple[str, ...]
    departments: tuple[str, ...]
    categories: tuple[str, ...]
    ground: str


@dataclass(frozen=True)
class Case:
    """One request in engine-neutral form, with the answer the generator intends."""

    role: str
    department: str
    purpose: str
    category: str
    basis: str
    time: float  # seconds since the epoch (UTC)
    weekday: int  # local (Europe/Amsterdam), 0 = Monday; derived from `time`
    minute: int  # local minute of the day; derived from `time`
    expected: bool
    mutation: str | None


ROLES = [f"rol-{i:02d}" for i in range(N_ROLES)]
DEPARTMENTS = [f"afd-{i:02d}" for i in range(N_DEPARTMENTS)]
CATEGORIES = [f"cat-{i:02d}" for i in range(N_CATEGORIES)]


def generate_activities(rng: random.Random) -> list[Activity]:
    return [
        Activity(
            id=f"verwerking-{i:02d}",
            roles=tuple(sorted(rng.sample(ROLES, rng.randint(1, 4)))),
            departments=tuple(sorted(rng.sample(DEPARTMENTS, rng.randint(1, 2)))),
            categories=tuple(sorted(rng.sample(CATEGORIES, rng.randint(2, 6)))),
            ground=rng.choice(GROUNDS),
        )
        for i in range(N_ACTIVITIES)
    ]


def _local(epoch: float) -> tuple[int, int]:
    local = datetime.fromtimestamp(epoch, UTC).astimezone(TIMEZONE)
    return local.weekday(), local.hour * 60 + local.minute


def _epoch(day: date, minute: int, second: int) -> float:
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, second)
    return local.replace(tzinfo=TIMEZONE).timestamp()


def _office_time(rng: random.Random) -> float:
    while True:
        day = WINDOW_START + timedelta(days=rng.randrange(WINDOW_DAYS))
        if day.weekday() < 5:
            break
    edge = rng.random()
    if edge < 0.05:
        return _epoch(day, OFFICE_START, 0)  # first second of office hours
    if edge < 0.10:
        return _epoch(day, OFFICE_END - 1, 59)  # last second
    return _epoch(day, rng.randrange(OFFICE_START, OFFICE_END), rng.randrange(60))


def _closed_time(rng: random.Random) -> float:
    day = WINDOW_START + timedelta(days=rng.randrange(WINDOW_DAYS))
    if day.weekday() >= 5:
        return _epoch(day, rng.randrange(24 * 60), rng.randrange(60))
    edge = rng.random()
    if edge < 0.05:
        return _epoch(day, OFFICE_END, 0)  # 18:00:00 is closed
    if edge < 0.10:
        return _epoch(day, OFFICE_START - 1, 59)  # 07:59:59 is closed
    if rng.random() < 0.5:
        return _epoch(day, rng.randrange(0, OFFICE_START), rng.randrange(60))
    return _epoch(day, rng.randrange(OFFICE_END, 24 * 60), rng.randrange(60))


def generate_cases(rng: random.Random, activities: list[Activity], n: int) -> list[Case]:
    cases: list[Case] = []
    unknown = [f"onbekend-doel-{i:02d}" for i in range(20)]
    for _ in range(n):
        act = rng.choice(activities)
        role, department = rng.choice(act.roles), rng.choice(act.departments)
        purpose, category = act.id, rng.choice(act.categories)
        basis, moment = basis_label(act.ground), _office_time(rng)
        mutation = None if rng.random() < 0.5 else rng.choice(MUTATIONS)
        if mutation == "role":
            role = rng.choice([r for r in ROLES if r not in act.roles])
        elif mutation == "department":
            department = rng.choice([d for d in DEPARTMENTS if d not in act.departments])
        elif mutation == "data_category":
            category = rng.choice([c for c in CATEGORIES if c not in act.categories])
        elif mutation == "legal_basis":
            basis = basis_label(rng.choice([g for g in GROUNDS if g != act.ground]))
        elif mutation == "time":
            moment = _closed_time(rng)
        elif mutation == "purpose":
            purpose = rng.choice(unknown)
        weekday, minute = _local(moment)
        cases.append(
            Case(
                role, department, purpose, category, basis, moment, weekday, minute,
                expected=mutation is None, mutation=mutation,
            )
        )  # fmt: skip
    return cases


# --------------------------------------------------------------------------------------------
# Glazen Stad: register YAML + policy YAML, loaded and compiled the way the CLI does it
# --------------------------------------------------------------------------------------------


def _dump(path: Path, documents: list[dict[str, Any]]) -> None:
    yaml = YAML()
    yaml.default_flow_style = None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump_all(documents, fh)


def write_register(root: Path, activities: list[Activity]) -> Path:
    org = root / "register" / ORGANISATION
    _dump(
        org / "organisation.yaml",
        [
            {
                "kind": "organisation",
                "id": ORGANISATION,
                "name": "Gemeente Benchstad",
                "register_uri": "https://register.benchstad.example",
                "contact_email": "privacy@benchstad.example",
                "privacy_officer": "Functionaris gegevensbescherming",
                "privacy_officer_email": "fg@benchstad.example",
            }
        ],
    )
    _dump(
        org / "data-categories.yaml",
        [{"kind": "data-category", "id": c, "name": f"Gegevens {c}"} for c in CATEGORIES],
    )
    for act in activities:
        _dump(
            org / "processing-activities" / f"{act.id}.yaml",
            [
                {
                    "kind": "processing-activity",
                    "id": act.id,
                    "name": f"Verwerking {act.id[-2:]}",
                    "description": "Synthetische verwerking voor de beslisbenchmark.",
                    "purposes": [f"Doel van {act.id}"],
                    "legal_basis": {
                        "avg_ground": act.ground,
                        "explanation": "Synthetische grondslag.",
                        "laws": [{"title": "Gemeentewet", "bwb_id": "BWBR0005416"}],
                    },
                    "data_subject_categories": ["Inwoners"],
                    "data_categories": list(act.categories),
                    "dpia": {"status": "niet-nodig"},
                    "roles": list(act.roles),
                    "departments": list(act.departments),
                    "owner": act.departments[0],
                    "status": "actief",
                }
            ],
        )
    return root / "register"


def write_policy(root: Path, activities: list[Activity]) -> Path:
    rules: list[dict[str, Any]] = [
        {
            "id": "kantoortijd",
            "effect": "deny",
            "title": "Alleen binnen kantoortijd",
            "explanation": "Buiten kantoortijd (ma-vr 8-18 uur) geen toegang tot gegevens.",
            "when": [{"not": {"time": {"days": ["ma", "di", "wo", "do", "vr"],
                                       "start": "08:00", "end": "18:00"}}}],
        }
    ]  # fmt: skip
    for act in activities:
        # The request has no legal-basis field and `attribute` cannot name one, so the claimed
        # basis travels in context.channel (see docs/performance.md, "Legal basis").
        rules.append(
            {
                "id": f"grondslag-{act.id}",
                "effect": "deny",
                "title": f"Alleen met de geregistreerde grondslag ({act.id})",
                "explanation": "De gevraagde grondslag moet die van de verwerking zijn.",
                "applies_to": {"purposes": [act.id]},
                "when": [{"attribute": "context.channel", "not_equals": basis_label(act.ground)}],
            }
        )
    policy = {
        "kind": "policy",
        "id": "benchmark",
        "organisation": ORGANISATION,
        "title": "Spelregels voor de beslisbenchmark",
        "purpose_binding": {"enabled": True, "actions": ["read"], "link_own_datasets": False},
        "rules": rules,
    }
    directory = root / "policies"
    _dump(directory / "policy.yaml", [policy])
    return directory


@dataclass
class Ours:
    engine: Any
    compiled: Any
    requests: list[Any]
    seconds_to_build: float


def build_ours(root: Path, activities: list[Activity], cases: list[Case]) -> Ours:
    from glazenstad.db.engine import make_engine, migrate
    from glazenstad.register.loader import load_register
    from glazenstad.register.store import RegisterStore
    from glazenstad.rules.compiler import compile_policy
    from glazenstad.rules.effective import policy_context
    from glazenstad.rules.engine import Engine
    from glazenstad.rules.loader import check_references, parse_policies
    from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource

    start = time.perf_counter()
    database = make_engine("sqlite://")
    migrate(database)
    load_register(
        database,
        write_register(root, activities),
        loaded_by="benchmark",
        approved_by="benchmark-approver",
    )
    snapshot = RegisterStore(database).snapshot()
    tree = parse_policies(write_policy(root, activities))
    problems = check_references(tree, snapshot)
    if problems:
        raise SystemExit("policy does not fit the register: " + "; ".join(map(str, problems)))
    register = snapshot.organisation(ORGANISATION)
    assert register is not None and len(register.activities()) == N_ACTIVITIES
    compiled = compile_policy(policy_context(tree.policies[0].policy, register))
    engine = Engine()
    engine.add(compiled, active=True)
    seconds = time.perf_counter() - start
    requests = [
        DecisionRequest(
            actor=Actor(role=c.role, department=c.department, organisation=ORGANISATION),
            action="read",
            resource=Resource(data_category=c.category),
            purpose=c.purpose,
            context=Context(time=c.time, channel=c.basis),
        )
        for c in cases
    ]
    return Ours(engine, compiled, requests, seconds)


def expected_reason(case: Case) -> tuple[str, tuple[str, ...]]:
    """Why Glazen Stad must decide as it does: exactly one field differs from a valid request."""
    return {
        None: ("permit", (f"doelbinding-{case.purpose}",)),
        "role": ("no_permit", ()),
        "department": ("no_permit", ()),
        "data_category": ("no_permit", ()),
        "legal_basis": ("deny_rule", (f"grondslag-{case.purpose}",)),
        "time": ("deny_rule", ("kantoortijd",)),
        "purpose": ("unknown_purpose", ()),
    }[case.mutation]


# --------------------------------------------------------------------------------------------
# Cedar
# --------------------------------------------------------------------------------------------


def cedar_policies(activities: list[Activity]) -> str:
    parts = [
        '@id("kantoortijd")\n'
        "forbid (principal, action, resource)\n"
        f"unless {{ context.weekday < 5 && context.minute >= {OFFICE_START} && "
        f"context.minute < {OFFICE_END} }};"
    ]
    for act in activities:
        departments = ", ".join(f'"{d}"' for d in act.departments)
        parts.append(
            f'@id("doelbinding-{act.id}")\n'
            f'permit (principal in RoleGroup::"{act.id}", action == Action::"read", '
            f'resource in DataGroup::"{act.id}")\n'
            f'when {{ context.purpose == "{act.id}" && [{departments}].contains(context.department)'
            f' && context.legal_basis == "{basis_label(act.ground)}" }};'
        )
    return "\n\n".join(parts) + "\n"


def cedar_entities(activities: list[Activity]) -> list[dict[str, Any]]:
    role_groups: dict[str, list[str]] = {r: [] for r in ROLES}
    data_groups: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for act in activities:
        for role in act.roles:
            role_groups[role].append(act.id)
        for category in act.categories:
            data_groups[category].append(act.id)
    entities: list[dict[str, Any]] = []
    for act in activities:
        for kind in ("RoleGroup", "DataGroup"):
            entities.append({"uid": {"type": kind, "id": act.id}, "attrs": {}, "parents": []})
    for kind, group, members in (("Role", "RoleGroup", role_groups),
                                 ("Category", "DataGroup", data_groups)):  # fmt: skip
        for member, groups in members.items():
            entities.append(
                {
                    "uid": {"type": kind, "id": member},
                    "attrs": {},
                    "parents": [{"type": group, "id": g} for g in groups],
                }
            )
    return entities


def cedar_request(case: Case) -> dict[str, Any]:
    return {
        "principal": f'Role::"{case.role}"',
        "action": 'Action::"read"',
        "resource": f'Category::"{case.category}"',
        "context": {
            "purpose": case.purpose,
            "department": case.department,
            "legal_basis": case.basis,
            "weekday": case.weekday,
            "minute": case.minute,
        },
    }


# --------------------------------------------------------------------------------------------
# Casbin
# --------------------------------------------------------------------------------------------

CASBIN_MODEL = f"""\
[request_definition]
r = purpose, role, cat, act, basis, dept, wd, mi

[policy_definition]
p = purpose, role, cat, act, basis

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.purpose == p.purpose && r.role == p.role && r.cat == p.cat && r.act == p.act \
&& r.basis == p.basis && g(r.dept, r.purpose) \
&& r.wd < 5 && r.mi >= {OFFICE_START} && r.mi < {OFFICE_END}
"""


def casbin_files(root: Path, activities: list[Activity]) -> tuple[Path, Path]:
    model = root / "casbin" / "model.conf"
    policy = root / "casbin" / "policy.csv"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_text(CASBIN_MODEL, encoding="utf-8")
    lines = []
    for act in activities:
        for role in act.roles:
            for category in act.categories:
                lines.append(f"p, {act.id}, {role}, {category}, read, {basis_label(act.ground)}")
        for department in act.departments:
            lines.append(f"g, {department}, {act.id}")
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return model, policy


def casbin_request(case: Case) -> tuple[Any, ...]:
    return (case.purpose, case.role, case.category, "read", case.basis, case.department,
            case.weekday, case.minute)  # fmt: skip


# --------------------------------------------------------------------------------------------
# The floor: what a hand-written check of exactly this policy costs in Python
# --------------------------------------------------------------------------------------------


def build_floor(activities: list[Activity]) -> Callable[[Any], bool]:
    """A dict/set lookup on the same DecisionRequest objects our engine gets (epoch time)."""
    table = {
        (act.id, category): (frozenset(act.roles), frozenset(act.departments),
                             basis_label(act.ground))
        for act in activities
        for category in act.categories
    }  # fmt: skip
    quarters: dict[int, tuple[int, int]] = {}

    def quarter(bucket: int) -> tuple[int, int]:
        quarters[bucket] = found = _local(bucket * 900)
        return found

    def floor(r: Any) -> bool:
        entry = table.get((r.purpose, r.resource.data_category))
        if entry is None:
            return False
        a = r.actor
        c = r.context
        if a.role not in entry[0] or a.department not in entry[1] or c.channel != entry[2]:
            return False
        s = int(c.time)
        q = quarters.get(s // 900) or quarter(s // 900)
        return q[0] < 5 and OFFICE_START <= q[1] + (s % 900) // 60 < OFFICE_END

    return floor


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    api: str
    n: int
    rates: list[float]
    cpu_rates: list[float] = field(default_factory=list)
    """The same runs divided by this process's CPU time instead of wall time."""
    median_us: float | None = None
    p99_us: float | None = None
    note: str = ""

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def best_cpu(self) -> float:
        return max(self.cpu_rates)


@dataclass
class Contender:
    """One engine and API to time: `loop` runs it over all items, `call` decides one item."""

    name: str
    api: str
    loop: Callable[[Sequence[Any]], Any]
    items: Sequence[Any]
    call: Callable[[Any], Any] | None = None
    note: str = ""


def _per_call_ns(call: Callable[[Any], Any], items: Sequence[Any]) -> list[int]:
    clock = time.perf_counter_ns
    out = [0] * len(items)
    for i, item in enumerate(items):
        t0 = clock()
        call(item)
        out[i] = clock() - t0
    return out


def _quantile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0


def measure(contenders: list[Contender], repeats: int, min_seconds: float) -> list[Row]:
    """Throughput: `repeats` runs per contender, interleaved round-robin so that a busy spell of
    the machine hits every engine alike. A run repeats full passes over the contender's items
    until at least `min_seconds` have passed, so fast and slow engines are timed over windows of
    the same length. Latency: then one pass per contender with every call timed."""
    rows = [Row(c.name, c.api, len(c.items), []) for c in contenders]
    min_ns = int(min_seconds * 1e9)
    for _ in range(repeats):
        for contender, row in zip(contenders, rows, strict=True):
            done = 0
            c0, t0 = time.process_time_ns(), time.perf_counter_ns()
            while True:
                contender.loop(contender.items)
                done += len(contender.items)
                t1 = time.perf_counter_ns()
                if t1 - t0 >= min_ns:
                    break
            c1 = time.process_time_ns()
            row.rates.append(done / ((t1 - t0) / 1e9))
            row.cpu_rates.append(done / (max(c1 - c0, 1) / 1e9))
    for contender, row in zip(contenders, rows, strict=True):
        row.note = contender.note
        if contender.call is not None:
            timings = sorted(_per_call_ns(contender.call, contender.items))
            row.median_us, row.p99_us = _quantile(timings, 0.5), _quantile(timings, 0.99)
    return rows


def row_json(row: Row) -> dict[str, Any]:
    return {**row.__dict__, "best": row.best, "median": row.median, "best_cpu": row.best_cpu}


def timer_overhead_us() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        t0 = clock()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000.0


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cedarpy": version("cedarpy"),
        "pycasbin": version("pycasbin"),
    }


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def _fmt_us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def print_table(rows: list[Row]) -> None:
    header = ("engine", "API", "requests", "best decisions/s", "median decisions/s", "runs",
              "best per CPU-s", "median µs", "p99 µs")  # fmt: skip
    body = [
        (r.name, r.api, f"{r.n:,}", _fmt_rate(r.best), _fmt_rate(r.median), str(len(r.rates)),
         _fmt_rate(r.best_cpu), _fmt_us(r.median_us), _fmt_us(r.p99_us))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for cells in body:
        print(line.format(*cells))
    for r in rows:
        if r.note:
            print(f"  {r.name} / {r.api}: {r.note}")


def run(args: argparse.Namespace) -> int:
    import casbin  # type: ignore[import-untyped]
    import cedarpy

    repeats = args.repeats
    rng = random.Random(args.seed)
    activities = generate_activities(rng)
    cases = generate_cases(rng, activities, args.requests)
    mutations = Counter(c.mutation or "valid" for c in cases)
    info = machine()
    print(f"Glazen Stad decision benchmark: {len(cases):,} requests, seed {args.seed}, "
          f"{N_ACTIVITIES} activities")  # fmt: skip
    print(f"machine: {info['cpu']}, nproc {info['nproc']}, load average "
          f"{', '.join(f'{x:.2f}' for x in info['load_average'] or ())}; "
          f"{info['implementation']} {info['python']}, cedarpy {info['cedarpy']}, "
          f"pycasbin {info['pycasbin']}")  # fmt: skip
    print("workload: " + ", ".join(f"{k} {v:,}" for k, v in sorted(mutations.items())))
    rules = sum(len(a.roles) * len(a.categories) for a in activities)
    print(f"policy: {N_ACTIVITIES} activities, {sum(len(a.categories) for a in activities)} "
          f"(activity, category) pairs, {rules} casbin p-lines")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="glazenstad-bench-") as tmp:
        root = Path(tmp)
        ours = build_ours(root, activities, cases)
        engine, requests = ours.engine, ours.requests
        print(f"glazenstad: register loaded and policy compiled in {ours.seconds_to_build:.2f} s, "
              f"{len(ours.compiled.index):,} decision nodes, "
              f"{len(ours.compiled.source):,} generated functions")  # fmt: skip

        policy_set = cedarpy.PolicySet.from_str(cedar_policies(activities))
        entities = cedarpy.Entities.from_json_str(json.dumps(cedar_entities(activities)))
        cedar_requests = [cedar_request(c) for c in cases]

        model_path, policy_path = casbin_files(root, activities)
        plain = casbin.Enforcer(str(model_path), str(policy_path))
        # FastEnforcer indexes policy lines by (purpose, role): pycasbin's own fast path.
        fast = casbin.FastEnforcer(str(model_path), str(policy_path), cache_key_order=[0, 1])
        casbin_requests = [casbin_request(c) for c in cases]
        floor = build_floor(activities)

        from glazenstad.rules.engine import decide_compiled

        compiled = ours.compiled

        # ---- 1. agreement on every request -------------------------------------------------
        print("\nAgreement with the answer the generator intends, hence with each other "
              "(single-call APIs, then batch APIs)")  # fmt: skip
        expected = [c.expected for c in cases]
        plain_n = min(len(cases), args.casbin_plain_requests)
        our_decisions = [engine.decide(r) for r in requests]
        answers: dict[str, list[bool]] = {
            "glazenstad decide": [d.permitted for d in our_decisions],
            "glazenstad decide_many": [d.permitted for d in engine.decide_many(requests)],
            "cedarpy is_authorized": [
                cedarpy.is_authorized(r, policy_set, entities).allowed for r in cedar_requests
            ],
            "cedarpy is_authorized_batch": [
                a.allowed for a in cedarpy.is_authorized_batch(cedar_requests, policy_set, entities)
            ],
            "pycasbin FastEnforcer.enforce": [fast.enforce(*t) for t in casbin_requests],
            "pycasbin FastEnforcer.batch_enforce": list(fast.batch_enforce(casbin_requests)),
            "floor": [floor(r) for r in requests],
        }
        t0 = time.perf_counter()
        plain_answers = [plain.enforce(*t) for t in casbin_requests[:plain_n]]
        plain_seconds = time.perf_counter() - t0
        mismatches = 0
        for name, got in [*answers.items(), ("pycasbin Enforcer.enforce", plain_answers)]:
            wrong = [i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b]
            mismatches += len(wrong)
            status = "agrees" if not wrong else f"{len(wrong):,} MISMATCHES"
            print(f"  {name:<38} {len(got):>9,} requests  {status}")
            for i in wrong[:5]:
                c = cases[i]
                print(f"      #{i}: expected {'permit' if c.expected else 'deny'}, got "
                      f"{'permit' if got[i] else 'deny'}; mutation={c.mutation} {c}")  # fmt: skip
        wrong_reasons = [
            i for i, (d, c) in enumerate(zip(our_decisions, cases, strict=True))
            if (d.outcome.reason, d.outcome.rule_ids) != expected_reason(c)
        ]  # fmt: skip
        mismatches += len(wrong_reasons)
        status = "agree" if not wrong_reasons else f"{len(wrong_reasons):,} MISMATCHES"
        print(f"  {'glazenstad reason and deciding rules':<38} {len(cases):>9,} requests  {status}")
        for i in wrong_reasons[:5]:
            d = our_decisions[i]
            print(f"      #{i}: expected {expected_reason(cases[i])}, got "
                  f"{(d.outcome.reason, d.outcome.rule_ids)}; {cases[i]}")  # fmt: skip
        del our_decisions
        permits = sum(expected)
        print(f"  permits {permits:,}, denies {len(expected) - permits:,}")
        if mismatches:
            print(f"\nFAILED: {mismatches:,} disagreement(s); figures below would be meaningless.")
            return 1

        # ---- 2. speed ---------------------------------------------------------------------
        gc.collect()
        gc.freeze()  # the workload itself is long-lived; keep it out of every collection
        overhead = timer_overhead_us()
        slow_n = min(len(cases), args.slow_requests)
        print(f"\nSingle calls in process. Throughput: {repeats} runs per engine, interleaved "
              f"round-robin; a run repeats passes over the requests for at least "
              f"{args.min_run_seconds:g} s (cedarpy and pycasbin pass over the first {slow_n:,}); "
              f"'best' is the fastest run (timeit's convention) and the ratios use it. Latency: "
              f"one more pass with perf_counter_ns around every call (timer overhead "
              f"{overhead * 1000:.0f} ns, included).")  # fmt: skip

        decide = engine.decide

        def loop_decide(items: Sequence[Any]) -> None:
            for r in items:
                decide(r)

        def loop_outcome(items: Sequence[Any]) -> None:
            for r in items:
                decide_compiled(compiled, r, r.context.time)

        def loop_cedar(items: Sequence[Any]) -> None:
            for r in items:
                cedarpy.is_authorized(r, policy_set, entities)

        permit_all = cedarpy.PolicySet.from_str("permit (principal, action, resource);")
        no_entities = cedarpy.Entities.from_json_str("[]")

        def loop_cedar_trivial(items: Sequence[Any]) -> None:
            for r in items:
                cedarpy.is_authorized(r, permit_all, no_entities)

        def enforcer_loop(enforcer: Any) -> Callable[[Sequence[Any]], None]:
            enforce = enforcer.enforce

            def loop(items: Sequence[Any]) -> None:
                for t in items:
                    enforce(*t)

            return loop

        def loop_floor(items: Sequence[Any]) -> None:
            for r in items:
                floor(r)

        cedar_some, casbin_some = cedar_requests[:slow_n], casbin_requests[:slow_n]
        single = measure([
            Contender("floor (dict/set)", "floor(request)", loop_floor, requests, floor,
                      "same DecisionRequest objects and epoch time as Engine.decide"),
            Contender("glazenstad", "Engine.decide", loop_decide, requests, decide,
                      "returns a Decision; explanation() and receipt() on demand"),
            Contender("glazenstad", "decide_compiled", loop_outcome, requests,
                      lambda r: decide_compiled(compiled, r, r.context.time),
                      "outcome only, no Decision object (breakdown, not a target)"),
            Contender("cedarpy", "is_authorized", loop_cedar, cedar_some,
                      lambda r: cedarpy.is_authorized(r, policy_set, entities),
                      "pre-parsed PolicySet and Entities handles"),
            Contender("cedarpy", "is_authorized, permit-all", loop_cedar_trivial, cedar_some,
                      lambda r: cedarpy.is_authorized(r, permit_all, no_entities),
                      "reference only: the same requests against `permit(principal, action, "
                      "resource);` with no entities, i.e. what any cedarpy call costs"),
            Contender("pycasbin", "FastEnforcer.enforce", enforcer_loop(fast), casbin_some,
                      lambda t: fast.enforce(*t), "policy lines indexed by (purpose, role)"),
            Contender("pycasbin", "Enforcer.enforce", enforcer_loop(plain),
                      casbin_requests[:plain_n], lambda t: plain.enforce(*t),
                      f"first {plain_n:,} requests only; scans every policy line per request"),
        ], repeats, args.min_run_seconds)  # fmt: skip
        print_table(single)

        print("\nBatch APIs (a batch is all requests of the pass; runs as above)")
        batch = measure([
            Contender("floor (dict/set)", "[floor(r) for r in batch]",
                      lambda items: [floor(r) for r in items], requests),
            Contender("glazenstad", "Engine.decide_many", engine.decide_many, requests,
                      note="outcomes at once, a Decision object built when an item is read"),
            Contender("cedarpy", "is_authorized_batch",
                      lambda items: cedarpy.is_authorized_batch(list(items), policy_set, entities),
                      cedar_some),
            Contender("pycasbin", "FastEnforcer.batch_enforce", fast.batch_enforce, casbin_some),
        ], repeats, args.min_run_seconds)  # fmt: skip
        print_table(batch)

        # ---- 3. explanation and receipt on demand ------------------------------------------
        sample = requests[: min(len(requests), 200 if args.smoke else 2_000)]
        decisions = [engine.decide(r) for r in sample]
        explain_ns = sorted(_per_call_ns(lambda d: d.explanation(), decisions))
        receipt_ns = sorted(_per_call_ns(lambda d: d.receipt(), decisions))
        cached_ns = sorted(_per_call_ns(lambda d: d.explanation(), decisions))
        extras = {
            "explanation() first call": explain_ns,
            "explanation() again (cached)": cached_ns,
            "receipt()": receipt_ns,
        }
        print(f"\nOn demand, per decision ({len(sample):,} decisions from Engine.decide)")
        for label, values in extras.items():
            med, p99 = _quantile(values, 0.5), _quantile(values, 0.99)
            print(f"  {label:<30} median {med:>9,.2f} µs  p99 {p99:>9,.2f} µs  "
                  f"(~{1e6 / med:>10,.0f}/s)")  # fmt: skip

        # ---- 4. ratios and targets --------------------------------------------------------
        by = {(r.name, r.api): r for r in single}
        ours_row = by[("glazenstad", "Engine.decide")]
        cedar = by[("cedarpy", "is_authorized")]
        fast_row = by[("pycasbin", "FastEnforcer.enforce")]
        plain_row = by[("pycasbin", "Enforcer.enforce")]
        floor_row = by[("floor (dict/set)", "floor(request)")]
        many, cedar_batch, casbin_batch = batch[1], batch[2], batch[3]

        def both(f: Callable[[Callable[[Row], float]], float]) -> tuple[float, float]:
            return f(lambda r: r.best), f(lambda r: r.best_cpu)

        checks = [
            ("ours vs cedarpy (single call)", both(lambda m: m(ours_row) / m(cedar)), ">=",
             TARGETS["vs_cedar"]),
            ("ours vs PyCasbin FastEnforcer (single call)",
             both(lambda m: m(ours_row) / m(fast_row)), ">=", TARGETS["vs_casbin"]),
            ("ours vs PyCasbin Enforcer (single call)", both(lambda m: m(ours_row) / m(plain_row)),
             ">=", TARGETS["vs_casbin"]),
            ("floor vs ours (single call)", both(lambda m: m(floor_row) / m(ours_row)), "<=",
             TARGETS["floor_over_ours"]),
            ("ours batch decisions/s (decide_many)", both(lambda m: m(many)), ">=",
             TARGETS["batch"]),
            ("ours batch vs cedarpy batch", both(lambda m: m(many) / m(cedar_batch)), ">=",
             TARGETS["vs_cedar"]),
            ("ours batch vs PyCasbin batch", both(lambda m: m(many) / m(casbin_batch)), ">=",
             TARGETS["vs_casbin"]),
        ]  # fmt: skip
        print("\nRatios against targets (from the best runs; wall clock decides, CPU time shown)")
        results = []

        for label, (value, cpu_value), op, target in checks:
            absolute = label.startswith("ours batch decisions/s")

            def shown(value: float, absolute: bool = absolute) -> str:
                return _fmt_rate(value) if absolute else f"{value:,.1f}x"

            met = value >= target if op == ">=" else value <= target
            goal = _fmt_rate(target) if absolute else f"{target:g}x"
            print(f"  {label:<44} {shown(value):>10}  (CPU {shown(cpu_value):>10})  "
                  f"target {op} {goal:<10} {'MET' if met else 'NOT MET'}")  # fmt: skip
            results.append({"check": label, "value": value, "cpu_value": cpu_value,
                            "target": target, "op": op, "met": met})  # fmt: skip

        if args.json:
            payload = {
                "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.decisions",
                                     *sys.argv[1:]]),
                "machine": info,
                "seed": args.seed,
                "requests": len(cases),
                "workload": dict(mutations),
                "plain_casbin_agreement_seconds": plain_seconds,
                "timer_overhead_us": overhead,
                "single": [row_json(r) for r in single],
                "batch": [row_json(r) for r in batch],
                "on_demand_us": {
                    k: {"median": _quantile(v, 0.5), "p99": _quantile(v, 0.99)}
                    for k, v in extras.items()
                },
                "targets": results,
            }  # fmt: skip
            Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")
            print(f"\nwrote {args.json}")
    gc.unfreeze()
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.decisions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=None, help="default 100,000 (smoke: 2,000)")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny workload, still checks agreement"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per engine (5; smoke 2)")
    parser.add_argument(
        "--min-run-seconds",
        type=float,
        default=None,
        help="a run lasts at least this long (2; smoke 0.2)",
    )
    parser.add_argument(
        "--slow-requests",
        type=int,
        default=None,
        help="requests per pass for timing cedarpy and pycasbin (20,000; smoke 500); "
        "agreement is always checked on all requests",
    )
    parser.add_argument(
        "--casbin-plain-requests",
        type=int,
        default=None,
        help="requests for the unindexed casbin.Enforcer (3,000; smoke 300)",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 2_000 if args.smoke else 100_000
    if args.casbin_plain_requests is None:
        args.casbin_plain_requests = 300 if args.smoke else 3_000
    if args.repeats is None:
        args.repeats = 2 if args.smoke else 5
    if args.min_run_seconds is None:
        args.min_run_seconds = 0.2 if args.smoke else 2.0
    if args.slow_requests is None:
        args.slow_requests = 500 if args.smoke else 20_000
    return args


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
