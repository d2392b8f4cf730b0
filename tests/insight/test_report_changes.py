"""What changed in the register and the rules in a period, read from the stored versions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from glazenstad.insight.report_changes import policy_activations, register_changes
from glazenstad.register.loader import load_register
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from tests.conftest import DEMO_REGISTER
from tests.insight.report_setup import (
    CHANGED_ACTIVITY,
    CHANGED_RULE,
    DEMO_POLICIES,
    ENDED_ALGORITHM,
    NEW_ACTIVITY,
    ORG,
    changed_policy,
    changed_register,
    clock,
)

BEFORE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
INSIDE = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
AFTER = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)


def _load(engine: Engine, root: Path, at: datetime) -> None:
    with clock(at):
        load_register(engine, root, loaded_by="test", approved_by="test-approver")


def test_added_changed_and_ended_entries(engine: Engine, tmp_path: Path) -> None:
    v2 = changed_register(tmp_path)
    _load(engine, DEMO_REGISTER, BEFORE)
    _load(engine, v2, INSIDE)
    changes = register_changes(engine, ORG, START, END)
    found = {(c.kind, c.entry_id): c for c in changes}
    assert set(found) == {
        ("processing-activity", NEW_ACTIVITY),
        ("processing-activity", CHANGED_ACTIVITY),
        ("algorithm", ENDED_ALGORITHM),
    }
    added = found[("processing-activity", NEW_ACTIVITY)]
    assert (added.change, added.label, added.name) == (
        "added",
        "Nieuw",
        "Tolken bij vergaderingen van de raad",
    )
    changed = found[("processing-activity", CHANGED_ACTIVITY)]
    assert (changed.change, changed.fields, changed.versions) == (
        "changed",
        ("bewaartermijnen",),
        1,
    )
    assert changed.changed_at == INSIDE
    ended = found[("algorithm", ENDED_ALGORITHM)]
    assert (ended.change, ended.label) == ("ended", "Beëindigd")
    assert "status" in ended.fields
    # Sorted by kind (activities first), then name.
    assert [c.kind for c in changes] == ["processing-activity", "processing-activity", "algorithm"]
    # Nothing changed before the period or after it.
    assert register_changes(engine, ORG, BEFORE.replace(day=2), START) == []
    assert register_changes(engine, ORG, END, AFTER) == []


def test_changed_and_changed_back_is_no_change(engine: Engine, tmp_path: Path) -> None:
    v2 = changed_register(tmp_path)
    _load(engine, DEMO_REGISTER, BEFORE)
    _load(engine, v2, INSIDE)
    _load(engine, DEMO_REGISTER, LATER)
    # The new activity was added and removed again, the others changed back: nothing differs.
    assert register_changes(engine, ORG, START, END) == []
    # Each half of the period on its own does show the changes.
    assert len(register_changes(engine, ORG, START, LATER)) == 3
    later = register_changes(engine, ORG, LATER, END)
    assert {(c.entry_id, c.change) for c in later} == {
        (NEW_ACTIVITY, "removed"),
        (CHANGED_ACTIVITY, "changed"),
        (ENDED_ALGORITHM, "changed"),  # back in use: a change, not an ending
    }


def test_policy_versions_activated_in_the_period(engine: Engine) -> None:
    store = PolicyStore(engine)
    _load(engine, DEMO_REGISTER, BEFORE)
    policy = next(
        p.policy for p in parse_policies(DEMO_POLICIES).policies if p.policy.organisation == ORG
    )
    with clock(BEFORE):
        first, _ = store.save(policy, by="test")
        store.activate(ORG, first.content_hash, by="fg")
    with clock(INSIDE):
        second, _ = store.save(changed_policy(policy), by="test")
        store.activate(ORG, second.content_hash, by="fg", note="Vastgesteld door het college")
    activations = policy_activations(engine, ORG, START, END)
    assert len(activations) == 1
    activation = activations[0]
    assert activation.content_hash == second.content_hash
    assert activation.activated_at == INSIDE
    assert activation.activated_by == "fg"
    assert activation.note == "Vastgesteld door het college"
    assert activation.replaced == first.content_hash[:12]
    assert activation.still_active
    title = next(r.title for r in changed_policy(policy).rules if r.id == CHANGED_RULE)
    assert activation.rules_changed == (title,)
    assert activation.rules_added == activation.rules_removed == ()
    # The first activation was before the period; it is the whole policy, all "added".
    (earlier,) = policy_activations(engine, ORG, BEFORE, START)
    assert earlier.replaced is None and len(earlier.rules_added) == len(policy.rules)
    assert not earlier.still_active
    assert policy_activations(engine, ORG, END, AFTER) == []
